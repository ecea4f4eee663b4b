/*
 * emit.c: from the model to files: the target machine, the LLVM module,
 * the optimization pipeline, and every output --emit asks for.
 */
#include "codegen.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdlib.h>
#include <string.h>

static LLVMTargetMachineRef make_target(const Options *opt, char **triple_out) {
    LLVMInitializeAllTargetInfos();
    LLVMInitializeAllTargets();
    LLVMInitializeAllTargetMCs();
    LLVMInitializeAllAsmPrinters();
    char *triple = opt->target ? LLVMNormalizeTargetTriple(opt->target) : LLVMGetDefaultTargetTriple();
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(triple, &target, &err)) {
        error_plain("--target=%s: %s", opt->target ? opt->target : triple, err);
        LLVMDisposeMessage(err);
        LLVMDisposeMessage(triple);
        return NULL;
    }
    char *cpu = NULL, *features = NULL;
    if (opt->cpu && strcmp(opt->cpu, "native") == 0) {
        cpu = LLVMGetHostCPUName();
        features = LLVMGetHostCPUFeatures();
    } else {
        cpu = LLVMCreateMessage(opt->cpu ? opt->cpu : "generic");
        features = LLVMCreateMessage("");
    }
    LLVMCodeGenOptLevel lvl = opt->opt_level == 0 ? LLVMCodeGenLevelNone
                            : opt->opt_level == 1 ? LLVMCodeGenLevelLess
                            : opt->opt_level == 3 ? LLVMCodeGenLevelAggressive : LLVMCodeGenLevelDefault;
    /* Position-independent, so the object links into PIE executables and
     * shared libraries alike. */
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, triple, cpu, features, lvl, LLVMRelocPIC,
                                                      LLVMCodeModelDefault);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    *triple_out = triple;
    if (!tm)
        error_plain("cannot create a target machine for '%s'", triple);
    return tm;
}

static bool run_passes(LLVMModuleRef mod, LLVMTargetMachineRef tm, int level) {
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    char pipeline[32];
    snprintf(pipeline, sizeof pipeline, "default<O%d>", level);
    LLVMErrorRef e = LLVMRunPasses(mod, pipeline, tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (e) {
        char *msg = LLVMGetErrorMessage(e);   /* consumes e */
        error_plain("LLVM optimization failed: %s", msg);
        LLVMDisposeErrorMessage(msg);
        return false;
    }
    return true;
}

static bool write_machine_code(LLVMTargetMachineRef tm, LLVMModuleRef mod, const char *path, LLVMCodeGenFileType kind) {
    char *err = NULL;
    /* EmitToFile takes a mutable name. */
    char *tmp = arena_strdup(output_begin(path));
    if (LLVMTargetMachineEmitToFile(tm, mod, tmp, kind, &err)) {
        error_plain("cannot write '%s': %s", path, err);
        LLVMDisposeMessage(err);
        return false;
    }
    return true;
}

static bool write_llvm(LLVMModuleRef mod, const char *path) {
    char *err = NULL;
    if (LLVMPrintModuleToFile(mod, output_begin(path), &err)) {
        error_plain("cannot write '%s': %s", path, err);
        LLVMDisposeMessage(err);
        return false;
    }
    return true;
}

/* The forward and backward graph as text: every node an entry point needs. */
static bool write_ir(const Model *m, const char *path) {
    FILE *f = fopen(output_begin(path), "w");
    if (!f) {
        error_plain("cannot write '%s'", path);
        return false;
    }
    int n = m->ntensors;
    Node **roots = NEWA(Node *, 2 * n + 1);
    const char **names = NEWA(const char *, 2 * n + 1);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (m->tensors[i].role == NNRT_OUTPUT) {
            roots[k] = m->tensors[i].node;
            names[k++] = m->tensors[i].name;
        }
    fprintf(f, "# %s: forward\nforward:\n", m->name);
    ir_dump(f, m->g, roots, names, k);
    for (int i = 0; i < n; i++)
        if (m->tensors[i].role == NNRT_PARAM) {
            roots[k] = m->tensors[i].grad;
            names[k++] = arena_printf("d%s/d%s", m->objective >= 0 ? m->tensors[m->objective].name : "?",
                                      m->tensors[i].name);
        }
    fprintf(f, "\nbackward:\n");
    ir_dump(f, m->g, roots, names, k);
    bool ok = !ferror(f);
    ok &= fclose(f) == 0;
    return ok;
}

/* The forward and backward graph for Graphviz, drawn as the textbook does:
 * variables (declared tensors) as boxes, operators as ellipses, each
 * labelled with its name and shape; the backward graph's nodes are shaded
 * and grouped apart, and each param is linked to its gradient. */
static bool write_dot(const Model *m, const char *path) {
    FILE *f = fopen(output_begin(path), "w");
    if (!f) {
        error_plain("cannot write '%s'", path);
        return false;
    }
    const Graph *g = m->g;
    bool *live = NEWA(bool, g->n);
    int last_forward = -1;
    for (int i = 0; i < m->ntensors; i++) {
        const Tensor *t = &m->tensors[i];
        if (t->role == NNRT_OUTPUT) {
            live[t->node->id] = true;
            if (t->node->id > last_forward)
                last_forward = t->node->id;
        }
        if (t->role == NNRT_PARAM && t->grad)
            live[t->grad->id] = true;
    }
    for (int i = g->n - 1; i >= 0; i--)
        if (live[i])
            for (int k = 0; k < op_info[g->nodes[i]->op].arity; k++)
                live[g->nodes[i]->in[k]->id] = true;
    fprintf(f, "digraph \"%s\" {\n  rankdir=BT;\n  node [fontname=\"Helvetica\", fontsize=10];\n", m->name);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            fprintf(f, "  subgraph cluster_backward {\n    label=\"backward\"; style=dashed;\n");
        for (int i = 0; i < g->n; i++) {
            const Node *n = g->nodes[i];
            bool backward = i > last_forward;
            if (!live[i] || backward != (pass == 1))
                continue;
            const char *shape = shape_str(n->dt, &n->shape);
            if (op_info[n->op].kind == K_LEAF)
                fprintf(f, "    n%d [shape=box, label=\"%s\\n%s\"];\n", i, n->name, shape);
            else if (n->op == OP_CONST)
                fprintf(f, "    n%d [shape=plaintext, label=\"%g\"];\n", i, n->value);
            else
                fprintf(f, "    n%d [shape=ellipse, label=\"%s%s%s\\n%s\"%s];\n", i, op_info[n->op].name,
                        n->name ? " " : "", n->name ? n->name : "", shape,
                        backward ? ", style=filled, fillcolor=\"#dbe9f6\"" : "");
        }
        if (pass == 1)
            fprintf(f, "  }\n");
    }
    for (int i = 0; i < g->n; i++)
        if (live[i])
            for (int k = 0; k < op_info[g->nodes[i]->op].arity; k++)
                fprintf(f, "  n%d -> n%d;\n", g->nodes[i]->in[k]->id, i);
    for (int i = 0; i < m->ntensors; i++) {
        const Tensor *t = &m->tensors[i];
        if (t->role == NNRT_OUTPUT)
            fprintf(f, "  out%d [shape=box, style=bold, label=\"%s\"];\n  n%d -> out%d;\n", i, t->name,
                    t->node->id, i);
        if (t->role == NNRT_PARAM && t->grad)
            fprintf(f, "  grad%d [shape=box, style=\"bold,filled\", fillcolor=\"#dbe9f6\", label=\"d%s/d%s\"];\n"
                       "  n%d -> grad%d;\n", i, m->objective >= 0 ? m->tensors[m->objective].name : "J",
                    t->name, t->grad->id, i);
    }
    fprintf(f, "}\n");
    bool ok = !ferror(f);
    ok &= fclose(f) == 0;
    return ok;
}

bool codegen(Model *m, const Options *opt, Stats *stats) {
    CG cg = {.m = m};
    cg.plans[ENTRY_FORWARD] = plan_entry(m, ENTRY_FORWARD);
    cg.plans[ENTRY_BACKWARD] = plan_entry(m, ENTRY_BACKWARD);
    if (m->has_optimizer)
        cg.plans[ENTRY_TRAIN] = plan_entry(m, ENTRY_TRAIN);
    for (int k = 0; k < 3; k++)
        if (cg.plans[k] && stats) {
            stats->flops[k] = cg.plans[k]->flops;
            stats->workspace[k] = cg.plans[k]->workspace;
            stats->workspace_noreuse[k] = cg.plans[k]->workspace_noreuse;
        }
    bool ok = true;
    if (opt->path[EMIT_IR])
        ok &= write_ir(m, opt->path[EMIT_IR]);
    if (opt->path[EMIT_DOT])
        ok &= write_dot(m, opt->path[EMIT_DOT]);
    if (!opt->path[EMIT_OBJ] && !opt->path[EMIT_ASM] && !opt->path[EMIT_LLVM])
        return ok;

    char *triple = NULL;
    LLVMTargetMachineRef tm = make_target(opt, &triple);
    if (!tm)
        return false;
    cg.tm = tm;
    cg.ctx = LLVMContextCreate();
    cg.mod = LLVMModuleCreateWithNameInContext(m->name, cg.ctx);
    LLVMSetTarget(cg.mod, triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    char *dl = LLVMCopyStringRepOfTargetData(td);
    LLVMSetDataLayout(cg.mod, dl);
    LLVMDisposeMessage(dl);
    cg.i1 = LLVMInt1TypeInContext(cg.ctx);
    cg.i8 = LLVMInt8TypeInContext(cg.ctx);
    cg.i32 = LLVMInt32TypeInContext(cg.ctx);
    cg.i64 = LLVMInt64TypeInContext(cg.ctx);
    cg.f32 = LLVMFloatTypeInContext(cg.ctx);
    cg.f64 = LLVMDoubleTypeInContext(cg.ctx);
    cg.ptr = LLVMPointerTypeInContext(cg.ctx, 0);
    cg.intptr = LLVMIntPtrTypeInContext(cg.ctx, td);
    cg_lower(&cg);

    char *err = NULL;
    if (LLVMVerifyModule(cg.mod, LLVMReturnStatusAction, &err)) {
        error_plain("internal error: the generated module does not verify:\n%s", err);
        ok = false;
    }
    LLVMDisposeMessage(err);
    ok = ok && run_passes(cg.mod, tm, opt->opt_level);
    if (ok && opt->path[EMIT_LLVM])
        ok &= write_llvm(cg.mod, opt->path[EMIT_LLVM]);
    if (ok && opt->path[EMIT_ASM])
        ok &= write_machine_code(tm, cg.mod, opt->path[EMIT_ASM], LLVMAssemblyFile);
    if (ok && opt->path[EMIT_OBJ])
        ok &= write_machine_code(tm, cg.mod, opt->path[EMIT_OBJ], LLVMObjectFile);
    LLVMDisposeTargetData(td);
    LLVMDisposeModule(cg.mod);
    LLVMContextDispose(cg.ctx);
    LLVMDisposeTargetMachine(tm);
    LLVMDisposeMessage(triple);
    return ok;
}
