/*
 * emit.c: from the model to files: the target machine, the LLVM module,
 * the optimization pipeline, and every output --emit asks for.
 */
#include "codegen.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Support.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Loop strength reduction takes a fifth of the back end's time on the code
 * nnc generates (the address arithmetic of the blocked matrix products,
 * mostly), and the code runs no faster for it: x86 and AArch64 fold
 * base + index * scale into the instruction.  -O3 keeps it.
 * A pooling window's loop (codegen.c, group_nest_close) is vectorized
 * under a mask, a lane a window, and reads x[2j] and x[2j + 1]: without
 * masked interleaved groups, which LLVM leaves off by default, each of
 * those was a gather (slow on Zen 5), where with them it is one masked
 * load and a shuffle.  LeNet-5's step then took 0.87 of the time at batch
 * 256 on one thread, the small ResNet's 0.85 (bench/README.md).
 * LLVM's options are per process; a process compiles at one level. */
static void set_backend_options(int opt_level) {
    static bool done;
    if (done)
        return;
    done = true;
    const char *argv[] = {"nnc", "-enable-masked-interleaved-mem-accesses", "-disable-lsr"};
    LLVMParseCommandLineOptions(opt_level >= 3 ? 2 : 3, argv, NULL);
}

/* The machine target.c chose and checked for --target and --cpu. */
static LLVMTargetMachineRef make_target(const Options *opt, char **triple_out) {
    set_backend_options(opt->opt_level);
    return target_machine(opt, opt->opt_level, triple_out);
}

/* The IR passes for each -O level.  The generated IR needs few of LLVM's:
 * every kernel is already a loop nest over known shapes, the matrix
 * products are vectorized and register-blocked by hand (gemm.c), and there
 * is nothing to inline.  What pays is cleanup (early-cse, instcombine,
 * simplifycfg), hoisting and promoting the accumulators out of the loops
 * (licm), vectorizing the elementwise loops and reductions (loop-vectorize,
 * -O2 and up), and, across the module, propagating the sizes and strides
 * that every call of a shared kernel passes alike into its body (ipsccp,
 * deadargelim), which specializes, say, a product with K = 1.  That is most
 * of the speed of default<O2> in a fifth of its time; -O3 runs the whole of
 * default<O3>. */
static const char *pipeline_for(int level) {
    switch (level) {
    case 0: return "default<O0>";
    case 1:
        return "ipsccp,deadargelim,function(early-cse<memssa>,instcombine<no-verify-fixpoint>,simplifycfg,"
               "loop-mssa(licm),simplifycfg)";
    case 2:
        return "ipsccp,deadargelim,function(early-cse<memssa>,instcombine<no-verify-fixpoint>,simplifycfg,"
               "loop-mssa(licm),loop-vectorize,instcombine<no-verify-fixpoint>,simplifycfg)";
    default: return "default<O3>";
    }
}

/* LLVM's tuning for Intel's AVX-512 CPUs keeps the loops it vectorizes
 * at 256 bits, to spare the clock the lower speed of 512-bit code.  The
 * products run 512-bit FMAs there anyway (gemm.c), so the other loops take
 * 512 bits too: on the Intel host of 2026-12-07 (LLVM's sapphirerapids),
 * LeNet's train step took 0.95 of the time, its sigmoids' exp over the
 * convolutions' outputs twice as wide, and LeNet with batch norm's 0.96;
 * the small ResNet's and the example's were unchanged.  The products' own
 * functions keep their code: it is vectorized by hand, and a 1024 x 1024
 * product ran as fast either way (0.99 to 1.02, alternated).  Functions
 * compiled for a level of their own (cg_levels) go by that level's. */
static void prefer_product_width(CG *cg) {
    bool wide = cg_vector_bytes(cg) == 64;
    for (LLVMValueRef f = LLVMGetFirstFunction(cg->mod); f; f = LLVMGetNextFunction(f)) {
        if (LLVMIsDeclaration(f) || LLVMGetStringAttributeAtIndex(f, LLVMAttributeFunctionIndex, "min-legal-vector-width", 22))
            continue;   /* vectorized by hand: a product's (gemm.c), or explicit vectors' (wide_lanes) */
        bool has_cpu = LLVMGetStringAttributeAtIndex(f, LLVMAttributeFunctionIndex, "target-cpu", 10) != NULL;
        const IsaLevel *level = cg_level_of(f);
        if (has_cpu ? level && level->vbytes == 64 : wide)
            LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                                    LLVMCreateStringAttribute(cg->ctx, "prefer-vector-width", 19, "512", 3));
    }
}

static bool run_passes(LLVMModuleRef mod, LLVMTargetMachineRef tm, int level) {
    phase_enter(PH_OPTIMIZE);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMErrorRef e = LLVMRunPasses(mod, pipeline_for(level), tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (e) {
        char *msg = LLVMGetErrorMessage(e);   /* consumes e */
        error_plain("LLVM optimization failed: %s", msg);
        LLVMDisposeErrorMessage(msg);
        return false;
    }
    return true;
}

/* Machine code and LLVM IR are made in memory and written by util.c, which
 * alone opens output files (LLVM's own file writers would follow a
 * symbolic link planted at the name). */
static bool write_machine_code(LLVMTargetMachineRef tm, LLVMModuleRef mod, const char *path, LLVMCodeGenFileType kind) {
    phase_enter(PH_MACHINE);
    char *err = NULL;
    LLVMMemoryBufferRef buf;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, kind, &err, &buf)) {
        error_plain("cannot generate '%s': %s", path, err);
        LLVMDisposeMessage(err);
        return false;
    }
    bool ok = output_write(path, LLVMGetBufferStart(buf), LLVMGetBufferSize(buf));
    LLVMDisposeMemoryBuffer(buf);
    return ok;
}

static bool write_llvm(LLVMModuleRef mod, const char *path) {
    phase_enter(PH_OUTPUT);
    char *text = LLVMPrintModuleToString(mod);
    bool ok = output_write(path, text, strlen(text));
    LLVMDisposeMessage(text);
    return ok;
}

/* The forward and backward graph as text: every node an entry point needs. */
static bool write_ir(const Model *m, const char *path) {
    phase_enter(PH_OUTPUT);
    FILE *f = output_open(path);
    if (!f)
        return false;
    int n = m->ntensors;
    Node **roots = NEWA(Node *, 2 * n + m->nwrites + 1);
    const char **names = NEWA(const char *, 2 * n + m->nwrites + 1);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (m->tensors[i].role == NNRT_OUTPUT) {
            roots[k] = m->tensors[i].eval;
            names[k++] = m->tensors[i].name;
        }
    fprintf(f, "# %s: forward\nforward:\n", m->name);
    ir_dump(f, m->g, roots, names, k);
    /* backward: the outputs in training mode, the gradients, the running statistics */
    k = 0;
    for (int i = 0; i < n; i++)
        if (m->tensors[i].role == NNRT_OUTPUT) {
            roots[k] = m->tensors[i].node;
            names[k++] = m->tensors[i].name;
        }
    for (int i = 0; i < n; i++)
        if (m->tensors[i].role == NNRT_PARAM) {
            roots[k] = m->tensors[i].grad;
            names[k++] = arena_printf("d%s/d%s", m->objective >= 0 ? m->tensors[m->objective].name : "?",
                                      m->tensors[i].name);
        }
    for (int w = 0; w < m->nwrites; w++) {
        roots[k] = m->writes[w].value;
        names[k++] = m->tensors[m->writes[w].tensor].name;
    }
    fprintf(f, "\nbackward:\n");
    ir_dump(f, m->g, roots, names, k);
    return output_close(f, path);
}

/* --emit=plan: what plan.c decided for each entry point. */
static bool write_plan(const Model *m, Plan *const plans[3], const char *path) {
    phase_enter(PH_OUTPUT);
    FILE *f = output_open(path);
    if (!f)
        return false;
    plan_dump(f, m, plans);
    return output_close(f, path);
}

/* The forward and backward graph for Graphviz, drawn as the textbook does:
 * variables (declared tensors) as boxes, operators as ellipses, each
 * labelled with its name and shape; the backward graph's nodes are shaded
 * and grouped apart, and each param is linked to its gradient. */
static bool write_dot(const Model *m, const char *path) {
    phase_enter(PH_OUTPUT);
    FILE *f = output_open(path);
    if (!f)
        return false;
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
    return output_close(f, path);
}

/* The target machine of opt, and every entry point of the model planned
 * for it (or for each x86-64 level, without --cpu); NULL, with an error
 * printed, when the target cannot be made. */
static LLVMTargetMachineRef plan_all(CG *cg, Model *m, const Options *opt, Stats *stats) {
    char *triple = NULL;
    LLVMTargetMachineRef tm = make_target(opt, &triple);
    if (!tm)
        return NULL;
    cg->dispatch_isa = !opt->cpu && strncmp(triple, "x86_64", 6) == 0;
    LLVMDisposeMessage(triple);
    cg->m = m;
    bool wide = cg_wide_registers(tm, cg->dispatch_isa);
    cg->plans[ENTRY_FORWARD] = plan_entry(m, ENTRY_FORWARD, wide);
    cg->plans[ENTRY_BACKWARD] = plan_entry(m, ENTRY_BACKWARD, wide);
    if (m->has_optimizer)
        cg->plans[ENTRY_TRAIN] = plan_entry(m, ENTRY_TRAIN, wide);
    for (int k = 0; k < 3; k++)
        if (cg->plans[k] && stats) {
            stats->flops[k] = cg->plans[k]->flops;
            stats->bytes[k] = cg->plans[k]->bytes;
            stats->workspace[k] = cg->plans[k]->workspace;
            stats->workspace_noreuse[k] = cg->plans[k]->workspace_noreuse;
        }
    return tm;
}

/* LLVM's errors are nnc's; its warnings and remarks (a loop that a hint
 * asked to vectorize and that could not be) are for nnc's developers, who
 * read --emit=llvm, not for its users. */
static void llvm_diagnostic(LLVMDiagnosticInfoRef d, void *unused) {
    if (LLVMGetDiagInfoSeverity(d) != LLVMDSError)
        return;
    char *msg = LLVMGetDiagInfoDescription(d);
    fprintf(stderr, "nnc: LLVM: %s\n", msg);
    LLVMDisposeMessage(msg);
}

/* Lower the planned model into a new module in ctx for tm's target, verify
 * and optimize it.  NULL (with an error printed) on failure. */
static LLVMModuleRef build_module(CG *cg, LLVMContextRef ctx, LLVMTargetMachineRef tm, int opt_level) {
    cg->tm = tm;
    cg->ctx = ctx;
    LLVMContextSetDiagnosticHandler(ctx, llvm_diagnostic, NULL);
    cg->mod = LLVMModuleCreateWithNameInContext(cg->m->name, ctx);
    char *triple = LLVMGetTargetMachineTriple(tm);
    LLVMSetTarget(cg->mod, triple);
    LLVMDisposeMessage(triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    char *dl = LLVMCopyStringRepOfTargetData(td);
    LLVMSetDataLayout(cg->mod, dl);
    LLVMDisposeMessage(dl);
    cg->i1 = LLVMInt1TypeInContext(ctx);
    cg->i8 = LLVMInt8TypeInContext(ctx);
    cg->i32 = LLVMInt32TypeInContext(ctx);
    cg->i64 = LLVMInt64TypeInContext(ctx);
    cg->f32 = LLVMFloatTypeInContext(ctx);
    cg->f64 = LLVMDoubleTypeInContext(ctx);
    cg->ptr = LLVMPointerTypeInContext(ctx, 0);
    cg->intptr = LLVMIntPtrTypeInContext(ctx, td);
    LLVMDisposeTargetData(td);
    cg_lower(cg);
    char *err = NULL;
    bool ok = !LLVMVerifyModule(cg->mod, LLVMReturnStatusAction, &err);
    if (!ok)
        error_plain("internal error: the generated module does not verify:\n%s", err);
    LLVMDisposeMessage(err);
    prefer_product_width(cg);
    ok = ok && run_passes(cg->mod, tm, opt_level);
    if (!ok) {
        LLVMDisposeModule(cg->mod);
        return NULL;
    }
    return cg->mod;
}

bool codegen(Model *m, const Options *opt, Stats *stats) {
    CG cg = {0};
    phase_enter(PH_LOWER);
    LLVMTargetMachineRef tm = plan_all(&cg, m, opt, stats);
    if (!tm)
        return false;
    bool ok = true;
    if (opt->path[EMIT_IR])
        ok &= write_ir(m, opt->path[EMIT_IR]);
    if (opt->path[EMIT_DOT])
        ok &= write_dot(m, opt->path[EMIT_DOT]);
    if (opt->path[EMIT_PLAN])
        ok &= write_plan(m, cg.plans, opt->path[EMIT_PLAN]);
    if (!opt->path[EMIT_OBJ] && !opt->path[EMIT_ASM] && !opt->path[EMIT_LLVM] && !opt->lower_only) {
        LLVMDisposeTargetMachine(tm);
        return ok;
    }
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod = build_module(&cg, ctx, tm, opt->opt_level);
    ok &= mod != NULL;
    if (ok && opt->path[EMIT_LLVM])
        ok &= write_llvm(mod, opt->path[EMIT_LLVM]);
    if (ok && opt->path[EMIT_ASM])
        ok &= write_machine_code(tm, mod, opt->path[EMIT_ASM], LLVMAssemblyFile);
    if (ok && opt->path[EMIT_OBJ])
        ok &= write_machine_code(tm, mod, opt->path[EMIT_OBJ], LLVMObjectFile);
    if (mod)
        LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    LLVMDisposeTargetMachine(tm);
    return ok;
}

/* ---- nnc --gradcheck: compile in memory, run, compare ---- */

static LLVMErrorRef report_jit_error(LLVMErrorRef e, const char *what) {
    if (e) {
        char *msg = LLVMGetErrorMessage(e);   /* consumes e */
        error_plain("%s: %s", what, msg);
        LLVMDisposeErrorMessage(msg);
    }
    return e;
}

/* Random inputs: floats U[-1, 1]; i32 labels within their class count (a
 * label input with no known range gets 0 or 1).  --gradcheck-inputs then
 * replaces those it has a file for (read_inputs below). */
static void draw_inputs(const Model *m, const nnrt_model *d, void *inputs, uint64_t seed) {
    d->set_defaults(inputs);
    for (int i = 0; i < d->n_tensors; i++) {
        const nnrt_tensor *t = &d->tensors[i];
        if (t->role != NNRT_INPUT)
            continue;
        char *p = (char *)inputs + t->offset;
        uint64_t stream = nnrt_stream_id(t->name) ^ 0x5eed;
        if (t->dtype != NNRT_I32) {
            nnrt_init_tensor(t->dtype, p, t->rank, t->dims, NNRT_INIT_UNIFORM, -1, 1, seed, stream);
            continue;
        }
        int64_t classes = m->tensors[i].label_classes > 0 ? m->tensors[i].label_classes : 2;
        size_t n = t->size / sizeof(int32_t);
        for (size_t k = 0; k < n; k += 4) {
            uint32_t ctr[4] = {(uint32_t)k, (uint32_t)(k >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
            uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)}, out[4];
            nnrt_philox4x32(ctr, key, out);
            for (size_t j = 0; j < 4 && k + j < n; j++)
                ((int32_t *)p)[k + j] = (int32_t)(out[j] % (uint32_t)classes);
        }
    }
}

/* After the table: for each untested param, whether J does not depend on
 * it at all (its gradient is a constant 0), and how to go on. */
static void explain_untested(const Model *m, const nnrt_gradcheck_report *rep, const Options *opt) {
    int n = rep->n_params < rep->cap ? rep->n_params : rep->cap;
    for (int k = 0; k < n; k++) {
        const nnrt_gradcheck_entry *e = &rep->entries[k];
        if (!e->untested || !e->tensor)
            continue;
        const Tensor *t = NULL;
        for (int i = 0; i < m->ntensors; i++)
            if (m->tensors[i].role == NNRT_PARAM && strcmp(m->tensors[i].name, e->tensor->name) == 0)
                t = &m->tensors[i];
        const Node *g = t ? t->grad : NULL;
        while (g && (g->op == OP_BROADCAST || g->op == OP_RESHAPE))
            g = g->in[0];
        bool none = g && ir_is_const(g, 0);
        const char *why = none ? "the objective does not depend on it"
                               : "every derivative sampled at these params and inputs is 0";
        if (opt->gradcheck_allow_untested)
            fprintf(stderr, "nnc: --gradcheck: '%s' is untested (%s); allowed by --gradcheck-allow-untested\n",
                    e->tensor->name, why);
        else
            error_plain("--gradcheck: '%s' is untested (%s): %s, or pass --gradcheck-allow-untested",
                        e->tensor->name, why, none ? "remove it from the model"
                        : "give inputs that reach it (--gradcheck-inputs=DIR)");
    }
}

/* ---- --gradcheck-inputs=DIR: the user's inputs, one IDX file each ---- */

/* The file of input NAME in dir: NAME.idx, else NAME.idx.gz; NULL if neither. */
static const char *input_file(const char *dir, const char *name) {
    static const char *const ext[] = {".idx", ".idx.gz"};
    for (int k = 0; k < 2; k++) {
        const char *p = arena_printf("%s/%s%s", dir, name, ext[k]);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            return p;
    }
    return NULL;
}

static double idx_get(const nnrt_idx *x, size_t i) {
    const void *p = x->data;
    switch (x->type) {
    case NNRT_IDX_U8: return ((const uint8_t *)p)[i];
    case NNRT_IDX_I8: return ((const int8_t *)p)[i];
    case NNRT_IDX_I16: return ((const int16_t *)p)[i];
    case NNRT_IDX_I32: return ((const int32_t *)p)[i];
    case NNRT_IDX_F32: return ((const float *)p)[i];
    default: return ((const double *)p)[i];
    }
}

/* "[2, 3]" */
static const char *dims_str(int rank, const int64_t *dims) {
    const char *s = "[";
    for (int k = 0; k < rank; k++)
        s = arena_printf("%s%s%lld", s, k ? ", " : "", (long long)dims[k]);
    return arena_printf("%s]", s);
}

/* Copy one file into tensor t of the inputs: its shape must be t's, except
 * that a runtime axis may be shorter than its MAX (which sets the dim, the
 * same for every file that has it: dims[k] of the model's DIMs); a scalar
 * (a hyper) is a file of shape [1].  Values are converted to t's dtype as
 * they are, without scaling; an i32 input takes integer files only. */
static bool read_input(const nnrt_model *d, const nnrt_tensor *t, const char *path, void *inputs,
                       int64_t *dimval) {
    nnrt_idx x;
    char err[256];
    if (nnrt_idx_load(path, &x, err, sizeof err) != NNRT_OK) {
        error_plain("--gradcheck-inputs: %s", err);
        return false;
    }
    int rank = t->rank ? t->rank : 1;
    static const int64_t one = 1;
    const int64_t *dims = t->rank ? t->dims : &one;
    bool ok = x.rank == rank;
    int64_t stride[MAX_RANK];
    for (int k = rank - 1; ok && k >= 0; k--) {
        stride[k] = k == rank - 1 ? 1 : stride[k + 1] * dims[k + 1];
        const char *dn = t->rank && t->dim_names ? t->dim_names[k] : NULL;
        ok = dn ? x.dims[k] <= dims[k] : x.dims[k] == dims[k];
    }
    if (!ok) {
        error_plain("--gradcheck-inputs: %s has shape %s; input '%s' is %s%s", path,
                    dims_str(x.rank, x.dims), t->name, dtype_name((DType)t->dtype), dims_str(rank, dims));
        nnrt_idx_free(&x);
        return false;
    }
    if (t->dtype == NNRT_I32 && (x.type == NNRT_IDX_F32 || x.type == NNRT_IDX_F64)) {
        error_plain("--gradcheck-inputs: %s holds floats; input '%s' is i32", path, t->name);
        nnrt_idx_free(&x);
        return false;
    }
    /* The runtime dims the file sets. */
    for (int k = 0; t->rank && t->dim_names && k < t->rank; k++) {
        if (!t->dim_names[k])
            continue;
        for (int j = 0; j < d->n_tensors; j++) {
            const nnrt_tensor *u = &d->tensors[j];
            if (u->role != NNRT_DIM || strcmp(u->name, t->dim_names[k]) != 0)
                continue;
            if (dimval[j] && dimval[j] != x.dims[k]) {
                error_plain("--gradcheck-inputs: %s sets dim '%s' to %lld; another file set it to %lld",
                            path, u->name, (long long)x.dims[k], (long long)dimval[j]);
                nnrt_idx_free(&x);
                return false;
            }
            dimval[j] = x.dims[k];
            *(int64_t *)((char *)inputs + u->offset) = x.dims[k];
        }
    }
    char *base = (char *)inputs + t->offset;
    for (size_t i = 0; i < x.count; i++) {
        size_t rest = i, at = 0;
        for (int k = rank - 1; k >= 0; k--) {
            at += (rest % (size_t)x.dims[k]) * (size_t)stride[k];
            rest /= (size_t)x.dims[k];
        }
        double v = idx_get(&x, i);
        if (t->dtype == NNRT_F32)
            ((float *)base)[at] = (float)v;
        else if (t->dtype == NNRT_F64)
            ((double *)base)[at] = v;
        else
            ((int32_t *)base)[at] = (int32_t)v;
    }
    printf("%s %s: %s from %s\n", t->role == NNRT_HYPER ? "hyper" : "input", t->name,
           dims_str(x.rank, x.dims), path);
    nnrt_idx_free(&x);
    return true;
}

/* Every input and hyper with a file in dir takes its values from it (the
 * others keep what draw_inputs gave them, and say so); at least one must. */
static bool read_inputs(const nnrt_model *d, void *inputs, const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        error_plain("--gradcheck-inputs=%s: not a directory (it holds NAME.idx for each input NAME)", dir);
        return false;
    }
    int64_t *dimval = NEWA(int64_t, d->n_tensors + 1);
    int found = 0;
    const char *names = "";
    for (int i = 0; i < d->n_tensors; i++) {
        const nnrt_tensor *t = &d->tensors[i];
        if (t->role != NNRT_INPUT && t->role != NNRT_HYPER)
            continue;
        const char *path = input_file(dir, t->name);
        if (t->role == NNRT_INPUT)
            names = arena_printf("%s%s%s.idx", names, *names ? ", " : "", t->name);
        if (!path) {
            if (t->role == NNRT_INPUT)
                printf("input %s: drawn (no %s/%s.idx)\n", t->name, dir, t->name);
            continue;
        }
        if (!read_input(d, t, path, inputs, dimval))
            return false;
        found++;
    }
    if (!found) {
        error_plain("--gradcheck-inputs=%s: no file for any input (looked for %s)", dir, names);
        return false;
    }
    return true;
}

int gradcheck_jit(Model *m, const Options *opt) {
    if (m->objective < 0) {
        error_plain("--gradcheck: the model has no objective ('minimize NAME')");
        return 1;
    }
    CG cg = {0};
    Options host = *opt;
    host.target = NULL;
    LLVMTargetMachineRef tm = plan_all(&cg, m, &host, NULL);
    if (!tm)
        return 1;
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMModuleRef mod = build_module(&cg, LLVMOrcThreadSafeContextGetContext(tsc), tm, opt->opt_level);
    LLVMDisposeTargetMachine(tm);
    if (!mod) {
        LLVMOrcDisposeThreadSafeContext(tsc);
        return 1;
    }
    LLVMOrcLLJITRef jit;
    if (report_jit_error(LLVMOrcCreateLLJIT(&jit, NULL), "cannot start the JIT")) {
        LLVMDisposeModule(mod);
        LLVMOrcDisposeThreadSafeContext(tsc);
        return 1;
    }
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(jit);
    /* The runtime is linked into nnc itself; libm comes from the process. */
    static const struct { const char *name; void *addr; } runtime[] = {
        {"nnrt_init_tensor", (void *)nnrt_init_tensor},
        {"nnrt_stream_id", (void *)nnrt_stream_id},
        {"nnrt_parallel", (void *)nnrt_parallel},
        {"nnrt_cpu_level", (void *)nnrt_cpu_level},
    };
    enum { NRUNTIME = sizeof runtime / sizeof *runtime };
    LLVMOrcCSymbolMapPair syms[NRUNTIME];
    for (int i = 0; i < NRUNTIME; i++) {
        syms[i].Name = LLVMOrcLLJITMangleAndIntern(jit, runtime[i].name);
        syms[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)runtime[i].addr;
        syms[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
        syms[i].Sym.Flags.TargetFlags = 0;
    }
    LLVMOrcDefinitionGeneratorRef gen;
    int rc = 1;
    if (!report_jit_error(LLVMOrcJITDylibDefine(jd, LLVMOrcAbsoluteSymbols(syms, NRUNTIME)), "JIT") &&
        !report_jit_error(LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
                              &gen, LLVMOrcLLJITGetGlobalPrefix(jit), NULL, NULL), "JIT")) {
        LLVMOrcJITDylibAddGenerator(jd, gen);
        LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
        LLVMOrcExecutorAddress addr = 0;
        const char *sym = arena_printf("%s_model", m->prefix);
        if (!report_jit_error(LLVMOrcLLJITAddLLVMIRModule(jit, jd, tsm), "JIT") &&
            !report_jit_error(LLVMOrcLLJITLookup(jit, &addr, sym), "JIT")) {
            const nnrt_model *d = (const nnrt_model *)(uintptr_t)addr;
            void *params = nnrt_alloc(d->params_size), *inputs = nnrt_alloc(d->inputs_size);
            void *state = nnrt_alloc(d->state_size);
            if (!params || !inputs || !state) {
                error_plain("out of memory");
            } else {
                d->init(params, state, 1);
                draw_inputs(m, d, inputs, 1);
                if (!opt->gradcheck_inputs || read_inputs(d, inputs, opt->gradcheck_inputs)) {
                    nnrt_gradcheck_entry *entries = NEWA(nnrt_gradcheck_entry, d->n_tensors + 1);
                    nnrt_gradcheck_report rep = {.entries = entries, .cap = d->n_tensors};
                    nnrt_gradcheck_options go = {.max_coords = 1000, .seed = 1, .state = state,
                                                 .allow_untested = opt->gradcheck_allow_untested};
                    int r = nnrt_gradcheck(d, params, inputs, &go, &rep);
                    if (r == 0 || r == NNRT_EGRAD) {
                        nnrt_gradcheck_print(stdout, &rep);
                        fflush(stdout);
                        explain_untested(m, &rep, opt);
                    } else {
                        error_plain("gradient check: %s", nnrt_strerror(r));
                    }
                    if (r == 0)
                        rc = 0;
                }
            }
            nnrt_free(params);
            nnrt_free(inputs);
            nnrt_free(state);
        }
    } else {
        LLVMDisposeModule(mod);
    }
    LLVMOrcDisposeLLJIT(jit);
    LLVMOrcDisposeThreadSafeContext(tsc);
    return rc;
}
