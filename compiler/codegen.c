/*
 * codegen.c: lowering the planned graph to LLVM IR.
 *
 * Each entry point (forward, backward, train_step) is one function whose
 * body runs, in topological order, the kernel of every node the plan gives a
 * buffer (by a call each, or beyond KERNELS_INLINE from a table of calls),
 * then stores the roots into their structs (and, for train_step, updates
 * the params).  A loop over a runtime axis (`dim batch <= 256`) runs
 * to the n of the call, which every function loads once at its entry (an
 * outlined kernel gets the dims as arguments); all other loops have static
 * trip counts, and strides are those of the max shape.  A value is read
 * through value_at(), which knows every storage class: a leaf or buffer is a
 * load at its strided layout, a view re-indexes, an inline node computes its
 * op right there from its operands' values; that is how elementwise chains
 * fuse into one loop.
 *
 * Also here: <model>_init, <model>_set_defaults and the nnrt_model
 * descriptor.  emit.c owns the target machine and the files.
 */
#include "codegen.h"

#include <llvm-c/DebugInfo.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- types and constants ---- */

LLVMTypeRef cg_type(CG *cg, DType dt) {
    switch (dt) {
    case DT_F64: return cg->f64;
    case DT_I32: return cg->i32;
    case DT_I64: return cg->i64;
    case DT_F32: case DT_NONE: break;
    }
    return cg->f32;
}

LLVMValueRef cg_i64(CG *cg, int64_t v) { return LLVMConstInt(cg->i64, (unsigned long long)v, 1); }
static LLVMValueRef ci32(CG *cg, int v) { return LLVMConstInt(cg->i32, (unsigned long long)(int64_t)v, 1); }

static LLVMValueRef cval(CG *cg, DType dt, double v) {
    if (dt == DT_I32)
        return ci32(cg, (int)v);
    return LLVMConstReal(cg_type(cg, dt), v);
}

/* ---- calls to intrinsics and libm ---- */

static LLVMValueRef intrinsic(CG *cg, const char *name, LLVMTypeRef t, LLVMValueRef *args, int n) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, &t, 1);
    LLVMTypeRef fty = LLVMIntrinsicGetType(cg->ctx, id, &t, 1);
    return LLVMBuildCall2(cg->b, fty, fn, args, (unsigned)n, "");
}

static LLVMValueRef intr1(CG *cg, const char *name, LLVMValueRef x) {
    return intrinsic(cg, name, LLVMTypeOf(x), &x, 1);
}

static LLVMValueRef intr2(CG *cg, const char *name, LLVMValueRef x, LLVMValueRef y) {
    LLVMValueRef a[2] = {x, y};
    return intrinsic(cg, name, LLVMTypeOf(x), a, 2);
}

/* e^x.  f32: Cephes' expf (a degree-6 polynomial on x - k ln 2, times 2^k
 * applied as two powers of two so that results down to the subnormals
 * come out), in plain arithmetic that LLVM vectorizes, where llvm.exp is a
 * scalar call into libm per element; within 2 ulp of libm's, and +inf,
 * 0 and NaN where exp gives them.  f64: llvm.exp. */
static LLVMValueRef cg_exp(CG *cg, LLVMValueRef x) {
    if (LLVMTypeOf(x) != cg->f32)
        return intr1(cg, "llvm.exp", x);
    LLVMBuilderRef b = cg->b;
    LLVMTypeRef t = cg->f32;
    LLVMValueRef c = intr2(cg, "llvm.minnum", intr2(cg, "llvm.maxnum", x, LLVMConstReal(t, -104.0)),
                           LLVMConstReal(t, 89.0));   /* so that k fits; NaN is restored below */
    LLVMValueRef k = intr1(cg, "llvm.floor", LLVMBuildFAdd(b, LLVMBuildFMul(b, c, LLVMConstReal(t, 1.44269504088896341), ""),
                                                          LLVMConstReal(t, 0.5), ""));
    LLVMValueRef r = LLVMBuildFSub(b, c, LLVMBuildFMul(b, k, LLVMConstReal(t, 0.693359375), ""), "");
    r = LLVMBuildFSub(b, r, LLVMBuildFMul(b, k, LLVMConstReal(t, -2.12194440e-4), ""), "");
    static const double coef[6] = {1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                   4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1};
    LLVMValueRef p = LLVMConstReal(t, coef[0]);
    for (int i = 1; i < 6; i++)
        p = LLVMBuildFAdd(b, LLVMBuildFMul(b, p, r, ""), LLVMConstReal(t, coef[i]), "");
    p = LLVMBuildFAdd(b, LLVMBuildFAdd(b, LLVMBuildFMul(b, LLVMBuildFMul(b, p, r, ""), r, ""), r, ""),
                      LLVMConstReal(t, 1), "");
    /* 2^k = 2^(k >> 1) * 2^(k - (k >> 1)), each a normal float's bits */
    LLVMValueRef ki = LLVMBuildFPToSI(b, k, cg->i32, "");
    LLVMValueRef k1 = LLVMBuildAShr(b, ki, ci32(cg, 1), ""), k2 = LLVMBuildSub(b, ki, k1, "");
    LLVMValueRef s1 = LLVMBuildBitCast(b, LLVMBuildShl(b, LLVMBuildAdd(b, k1, ci32(cg, 127), ""), ci32(cg, 23), ""), t, "");
    LLVMValueRef s2 = LLVMBuildBitCast(b, LLVMBuildShl(b, LLVMBuildAdd(b, k2, ci32(cg, 127), ""), ci32(cg, 23), ""), t, "");
    LLVMValueRef y = LLVMBuildFMul(b, LLVMBuildFMul(b, p, s1, ""), s2, "");
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, x, x, ""), x, y, "");
}

/* A libm function of one argument, float or double by the argument's type. */
static LLVMValueRef libm1(CG *cg, const char *name, LLVMValueRef x) {
    LLVMTypeRef t = LLVMTypeOf(x);
    const char *sym = t == cg->f32 ? arena_printf("%sf", name) : name;
    LLVMTypeRef fty = LLVMFunctionType(t, &t, 1, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, sym);
    if (!fn) {
        fn = LLVMAddFunction(cg->mod, sym, fty);
        LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "nounwind"));
        LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "willreturn"));
    }
    return LLVMBuildCall2(cg->b, fty, fn, &x, 1, "");
}

LLVMAttributeRef cg_attr(CG *cg, const char *name) {
    return LLVMCreateEnumAttribute(cg->ctx, LLVMGetEnumAttributeKindForName(name, strlen(name)), 0);
}

/* ---- x86-64 levels (codegen.h) ---- */

const IsaLevel cg_levels[CG_NLEVELS] = {{4, "x86-64-v4", 64, 32}, {3, "x86-64-v3", 32, 16}, {1, NULL, 16, 16}};

void cg_set_cpu(CG *cg, LLVMValueRef fn, const char *cpu) {
    if (cpu)
        LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                                LLVMCreateStringAttribute(cg->ctx, "target-cpu", 10, cpu, (unsigned)strlen(cpu)));
}

const IsaLevel *cg_level_of(LLVMValueRef fn) {
    LLVMAttributeRef cpu = LLVMGetStringAttributeAtIndex(fn, LLVMAttributeFunctionIndex, "target-cpu", 10);
    unsigned len = 0;
    const char *name = cpu ? LLVMGetStringAttributeValue(cpu, &len) : NULL;
    for (int i = 0; name && i < CG_NLEVELS; i++)
        if (cg_levels[i].cpu && strlen(cg_levels[i].cpu) == len && strncmp(cg_levels[i].cpu, name, len) == 0)
            return &cg_levels[i];
    return NULL;
}

LLVMValueRef cg_cpu_level(CG *cg) {
    LLVMValueRef gl = LLVMGetNamedGlobal(cg->mod, "nnc.cpu_level");
    if (!gl) {
        gl = LLVMAddGlobal(cg->mod, cg->i32, "nnc.cpu_level");
        LLVMSetLinkage(gl, LLVMInternalLinkage);
        LLVMSetInitializer(gl, ci32(cg, 0));
    }
    LLVMValueRef known = LLVMBuildLoad2(cg->b, cg->i32, gl, "");
    LLVMSetOrdering(known, LLVMAtomicOrderingMonotonic);
    LLVMSetAlignment(known, 4);
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(cg->b));
    LLVMBasicBlockRef from = LLVMGetInsertBlock(cg->b);
    LLVMBasicBlockRef ask = LLVMAppendBasicBlockInContext(cg->ctx, fn, "ask_cpu");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(cg->ctx, fn, "cpu_known");
    LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntEQ, known, ci32(cg, 0), ""), ask, join);
    LLVMPositionBuilderAtEnd(cg->b, ask);
    LLVMTypeRef fty = LLVMFunctionType(cg->i32, NULL, 0, 0);
    LLVMValueRef query = LLVMGetNamedFunction(cg->mod, "nnrt_cpu_level");
    if (!query)
        query = LLVMAddFunction(cg->mod, "nnrt_cpu_level", fty);
    LLVMValueRef asked = LLVMBuildCall2(cg->b, fty, query, NULL, 0, "");
    LLVMValueRef st = LLVMBuildStore(cg->b, asked, gl);
    LLVMSetOrdering(st, LLVMAtomicOrderingMonotonic);
    LLVMSetAlignment(st, 4);
    LLVMBuildBr(cg->b, join);
    LLVMPositionBuilderAtEnd(cg->b, join);
    LLVMValueRef level = LLVMBuildPhi(cg->b, cg->i32, "level");
    LLVMAddIncoming(level, &known, &from, 1);
    LLVMAddIncoming(level, &asked, &ask, 1);
    return level;
}

void cg_dispatch_call(CG *cg, LLVMValueRef self, LLVMValueRef *fns) {
    unsigned n = LLVMCountParams(self);
    LLVMValueRef *argv = NEWA(LLVMValueRef, n + 1);
    for (unsigned i = 0; i < n; i++)
        argv[i] = LLVMGetParam(self, i);
    LLVMValueRef level = cg_cpu_level(cg);
    LLVMTypeRef fty = LLVMGlobalGetValueType(self);
    for (int i = 0; i < CG_NLEVELS; i++) {
        LLVMBasicBlockRef next = NULL;
        if (i + 1 < CG_NLEVELS) {
            LLVMBasicBlockRef take = LLVMAppendBasicBlockInContext(cg->ctx, self, "take");
            next = LLVMAppendBasicBlockInContext(cg->ctx, self, "lower");
            LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGE, level, ci32(cg, cg_levels[i].level), ""), take,
                            next);
            LLVMPositionBuilderAtEnd(cg->b, take);
        }
        LLVMValueRef rc = LLVMBuildCall2(cg->b, fty, fns[i], argv, n, "");
        LLVMSetTailCall(rc, 1);
        LLVMBuildRet(cg->b, rc);
        if (next)
            LLVMPositionBuilderAtEnd(cg->b, next);
    }
}

LLVMValueRef cg_entry_alloca(CG *cg, LLVMTypeRef t, const char *name) {
    LLVMBuilderRef eb = LLVMCreateBuilderInContext(cg->ctx);
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(LLVMGetBasicBlockParent(LLVMGetInsertBlock(cg->b)));
    LLVMValueRef head = LLVMGetFirstInstruction(entry);
    if (head)
        LLVMPositionBuilderBefore(eb, head);
    else
        LLVMPositionBuilderAtEnd(eb, entry);
    LLVMValueRef p = LLVMBuildAlloca(eb, t, name);
    LLVMDisposeBuilder(eb);
    return p;
}

/* n pointers stored in an array on the stack (the arguments of a kernel,
 * the bases of an entry point), for a function that runs elsewhere: an
 * epilogue, a task of the thread pool.  ptrs_from loads them back, in
 * that function, from the array its argument points at. */
static LLVMValueRef ptr_array(CG *cg, LLVMValueRef *v, int n, const char *name) {
    LLVMTypeRef at = LLVMArrayType2(cg->ptr, (uint64_t)n);
    LLVMValueRef a = cg_entry_alloca(cg, at, name);
    for (int k = 0; k < n; k++) {
        LLVMValueRef i[2] = {cg_i64(cg, 0), cg_i64(cg, k)};
        LLVMBuildStore(cg->b, v[k] ? v[k] : LLVMConstPointerNull(cg->ptr), LLVMBuildInBoundsGEP2(cg->b, at, a, i, 2, ""));
    }
    return a;
}

static void ptrs_from(CG *cg, LLVMValueRef a, int n, LLVMValueRef *out) {
    LLVMTypeRef at = LLVMArrayType2(cg->ptr, (uint64_t)n);
    for (int k = 0; k < n; k++) {
        LLVMValueRef i[2] = {cg_i64(cg, 0), cg_i64(cg, k)};
        out[k] = LLVMBuildLoad2(cg->b, cg->ptr, LLVMBuildInBoundsGEP2(cg->b, at, a, i, 2, ""), "");
    }
}

/* ---- loops ---- */

/* A bottom-tested counted loop: every trip count here is at least 1. */
LLVMValueRef cg_range_open(CG *cg, Loop *l, LLVMValueRef start, LLVMValueRef end) {
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(cg->b);
    l->head = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "loop");
    l->end = end;
    LLVMBuildBr(cg->b, l->head);
    LLVMPositionBuilderAtEnd(cg->b, l->head);
    l->iv = LLVMBuildPhi(cg->b, cg->i64, "i");
    LLVMAddIncoming(l->iv, &start, &pre, 1);
    return l->iv;
}

LLVMValueRef cg_loop_open(CG *cg, Loop *l, int64_t n) { return cg_range_open(cg, l, cg_i64(cg, 0), cg_i64(cg, n)); }

LLVMValueRef cg_loop_close(CG *cg, Loop *l) {
    LLVMValueRef next = LLVMBuildNUWAdd(cg->b, l->iv, cg_i64(cg, 1), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(cg->b);
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "done");
    LLVMValueRef br = LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntULT, next, l->end, ""), l->head, exit);
    LLVMAddIncoming(l->iv, &next, &latch, 1);
    LLVMPositionBuilderAtEnd(cg->b, exit);
    return br;
}

void cg_loop_hints(CG *cg, LLVMValueRef br, int n, const char *const *key, const int *on) {
    LLVMMetadataRef ops[8];
    ops[0] = LLVMTemporaryMDNode(cg->ctx, NULL, 0);
    for (int k = 0; k < n; k++) {
        LLVMMetadataRef kv[2] = {LLVMMDStringInContext2(cg->ctx, key[k], strlen(key[k])), NULL};
        if (on[k] >= 0)   /* a flag, or a width or count */
            kv[1] = LLVMValueAsMetadata(LLVMConstInt(strstr(key[k], "enable") ? cg->i1 : cg->i32, (unsigned long long)on[k], 0));
        ops[k + 1] = LLVMMDNodeInContext2(cg->ctx, kv, on[k] >= 0 ? 2 : 1);
    }
    LLVMMetadataRef id = LLVMMDNodeInContext2(cg->ctx, ops, (size_t)n + 1);
    LLVMMetadataReplaceAllUsesWith(ops[0], id);
    LLVMSetMetadata(br, LLVMGetMDKindIDInContext(cg->ctx, "llvm.loop", 9), LLVMMetadataAsValue(cg->ctx, id));
}

LLVMValueRef cg_extent(CG *cg, const Shape *s, int d) {
    if (!s->dyn[d])
        return cg_i64(cg, s->d[d]);
    if (!cg->dimval[s->dyn[d] - 1]) {
        fprintf(stderr, "nnc: internal error: a runtime dim read where it is not loaded\n");
        abort();
    }
    int64_t per = shape_rows_per_n(s, d);
    LLVMValueRef n = cg->dimval[s->dyn[d] - 1];
    return per == 1 ? n : LLVMBuildNUWMul(cg->b, n, cg_i64(cg, per), "");
}

/* for (iv = 0; iv < the extent of axis d of s; iv++) */
static LLVMValueRef axis_open(CG *cg, Loop *l, const Shape *s, int d) {
    if (d == 0 && s == cg->split_shape)
        return cg_range_open(cg, l, cg->split_begin, cg->split_end);
    return cg_range_open(cg, l, cg_i64(cg, 0), cg_extent(cg, s, d));
}

/* Loops over every index of shape s in use, outermost first; idx receives
 * the induction variables.  Fixed dims of size 1 get no loop.  An axis d
 * joined to the next one (bit d of joined) gets no loop either: idx[d]
 * stays 0 and the next axis's loop runs over both, which is the same walk
 * when every layout it addresses has stride[d] = stride[d+1] * extent[d+1]
 * (see store_loop).  A row of 28 or 10 elements is too short to vectorize;
 * 784 or 1000 are not. */
typedef struct Nest {
    Loop loop[MAX_RANK];
    int rank;
    unsigned joined;
} Nest;

static bool has_loop(const Shape *s, int d) { return s->d[d] != 1 || s->dyn[d]; }
static bool joined_to_next(unsigned joined, int d) { return d >= 0 && (joined >> d & 1); }

static void nest_open_joined(CG *cg, Nest *ns, const Shape *s, unsigned joined, LLVMValueRef *idx) {
    ns->rank = s->rank;
    ns->joined = joined;
    for (int d = 0; d < s->rank; d++) {
        if (joined_to_next(joined, d) || !has_loop(s, d)) {
            idx[d] = cg_i64(cg, 0);
            continue;
        }
        if (!joined_to_next(joined, d - 1)) {
            idx[d] = axis_open(cg, &ns->loop[d], s, d);
            continue;
        }
        LLVMValueRef extent = cg_extent(cg, s, d);
        for (int k = d - 1; joined_to_next(joined, k); k--)
            extent = LLVMBuildNUWMul(cg->b, extent, cg_extent(cg, s, k), "");
        idx[d] = cg_range_open(cg, &ns->loop[d], cg_i64(cg, 0), extent);
    }
}

static void nest_open(CG *cg, Nest *ns, const Shape *s, LLVMValueRef *idx) { nest_open_joined(cg, ns, s, 0, idx); }

static void nest_close(CG *cg, Nest *ns, const Shape *s) {
    for (int d = ns->rank - 1; d >= 0; d--)
        if (has_loop(s, d) && !joined_to_next(ns->joined, d))
            cg_loop_close(cg, &ns->loop[d]);
}

/* ---- addressing ---- */

/* A layout's base: an argument of the entry point, or inside an outlined
 * kernel (base >= NBASE) one of the kernel's arguments. */
static LLVMValueRef base_of(CG *cg, const Layout *l) {
    return l->base >= NBASE ? cg->kargs[l->base - NBASE] : cg->base[l->base];
}

static LLVMValueRef base_ptr(CG *cg, const Layout *l) {
    LLVMValueRef off = cg_i64(cg, l->byte_off);
    return LLVMBuildInBoundsGEP2(cg->b, cg->i8, base_of(cg, l), &off, 1, "");
}

LLVMValueRef cg_elem_ptr(CG *cg, const Layout *l, DType dt, int rank, LLVMValueRef *idx) {
    LLVMValueRef lin = cg_i64(cg, l->elem_off);
    for (int d = 0; d < rank; d++)
        if (l->stride[d])
            lin = LLVMBuildNSWAdd(cg->b, lin, LLVMBuildNSWMul(cg->b, idx[d], cg_i64(cg, l->stride[d]), ""), "");
    return LLVMBuildInBoundsGEP2(cg->b, cg_type(cg, dt), base_ptr(cg, l), &lin, 1, "");
}

static LLVMValueRef load(CG *cg, DType dt, LLVMValueRef ptr) {
    LLVMValueRef v = LLVMBuildLoad2(cg->b, cg_type(cg, dt), ptr, "");
    LLVMSetAlignment(v, (unsigned)dtype_size(dt));
    return v;
}

static LLVMValueRef store(CG *cg, DType dt, LLVMValueRef v, LLVMValueRef ptr) {
    LLVMValueRef st = LLVMBuildStore(cg->b, v, ptr);
    LLVMSetAlignment(st, (unsigned)dtype_size(dt));
    return st;
}

/* Inside an epilogue: mark a load or store through layout l's argument
 * with its alias scope. */
static LLVMValueRef scoped(CG *cg, LLVMValueRef access, const Layout *l) {
    if (cg->scope && l->base >= NBASE) {
        LLVMSetMetadata(access, LLVMGetMDKindIDInContext(cg->ctx, "alias.scope", 11), cg->scope[l->base - NBASE]);
        LLVMSetMetadata(access, LLVMGetMDKindIDInContext(cg->ctx, "noalias", 7), cg->noalias[l->base - NBASE]);
    }
    return access;
}

/* ---- values ---- */

static LLVMValueRef value_at(CG *cg, Node *n, LLVMValueRef *idx);

/* Operand k of n at n's index idx, by NumPy broadcasting. */
static LLVMValueRef operand_at(CG *cg, Node *n, int k, LLVMValueRef *idx) {
    Node *o = n->in[k];
    LLVMValueRef oidx[MAX_RANK];
    int lead = n->shape.rank - o->shape.rank;
    for (int d = 0; d < o->shape.rank; d++)
        oidx[d] = o->shape.d[d] == 1 ? cg_i64(cg, 0) : idx[d + lead];
    return value_at(cg, o, oidx);
}

static LLVMValueRef as_float(CG *cg, LLVMValueRef i1, DType dt) {
    return LLVMBuildUIToFP(cg->b, i1, cg_type(cg, dt), "");
}

/* Philox4x32-10 as runtime/rng.c computes it: word 0 of the block for
 * counter c and key k, all i32. */
static LLVMValueRef philox_word0(CG *cg, LLVMValueRef c[4], LLVMValueRef k[2]) {
    LLVMBuilderRef b = cg->b;
    LLVMValueRef m0 = cg_i64(cg, 0xD2511F53), m1 = cg_i64(cg, 0xCD9E8D57), sh = cg_i64(cg, 32);
    LLVMValueRef w0 = LLVMConstInt(cg->i32, 0x9E3779B9u, 0), w1 = LLVMConstInt(cg->i32, 0xBB67AE85u, 0);
    LLVMValueRef k0 = k[0], k1 = k[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 = LLVMBuildAdd(b, k0, w0, "");
            k1 = LLVMBuildAdd(b, k1, w1, "");
        }
        LLVMValueRef p0 = LLVMBuildMul(b, LLVMBuildZExt(b, c[0], cg->i64, ""), m0, "");
        LLVMValueRef p1 = LLVMBuildMul(b, LLVMBuildZExt(b, c[2], cg->i64, ""), m1, "");
        LLVMValueRef n0 = LLVMBuildXor(b, LLVMBuildXor(b, LLVMBuildTrunc(b, LLVMBuildLShr(b, p1, sh, ""), cg->i32, ""),
                                                    c[1], ""), k0, "");
        LLVMValueRef n2 = LLVMBuildXor(b, LLVMBuildXor(b, LLVMBuildTrunc(b, LLVMBuildLShr(b, p0, sh, ""), cg->i32, ""),
                                                    c[3], ""), k1, "");
        c[1] = LLVMBuildTrunc(b, p1, cg->i32, "");
        c[3] = LLVMBuildTrunc(b, p0, cg->i32, "");
        c[0] = n0;
        c[2] = n2;
    }
    return c[0];
}

/* Dropout site k's mask at idx (contract, 5.8; nnrt_dropout_keeps in
 * runtime/rng.c is the same rule): element i, its row-major index in the
 * max shape, is kept when word 0 of Philox block {i, k, step} under key
 * seed is at least p * 2^32, and a kept element is 1/(1-p). */
static LLVMValueRef dropout_mask(CG *cg, Node *n, LLVMValueRef *idx) {
    LLVMBuilderRef b = cg->b;
    LLVMValueRef i = cg_i64(cg, 0);
    int64_t stride = 1;
    for (int d = n->shape.rank - 1; d >= 0; stride *= n->shape.d[d--])
        i = LLVMBuildAdd(b, i, LLVMBuildMul(b, idx[d], cg_i64(cg, stride), ""), "");
    LLVMValueRef at[2] = {cg_i64(cg, 0), cg_i64(cg, 1)};
    LLVMValueRef seed = value_at(cg, n->in[1], &at[0]), step = value_at(cg, n->in[1], &at[1]);
    LLVMValueRef c[4] = {LLVMBuildTrunc(b, i, cg->i32, ""), LLVMConstInt(cg->i32, (unsigned long long)n->value, 0),
                         LLVMBuildTrunc(b, step, cg->i32, ""),
                         LLVMBuildTrunc(b, LLVMBuildLShr(b, step, cg_i64(cg, 32), ""), cg->i32, "")};
    LLVMValueRef k[2] = {LLVMBuildTrunc(b, seed, cg->i32, ""),
                         LLVMBuildTrunc(b, LLVMBuildLShr(b, seed, cg_i64(cg, 32), ""), cg->i32, "")};
    LLVMValueRef word = LLVMBuildZExt(b, philox_word0(cg, c, k), cg->i64, "");
    LLVMValueRef p = operand_at(cg, n, 0, idx);
    if (n->dt != DT_F64)
        p = LLVMBuildFPExt(b, p, cg->f64, "");
    LLVMValueRef threshold = LLVMBuildFPToUI(b, LLVMBuildFMul(b, p, LLVMConstReal(cg->f64, 4294967296.0), ""), cg->i64, "");
    LLVMValueRef keep = LLVMBuildICmp(b, LLVMIntUGE, word, threshold, "");
    LLVMValueRef q = LLVMBuildFPTrunc(b, LLVMBuildFSub(b, LLVMConstReal(cg->f64, 1), p, ""), cg_type(cg, n->dt), "");
    LLVMValueRef scale = LLVMBuildFDiv(b, cval(cg, n->dt, 1), q, "");
    return LLVMBuildSelect(b, keep, scale, cval(cg, n->dt, 0), "");
}

/* PAD at idx: its operand's element shifted by start along the axis where
 * that falls in the operand, else 0 (the index clamped so that no address
 * leaves the operand). */
static LLVMValueRef pad_value(CG *cg, Node *n, LLVMValueRef *idx) {
    LLVMBuilderRef b = cg->b;
    int axis = (int)n->attr[0];
    LLVMValueRef oidx[MAX_RANK];
    memcpy(oidx, idx, sizeof(LLVMValueRef) * (size_t)n->shape.rank);
    LLVMValueRef at = LLVMBuildSub(b, idx[axis], cg_i64(cg, n->attr[1]), "");
    LLVMValueRef in = LLVMBuildICmp(b, LLVMIntULT, at, cg_i64(cg, n->in[0]->shape.d[axis]), "");
    oidx[axis] = LLVMBuildSelect(b, in, at, cg_i64(cg, 0), "");
    return LLVMBuildSelect(b, in, value_at(cg, n->in[0], oidx), cval(cg, n->dt, 0), "");
}

/* FLIP at idx: its operand's element at e - 1 - i along each flipped axis
 * of extent e in use (a runtime axis: its rows in use reversed). */
static LLVMValueRef flip_value(CG *cg, Node *n, LLVMValueRef *idx) {
    LLVMValueRef oidx[MAX_RANK];
    for (int d = 0; d < n->shape.rank; d++) {
        oidx[d] = idx[d];
        if (n->attr[0] >> d & 1) {
            LLVMValueRef last = LLVMBuildSub(cg->b, cg_extent(cg, &n->shape, d), cg_i64(cg, 1), "");
            oidx[d] = LLVMBuildSub(cg->b, last, idx[d], "");
        }
    }
    return value_at(cg, n->in[0], oidx);
}

/* A reshape computed inline (plan.c, reshape_by_index): its operand at
 * the indices each group's flat index has over the operand's axes. */
static LLVMValueRef reshape_value(CG *cg, Node *n, LLVMValueRef *idx) {
    const Shape *is = &n->in[0]->shape;
    AxisGroup g[2 * MAX_RANK];
    int ng = reshape_groups(n, g);
    LLVMValueRef in_idx[MAX_RANK];
    for (int k = 0; k < ng; k++) {
        LLVMValueRef flat = cg_i64(cg, 0);
        for (int j = g[k].out0; j < g[k].out1; j++)
            flat = LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, flat, cg_i64(cg, n->shape.d[j]), ""), idx[j], "");
        for (int a = g[k].in1 - 1; a >= g[k].in0; a--) {
            LLVMValueRef d = cg_i64(cg, is->d[a]);
            in_idx[a] = a == g[k].in0 ? flat : LLVMBuildURem(cg->b, flat, d, "");
            flat = LLVMBuildUDiv(cg->b, flat, d, "");
        }
    }
    return value_at(cg, n->in[0], in_idx);
}

/* The elementwise op of n at idx. */
static LLVMValueRef ew_compute(CG *cg, Node *n, LLVMValueRef *idx) {
    if (n->op == OP_DROPMASK)   /* its operands are not elementwise */
        return dropout_mask(cg, n, idx);
    if (n->op == OP_RESHAPE)
        return reshape_value(cg, n, idx);
    if (n->op == OP_PAD)
        return pad_value(cg, n, idx);
    if (n->op == OP_FLIP)
        return flip_value(cg, n, idx);
    LLVMBuilderRef b = cg->b;
    LLVMValueRef x = operand_at(cg, n, 0, idx);
    LLVMValueRef y = op_info[n->op].arity >= 2 ? operand_at(cg, n, 1, idx) : NULL;
    LLVMTypeRef t = cg_type(cg, n->dt);
    LLVMValueRef zero = cval(cg, n->dt, 0), one = cval(cg, n->dt, 1);
    switch (n->op) {
    case OP_NEG: return LLVMBuildFNeg(b, x, "");
    case OP_EXP: return cg_exp(cg, x);
    case OP_LOG: return intr1(cg, "llvm.log", x);
    case OP_SQRT: return intr1(cg, "llvm.sqrt", x);
    case OP_ABS: return intr1(cg, "llvm.fabs", x);
    case OP_TANH: return libm1(cg, "tanh", x);
    case OP_SIGMOID: {
        /* e = exp(-|x|) never overflows: 1/(1+e) for x >= 0, e/(1+e) below. */
        LLVMValueRef e = cg_exp(cg, LLVMBuildFNeg(b, intr1(cg, "llvm.fabs", x), ""));
        LLVMValueRef r = LLVMBuildFDiv(b, one, LLVMBuildFAdd(b, one, e, ""), "");
        LLVMValueRef neg = LLVMBuildFCmp(b, LLVMRealOLT, x, zero, "");
        return LLVMBuildSelect(b, neg, LLVMBuildFMul(b, e, r, ""), r, "");
    }
    case OP_RELU:   /* NaN stays NaN, as in PyTorch */
        return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, zero, ""), zero, x, "");
    case OP_SOFTPLUS: {
        /* max(x, 0) + log1p(exp(-|x|)) */
        LLVMValueRef e = cg_exp(cg, LLVMBuildFNeg(b, intr1(cg, "llvm.fabs", x), ""));
        LLVMValueRef pos = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, zero, ""), x, zero, "");
        return LLVMBuildFAdd(b, pos, libm1(cg, "log1p", e), "");
    }
    case OP_SQUARE: return LLVMBuildFMul(b, x, x, "");
    case OP_POWC:
        if (n->value == 0.5)
            return intr1(cg, "llvm.sqrt", x);
        if (n->value == -1)
            return LLVMBuildFDiv(b, one, x, "");
        if (n->value == floor(n->value) && fabs(n->value) <= 64) {
            LLVMValueRef a[2] = {x, ci32(cg, (int)n->value)};
            LLVMTypeRef ts[2] = {t, cg->i32};
            unsigned id = LLVMLookupIntrinsicID("llvm.powi", 9);
            LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, ts, 2);
            return LLVMBuildCall2(b, LLVMIntrinsicGetType(cg->ctx, id, ts, 2), fn, a, 2, "");
        }
        return intr2(cg, "llvm.pow", x, LLVMConstReal(t, n->value));
    case OP_CAST:
        if (!dtype_is_float(n->in[0]->dt))
            return LLVMBuildSIToFP(b, x, t, "");
        return LLVMBuildFPCast(b, x, t, "");
    case OP_SIGN:
        return LLVMBuildFSub(b, as_float(cg, LLVMBuildFCmp(b, LLVMRealOGT, x, zero, ""), n->dt),
                             as_float(cg, LLVMBuildFCmp(b, LLVMRealOLT, x, zero, ""), n->dt), "");
    case OP_STEP:
        return as_float(cg, LLVMBuildFCmp(b, LLVMRealOGT, x, zero, ""), n->dt);
    case OP_SIN: return intr1(cg, "llvm.sin", x);
    case OP_COS: return intr1(cg, "llvm.cos", x);
    case OP_ERF: return libm1(cg, "erf", x);
    case OP_LOG1P: return libm1(cg, "log1p", x);
    case OP_EXPM1: return libm1(cg, "expm1", x);
    case OP_ADD: return LLVMBuildFAdd(b, x, y, "");
    case OP_SUB: return LLVMBuildFSub(b, x, y, "");
    case OP_MUL: return LLVMBuildFMul(b, x, y, "");
    case OP_DIV: return LLVMBuildFDiv(b, x, y, "");
    case OP_MAXIMUM: return intr2(cg, "llvm.maximum", x, y);
    case OP_MINIMUM: return intr2(cg, "llvm.minimum", x, y);
    case OP_EQ: case OP_NE: case OP_GT: case OP_GE: {
        static const LLVMIntPredicate ip[] = {LLVMIntEQ, LLVMIntNE, LLVMIntSGT, LLVMIntSGE};
        static const LLVMRealPredicate fp[] = {LLVMRealOEQ, LLVMRealUNE, LLVMRealOGT, LLVMRealOGE};
        int k = n->op == OP_EQ ? 0 : n->op == OP_NE ? 1 : n->op == OP_GT ? 2 : 3;
        LLVMValueRef c = n->in[0]->dt == DT_I32 ? LLVMBuildICmp(b, ip[k], x, y, "") : LLVMBuildFCmp(b, fp[k], x, y, "");
        return as_float(cg, c, n->dt);
    }
    case OP_WHERE: {   /* a nonzero condition, NaN included, takes a */
        LLVMValueRef c = LLVMBuildFCmp(b, LLVMRealUNE, x, cval(cg, n->in[0]->dt, 0), "");
        return LLVMBuildSelect(b, c, y, operand_at(cg, n, 2, idx), "");
    }
    LEAF_OPS: VIEW_OPS: REDUCE_OPS: KERNEL_OPS: MODE_OPS: REINDEX_OPS: case OP_CONST: case OP_COUNT:
    default:
        fprintf(stderr, "nnc: internal error: no elementwise lowering for %s\n", op_info[n->op].name);
        abort();
    }
}

static LLVMValueRef value_at(CG *cg, Node *n, LLVMValueRef *idx) {
    const Slot *s = &cg->plan->slot[n->id];
    switch (s->st) {
    case ST_CONST:
        return cval(cg, n->dt, s->cval);
    case ST_INLINE:
        return ew_compute(cg, n, idx);
    case ST_LEAF: case ST_VIEW: case ST_BUFFER:
        return scoped(cg, load(cg, n->dt, cg_elem_ptr(cg, &s->lay, n->dt, n->shape.rank, idx)), &s->lay);
    case ST_DEAD: case ST_WINDOWS: case ST_COLUMNS:   /* only products fill windows; col2im computes columns */
    default:
        fprintf(stderr, "nnc: internal error: %%%d (%s) read but not planned\n", n->id, op_info[n->op].name);
        abort();
    }
}

LLVMValueRef cg_value_at(CG *cg, Node *n, LLVMValueRef *idx) { return value_at(cg, n, idx); }

/* Whether the nest over s may join axis d to d+1 (Nest): both have loops,
 * d+1 is a fixed axis, and what is stored there through out_stride (NULL:
 * one element for both) is contiguous across them. */
static bool may_join(const Shape *s, int d, const int64_t *out_stride) {
    return has_loop(s, d) && has_loop(s, d + 1) && !s->dyn[d + 1] &&
           (!out_stride || out_stride[d] == out_stride[d + 1] * s->d[d + 1]);
}

/* Whether axes d and d+1 of a nest of the given rank can be walked as one
 * (Nest) where node o is read: o's axes are the nest's last ones (NumPy's
 * broadcasting), and o either reads neither axis or reads both through
 * layouts that are contiguous across them.  Masks and pads compute with
 * the index itself, so they never join axes. */
static bool computes_joined(CG *cg, Node *x, int d);

static bool reads_joined(CG *cg, Node *o, int rank, int d) {
    int a = d - (rank - o->shape.rank);
    bool reads_a = a >= 0 && o->shape.d[a] != 1, reads_b = a + 1 >= 0 && o->shape.d[a + 1] != 1;
    if (!reads_a || !reads_b)
        return !reads_a && !reads_b;
    if (o->shape.dyn[a + 1])
        return false;
    const Slot *s = &cg->plan->slot[o->id];
    switch (s->st) {
    case ST_CONST: return true;
    case ST_INLINE: return computes_joined(cg, o, a);
    case ST_LEAF: case ST_VIEW: case ST_BUFFER: return s->lay.stride[a] == s->lay.stride[a + 1] * o->shape.d[a + 1];
    case ST_DEAD: case ST_WINDOWS: case ST_COLUMNS: default: return false;
    }
}

static bool computes_joined(CG *cg, Node *x, int d) {
    if (x->op == OP_DROPMASK || x->op == OP_PAD || x->op == OP_FLIP || x->op == OP_RESHAPE)
        return false;
    for (int k = 0; k < op_info[x->op].arity; k++)
        if (!reads_joined(cg, x->in[k], x->shape.rank, d))
            return false;
    return true;
}

/* One loop nest over src's shape storing each element into dst: the value
 * of src as planned, or (compute) src's own elementwise op, which is how an
 * elementwise node with a buffer fills it.  Axes that every address walks
 * contiguously are joined into one loop; a split axis 0 stays its own. */
static void store_loop(CG *cg, Node *src, const Layout *dst, bool compute) {
    const Shape *s = &src->shape;
    unsigned joined = 0;
    for (int d = s == cg->split_shape; d + 1 < s->rank; d++)
        if (may_join(s, d, dst->stride) && (compute ? computes_joined(cg, src, d) : reads_joined(cg, src, s->rank, d)))
            joined |= 1u << d;
    LLVMValueRef idx[MAX_RANK];
    Nest ns;
    nest_open_joined(cg, &ns, s, joined, idx);
    LLVMValueRef v = compute ? ew_compute(cg, src, idx) : value_at(cg, src, idx);
    scoped(cg, store(cg, src->dt, v, cg_elem_ptr(cg, dst, src->dt, src->shape.rank, idx)), dst);
    nest_close(cg, &ns, &src->shape);
}

void cg_store_all(CG *cg, Node *src, const Layout *dst) { store_loop(cg, src, dst, false); }

/* ---- kernels ---- */

static const Layout *out_layout(CG *cg, Node *n) { return &cg->plan->slot[n->id].lay; }

/* A reshape whose operand is not contiguous: the operand read in its
 * row-major order, each element stored at its flat index in the result,
 * which is a contiguous buffer (no division per element).  The flat index
 * is the same in both shapes at their max extents, runtime axes included,
 * since a reshape keeps each runtime axis whole and in order; so the
 * result is the operand's shape laid out row-major, and store_loop joins
 * the axes both walk contiguously (a transpose's rows of 28 pixels into
 * runs of 784, which LLVM vectorizes where it leaves 28 scalar). */
static void kernel_reshape(CG *cg, Node *n) {
    const Layout *out = out_layout(cg, n);
    Layout flat = layout_of((Base)out->base, out->byte_off, &n->in[0]->shape);
    flat.elem_off = out->elem_off;
    store_loop(cg, n->in[0], &flat, false);
}

/* sum, max or prod of acc and v.  Reassociation lets LLVM keep several
 * partial sums in vector lanes; the order is fixed when the kernel is
 * compiled, so results do not vary between runs. */
static LLVMValueRef reduce_op(CG *cg, const Node *n, LLVMValueRef acc, LLVMValueRef v) {
    if (n->op == OP_MAX)
        return intr2(cg, "llvm.maximum", acc, v);
    acc = n->op == OP_PROD ? LLVMBuildFMul(cg->b, acc, v, "") : LLVMBuildFAdd(cg->b, acc, v, "");
    LLVMSetFastMathFlags(acc, LLVMFastMathAllowReassoc);
    return acc;
}

static double reduce_init(const Node *n) { return n->op == OP_MAX ? -INFINITY : n->op == OP_PROD ? 1 : 0; }

/* The indices of the elements of x's small group at gidx (small_groups;
 * gidx has its reduced axes at 0), in row-major order; their count. */
static int group_indices(CG *cg, const Shape *s, unsigned axes, LLVMValueRef *gidx, LLVMValueRef ridx[][MAX_RANK]) {
    int n = 1;
    for (int d = 0; d < s->rank; d++)
        n *= axes >> d & 1 ? (int)s->d[d] : 1;
    for (int k = 0; k < n; k++)
        for (int d = s->rank - 1, rest = k; d >= 0; d--) {
            ridx[k][d] = gidx[d];
            if (axes >> d & 1) {
                ridx[k][d] = cg_i64(cg, rest % s->d[d]);
                rest /= (int)s->d[d];
            }
        }
    return n;
}

/* Closes the nest over the groups g of a kernel over small groups.  Its
 * innermost loop is a row's few windows (14 across 28 pixels), which LLVM
 * vectorizes only told to, under masks, each lane a window: max pooling's
 * gradient (maxmask) then took two thirds of its time in the small
 * ResNet's step (perf, both builds in one process). */
static void group_nest_close(CG *cg, Nest *ns, const Shape *g, DType dt) {
    int inner = g->rank - 1;
    while (inner > 0 && !has_loop(g, inner))
        inner--;
    if (!has_loop(g, inner)) {
        nest_close(cg, ns, g);
        return;
    }
    static const char *const keys[2] = {"llvm.loop.vectorize.predicate.enable", "llvm.loop.vectorize.width"};
    const int on[2] = {1, WIDE_VECTOR_BYTES / (int)dtype_size(dt)};
    cg_loop_hints(cg, cg_loop_close(cg, &ns->loop[inner]), 2, keys, on);
    for (int d = inner - 1; d >= 0; d--)
        if (has_loop(g, d))
            cg_loop_close(cg, &ns->loop[d]);
}

/* sum, max and prod: fill the (kept-dims) result out, then fold every
 * input element into it in row-major order, which fixes the order of the
 * operations (up to the reassociation reduce_op allows); or, over small
 * groups (a pooling window), each result from its group's elements in
 * registers, in that order.  Axis 0 of x, when split (emit_chunked_reduce),
 * is not joined to the next. */
static void reduce_into(CG *cg, Node *n, const Layout *out) {
    Node *x = n->in[0];
    unsigned axes = (unsigned)n->attr[0];
    if (cg->split_shape != &x->shape && small_groups(&x->shape, axes)) {
        LLVMValueRef gidx[MAX_RANK], ridx[MAX_SMALL_GROUP][MAX_RANK];
        Nest ns;
        nest_open(cg, &ns, &n->shape, gidx);
        int count = group_indices(cg, &x->shape, axes, gidx, ridx);
        LLVMValueRef acc = cval(cg, n->dt, reduce_init(n));
        for (int k = 0; k < count; k++)
            acc = reduce_op(cg, n, acc, value_at(cg, x, ridx[k]));
        scoped(cg, store(cg, n->dt, acc, cg_elem_ptr(cg, out, n->dt, n->shape.rank, gidx)), out);
        group_nest_close(cg, &ns, &n->shape, x->dt);
        return;
    }
    cg_store_const(cg, n, out, reduce_init(n));
    /* Split by rows of the result (emit_parallel_rows), the same rows of x */
    const Shape *split = cg->split_shape;
    if (split == &n->shape)
        cg->split_shape = &x->shape;
    /* Axes are joined where both are summed over, or both kept. */
    unsigned joined = 0;
    for (int d = cg->split_shape == &x->shape; d + 1 < x->shape.rank; d++) {
        bool kept = n->shape.d[d] != 1;
        if (kept == (n->shape.d[d + 1] != 1) && may_join(&x->shape, d, kept ? out->stride : NULL) &&
            reads_joined(cg, x, x->shape.rank, d))
            joined |= 1u << d;
    }
    LLVMValueRef idx[MAX_RANK], ridx[MAX_RANK];
    Nest ns;
    nest_open_joined(cg, &ns, &x->shape, joined, idx);
    for (int d = 0; d < x->shape.rank; d++)
        ridx[d] = n->shape.d[d] == 1 ? cg_i64(cg, 0) : idx[d];
    LLVMValueRef p = cg_elem_ptr(cg, out, n->dt, n->shape.rank, ridx);
    LLVMValueRef acc = reduce_op(cg, n, scoped(cg, load(cg, n->dt, p), out), value_at(cg, x, idx));
    scoped(cg, store(cg, n->dt, acc, p), out);
    nest_close(cg, &ns, &x->shape);
    cg->split_shape = split;
}

static void kernel_reduce(CG *cg, Node *n) { reduce_into(cg, n, out_layout(cg, n)); }

void cg_store_const(CG *cg, Node *n, const Layout *out, double v) {
    LLVMValueRef idx[MAX_RANK];
    Nest ns;
    nest_open(cg, &ns, &n->shape, idx);
    store(cg, n->dt, cval(cg, n->dt, v), cg_elem_ptr(cg, out, n->dt, n->shape.rank, idx));
    nest_close(cg, &ns, &n->shape);
}

LLVMValueRef cg_scratch(CG *cg, Node *n) {
    const Slot *s = &cg->plan->slot[n->id];
    return s->scratch ? base_ptr(cg, &s->scratch_lay) : LLVMConstPointerNull(cg->ptr);
}

/* x's shape with the axes reduced to 1: one index per group. */
static Shape group_shape(const Node *x, unsigned axes) {
    Shape g = x->shape;
    for (int d = 0; d < g.rank; d++)
        if (axes >> d & 1) {
            g.d[d] = 1;
            g.dyn[d] = 0;
        }
    return g;
}

/* The first maximum of each group of x over `axes`: its value and its flat
 * index into x, in the two halves of the node's scratch.  Row-major order and
 * a strict > keep the first of equal maxima.  NaN counts as the maximum and
 * the first NaN wins, as in PyTorch (contract, 5.8 NaN): an element replaces
 * the best so far when there is none yet (index -1), or the best is not NaN
 * and the element is NaN or greater.  A group of -inf only picks its first. */
static void first_max(CG *cg, Node *n, Node *x, unsigned axes, Layout *best, Layout *where) {
    Shape g = group_shape(x, axes);
    const Slot *s = &cg->plan->slot[n->id];
    Layout flat_best = s->scratch_lay, flat_where = s->scratch_lay;
    flat_where.byte_off += (int64_t)s->scratch / 2;
    /* best and where are indexed like x with the reduced axes at 0. */
    int64_t st = 1;
    for (int d = g.rank - 1; d >= 0; d--) {
        flat_best.stride[d] = flat_where.stride[d] = g.d[d] == 1 ? 0 : st;
        st *= g.d[d];
    }
    flat_best.elem_off = flat_where.elem_off = 0;
    *best = flat_best;
    *where = flat_where;
    DType bt = DT_F64;
    LLVMValueRef idx[MAX_RANK], gidx[MAX_RANK];
    Nest ns;
    nest_open(cg, &ns, &g, idx);
    store(cg, bt, cval(cg, bt, -INFINITY), cg_elem_ptr(cg, best, bt, g.rank, idx));
    store(cg, DT_F64, LLVMConstReal(cg->f64, -1), cg_elem_ptr(cg, where, DT_F64, g.rank, idx));
    nest_close(cg, &ns, &g);
    nest_open(cg, &ns, &x->shape, idx);
    LLVMValueRef lin = cg_i64(cg, 0);
    for (int d = 0; d < x->shape.rank; d++) {
        gidx[d] = g.d[d] == 1 ? cg_i64(cg, 0) : idx[d];
        lin = LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, lin, cg_i64(cg, x->shape.d[d]), ""), idx[d], "");
    }
    LLVMValueRef v = value_at(cg, x, idx);
    if (x->dt != DT_F64)
        v = LLVMBuildFPExt(cg->b, v, cg->f64, "");
    LLVMValueRef bp = cg_elem_ptr(cg, best, bt, g.rank, gidx), wp = cg_elem_ptr(cg, where, DT_F64, g.rank, gidx);
    LLVMValueRef old = load(cg, bt, bp);
    LLVMValueRef none = LLVMBuildFCmp(cg->b, LLVMRealOLT, load(cg, DT_F64, wp), LLVMConstReal(cg->f64, 0), "");
    LLVMValueRef beats = LLVMBuildAnd(cg->b, LLVMBuildFCmp(cg->b, LLVMRealORD, old, old, ""),
                                      LLVMBuildFCmp(cg->b, LLVMRealUGT, v, old, ""), "");
    LLVMValueRef better = LLVMBuildOr(cg->b, none, beats, "");
    store(cg, bt, LLVMBuildSelect(cg->b, better, v, old, ""), bp);
    LLVMValueRef linf = LLVMBuildSIToFP(cg->b, lin, cg->f64, "");
    store(cg, DT_F64, LLVMBuildSelect(cg->b, better, linf, load(cg, DT_F64, wp), ""), wp);
    nest_close(cg, &ns, &x->shape);
}

/* The first maximum of a small group of x, in registers: the group at
 * gidx, unrolled, under first_max's rule.  Returns the element's number in
 * the group; ridx[k] receives the index of element k, *count their count. */
static LLVMValueRef group_first_max(CG *cg, Node *x, unsigned axes, LLVMValueRef *gidx,
                                    LLVMValueRef ridx[][MAX_RANK], int *count) {
    int n = group_indices(cg, &x->shape, axes, gidx, ridx);
    LLVMValueRef best = NULL, where = cg_i64(cg, 0);
    for (int k = 0; k < n; k++) {
        LLVMValueRef v = value_at(cg, x, ridx[k]);
        if (!best) {
            best = v;
            continue;
        }
        LLVMValueRef better = LLVMBuildAnd(cg->b, LLVMBuildFCmp(cg->b, LLVMRealORD, best, best, ""),
                                           LLVMBuildFCmp(cg->b, LLVMRealUGT, v, best, ""), "");
        best = LLVMBuildSelect(cg->b, better, v, best, "");
        where = LLVMBuildSelect(cg->b, better, cg_i64(cg, k), where, "");
    }
    *count = n;
    return where;
}

static void kernel_maxmask(CG *cg, Node *n) {
    Node *x = n->in[0];
    unsigned axes = first_max_axes(n);
    if (small_groups(&x->shape, axes)) {
        Shape g = group_shape(x, axes);
        const Layout *out = out_layout(cg, n);
        LLVMValueRef gidx[MAX_RANK], ridx[MAX_SMALL_GROUP][MAX_RANK];
        int count;
        Nest ns;
        const Shape *split = cg->split_shape;
        if (split == &n->shape)   /* by rows of the mask (emit_parallel_rows): the same rows of groups */
            cg->split_shape = &g;
        nest_open(cg, &ns, &g, gidx);
        LLVMValueRef where = group_first_max(cg, x, axes, gidx, ridx, &count);
        for (int k = 0; k < count; k++) {
            LLVMValueRef hit = LLVMBuildICmp(cg->b, LLVMIntEQ, where, cg_i64(cg, k), "");
            scoped(cg, store(cg, n->dt, as_float(cg, hit, n->dt), cg_elem_ptr(cg, out, n->dt, n->shape.rank, ridx[k])), out);
        }
        group_nest_close(cg, &ns, &g, n->dt);
        cg->split_shape = split;
        return;
    }
    Layout best, where;
    first_max(cg, n, x, axes, &best, &where);
    const Layout *out = out_layout(cg, n);
    LLVMValueRef idx[MAX_RANK], gidx[MAX_RANK];
    Nest ns;
    nest_open(cg, &ns, &n->shape, idx);
    LLVMValueRef lin = cg_i64(cg, 0);
    for (int d = 0; d < n->shape.rank; d++) {
        gidx[d] = (n->attr[0] & (1 << d)) ? cg_i64(cg, 0) : idx[d];
        lin = LLVMBuildAdd(cg->b, LLVMBuildMul(cg->b, lin, cg_i64(cg, n->shape.d[d]), ""), idx[d], "");
    }
    LLVMValueRef w = LLVMBuildFPToSI(cg->b, load(cg, DT_F64, cg_elem_ptr(cg, &where, DT_F64, n->shape.rank, gidx)), cg->i64, "");
    LLVMValueRef hit = LLVMBuildICmp(cg->b, LLVMIntEQ, w, lin, "");
    store(cg, n->dt, as_float(cg, hit, n->dt), cg_elem_ptr(cg, out, n->dt, n->shape.rank, idx));
    nest_close(cg, &ns, &n->shape);
}

static void kernel_argmax(CG *cg, Node *n) {
    Node *x = n->in[0];
    int axis = (int)n->attr[0];
    unsigned axes = first_max_axes(n);
    const Layout *out = out_layout(cg, n);
    if (small_groups(&x->shape, axes)) {
        LLVMValueRef gidx[MAX_RANK], ridx[MAX_SMALL_GROUP][MAX_RANK];
        int count;
        Nest ns;
        nest_open(cg, &ns, &n->shape, gidx);
        LLVMValueRef where = group_first_max(cg, x, axes, gidx, ridx, &count);
        scoped(cg, store(cg, DT_I32, LLVMBuildTrunc(cg->b, where, cg->i32, ""),
                         cg_elem_ptr(cg, out, DT_I32, n->shape.rank, gidx)), out);
        group_nest_close(cg, &ns, &n->shape, x->dt);
        return;
    }
    Layout best, where;
    first_max(cg, n, x, axes, &best, &where);
    int64_t inner = 1;
    for (int d = axis + 1; d < x->shape.rank; d++)
        inner *= x->shape.d[d];
    LLVMValueRef idx[MAX_RANK];
    Nest ns;
    nest_open(cg, &ns, &n->shape, idx);
    LLVMValueRef w = LLVMBuildFPToSI(cg->b, load(cg, DT_F64, cg_elem_ptr(cg, &where, DT_F64, n->shape.rank, idx)), cg->i64, "");
    LLVMValueRef pos = LLVMBuildURem(cg->b, LLVMBuildUDiv(cg->b, w, cg_i64(cg, inner), ""), cg_i64(cg, x->shape.d[axis]), "");
    store(cg, DT_I32, LLVMBuildTrunc(cg->b, pos, cg->i32, ""), cg_elem_ptr(cg, out, DT_I32, n->shape.rank, idx));
    nest_close(cg, &ns, &n->shape);
}

/* A label must lie in [0, c): otherwise the entry point returns NNRT_EINDEX
 * before anything is written out of bounds. */
static LLVMValueRef checked_label(CG *cg, Node *y, LLVMValueRef *idx, int64_t c) {
    LLVMValueRef v = LLVMBuildSExt(cg->b, value_at(cg, y, idx), cg->i64, "");
    LLVMValueRef bad = LLVMBuildICmp(cg->b, LLVMIntUGE, v, cg_i64(cg, c), "");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "label_ok");
    LLVMBuildCondBr(cg->b, bad, cg->fail, ok);
    LLVMPositionBuilderAtEnd(cg->b, ok);
    return v;
}

static void kernel_pick(CG *cg, Node *n) {
    Node *x = n->in[0], *y = n->in[1];
    LLVMValueRef idx[MAX_RANK];
    Nest ns;
    nest_open(cg, &ns, &n->shape, idx);
    LLVMValueRef xi[2] = {idx[0], checked_label(cg, y, idx, x->shape.d[1])};
    store(cg, n->dt, value_at(cg, x, xi), cg_elem_ptr(cg, out_layout(cg, n), n->dt, 1, idx));
    nest_close(cg, &ns, &n->shape);
}

static void kernel_onehot(CG *cg, Node *n) {
    Node *y = n->in[0];
    LLVMValueRef idx[2];
    Loop rows, cols;
    idx[0] = axis_open(cg, &rows, &n->shape, 0);
    LLVMValueRef label = checked_label(cg, y, idx, n->shape.d[1]);
    idx[1] = cg_loop_open(cg, &cols, n->shape.d[1]);
    LLVMValueRef hit = LLVMBuildICmp(cg->b, LLVMIntEQ, idx[1], label, "");
    store(cg, n->dt, as_float(cg, hit, n->dt), cg_elem_ptr(cg, out_layout(cg, n), n->dt, 2, idx));
    cg_loop_close(cg, &cols);
    cg_loop_close(cg, &rows);
}

static void kernel_embed(CG *cg, Node *n) {
    Node *x = n->in[0];
    LLVMValueRef idx[MAX_RANK];
    Nest ns;
    nest_open(cg, &ns, &n->shape, idx);
    LLVMValueRef at = LLVMBuildICmp(cg->b, LLVMIntEQ, idx[0], cg_i64(cg, n->attr[0]), "");
    LLVMValueRef v = LLVMBuildSelect(cg->b, at, value_at(cg, x, idx + 1), cval(cg, n->dt, 0), "");
    store(cg, n->dt, v, cg_elem_ptr(cg, out_layout(cg, n), n->dt, n->shape.rank, idx));
    nest_close(cg, &ns, &n->shape);
}

/* ---- windows: im2col and col2im (conv2d, the pools) ---- */

/* Input coordinate o*s - p + k*d of an output coordinate o and a kernel
 * offset k, whether it lies in [0, extent), and the coordinate clamped to 0
 * where it does not, so that every address formed stays inside x. */
static LLVMValueRef window_in(CG *cg, LLVMValueRef o, LLVMValueRef k, int64_t s, int64_t p, int64_t d,
                              int64_t extent, LLVMValueRef *valid) {
    LLVMBuilderRef b = cg->b;
    LLVMValueRef at = LLVMBuildAdd(b, LLVMBuildSub(b, LLVMBuildMul(b, o, cg_i64(cg, s), ""), cg_i64(cg, p), ""),
                                   LLVMBuildMul(b, k, cg_i64(cg, d), ""), "");
    LLVMValueRef in = LLVMBuildICmp(b, LLVMIntULT, at, cg_i64(cg, extent), "");
    *valid = *valid ? LLVMBuildAnd(b, *valid, in, "") : in;
    return LLVMBuildSelect(b, in, at, cg_i64(cg, 0), "");
}

/* for (iv = lo; iv < hi; iv++), skipped when lo >= hi (a Loop runs at
 * least once); range_close ends it. */
typedef struct Range {
    Loop loop;
    LLVMBasicBlockRef after;
} Range;

static LLVMValueRef range_open(CG *cg, Range *r, LLVMValueRef lo, LLVMValueRef hi) {
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "range");
    r->after = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "range_end");
    LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, lo, hi, ""), body, r->after);
    LLVMPositionBuilderAtEnd(cg->b, body);
    return cg_range_open(cg, &r->loop, lo, hi);
}

/* How LLVM is to vectorize a range of a window's row (10 or 28 pixels in
 * LeNet, too few for its default 16 lanes times 2): im2col's copy with
 * masks, the whole row at once; col2im's sum 8 wide and the rest one at a
 * time, since a masked store and then an overlapping masked load (the next
 * window element's) stall. */
typedef enum { ROW_PLAIN, ROW_MASKED, ROW_NARROW } RowVectors;

static void range_close(CG *cg, Range *r, RowVectors how) {
    static const char *const masked[1] = {"llvm.loop.vectorize.predicate.enable"};
    static const char *const narrow[2] = {"llvm.loop.vectorize.width", "llvm.loop.interleave.count"};
    static const int on[1] = {1}, eight_by_one[2] = {8, 1};
    LLVMValueRef br = cg_loop_close(cg, &r->loop);
    if (how == ROW_MASKED)
        cg_loop_hints(cg, br, 1, masked, on);
    else if (how == ROW_NARROW)
        cg_loop_hints(cg, br, 2, narrow, eight_by_one);
    LLVMBuildBr(cg->b, r->after);
    LLVMPositionBuilderAtEnd(cg->b, r->after);
}

static LLVMValueRef smin(CG *cg, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, a, b, ""), a, b, "");
}

/* The loops of im2col and col2im.  For each window element (c, i, j), a
 * row of cols [C*kh*kw, N*OH*OW]; for each pixel (b, oh, ow), a column,
 * against the image element x[b, c, ih, iw], ih = oh*sh - ph + i*dh, iw =
 * ow*sw - pw + j*dw.  im2col stores each into cols (the padding, n->value,
 * where (ih, iw) is outside the image); col2im adds each into the image
 * (0 at first), skipping the padding: in a fixed order.  Along ow, the
 * pixels whose iw is inside the image are a range [lo, hi), computed per
 * (oh, j): there the loop has no test and moves in order, and LLVM
 * vectorizes it; only the pixels outside it get the padding.  (With the
 * batch as the outer loop, col2im was no faster on LeNet and 3% slower on
 * samples/book/resnet.nn: im2col writes each row of cols in one stream.)
 * col2im reads cols where the plan put it, or with col0 (not NULL) from
 * chunk, which holds the columns from col0 on (col2im_by_chunks). */
static void window_walk(CG *cg, Node *n, const Shape *image, bool to_image, const Layout *chunk, LLVMValueRef col0) {
    LLVMBuilderRef b = cg->b;
    Window w = ir_window(n);
    const int64_t *d = image->d;
    int64_t oh = window_out(d[2], w.kh, w.sh, w.ph, w.dh), ow = window_out(d[3], w.kw, w.sw, w.pw, w.dw);
    const Layout *out = out_layout(cg, n);
    Loop l[5];
    LLVMValueRef c = cg_loop_open(cg, &l[0], d[1]), i = cg_loop_open(cg, &l[1], w.kh), j = cg_loop_open(cg, &l[2], w.kw);
    LLVMValueRef bi = axis_open(cg, &l[3], image, 0), oi = cg_loop_open(cg, &l[4], oh);
    LLVMValueRef row_in = NULL, ih = window_in(cg, oi, i, w.sh, w.ph, w.dh, d[2], &row_in);
    /* lo = ceil((pw - j*dw) / sw) at least 0; hi = floor((W - 1 + pw - j*dw) / sw) + 1 at most OW */
    LLVMValueRef shift = LLVMBuildSub(b, cg_i64(cg, w.pw), LLVMBuildMul(b, j, cg_i64(cg, w.dw), ""), "");
    LLVMValueRef zero = cg_i64(cg, 0), sw = cg_i64(cg, w.sw);
    LLVMValueRef lo = LLVMBuildSDiv(b, LLVMBuildAdd(b, shift, cg_i64(cg, w.sw - 1), ""), sw, "");
    lo = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLE, shift, zero, ""), zero, lo, "");
    LLVMValueRef last = LLVMBuildAdd(b, shift, cg_i64(cg, d[3] - 1), "");
    LLVMValueRef hi = LLVMBuildAdd(b, LLVMBuildSDiv(b, last, sw, ""), cg_i64(cg, 1), "");
    hi = smin(cg, LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, last, zero, ""), zero, hi, ""), cg_i64(cg, ow));
    hi = LLVMBuildSelect(b, row_in, hi, zero, "");   /* a row outside the image: all padding */
    lo = smin(cg, lo, hi);
    LLVMValueRef row = LLVMBuildAdd(b, LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildMul(b, c, cg_i64(cg, w.kh), ""), i, ""),
                                                    cg_i64(cg, w.kw), ""), j, "");
    LLVMValueRef first = LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildMul(b, bi, cg_i64(cg, oh), ""), oi, ""),
                                      cg_i64(cg, ow), "");
    if (col0)
        first = LLVMBuildSub(b, first, col0, "");
    if (!to_image) {   /* the padding, left and right of the range */
        LLVMValueRef from[2] = {zero, hi}, to[2] = {lo, cg_i64(cg, ow)};
        for (int side = 0; side < 2; side++) {
            Range r;
            LLVMValueRef o = range_open(cg, &r, from[side], to[side]);
            LLVMValueRef at[2] = {row, LLVMBuildAdd(b, first, o, "")};
            scoped(cg, store(cg, n->dt, cval(cg, n->dt, n->value), cg_elem_ptr(cg, out, n->dt, 2, at)), out);
            range_close(cg, &r, ROW_PLAIN);
        }
    }
    Range r;
    LLVMValueRef o = range_open(cg, &r, lo, hi);
    LLVMValueRef iw = LLVMBuildSub(b, LLVMBuildMul(b, o, sw, ""), shift, "");
    LLVMValueRef xi[4] = {bi, c, ih, iw}, at[2] = {row, LLVMBuildAdd(b, first, o, "")};
    if (to_image) {
        LLVMValueRef p = cg_elem_ptr(cg, out, n->dt, 4, xi);
        LLVMValueRef v = col0 ? scoped(cg, load(cg, n->dt, cg_elem_ptr(cg, chunk, n->dt, 2, at)), chunk)
                              : value_at(cg, n->in[0], at);
        LLVMValueRef sum = LLVMBuildFAdd(b, scoped(cg, load(cg, n->dt, p), out), v, "");
        scoped(cg, store(cg, n->dt, sum, p), out);
    } else {
        scoped(cg, store(cg, n->dt, value_at(cg, n->in[0], xi), cg_elem_ptr(cg, out, n->dt, 2, at)), out);
    }
    range_close(cg, &r, to_image ? ROW_NARROW : ROW_MASKED);
    for (int k = 4; k >= 0; k--)
        cg_loop_close(cg, &l[k]);
}

static void kernel_im2col(CG *cg, Node *n) { window_walk(cg, n, &n->in[0]->shape, false, NULL, NULL); }

/* The pixels of an output row whose input column o*sw - shift is inside
 * the image: [lo, hi) (window_walk computes the same at run time). */
static void window_cols(const Window *w, int64_t width, int64_t ow, int64_t j, int64_t *lo, int64_t *hi) {
    int64_t shift = w->pw - j * w->dw, last = shift + width - 1;
    *hi = last < 0 ? 0 : last / w->sw + 1;
    *hi = *hi < ow ? *hi : ow;
    *lo = shift <= 0 ? 0 : (shift + w->sw - 1) / w->sw;
    *lo = *lo < *hi ? *lo : *hi;
}

/* llvm.masked.load and llvm.masked.store of vector type vt at p under
 * mask (an <n x i1>): masked-off lanes are not touched, and read as
 * passthru. */
static LLVMValueRef masked_call(CG *cg, const char *name, LLVMTypeRef vt, LLVMValueRef *args) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef tys[2] = {vt, cg->ptr};
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, tys, 2);
    return LLVMBuildCall2(cg->b, LLVMIntrinsicGetType(cg->ctx, id, tys, 2), fn, args, 4, "");
}

LLVMValueRef cg_masked_load(CG *cg, DType dt, LLVMValueRef p, LLVMValueRef mask, LLVMValueRef passthru) {
    LLVMValueRef a[4] = {p, ci32(cg, (int)dtype_size(dt)), mask, passthru};
    return masked_call(cg, "llvm.masked.load", LLVMTypeOf(passthru), a);
}

static LLVMValueRef masked_store(CG *cg, DType dt, LLVMValueRef p, LLVMValueRef mask, LLVMValueRef v) {
    LLVMValueRef a[4] = {v, p, ci32(cg, (int)dtype_size(dt)), mask};
    return masked_call(cg, "llvm.masked.store", LLVMTypeOf(v), a);
}

/* Explicit vectors (col2im_by_rows, fill_row_vectors) are
 * WIDE_VECTOR_BYTES wide, declared legal in the function being emitted. */
static int wide_lanes(CG *cg, DType dt) {
    LLVMAddAttributeAtIndex(cg->fn, LLVMAttributeFunctionIndex,
                            LLVMCreateStringAttribute(cg->ctx, "min-legal-vector-width", 22, "512", 3));
    return WIDE_VECTOR_BYTES / (int)dtype_size(dt);
}

/* The constant mask of lanes t in [0, lanes) with lo <= t < hi, or NULL
 * when there is none. */
static LLVMValueRef lanes_between(CG *cg, int lanes, int64_t lo, int64_t hi) {
    LLVMValueRef bits[16];
    bool any = false;
    for (int t = 0; t < lanes; t++) {
        any |= t >= lo && t < hi;
        bits[t] = LLVMConstInt(cg->i1, t >= lo && t < hi, 0);
    }
    return any ? LLVMConstVector(bits, (unsigned)lanes) : NULL;
}

/* The pixels under one window column of output columns [q, q + lanes)
 * of an image row in memory (src, its first pixel; row_in, an i1: is the
 * row inside the image?), `shift` = pw - j*dw pixels left of them: a load
 * under a mask fixed when compiling, the lanes of the columns inside the
 * image, [lo, hi); the other lanes, and all of a row outside the image,
 * are `outside`.  That row is left out by the load's mask when mask_row
 * (the direct convolution's, where a select after the load became a
 * branch), else by a select after the load of the clamped row (the fill's,
 * whose step at batch 256 took 1.02 times as long with the mask). */
static LLVMValueRef window_row_load(CG *cg, DType dt, const Layout *image, LLVMValueRef src, LLVMValueRef row_in,
                                    bool mask_row, int64_t q, int64_t lo, int64_t hi, int64_t shift,
                                    LLVMValueRef outside) {
    int lanes = wide_lanes(cg, dt);
    LLVMValueRef mask = lanes_between(cg, lanes, lo - q, hi - q);
    if (!mask)
        return outside;
    LLVMValueRef off = cg_i64(cg, q - shift);
    LLVMValueRef p = LLVMBuildGEP2(cg->b, cg_type(cg, dt), src, &off, 1, "");
    if (mask_row)
        mask = LLVMBuildAnd(cg->b, mask, cg_splat(cg, row_in, lanes), "");
    LLVMValueRef v = scoped(cg, cg_masked_load(cg, dt, p, mask, outside), image);
    return mask_row ? v : LLVMBuildSelect(cg->b, row_in, v, outside, "");
}

/* x's layout when x is in memory with a stride of 1 along its last axis
 * (for explicit vectors along it), else NULL. */
static const Layout *rows_in_memory(CG *cg, const Node *x) {
    const Slot *s = &cg->plan->slot[x->id];
    bool memory = s->st == ST_BUFFER || s->st == ST_VIEW || s->st == ST_LEAF;
    return memory && s->lay.stride[x->shape.rank - 1] == 1 ? &s->lay : NULL;
}

/* col2im with stride 1 along the row, from a matrix of windows in memory
 * whose pixels are contiguous: each row of the image, (b, c, ih) for the
 * window row i and output row oh, gets the sum over the window's columns
 * j in one vector register, a 64-byte piece at a time.  Column j adds
 * cols[(c, i, j), (b, oh, ow)] into iw = ow - (pw - j*dw): one load under
 * a constant mask, shifted by that offset.  Each image element sees its
 * terms in window_walk's order, (i, j), so the sums are the same bits;
 * but the row is loaded and stored once per (i, oh), not once per j, and
 * no store is read back by the next j's overlapping load (which stalls).
 * The output rows go even ones first, then odd: row ih's masked store
 * covers 64 bytes, which reach into row ih + 1 when a row is shorter, and
 * row ih + 1's load stalled behind it (LeNet's second convolution, its
 * rows of 14 pixels: at batch 8 its step took 0.86 to 0.89 of the time
 * with this order, at 256 0.93 to 0.99).  With col0 (not NULL), cols
 * holds the columns from col0 on (a chunk of images, col2im_by_chunks). */
static bool col2im_by_rows(CG *cg, Node *n, const Layout *cols, LLVMValueRef col0) {
    Window w = ir_window(n);
    const Layout *out = out_layout(cg, n);
    if (w.sw != 1 || !cols || out->stride[3] != 1)
        return false;
    LLVMBuilderRef b = cg->b;
    const int64_t *d = n->shape.d;
    int lanes = wide_lanes(cg, n->dt);
    int64_t oh = window_out(d[2], w.kh, w.sh, w.ph, w.dh), ow = window_out(d[3], w.kw, w.sw, w.pw, w.dw);
    LLVMTypeRef et = cg_type(cg, n->dt);
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(et, (unsigned)lanes));
    Loop l[4];
    LLVMValueRef c = cg_loop_open(cg, &l[0], d[1]), i = cg_loop_open(cg, &l[1], w.kh);
    LLVMValueRef bi = axis_open(cg, &l[2], &n->shape, 0), step = cg_loop_open(cg, &l[3], oh);
    /* The even output rows, then the odd: oi = 2*step, or 2*(step - evens) + 1. */
    int64_t evens = (oh + 1) / 2;
    LLVMValueRef odd = LLVMBuildICmp(b, LLVMIntSGE, step, cg_i64(cg, evens), "");
    LLVMValueRef half = LLVMBuildSub(b, step, LLVMBuildSelect(b, odd, cg_i64(cg, evens), cg_i64(cg, 0), ""), "");
    LLVMValueRef oi = LLVMBuildAdd(b, LLVMBuildMul(b, half, cg_i64(cg, 2), ""), LLVMBuildZExt(b, odd, cg->i64, ""), "");
    LLVMValueRef row_in = NULL, ih = window_in(cg, oi, i, w.sh, w.ph, w.dh, d[2], &row_in);
    LLVMBasicBlockRef add = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "row_in");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "row_next");
    LLVMBuildCondBr(b, row_in, add, next);
    LLVMPositionBuilderAtEnd(b, add);
    LLVMValueRef first = LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildMul(b, bi, cg_i64(cg, oh), ""), oi, ""),
                                      cg_i64(cg, ow), "");
    if (col0)
        first = LLVMBuildSub(b, first, col0, "");
    for (int64_t q = 0; q < d[3]; q += lanes) {
        LLVMValueRef xi[4] = {bi, c, ih, cg_i64(cg, q)};
        LLVMValueRef dst = cg_elem_ptr(cg, out, n->dt, 4, xi), whole = lanes_between(cg, lanes, 0, d[3] - q);
        LLVMValueRef acc = scoped(cg, cg_masked_load(cg, n->dt, dst, whole, zeros), out);
        for (int64_t j = 0; j < w.kw; j++) {
            int64_t shift = w.pw - j * w.dw;   /* iw = ow - shift */
            int64_t hi = ow - shift < d[3] ? ow - shift : d[3];
            LLVMValueRef mask = lanes_between(cg, lanes, -shift - q, hi - q);
            if (!mask)
                continue;
            LLVMValueRef r = LLVMBuildAdd(b, LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildMul(b, c, cg_i64(cg, w.kh), ""),
                                                                        i, ""), cg_i64(cg, w.kw), ""),
                                          cg_i64(cg, j), "");
            LLVMValueRef at[2] = {r, first}, off = cg_i64(cg, q + shift);
            LLVMValueRef p = LLVMBuildGEP2(b, et, cg_elem_ptr(cg, cols, n->dt, 2, at), &off, 1, "");
            acc = LLVMBuildFAdd(b, acc, scoped(cg, cg_masked_load(cg, n->dt, p, mask, zeros), cols), "");
        }
        scoped(cg, masked_store(cg, n->dt, dst, whole, acc), out);
    }
    LLVMBuildBr(b, next);
    LLVMPositionBuilderAtEnd(b, next);
    for (int k = 3; k >= 0; k--)
        cg_loop_close(cg, &l[k]);
    return true;
}

LLVMValueRef cg_splat(CG *cg, LLVMValueRef x, int lanes) {
    LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(x), (unsigned)lanes);
    LLVMValueRef v = LLVMBuildInsertElement(cg->b, LLVMGetPoison(vt), x, ci32(cg, 0), "");
    return LLVMBuildShuffleVector(cg->b, v, LLVMGetPoison(vt), LLVMConstNull(LLVMVectorType(cg->i32, (unsigned)lanes)),
                                  "");
}

/* C = W @ windows (plan.c, conv_direct), C [M, N*OH*OW]: for each output
 * row (b, oh), the M rows of C's pixels there in M * ceil(OW / lanes)
 * vector registers; for each window element k = (c, i, j), unrolled, the
 * image row ih shifted by j (one load under a constant mask, the padding
 * read as 0, as fill_row_vectors does) times W[m, k] added into each.  No
 * windows are filled, and each sum runs over k in order, one thread's.
 * The sums take at most half the registers of the function's level: with
 * AVX-512 all M rows at once; with 16 registers of 32 or 16 bytes (AVX2,
 * SSE), groups of rows, each loading the image rows again, where all 16
 * rows of 64-byte sums made LLVM spill: 2 -> 16 channels, 3x3, at
 * x86-64-v3 took 0.81 to 0.85 of the time in groups (make conv-pair
 * BENCH_NNC=--cpu=x86-64-v3), LeNet's first 0.97. */
static int64_t conv_direct_group(CG *cg, int64_t nv) {
    const IsaLevel *level = cg_level_of(cg->fn);
    int vbytes = level ? level->vbytes : cg_vector_bytes(cg), nregs = level ? level->nregs : cg_vector_regs(cg);
    int64_t per_row = nv * (WIDE_VECTOR_BYTES / vbytes);
    return nregs / 2 >= per_row ? nregs / 2 / per_row : 1;
}

void cg_conv_direct(CG *cg, Node *n, const Layout *out) {
    LLVMBuilderRef b = cg->b;
    Node *a = n->in[0], *x = n->in[1]->in[0];
    Window w = ir_window(n->in[1]);
    const Layout *image = &cg->plan->slot[x->id].lay;
    DType dt = n->dt;
    int lanes = wide_lanes(cg, dt);
    LLVMTypeRef et = cg_type(cg, dt);
    const int64_t *d = x->shape.d;
    int64_t rows = n->shape.d[0], oh = window_out(d[2], w.kh, w.sh, w.ph, w.dh);
    int64_t ow = window_out(d[3], w.kw, w.sw, w.pw, w.dw), nv = (ow + lanes - 1) / lanes;
    if (rows * nv > CONV_DIRECT_ACC || nv > 2) {   /* plan.c's conv_direct keeps to these */
        fprintf(stderr, "nnc: internal error: a direct convolution of %lld rows by %lld vectors\n", (long long)rows,
                (long long)nv);
        abort();
    }
    LLVMValueRef zero = LLVMConstNull(LLVMVectorType(et, (unsigned)lanes)), acc[CONV_DIRECT_ACC][2], pixels[2];
    /* One loop over the output rows of the images (or of this thread's),
     * so that W's values, which LLVM keeps out of it, are set up once. */
    Loop lr;
    LLVMValueRef OH = cg_i64(cg, oh);
    LLVMValueRef from = cg->split_shape == &x->shape ? cg->split_begin : cg_i64(cg, 0);
    LLVMValueRef to = cg->split_shape == &x->shape ? cg->split_end : cg_extent(cg, &x->shape, 0);
    LLVMValueRef r = cg_range_open(cg, &lr, LLVMBuildMul(b, from, OH, ""), LLVMBuildMul(b, to, OH, ""));
    LLVMValueRef bi = LLVMBuildUDiv(b, r, OH, ""), oi = LLVMBuildURem(b, r, OH, "");
    LLVMValueRef first = LLVMBuildMul(b, LLVMBuildAdd(b, LLVMBuildMul(b, bi, cg_i64(cg, oh), ""), oi, ""),
                                      cg_i64(cg, ow), "");
    int64_t group = conv_direct_group(cg, nv);
    for (int64_t m0 = 0; m0 < rows; m0 += group) {
        int64_t m1 = m0 + group < rows ? m0 + group : rows;
        for (int64_t m = m0; m < m1; m++)
            for (int64_t v = 0; v < nv; v++)
                acc[m][v] = zero;
        for (int64_t c = 0; c < d[1]; c++)
            for (int64_t i = 0; i < w.kh; i++) {
                LLVMValueRef row_in = NULL, ih = window_in(cg, oi, cg_i64(cg, i), w.sh, w.ph, w.dh, d[2], &row_in);
                LLVMValueRef xi[4] = {bi, cg_i64(cg, c), ih, cg_i64(cg, 0)};
                LLVMValueRef src = cg_elem_ptr(cg, image, dt, 4, xi);
                for (int64_t j = 0; j < w.kw; j++) {
                    int64_t lo_j, hi_j, k = (c * w.kh + i) * w.kw + j;
                    window_cols(&w, d[3], ow, j, &lo_j, &hi_j);
                    for (int64_t v = 0; v < nv; v++)
                        pixels[v] = window_row_load(cg, dt, image, src, row_in, true, v * lanes, lo_j, hi_j,
                                                    w.pw - j * w.dw, zero);
                    for (int64_t m = m0; m < m1; m++) {
                        LLVMValueRef at[2] = {cg_i64(cg, m), cg_i64(cg, k)};
                        LLVMValueRef wmk = cg_splat(cg, value_at(cg, a, at), lanes);
                        for (int64_t v = 0; v < nv; v++) {
                            LLVMValueRef f[3] = {wmk, pixels[v], acc[m][v]};
                            acc[m][v] = intrinsic(cg, "llvm.fmuladd", LLVMTypeOf(zero), f, 3);
                        }
                    }
                }
            }
        for (int64_t m = m0; m < m1; m++)
            for (int64_t v = 0; v < nv; v++) {
                LLVMValueRef at[2] = {cg_i64(cg, m), LLVMBuildAdd(b, first, cg_i64(cg, v * lanes), "")};
                LLVMValueRef mask = lanes_between(cg, lanes, 0, ow - v * lanes);
                scoped(cg, masked_store(cg, dt, cg_elem_ptr(cg, out, dt, 2, at), mask, acc[m][v]), out);
            }
    }
    cg_loop_close(cg, &lr);
}

LLVMValueRef cg_lanes_sum(CG *cg, LLVMValueRef v, int lanes) {
    LLVMValueRef idx[64];
    for (int h = lanes / 2; h >= 1; h /= 2) {
        LLVMValueRef half[2];
        for (int k = 0; k < 2; k++) {
            for (int t = 0; t < h; t++)
                idx[t] = ci32(cg, k * h + t);
            half[k] = LLVMBuildShuffleVector(cg->b, v, LLVMGetPoison(LLVMTypeOf(v)), LLVMConstVector(idx, (unsigned)h), "");
        }
        v = LLVMBuildFAdd(cg->b, half[0], half[1], "");
    }
    return LLVMBuildExtractElement(cg->b, v, ci32(cg, 0), "");
}

/* dW = dY @ windows.T over this chunk's images (plan.c, conv_weights) into
 * out, [O, C*kh*kw]: for each window row (c, i), unrolled, and each group
 * of output channels, a loop over the chunk's output rows (b, oh) that
 * adds, for every j of the row, dY's row of pixels of each channel o
 * times the image's row ih shifted by j (window_row_load: the padding
 * read as 0) into a vector of sums for (o, j): the row's two vectors into
 * the same sums.  Each sum's lanes are then added in a fixed order.  The
 * groups keep CONV_DIRECT_ACC sums, kw to a channel. */
static void cg_conv_weights(CG *cg, Node *n, const Layout *out) {
    LLVMBuilderRef b = cg->b;
    Node *dy = n->in[0], *x = cg_windows(n->in[1])->in[0];
    Window w = ir_window(cg_windows(n->in[1]));
    const Layout *image = &cg->plan->slot[x->id].lay, *dyl = &cg->plan->slot[dy->id].lay;
    DType dt = n->dt;
    int lanes = wide_lanes(cg, dt);
    const int64_t *d = x->shape.d;
    int64_t channels = n->shape.d[0], oh = window_out(d[2], w.kh, w.sh, w.ph, w.dh);
    int64_t ow = window_out(d[3], w.kw, w.sw, w.pw, w.dw), nv = (ow + lanes - 1) / lanes;
    int64_t group = CONV_DIRECT_ACC / w.kw;
    if (nv > 2 || group < 1) {   /* plan.c's conv_weights keeps to these */
        fprintf(stderr, "nnc: internal error: a direct weight gradient of rows of %lld vectors by %lld\n",
                (long long)nv, (long long)w.kw);
        abort();
    }
    LLVMValueRef zero = LLVMConstNull(LLVMVectorType(cg_type(cg, dt), (unsigned)lanes));
    LLVMValueRef OH = cg_i64(cg, oh), from = LLVMBuildMul(b, cg->split_begin, OH, "");
    LLVMValueRef to = LLVMBuildMul(b, cg->split_end, OH, "");
    for (int64_t c = 0; c < d[1]; c++)
        for (int64_t i = 0; i < w.kh; i++)
            for (int64_t o0 = 0; o0 < channels; o0 += group) {
                int64_t o1 = o0 + group < channels ? o0 + group : channels;
                LLVMValueRef acc[CONV_DIRECT_ACC];
                LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
                Loop lr;
                LLVMValueRef r = cg_range_open(cg, &lr, from, to);
                for (int64_t k = 0; k < (o1 - o0) * w.kw; k++) {
                    acc[k] = LLVMBuildPhi(b, LLVMTypeOf(zero), "sum");
                    LLVMAddIncoming(acc[k], &zero, &pre, 1);
                }
                LLVMValueRef phis[CONV_DIRECT_ACC];
                for (int64_t k = 0; k < (o1 - o0) * w.kw; k++)
                    phis[k] = acc[k];
                LLVMValueRef bi = LLVMBuildUDiv(b, r, OH, ""), oi = LLVMBuildURem(b, r, OH, "");
                LLVMValueRef row_in = NULL, ih = window_in(cg, oi, cg_i64(cg, i), w.sh, w.ph, w.dh, d[2], &row_in);
                LLVMValueRef xi[4] = {bi, cg_i64(cg, c), ih, cg_i64(cg, 0)};
                LLVMValueRef src = cg_elem_ptr(cg, image, dt, 4, xi);
                for (int64_t v = 0; v < nv; v++) {
                    LLVMValueRef g[CONV_DIRECT_ACC];
                    LLVMValueRef mask = lanes_between(cg, lanes, 0, ow - v * lanes);
                    for (int64_t o = o0; o < o1; o++) {
                        LLVMValueRef at[2] = {cg_i64(cg, o),
                                              LLVMBuildAdd(b, LLVMBuildMul(b, r, cg_i64(cg, ow), ""), cg_i64(cg, v * lanes), "")};
                        g[o - o0] = cg_masked_load(cg, dt, cg_elem_ptr(cg, dyl, dt, 2, at), mask, zero);
                    }
                    for (int64_t j = 0; j < w.kw; j++) {
                        int64_t lo_j, hi_j;
                        window_cols(&w, d[3], ow, j, &lo_j, &hi_j);
                        LLVMValueRef px = window_row_load(cg, dt, image, src, row_in, true, v * lanes, lo_j, hi_j,
                                                          w.pw - j * w.dw, zero);
                        for (int64_t o = o0; o < o1; o++) {
                            LLVMValueRef f[3] = {g[o - o0], px, acc[(o - o0) * w.kw + j]};
                            acc[(o - o0) * w.kw + j] = intrinsic(cg, "llvm.fmuladd", LLVMTypeOf(zero), f, 3);
                        }
                    }
                }
                LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
                for (int64_t k = 0; k < (o1 - o0) * w.kw; k++)
                    LLVMAddIncoming(phis[k], &acc[k], &latch, 1);
                cg_loop_close(cg, &lr);
                /* acc: the last trip's sums, which leave the loop */
                for (int64_t o = o0; o < o1; o++)
                    for (int64_t j = 0; j < w.kw; j++) {
                        LLVMValueRef at[2] = {cg_i64(cg, o), cg_i64(cg, (c * w.kh + i) * w.kw + j)};
                        store(cg, dt, cg_lanes_sum(cg, acc[(o - o0) * w.kw + j], lanes), cg_elem_ptr(cg, out, dt, 2, at));
                    }
            }
}

static void col2im_by_chunks(CG *cg, Node *n);

static void kernel_col2im(CG *cg, Node *n) {
    if (cg->plan->slot[n->id].col_chunk) {
        col2im_by_chunks(cg, n);
        return;
    }
    cg_store_const(cg, n, out_layout(cg, n), 0);
    if (!col2im_by_rows(cg, n, rows_in_memory(cg, n->in[0]), NULL))
        window_walk(cg, n, &n->shape, true, NULL, NULL);
}

static void emit_kernel(CG *cg, Node *n) {
    switch (op_info[n->op].kind) {
    case K_EW:
        store_loop(cg, n, out_layout(cg, n), true);
        return;
    case K_VIEW:
        kernel_reshape(cg, n);
        return;
    case K_REDUCE:
        kernel_reduce(cg, n);
        return;
    case K_LEAF: case K_CONST: case K_KERNEL:
    default:
        break;
    }
    switch (n->op) {
    case OP_MATMUL: cg_matmul(cg, n, out_layout(cg, n)); return;
    case OP_MAXMASK: kernel_maxmask(cg, n); return;
    case OP_ARGMAX: kernel_argmax(cg, n); return;
    case OP_PICK: kernel_pick(cg, n); return;
    case OP_ONEHOT: kernel_onehot(cg, n); return;
    case OP_EMBED: kernel_embed(cg, n); return;
    case OP_IM2COL: kernel_im2col(cg, n); return;
    case OP_COL2IM: kernel_col2im(cg, n); return;
    LEAF_OPS: UNARY_OPS: BINARY_OPS: TERNARY_OPS: MODE_OPS: REINDEX_OPS: VIEW_OPS: REDUCE_OPS: case OP_CONST: case OP_COUNT:
    default:
        fprintf(stderr, "nnc: internal error: no kernel for %s\n", op_info[n->op].name);
        abort();
    }
}

/* ---- outlined kernels ----
 *
 * Each kernel is a function of its own whose arguments point at the values
 * it reads and at its result, and kernels that differ only in where their
 * data live share one function (an unrolled loop yields many).  LLVM then
 * optimizes a few small functions instead of one huge one, which keeps
 * compile time linear in the size of the graph.  The function is found by
 * a key that spells out everything its body depends on: ops, shapes,
 * strides, dtypes and constants, but no addresses.
 */

typedef struct Kernel {
    const char *key;
    uint64_t hash;
    LLVMValueRef fn;
    LLVMTypeRef fty;
    int nargs;
    LLVMValueRef thunk;         /* for kernel tables, or NULL */
    LLVMValueRef thunk_of;      /* the entry point whose table thunk_index is in */
    int thunk_index;
} Kernel;

typedef struct Reads {
    Node **node;        /* the values with a layout the kernel reads */
    int n, cap;
    Node *self;         /* the kernel's own result, read by its epilogue */
} Reads;

/* An axis in a key: its extent, and for a runtime axis which dim. */
static void key_axis(FILE *f, const Shape *s, int d) {
    fprintf(f, s->dyn[d] ? ",%lld~%d" : ",%lld", (long long)s->d[d], s->dyn[d]);
}

static void key_layout(FILE *f, const Layout *l, const Shape *s) {
    for (int d = 0; d < s->rank; d++) {
        key_axis(f, s, d);
        fprintf(f, ":%lld", (long long)l->stride[d]);
    }
}

static void key_reads(CG *cg, FILE *f, Node *x, Reads *r);

/* x's own op and what it reads, as computed inside a kernel. */
static void key_compute(CG *cg, FILE *f, Node *x, Reads *r) {
    fprintf(f, "(%d/%d/%a", x->op, x->dt, x->value);
    for (int i = 0; i < MAX_RANK; i++)   /* PAD's axis and start */
        if (x->attr[i])
            fprintf(f, "@%d=%lld", i, (long long)x->attr[i]);
    for (int d = 0; d < x->shape.rank; d++)
        key_axis(f, &x->shape, d);
    fprintf(f, " ");
    for (int k = 0; k < op_info[x->op].arity; k++)
        key_reads(cg, f, x->in[k], r);
    fprintf(f, ")");
}

/* Walk what kernel node x reads, writing the key and collecting the values
 * that live in memory. */
static void key_reads(CG *cg, FILE *f, Node *x, Reads *r) {
    const Slot *s = &cg->plan->slot[x->id];
    if (x == r->self) {
        fprintf(f, "self;");
        return;
    }
    if (s->st == ST_CONST) {
        fprintf(f, "c%a/%d;", s->cval, x->dt);
        return;
    }
    if (s->st == ST_COLUMNS) {   /* the col2im computes them from the product's operands */
        fprintf(f, "cols");
        key_compute(cg, f, x, r);
        return;
    }
    if (s->st == ST_WINDOWS) {   /* the product fills them from the image */
        fprintf(f, "w[");
        key_layout(f, &s->lay, &x->shape);
        fprintf(f, "]");
        key_compute(cg, f, cg_windows(x), r);
        return;
    }
    if (s->st != ST_INLINE) {
        int k = 0;
        while (k < r->n && r->node[k] != x)
            k++;
        if (k == r->n) {
            if (r->n == r->cap) {
                r->cap = r->cap ? 2 * r->cap : 8;
                Node **nn = NEWA(Node *, r->cap);
                if (r->n)
                    memcpy(nn, r->node, sizeof(Node *) * (size_t)r->n);
                r->node = nn;
            }
            r->node[r->n++] = x;
        }
        fprintf(f, "m%d/%d[", k, x->dt);
        key_layout(f, &s->lay, &x->shape);
        fprintf(f, "];");
        return;
    }
    key_compute(cg, f, x, r);
}

static const char *kernel_key(CG *cg, Node *n, Reads *r) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const Slot *s = &cg->plan->slot[n->id];
    fprintf(f, "%d/%d/%a/%zu", n->op, n->dt, n->value, s->scratch);
    for (int i = 0; i < MAX_RANK; i++)
        fprintf(f, ",%lld", (long long)n->attr[i]);
    fprintf(f, " out[");
    key_layout(f, &s->lay, &n->shape);
    fprintf(f, "] ");
    for (int k = 0; k < op_info[n->op].arity; k++)
        key_reads(cg, f, n->in[k], r);
    if (s->epilogue) {
        fprintf(f, " epilogue");
        r->self = n;
        key_compute(cg, f, s->epilogue, r);
    }
    /* Every kernel gets the runtime dims, for the bounds of its loops. */
    fprintf(f, " dims");
    for (int k = 0; k < cg->m->ndims; k++)
        key_reads(cg, f, cg->m->tensors[cg->m->dims[k]].node, r);
    fclose(f);
    const char *key = arena_strdup(buf);
    free(buf);
    return key;
}

static bool kernel_can_fail(const Node *n) { return n->op == OP_PICK || n->op == OP_ONEHOT; }

/* Each runtime dim's n, read once where the function starts. */
static void load_dims(CG *cg) {
    for (int k = 0; k < cg->m->ndims; k++)
        cg->dimval[k] = value_at(cg, cg->m->tensors[cg->m->dims[k]].node, NULL);
}

static void emit_parallel_rows(CG *cg, Node *n, const char *cpu);
static void emit_chunked_reduce(CG *cg, Node *n, const char *cpu);
static bool parallel_rows(CG *cg, const Node *n);

/* Build the kernel's function: argument k is the value reads->node[k],
 * then comes the result, then the node's scratch if it has any; its code
 * is compiled for cpu (NULL: the module's). */
static LLVMValueRef build_kernel(CG *cg, Node *n, Reads *r, LLVMTypeRef fty, const char *cpu) {
    Slot *ns = &cg->plan->slot[n->id];
    int nargs = r->n + 1 + (ns->scratch > 0);
    LLVMValueRef caller = cg->fn, bases[NBASE];
    LLVMBasicBlockRef caller_fail = cg->fail, here = LLVMGetInsertBlock(cg->b);
    memcpy(bases, cg->base, sizeof bases);
    char name[64];
    snprintf(name, sizeof name, "%s.%s", cg->m->prefix, op_info[n->op].name);
    LLVMValueRef fn = LLVMAddFunction(cg->mod, name, fty);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "nounwind"));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "noinline"));
    cg_set_cpu(cg, fn, cpu);
    for (int i = 0; i < nargs; i++) {
        /* Values read may overlap each other but are never written here,
         * and the result overlaps none of them (plan.c), so each argument is
         * noalias in LLVM's sense. */
        LLVMAddAttributeAtIndex(fn, (unsigned)i + 1, cg_attr(cg, "noalias"));
        LLVMAddAttributeAtIndex(fn, (unsigned)i + 1, cg_attr(cg, "nocapture"));
    }
    cg->fn = fn;
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
    cg->fail = LLVMAppendBasicBlockInContext(cg->ctx, fn, "bad_label");
    LLVMPositionBuilderAtEnd(cg->b, cg->fail);
    LLVMBuildRet(cg->b, LLVMConstInt(cg->i32, (unsigned long long)(int64_t)NNRT_EINDEX, 1));
    LLVMPositionBuilderAtEnd(cg->b, entry);

    /* Inside, every value is at its argument: rebase the layouts. */
    Layout *saved = NEWA(Layout, nargs);
    Node **who = NEWA(Node *, nargs);
    for (int i = 0; i < r->n; i++)
        who[i] = r->node[i];
    who[r->n] = n;
    LLVMValueRef *argv = NEWA(LLVMValueRef, nargs);
    Layout saved_scratch = ns->scratch_lay;
    if (ns->scratch) {
        ns->scratch_lay = (Layout){.base = NBASE + r->n + 1};
        argv[r->n + 1] = LLVMGetParam(fn, (unsigned)(r->n + 1));
    }
    for (int i = 0; i <= r->n; i++) {
        Slot *s = &cg->plan->slot[who[i]->id];
        saved[i] = s->lay;
        s->lay.base = NBASE + i;
        s->lay.byte_off = 0;
        s->lay.elem_off = 0;
        argv[i] = LLVMGetParam(fn, (unsigned)i);
    }
    cg->kargs = argv;
    cg->nkargs = nargs;
    LLVMValueRef caller_dims[MAX_DIMS];
    memcpy(caller_dims, cg->dimval, sizeof caller_dims);
    load_dims(cg);
    const Shape *rows_of;
    if (parallel_rows(cg, n))
        emit_parallel_rows(cg, n, cpu);
    else if (chunk_rows(cg->plan, n, &rows_of))
        emit_chunked_reduce(cg, n, cpu);
    else
        emit_kernel(cg, n);
    memcpy(cg->dimval, caller_dims, sizeof caller_dims);
    LLVMBuildRet(cg->b, LLVMConstInt(cg->i32, 0, 0));
    if (!kernel_can_fail(n))
        LLVMDeleteBasicBlock(cg->fail);
    for (int i = 0; i <= r->n; i++)
        cg->plan->slot[who[i]->id].lay = saved[i];
    ns->scratch_lay = saved_scratch;
    cg->kargs = NULL;

    cg->fn = caller;
    cg->fail = caller_fail;
    memcpy(cg->base, bases, sizeof bases);
    LLVMPositionBuilderAtEnd(cg->b, here);
    return fn;
}

/* Kernels over at least this many elements are compiled for each x86-64
 * level (codegen.h): the passes over every param (an L2 term) are a small
 * batch's step. */
enum { DISPATCH_MIN_ELEMS = 1 << 15 };

static bool dispatched_kernel(CG *cg, const Node *n) {
    /* a product dispatches inside, but for a direct convolution */
    if (!cg->dispatch_isa || (n->op == OP_MATMUL && !cg->plan->slot[n->id].conv_direct))
        return false;
    const Node *x = op_info[n->op].kind == K_REDUCE || op_info[n->op].kind == K_VIEW ? n->in[0] : n;
    return shape_numel(&x->shape) >= DISPATCH_MIN_ELEMS;
}

/* build_kernel, or for a dispatched kernel one copy per level and a
 * function of the same type that calls the CPU's. */
static LLVMValueRef build_kernel_for_cpus(CG *cg, Node *n, Reads *r, LLVMTypeRef fty) {
    if (!dispatched_kernel(cg, n))
        return build_kernel(cg, n, r, fty, NULL);
    LLVMValueRef fns[CG_NLEVELS];
    for (int i = 0; i < CG_NLEVELS; i++)
        fns[i] = build_kernel(cg, n, r, fty, cg_levels[i].cpu);
    LLVMBasicBlockRef here = LLVMGetInsertBlock(cg->b);
    size_t len;
    const char *name = arena_printf("%s.any", LLVMGetValueName2(fns[CG_NLEVELS - 1], &len));
    LLVMValueRef fn = LLVMAddFunction(cg->mod, name, fty);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "nounwind"));
    LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
    cg_dispatch_call(cg, fn, fns);
    LLVMPositionBuilderAtEnd(cg->b, here);
    return fn;
}

static uint64_t key_hash(const char *s) {
    uint64_t h = 14695981039346656037u;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The kernel of node n, built the first time its key is met (the table of
 * kernels is a hash map: a graph has hundreds of thousands of calls of a
 * few hundred kernels).  r receives the values it reads. */
static Kernel *find_kernel(CG *cg, Node *n, Reads *r) {
    const char *key = kernel_key(cg, n, r);
    uint64_t h = key_hash(key);
    if (2 * (cg->nkernels + 1) > cg->kcap) {
        unsigned cap = cg->kcap ? 2 * cg->kcap : 256;
        Kernel **t = NEWA(Kernel *, cap);
        for (unsigned i = 0; i < cg->kcap; i++)
            if (cg->kernels[i]) {
                unsigned j = (unsigned)cg->kernels[i]->hash & (cap - 1);
                while (t[j])
                    j = (j + 1) & (cap - 1);
                t[j] = cg->kernels[i];
            }
        cg->kernels = t;
        cg->kcap = cap;
    }
    unsigned j = (unsigned)h & (cg->kcap - 1);
    for (; cg->kernels[j]; j = (j + 1) & (cg->kcap - 1))
        if (cg->kernels[j]->hash == h && strcmp(cg->kernels[j]->key, key) == 0)
            return cg->kernels[j];
    Kernel *k = NEW(Kernel);
    k->key = key;
    k->hash = h;
    k->nargs = r->n + 1 + (cg->plan->slot[n->id].scratch > 0);
    LLVMTypeRef *args = NEWA(LLVMTypeRef, k->nargs);
    for (int i = 0; i < k->nargs; i++)
        args[i] = cg->ptr;
    k->fty = LLVMFunctionType(cg->i32, args, (unsigned)k->nargs, 0);
    k->fn = build_kernel_for_cpus(cg, n, r, k->fty);
    cg->kernels[j] = k;
    cg->nkernels++;
    return k;
}

/* Where kernel n's arguments are: a base and a byte offset each. */
static void kernel_args(CG *cg, Node *n, const Reads *r, int *base, int64_t *off) {
    const Slot *ns = &cg->plan->slot[n->id];
    for (int i = 0; i <= r->n; i++) {
        const Node *x = i < r->n ? r->node[i] : n;
        const Layout *l = &cg->plan->slot[x->id].lay;
        base[i] = l->base;
        off[i] = l->byte_off + l->elem_off * (int64_t)dtype_size(x->dt);
    }
    if (ns->scratch) {
        base[r->n + 1] = ns->scratch_lay.base;
        off[r->n + 1] = ns->scratch_lay.byte_off;
    }
}

static void emit_outlined_kernel(CG *cg, Node *n) {
    Reads r = {0};
    Kernel *k = find_kernel(cg, n, &r);
    int nargs = k->nargs, *base = NEWA(int, nargs);
    int64_t *off = NEWA(int64_t, nargs);
    kernel_args(cg, n, &r, base, off);
    LLVMValueRef *argv = NEWA(LLVMValueRef, nargs);
    for (int i = 0; i < nargs; i++) {
        LLVMValueRef o = cg_i64(cg, off[i]);
        argv[i] = LLVMBuildInBoundsGEP2(cg->b, cg->i8, cg->base[base[i]], &o, 1, "");
    }
    LLVMValueRef rc = LLVMBuildCall2(cg->b, k->fty, k->fn, argv, (unsigned)nargs, "");
    if (kernel_can_fail(n)) {
        LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "ok");
        LLVMValueRef bad = LLVMBuildICmp(cg->b, LLVMIntNE, rc, LLVMConstInt(cg->i32, 0, 0), "");
        LLVMBuildCondBr(cg->b, bad, cg->fail, ok);
        LLVMPositionBuilderAtEnd(cg->b, ok);
    }
}

/* One alias scope per kernel argument, in a domain of function fn's own
 * (cg->scope, cg->noalias). */
static void alias_scopes(CG *cg, const char *fn) {
    int n = cg->nkargs;
    LLVMContextRef c = cg->ctx;
    const char *dname = arena_printf("%s.args", fn);
    LLVMMetadataRef dstr = LLVMMDStringInContext2(c, dname, strlen(dname));
    LLVMMetadataRef domain = LLVMMDNodeInContext2(c, &dstr, 1);
    LLVMMetadataRef *sc = NEWA(LLVMMetadataRef, n), *others = NEWA(LLVMMetadataRef, n + 1);
    for (int k = 0; k < n; k++) {
        const char *name = arena_printf("%s.arg%d", fn, k);
        LLVMMetadataRef ops[2] = {LLVMMDStringInContext2(c, name, strlen(name)), domain};
        sc[k] = LLVMMDNodeInContext2(c, ops, 2);
    }
    cg->scope = NEWA(LLVMValueRef, n);
    cg->noalias = NEWA(LLVMValueRef, n);
    for (int k = 0; k < n; k++) {
        cg->scope[k] = LLVMMetadataAsValue(c, LLVMMDNodeInContext2(c, &sc[k], 1));
        int m = 0;
        for (int j = 0; j < n; j++)
            if (j != k)
                others[m++] = sc[j];
        cg->noalias[k] = LLVMMetadataAsValue(c, LLVMMDNodeInContext2(c, others, (size_t)m));
    }
}

/* ---- kernels across threads ----
 *
 * An elementwise kernel, im2col, col2im or a reshape's copy over many
 * elements is split across libnnrt's threads (nnrt_parallel) by ranges of
 * the first axis of the shape its loops walk (the batch, for im2col and
 * col2im; the operand's, for a copy): the kernel
 * stores its arguments in an array and hands a function over a range of
 * that axis to the pool, which runs the kernel's own code with that loop
 * cut (axis_open).  Each element is still computed, or summed, by one
 * thread in the order of one thread: col2im adds into a pixel only from
 * windows of its own image.  So results do not depend on the thread count.
 * A thread gets at least PAR_MIN_ELEMS elements (nnc.h).  A reduction
 * over the batch is cut otherwise (emit_chunked_reduce). */

static bool parallel_rows(CG *cg, const Node *n) { return split_shape(cg->plan, n) != NULL; }

LLVMTypeRef cg_task_type(CG *cg) {
    LLVMTypeRef targs[4] = {cg->ptr, cg->i64, cg->i64, cg->ptr};
    return LLVMFunctionType(LLVMVoidTypeInContext(cg->ctx), targs, 4, 0);
}

void cg_parallel(CG *cg, LLVMValueRef task, LLVMValueRef ctx, LLVMValueRef units, LLVMValueRef grain,
                 size_t scratch_bytes, LLVMValueRef scratch) {
    LLVMTypeRef pargs[6] = {cg->ptr, cg->ptr, cg->i64, cg->i64, cg->intptr, cg->ptr};
    LLVMTypeRef pty = LLVMFunctionType(LLVMVoidTypeInContext(cg->ctx), pargs, 6, 0);
    LLVMValueRef par = LLVMGetNamedFunction(cg->mod, "nnrt_parallel");
    if (!par) {
        par = LLVMAddFunction(cg->mod, "nnrt_parallel", pty);
        LLVMAddAttributeAtIndex(par, LLVMAttributeFunctionIndex, cg_attr(cg, "nounwind"));
    }
    LLVMValueRef v[6] = {task, ctx, units, grain, LLVMConstInt(cg->intptr, scratch_bytes, 0), scratch};
    LLVMBuildCall2(cg->b, pty, par, v, 6, "");
}

/* A task over rows, without scratch. */
static void parallel_rows_call(CG *cg, LLVMValueRef rows, LLVMValueRef args, LLVMValueRef units, LLVMValueRef grain) {
    cg_parallel(cg, rows, args, units, grain, 0, LLVMConstPointerNull(cg->ptr));
}

/* A function beside the kernel being emitted (an epilogue, a fill of
 * windows, a task for the thread pool) that reads the kernel's values
 * through the kernel's arguments, stored in an array on the kernel's
 * stack (*args) and passed as its first argument.  It is compiled for cpu
 * (NULL: the module's); a task reads the runtime dims (with_dims), the
 * others get their loops' bounds as arguments.  SideFn keeps the kernel's
 * state while it is built. */
typedef struct SideFn {
    LLVMValueRef fn, *kargs, dims[MAX_DIMS];
    LLVMBasicBlockRef here;
} SideFn;

static LLVMValueRef side_open(CG *cg, SideFn *sd, const char *name, LLVMTypeRef fty, LLVMValueRef *args,
                              const char *cpu, bool with_dims) {
    sd->here = LLVMGetInsertBlock(cg->b);
    *args = ptr_array(cg, cg->kargs, cg->nkargs, "kernel_args");
    LLVMValueRef fn = LLVMAddFunction(cg->mod, name, fty);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "nounwind"));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "noinline"));
    cg_set_cpu(cg, fn, cpu);
    sd->fn = cg->fn;
    sd->kargs = cg->kargs;
    memcpy(sd->dims, cg->dimval, sizeof sd->dims);
    memset(cg->dimval, 0, sizeof cg->dimval);
    cg->fn = fn;
    LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
    cg->kargs = NEWA(LLVMValueRef, cg->nkargs);
    ptrs_from(cg, LLVMGetParam(fn, 0), cg->nkargs, cg->kargs);
    size_t len;
    alias_scopes(cg, LLVMGetValueName2(fn, &len));   /* the module's unique name for it */
    if (with_dims)
        load_dims(cg);
    return fn;
}

static void side_close(CG *cg, SideFn *sd) {
    LLVMBuildRetVoid(cg->b);
    cg->fn = sd->fn;
    cg->kargs = sd->kargs;
    memcpy(cg->dimval, sd->dims, sizeof sd->dims);
    cg->scope = cg->noalias = NULL;
    LLVMPositionBuilderAtEnd(cg->b, sd->here);
}

static void emit_parallel_rows(CG *cg, Node *n, const char *cpu) {
    const Shape *split = split_shape(cg->plan, n);
    LLVMValueRef units = cg_extent(cg, split, 0), args;
    double per_unit = split_work(cg->plan, n) / (double)split->d[0];
    int64_t grain = (int64_t)ceil(PAR_MIN_ELEMS / per_unit);
    /* void rows(ptr args, i64 begin, i64 end, ptr scratch) */
    SideFn sd;
    size_t len;
    LLVMValueRef rows = side_open(cg, &sd, arena_printf("%s.rows", LLVMGetValueName2(cg->fn, &len)), cg_task_type(cg),
                                  &args, cpu, true);
    cg->split_shape = split;
    cg->split_begin = LLVMGetParam(rows, 1);
    cg->split_end = LLVMGetParam(rows, 2);
    emit_kernel(cg, n);
    cg->split_shape = NULL;
    side_close(cg, &sd);
    parallel_rows_call(cg, rows, args, units, cg_i64(cg, grain));
}

/* col2im of a product computed a chunk of images at a time (plan.c,
 * ST_COLUMNS): a task over chunks, each computing its images' columns of
 * the product into the thread's scratch (cg_matmul_columns), then summing
 * them into those images (col2im_by_rows) while they are in the cache. */
static void col2im_by_chunks(CG *cg, Node *n) {
    LLVMBuilderRef b = cg->b;
    const Slot *s = &cg->plan->slot[n->id];
    Window w = ir_window(n);
    int64_t chunk = s->col_chunk, si = cg->nkargs - 1;   /* the kernel's scratch: its last argument */
    int64_t pixels = window_out(n->shape.d[2], w.kh, w.sh, w.ph, w.dh) * window_out(n->shape.d[3], w.kw, w.sw, w.pw, w.dw);
    LLVMValueRef chunks = LLVMBuildUDiv(b, LLVMBuildAdd(b, cg_extent(cg, &n->shape, 0), cg_i64(cg, chunk - 1), ""),
                                        cg_i64(cg, chunk), "");
    const IsaLevel *level = cg_level_of(cg->fn);
    SideFn sd;
    size_t len;
    LLVMValueRef args, scratch = cg->kargs[si];
    LLVMValueRef task = side_open(cg, &sd, arena_printf("%s.chunks", LLVMGetValueName2(cg->fn, &len)),
                                  cg_task_type(cg), &args, level ? level->cpu : NULL, true);
    LLVMValueRef own = LLVMGetParam(task, 3);   /* this thread's scratch */
    Loop lc;
    LLVMValueRef c = cg_range_open(cg, &lc, LLVMGetParam(task, 1), LLVMGetParam(task, 2));
    LLVMValueRef first = LLVMBuildMul(b, c, cg_i64(cg, chunk), "");
    LLVMValueRef end = smin(cg, LLVMBuildAdd(b, first, cg_i64(cg, chunk), ""), cg_extent(cg, &n->shape, 0));
    LLVMValueRef col0 = LLVMBuildMul(b, first, cg_i64(cg, pixels), ""), back = LLVMBuildNeg(b, col0, "");
    LLVMValueRef packing = cg_i64(cg, columns_chunk_bytes(cg->plan, n));
    Columns cols = {col0, LLVMBuildMul(b, end, cg_i64(cg, pixels), ""),
                    LLVMBuildGEP2(b, cg_type(cg, n->dt), own, &back, 1, ""), cg_i64(cg, chunk * pixels),
                    LLVMBuildGEP2(b, cg->i8, own, &packing, 1, "")};
    cg_matmul_columns(cg, n->in[0], &cols);
    Layout lay = {.base = NBASE + (int)si, .stride = {chunk * pixels, 1}};
    cg->kargs[si] = own;
    cg->split_shape = &n->shape;
    cg->split_begin = first;
    cg->split_end = end;
    cg_store_const(cg, n, out_layout(cg, n), 0);
    if (!col2im_by_rows(cg, n, &lay, col0))
        window_walk(cg, n, &n->shape, true, &lay, col0);
    cg->split_shape = NULL;
    cg_loop_close(cg, &lc);
    side_close(cg, &sd);
    cg_parallel(cg, task, args, chunks, cg_i64(cg, 1), s->scratch, scratch);
}

static Node *gradient_product(const Plan *p, Node *g);
static LLVMValueRef update_split(CG *cg, const Tensor *t, const Plan *train);

/* x, computed inline, reads params, hypers and constants alone, and
 * *param is the last param it reads (NULL: none). */
static bool reads_params_only(CG *cg, const Node *x, const Node **param) {
    Storage st = cg->plan->slot[x->id].st;
    if (x->op == OP_PARAM)
        *param = x;
    else if (x->op != OP_HYPER && x->op != OP_CONST && st != ST_CONST && st != ST_INLINE)
        return false;
    for (int k = 0; k < op_info[x->op].arity && st == ST_INLINE; k++)
        if (!reads_params_only(cg, x->in[k], param))
            return false;
    return true;
}

/* A reduction over the batch, or a direct weight gradient (chunk_rows): a
 * task over chunks of rows of x, each folded into its partial result in
 * the scratch (the kernel's last argument), then the partials combined in
 * chunk order. */
static void emit_chunked_reduce(CG *cg, Node *n, const char *cpu) {
    const Shape *xs;
    int si = cg->nkargs - 1;
    int64_t rows = chunk_rows(cg->plan, n, &xs), part = reduce_partial_bytes(n);
    Layout partial = layout_of((Base)(NBASE + si), 0, &n->shape);
    LLVMValueRef scratch = cg->kargs[si], args;
    LLVMValueRef chunks = LLVMBuildUDiv(cg->b, LLVMBuildAdd(cg->b, cg_extent(cg, xs, 0), cg_i64(cg, rows - 1), ""),
                                        cg_i64(cg, rows), "");
    /* void chunks(ptr args, i64 begin, i64 end, ptr scratch) */
    SideFn sd;
    size_t len;
    LLVMValueRef task = side_open(cg, &sd, arena_printf("%s.chunks", LLVMGetValueName2(cg->fn, &len)), cg_task_type(cg),
                                  &args, cpu, true);
    LLVMValueRef own = cg->kargs[si];
    Loop lc;
    LLVMValueRef c = cg_range_open(cg, &lc, LLVMGetParam(task, 1), LLVMGetParam(task, 2));
    LLVMValueRef first = LLVMBuildMul(cg->b, c, cg_i64(cg, rows), ""), at = LLVMBuildMul(cg->b, c, cg_i64(cg, part), "");
    cg->kargs[si] = LLVMBuildGEP2(cg->b, cg->i8, own, &at, 1, "");
    cg->split_shape = xs;
    cg->split_begin = first;
    cg->split_end = smin(cg, LLVMBuildAdd(cg->b, first, cg_i64(cg, rows), ""), cg_extent(cg, xs, 0));
    if (cg->plan->slot[n->id].conv_weights)
        cg_conv_weights(cg, n, &partial);
    else
        reduce_into(cg, n, &partial);
    cg->split_shape = NULL;
    cg_loop_close(cg, &lc);
    side_close(cg, &sd);
    /* every chunk's partial in the caller's scratch: the pool's own is unused.
     * A sum over a param alone (the L2 term's sum(W * W)) is split only
     * where the param's update is, since that update left the param in
     * the caches of the threads that ran it: at batch 1, splitting the
     * example's sum over W1 across 2 threads made its step 1.3 times as
     * long.  The kernel serves every entry, so the train step's plan decides. */
    const Node *param = NULL;
    const Plan *train = cg->plans[ENTRY_TRAIN];
    const Tensor *t = reads_params_only(cg, n->in[0], &param) && param ? &cg->m->tensors[param->tensor] : NULL;
    LLVMValueRef split = t && train && t->grad ? update_split(cg, t, train) : LLVMConstInt(cg->i1, 1, 0);
    LLVMValueRef grain = split ? LLVMBuildSelect(cg->b, split, cg_i64(cg, 1), chunks, "") : chunks;
    cg_parallel(cg, task, args, chunks, grain, 0, LLVMConstPointerNull(cg->ptr));

    /* out = init, then out op= each partial, in chunk order */
    const Layout *out = out_layout(cg, n);
    cg_store_const(cg, n, out, reduce_init(n));
    LLVMValueRef idx[MAX_RANK];
    Nest ns;
    c = cg_range_open(cg, &lc, cg_i64(cg, 0), chunks);
    at = LLVMBuildMul(cg->b, c, cg_i64(cg, part), "");
    cg->kargs[si] = LLVMBuildGEP2(cg->b, cg->i8, scratch, &at, 1, "");
    nest_open(cg, &ns, &n->shape, idx);
    LLVMValueRef p = cg_elem_ptr(cg, out, n->dt, n->shape.rank, idx);
    LLVMValueRef v = load(cg, n->dt, cg_elem_ptr(cg, &partial, n->dt, n->shape.rank, idx));
    store(cg, n->dt, reduce_op(cg, n, load(cg, n->dt, p), v), p);
    nest_close(cg, &ns, &n->shape);
    cg->kargs[si] = scratch;
    cg_loop_close(cg, &lc);
}

LLVMTypeRef cg_epilogue_type(CG *cg) {
    LLVMTypeRef params[5] = {cg->ptr, cg->i64, cg->i64, cg->i64, cg->i64};
    return LLVMFunctionType(LLVMVoidTypeInContext(cg->ctx), params, 5, 0);
}

LLVMValueRef cg_epilogue(CG *cg, Node *n, LLVMValueRef *args) {
    Node *e = cg->plan->slot[n->id].epilogue;
    const Layout *out = out_layout(cg, n);
    SideFn sd;
    const char *name = arena_printf("%s.epilogue.%s", cg->m->prefix, op_info[e->op].name);
    LLVMValueRef fn = side_open(cg, &sd, name, cg_epilogue_type(cg), args, NULL, false);
    LLVMValueRef i0 = LLVMGetParam(fn, 1), j0 = LLVMGetParam(fn, 2);
    Loop li, lj;
    LLVMValueRef idx[2];
    idx[0] = cg_range_open(cg, &li, i0, LLVMBuildAdd(cg->b, i0, LLVMGetParam(fn, 3), ""));
    idx[1] = cg_range_open(cg, &lj, j0, LLVMBuildAdd(cg->b, j0, LLVMGetParam(fn, 4), ""));
    /* e reads the product at idx, where it stores: read before written. */
    scoped(cg, store(cg, n->dt, ew_compute(cg, e, idx), cg_elem_ptr(cg, out, n->dt, 2, idx)), out);
    cg_loop_close(cg, &lj);
    cg_loop_close(cg, &li);
    side_close(cg, &sd);
    return fn;
}

/* ---- windows filled block by block (plan.c, ST_WINDOWS) ---- */

Node *cg_windows(Node *x) {
    while (x->op != OP_IM2COL)
        x = x->in[0];
    return x;
}

LLVMTypeRef cg_fill_type(CG *cg) {
    LLVMTypeRef params[8] = {cg->ptr, cg->ptr, cg->i64, cg->i64, cg->i64, cg->i64, cg->i64, cg->i64};
    return LLVMFunctionType(LLVMVoidTypeInContext(cg->ctx), params, 8, 0);
}

static LLVMValueRef smax(CG *cg, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, a, b, ""), a, b, "");
}

/* out[o*cs] for the pixels o of [from, to) of a row: the padding, or the
 * image at column o*sw - shift of row xi (xi[3] is set here). */
static void fill_run(CG *cg, Node *n, LLVMValueRef out, LLVMValueRef cs, LLVMValueRef from, LLVMValueRef to,
                     LLVMValueRef *xi, LLVMValueRef shift, RowVectors how) {
    LLVMBuilderRef b = cg->b;
    Range r;
    LLVMValueRef o = range_open(cg, &r, from, to);
    LLVMValueRef at = LLVMBuildMul(b, o, cs, ""), v;
    if (xi) {
        xi[3] = LLVMBuildSub(b, LLVMBuildMul(b, o, cg_i64(cg, ir_window(n).sw), ""), shift, "");
        v = value_at(cg, n->in[0], xi);
    } else {
        v = cval(cg, n->dt, n->value);
    }
    store(cg, n->dt, v, LLVMBuildGEP2(b, cg_type(cg, n->dt), out, &at, 1, ""));
    range_close(cg, &r, how);
}

/* What fill's loops know of one row of the im2col, window element (c, i,
 * j): where it goes (dst_r, from q0, pixels cs apart), and the pixels of a
 * whole output row whose column is inside the image, [lo, hi). */
typedef struct FillRow {
    Node *n;
    Window w;
    int64_t height, oh, ow, lo, hi, j;
    LLVMValueRef dst_r, cs, q0, c, i, shift;
    RowVectors copy;
    const Layout *image;    /* the image in memory, rows contiguous, for fill_row_vectors; else NULL */
} FillRow;

/* A whole output row of pixels, stride 1 both sides, in explicit vectors
 * of 64 bytes: each a load of the image row (window_row_load: the pixels
 * outside the image read as the padding) and a store under a mask (the
 * row's OW pixels).  LLVM's own vectorization of fill_run computes its
 * masks at run time, lane by lane. */
static void fill_row_vectors(CG *cg, const FillRow *f, LLVMValueRef out, LLVMValueRef *xi, LLVMValueRef row_in) {
    LLVMBuilderRef b = cg->b;
    DType dt = f->n->dt;
    int lanes = wide_lanes(cg, dt);
    LLVMTypeRef et = cg_type(cg, dt);
    LLVMValueRef pads[16], pad;
    for (int t = 0; t < lanes; t++)
        pads[t] = cval(cg, dt, f->n->value);
    pad = LLVMConstVector(pads, (unsigned)lanes);
    xi[3] = cg_i64(cg, 0);
    LLVMValueRef src = cg_elem_ptr(cg, f->image, dt, 4, xi);
    for (int64_t q = 0; q < f->ow; q += lanes) {
        LLVMValueRef v = window_row_load(cg, dt, f->image, src, row_in, false, q, f->lo, f->hi,
                                         f->w.pw - f->j * f->w.dw, pad);
        LLVMValueRef at = cg_i64(cg, q);
        masked_store(cg, dt, LLVMBuildGEP2(b, et, out, &at, 1, ""), lanes_between(cg, lanes, 0, f->ow - q), v);
    }
}

/* Output row `row` of image bn (oi = row mod OH, rowq = row * OW, its first
 * pixel), pixels [from, to) of it: whole, all of it, with constant bounds. */
static void fill_row(CG *cg, const FillRow *f, LLVMValueRef bn, LLVMValueRef oi, LLVMValueRef rowq, LLVMValueRef from,
                     LLVMValueRef to, bool whole) {
    LLVMBuilderRef b = cg->b;
    LLVMValueRef zero = cg_i64(cg, 0), lo = cg_i64(cg, f->lo), hi = cg_i64(cg, f->hi), OW = cg_i64(cg, f->ow);
    LLVMValueRef row_in = NULL, ih = window_in(cg, oi, f->i, f->w.sh, f->w.ph, f->w.dh, f->height, &row_in);
    LLVMValueRef at = LLVMBuildMul(b, LLVMBuildSub(b, rowq, f->q0, ""), f->cs, "");
    LLVMValueRef out = LLVMBuildGEP2(b, cg_type(cg, f->n->dt), f->dst_r, &at, 1, "");
    LLVMValueRef xi[4] = {bn, f->c, ih, NULL};
    if (whole && f->image) {
        fill_row_vectors(cg, f, out, xi, row_in);
        return;
    }
    if (!whole) {
        LLVMValueRef in_lo = smin(cg, smax(cg, lo, from), to);
        LLVMValueRef in_hi = smin(cg, smax(cg, LLVMBuildSelect(b, row_in, hi, zero, ""), in_lo), to);
        fill_run(cg, f->n, out, f->cs, from, in_lo, NULL, f->shift, ROW_PLAIN);
        fill_run(cg, f->n, out, f->cs, in_lo, in_hi, xi, f->shift, f->copy);
        fill_run(cg, f->n, out, f->cs, in_hi, to, NULL, f->shift, ROW_PLAIN);
        return;
    }
    LLVMBasicBlockRef path[3] = {LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "row_in"),
                                 LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "row_out"),
                                 LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "row_done")};
    LLVMBuildCondBr(b, row_in, path[0], path[1]);
    LLVMPositionBuilderAtEnd(b, path[0]);
    fill_run(cg, f->n, out, f->cs, zero, lo, NULL, f->shift, ROW_PLAIN);
    fill_run(cg, f->n, out, f->cs, lo, hi, xi, f->shift, f->copy);
    fill_run(cg, f->n, out, f->cs, hi, OW, NULL, f->shift, ROW_PLAIN);
    LLVMBuildBr(b, path[2]);
    LLVMPositionBuilderAtEnd(b, path[1]);
    fill_run(cg, f->n, out, f->cs, zero, OW, NULL, f->shift, ROW_PLAIN);
    LLVMBuildBr(b, path[2]);
    LLVMPositionBuilderAtEnd(b, path[2]);
}

/* Output row `row` (counted over the batch) cut to the pixels [q0, q1). */
static void fill_cut_row(CG *cg, const FillRow *f, LLVMValueRef row, LLVMValueRef q1) {
    LLVMBuilderRef b = cg->b;
    LLVMValueRef OH = cg_i64(cg, f->oh), rowq = LLVMBuildMul(b, row, cg_i64(cg, f->ow), "");
    LLVMValueRef from = smax(cg, LLVMBuildSub(b, f->q0, rowq, ""), cg_i64(cg, 0));
    LLVMValueRef to = smin(cg, LLVMBuildSub(b, q1, rowq, ""), cg_i64(cg, f->ow));
    fill_row(cg, f, LLVMBuildUDiv(b, row, OH, ""), LLVMBuildURem(b, row, OH, ""), rowq, from, to, false);
}

/* The loops of fill (below) with the stride cs between pixels; unit: cs is
 * 1, and LLVM vectorizes the copies.  The window's column j is unrolled
 * here; the output rows that [q0, q1) covers whole are walked image by
 * image, with constant bounds, and only its first and last rows are cut. */
static void fill_loops(CG *cg, Node *n, LLVMValueRef *p, LLVMValueRef cs, bool unit) {
    LLVMBuilderRef b = cg->b;
    LLVMValueRef dst = p[1], rs = p[2], r0 = p[4], r1 = p[5], q0 = p[6], q1 = p[7];
    FillRow f = {.n = n, .w = ir_window(n), .cs = cs, .q0 = q0, .copy = unit ? ROW_MASKED : ROW_PLAIN};
    const int64_t *d = n->in[0]->shape.d;
    if (unit && f.w.sw == 1)
        f.image = rows_in_memory(cg, n->in[0]);
    f.height = d[2];
    f.oh = window_out(d[2], f.w.kh, f.w.sh, f.w.ph, f.w.dh);
    f.ow = window_out(d[3], f.w.kw, f.w.sw, f.w.pw, f.w.dw);
    LLVMValueRef one = cg_i64(cg, 1), OW = cg_i64(cg, f.ow), OH = cg_i64(cg, f.oh), KW = cg_i64(cg, f.w.kw);
    /* the output rows (counted over the batch) that [q0, q1) meets: the
     * first and the last cut, [mid0, mid1) whole, in images [bn0, bn1) */
    LLVMValueRef row0 = LLVMBuildUDiv(b, q0, OW, "");
    LLVMValueRef last = LLVMBuildUDiv(b, LLVMBuildSub(b, q1, one, ""), OW, "");
    LLVMValueRef mid0 = LLVMBuildAdd(b, row0, one, ""), mid1 = smax(cg, last, mid0);
    LLVMValueRef bn0 = LLVMBuildUDiv(b, mid0, OH, "");
    LLVMValueRef bn1 = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntULT, mid0, mid1, ""),
                                       LLVMBuildAdd(b, LLVMBuildUDiv(b, LLVMBuildSub(b, mid1, one, ""), OH, ""), one, ""),
                                       bn0, "");
    /* window rows (c, i), each kw rows of the im2col */
    Range lg;
    LLVMValueRef g0 = LLVMBuildUDiv(b, r0, KW, "");
    LLVMValueRef g1 = LLVMBuildAdd(b, LLVMBuildUDiv(b, LLVMBuildSub(b, r1, one, ""), KW, ""), one, "");
    LLVMValueRef g = range_open(cg, &lg, g0, g1);
    f.c = LLVMBuildUDiv(b, g, cg_i64(cg, f.w.kh), "");
    f.i = LLVMBuildURem(b, g, cg_i64(cg, f.w.kh), "");
    for (int64_t j = 0; j < f.w.kw; j++) {
        LLVMValueRef r = LLVMBuildAdd(b, LLVMBuildMul(b, g, KW, ""), cg_i64(cg, j), "");
        LLVMValueRef in_block = LLVMBuildICmp(b, LLVMIntULT, LLVMBuildSub(b, r, r0, ""), LLVMBuildSub(b, r1, r0, ""), "");
        window_cols(&f.w, d[3], f.ow, j, &f.lo, &f.hi);
        f.j = j;
        f.shift = cg_i64(cg, f.w.pw - j * f.w.dw);
        LLVMValueRef at_r = LLVMBuildMul(b, LLVMBuildSub(b, r, r0, ""), rs, "");
        f.dst_r = LLVMBuildGEP2(b, cg_type(cg, n->dt), dst, &at_r, 1, "");
        LLVMBasicBlockRef rows = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "fill_rows");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "fill_next");
        LLVMBuildCondBr(b, in_block, rows, next);
        LLVMPositionBuilderAtEnd(b, rows);
        fill_cut_row(cg, &f, row0, q1);
        Range lb, lo;
        LLVMValueRef bn = range_open(cg, &lb, bn0, bn1);
        LLVMValueRef base = LLVMBuildMul(b, bn, OH, "");
        LLVMValueRef oi = range_open(cg, &lo, smax(cg, LLVMBuildSub(b, mid0, base, ""), cg_i64(cg, 0)),
                                     smin(cg, LLVMBuildSub(b, mid1, base, ""), OH));
        fill_row(cg, &f, bn, oi, LLVMBuildMul(b, LLVMBuildAdd(b, base, oi, ""), OW, ""), NULL, NULL, true);
        range_close(cg, &lo, ROW_PLAIN);
        range_close(cg, &lb, ROW_PLAIN);
        LLVMBasicBlockRef cut = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "last_row");
        LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "rows_done");
        LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntUGT, last, row0, ""), cut, done);
        LLVMPositionBuilderAtEnd(b, cut);
        fill_cut_row(cg, &f, last, q1);
        LLVMBuildBr(b, done);
        LLVMPositionBuilderAtEnd(b, done);
        LLVMBuildBr(b, next);
        LLVMPositionBuilderAtEnd(b, next);
    }
    range_close(cg, &lg, ROW_PLAIN);
}

/* void fill(ptr args, ptr dst, i64 rs, i64 cs, i64 r0, i64 r1, i64 q0, i64 q1)
 * writes element (r, q) of im2col n, for r in [r0, r1) and q in [q0, q1),
 * to dst[(r - r0)*rs + (q - q0)*cs], from the image (as window_walk: along
 * each row of pixels, the padding, the range inside the image, the
 * padding); one copy of the loops for cs = 1, another for any cs. */
LLVMValueRef cg_window_fill(CG *cg, Node *n, LLVMValueRef *args) {
    LLVMBuilderRef b = cg->b;
    SideFn sd;
    LLVMValueRef fn = side_open(cg, &sd, arena_printf("%s.fill.windows", cg->m->prefix), cg_fill_type(cg), args,
                                NULL, false);
    LLVMAddAttributeAtIndex(fn, 2, cg_attr(cg, "noalias"));
    LLVMValueRef p[8];
    for (int k = 0; k < 8; k++)
        p[k] = LLVMGetParam(fn, (unsigned)k);
    LLVMBasicBlockRef body[2] = {LLVMAppendBasicBlockInContext(cg->ctx, fn, "unit_stride"),
                                 LLVMAppendBasicBlockInContext(cg->ctx, fn, "any_stride")};
    LLVMBasicBlockRef joined = LLVMAppendBasicBlockInContext(cg->ctx, fn, "filled");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, p[3], cg_i64(cg, 1), ""), body[0], body[1]);
    for (int k = 0; k < 2; k++) {
        LLVMPositionBuilderAtEnd(b, body[k]);
        fill_loops(cg, n, p, k == 0 ? cg_i64(cg, 1) : p[3], k == 0);
        LLVMBuildBr(b, joined);
    }
    LLVMPositionBuilderAtEnd(b, joined);
    side_close(cg, &sd);
    return fn;
}

/* ---- entry points ---- */

/* An optimizer's argument (a constant or a hyper) in dtype dt. */
static LLVMValueRef scalar_value(CG *cg, Node *x, DType dt) {
    if (x->op == OP_CONST)
        return cval(cg, dt, x->value);
    const Tensor *t = &cg->m->tensors[x->tensor];
    Layout l = {.base = BASE_INPUTS, .byte_off = (int64_t)t->offset};
    return LLVMBuildFPCast(cg->b, load(cg, t->dt, cg_elem_ptr(cg, &l, t->dt, 0, NULL)), cg_type(cg, dt), "");
}

/* One element of one param's optimizer step, as an update rule sees it. */
typedef struct Update {
    const Model *m;
    LLVMValueRef p, g;                  /* the param's address, the gradient's value */
    LLVMValueRef buf[MAX_BUFFERS];      /* the addresses of its buffers */
    LLVMValueRef arg[MAX_OPT_ARGS];     /* the optimizer's arguments in its dtype */
    LLVMValueRef first;                 /* i1: step == 0 on entry */
    LLVMValueRef t;                     /* f64: step + 1, the step being taken */
    DType dt;
} Update;

static LLVMValueRef fmul(CG *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(cg->b, a, b, ""); }

/* 1 - x for an optimizer argument x, computed in f64 and rounded to dt
 * once, as PyTorch computes `1 - beta1` in a Python float. */
static LLVMValueRef one_minus(CG *cg, Node *x, DType dt) {
    LLVMValueRef v = LLVMBuildFSub(cg->b, cval(cg, DT_F64, 1), scalar_value(cg, x, DT_F64), "");
    return LLVMBuildFPCast(cg->b, v, cg_type(cg, dt), "");
}
static LLVMValueRef fadd(CG *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(cg->b, a, b, ""); }

/* torch.optim.SGD (contract, 5.8 Optimizers): weight decay onto g; with a
 * momentum buffer b = g at the first step, else momentum*b + (1 -
 * dampening)*g, and the step d = b (g + momentum*b with nesterov); a
 * momentum that is 0 at run time steps by g and leaves b alone. */
static void rule_sgd(CG *cg, const Update *u) {
    enum { LR, MOMENTUM, DAMPENING, WEIGHT_DECAY, NESTEROV };
    LLVMValueRef pv = load(cg, u->dt, u->p), g = u->g, d = g;
    if (!ir_is_const(u->m->optarg[WEIGHT_DECAY], 0))
        g = d = fadd(cg, g, fmul(cg, u->arg[WEIGHT_DECAY], pv));
    if (u->m->nbuffers) {
        LLVMValueRef mom = u->arg[MOMENTUM], b = load(cg, u->dt, u->buf[0]);
        LLVMValueRef keep = one_minus(cg, u->m->optarg[DAMPENING], u->dt);
        LLVMValueRef nb = LLVMBuildSelect(cg->b, u->first, g, fadd(cg, fmul(cg, mom, b), fmul(cg, keep, g)), "");
        LLVMValueRef on = LLVMBuildFCmp(cg->b, LLVMRealUNE, mom, cval(cg, u->dt, 0), "");
        store(cg, u->dt, LLVMBuildSelect(cg->b, on, nb, b, ""), u->buf[0]);
        LLVMValueRef step = ir_is_const(u->m->optarg[NESTEROV], 1) ? fadd(cg, g, fmul(cg, mom, nb)) : nb;
        d = LLVMBuildSelect(cg->b, on, step, g, "");
    }
    store(cg, u->dt, LLVMBuildFSub(cg->b, pv, fmul(cg, u->arg[LR], d), ""), u->p);
}

/* torch.optim.Adam and AdamW (contract, 5.8 Optimizers): the moments
 * m <- beta1 m + (1 - beta1) g and v <- beta2 v + (1 - beta2) g^2 (with
 * amsgrad, v_max <- max(v_max, v) is used for v), then
 * p <- p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
 * Adam adds weight_decay p to g; AdamW first scales p by 1 - lr
 * weight_decay.  The bias corrections are computed in f64 and rounded to
 * the param's type once, as PyTorch's Python floats are. */
static void rule_adam(CG *cg, const Update *u, bool decoupled) {
    enum { LR, BETA1, BETA2, EPS, WEIGHT_DECAY, AMSGRAD };
    const Model *m = u->m;
    LLVMValueRef pv = load(cg, u->dt, u->p), g = u->g;
    LLVMTypeRef t = cg_type(cg, u->dt);
    if (!ir_is_const(m->optarg[WEIGHT_DECAY], 0)) {
        if (decoupled) {
            LLVMValueRef lr_wd = LLVMBuildFMul(cg->b, scalar_value(cg, m->optarg[LR], DT_F64),
                                               scalar_value(cg, m->optarg[WEIGHT_DECAY], DT_F64), "");
            pv = fmul(cg, pv, LLVMBuildFPCast(cg->b, LLVMBuildFSub(cg->b, cval(cg, DT_F64, 1), lr_wd, ""), t, ""));
        } else {
            g = fadd(cg, g, fmul(cg, u->arg[WEIGHT_DECAY], pv));
        }
    }
    /* In PyTorch's order: m*beta1 + (1 - beta1)*g, v*beta2 + ((1 - beta2)*g)*g. */
    LLVMValueRef mv = fadd(cg, fmul(cg, load(cg, u->dt, u->buf[0]), u->arg[BETA1]),
                           fmul(cg, one_minus(cg, m->optarg[BETA1], u->dt), g));
    LLVMValueRef vv = fadd(cg, fmul(cg, load(cg, u->dt, u->buf[1]), u->arg[BETA2]),
                           fmul(cg, fmul(cg, one_minus(cg, m->optarg[BETA2], u->dt), g), g));
    store(cg, u->dt, mv, u->buf[0]);
    store(cg, u->dt, vv, u->buf[1]);
    if (m->nbuffers == 3) {
        vv = intr2(cg, "llvm.maximum", load(cg, u->dt, u->buf[2]), vv);
        store(cg, u->dt, vv, u->buf[2]);
    }
    LLVMValueRef one64 = cval(cg, DT_F64, 1);
    LLVMValueRef bc1 = LLVMBuildFSub(cg->b, one64, intr2(cg, "llvm.pow", scalar_value(cg, m->optarg[BETA1], DT_F64), u->t), "");
    LLVMValueRef bc2 = LLVMBuildFSub(cg->b, one64, intr2(cg, "llvm.pow", scalar_value(cg, m->optarg[BETA2], DT_F64), u->t), "");
    LLVMValueRef step = LLVMBuildFPCast(cg->b, LLVMBuildFDiv(cg->b, scalar_value(cg, m->optarg[LR], DT_F64), bc1, ""), t, "");
    LLVMValueRef bc2_sqrt = LLVMBuildFPCast(cg->b, intr1(cg, "llvm.sqrt", bc2), t, "");
    LLVMValueRef denom = fadd(cg, LLVMBuildFDiv(cg->b, intr1(cg, "llvm.sqrt", vv), bc2_sqrt, ""), u->arg[EPS]);
    store(cg, u->dt, LLVMBuildFSub(cg->b, pv, LLVMBuildFDiv(cg->b, fmul(cg, step, mv), denom, ""), ""), u->p);
}

static void update_rule(CG *cg, const Update *u) {
    switch (cg->m->optim->kind) {
    case OPT_SGD: rule_sgd(cg, u); return;
    case OPT_ADAM: rule_adam(cg, u, false); return;
    case OPT_ADAMW: rule_adam(cg, u, true); return;
    case OPT_COUNT: break;
    }
    fprintf(stderr, "nnc: internal error: no update rule for optimizer %s\n", cg->m->optim->name);
    abort();
}

/* The optimizer step of param t: its gradient is read at layout grad, or
 * (grad NULL) computed as the plan says. */
static void update_loop(CG *cg, const Tensor *t, const Layout *grad) {
    const Model *m = cg->m;
    Update u = {.m = m, .dt = t->dt};
    for (int k = 0; k < m->optim->nargs; k++)
        u.arg[k] = scalar_value(cg, m->optarg[k], t->dt);
    Layout sl = {.base = BASE_STATE, .byte_off = offsetof(nnrt_state_head, step)};
    LLVMValueRef step = load(cg, DT_I64, cg_elem_ptr(cg, &sl, DT_I64, 0, NULL));
    u.first = LLVMBuildICmp(cg->b, LLVMIntEQ, step, cg_i64(cg, 0), "");
    u.t = LLVMBuildUIToFP(cg->b, LLVMBuildAdd(cg->b, step, cg_i64(cg, 1), ""), cg->f64, "");
    Layout pl = layout_of(BASE_PARAMS, (int64_t)t->offset, &t->shape), bl[MAX_BUFFERS];
    for (int b = 0; b < m->nbuffers; b++)
        bl[b] = layout_of(BASE_STATE, (int64_t)t->buf_offset[b], &t->shape);
    LLVMValueRef idx[MAX_RANK];
    Nest ns;
    nest_open(cg, &ns, &t->shape, idx);
    u.g = grad ? load(cg, t->dt, cg_elem_ptr(cg, grad, t->dt, t->shape.rank, idx)) : value_at(cg, t->grad, idx);
    u.p = cg_elem_ptr(cg, &pl, t->dt, t->shape.rank, idx);
    for (int b = 0; b < m->nbuffers; b++)
        u.buf[b] = cg_elem_ptr(cg, &bl[b], t->dt, t->shape.rank, idx);
    update_rule(cg, &u);
    nest_close(cg, &ns, &t->shape);
}

/* The product whose result the gradient g reads, through inline nodes, in
 * the plan p, or NULL. */
static Node *gradient_product(const Plan *p, Node *g) {
    if (g->op == OP_MATMUL && p->slot[g->id].st == ST_BUFFER)
        return g;
    if (p->slot[g->id].st != ST_INLINE)
        return NULL;
    for (int k = 0; k < op_info[g->op].arity; k++) {
        Node *m = gradient_product(p, g->in[k]);
        if (m)
            return m;
    }
    return NULL;
}

/* The update of a large param is split across the threads by rows of its
 * first axis, as the kernels are (emit_parallel_rows): each element is
 * updated by one thread, and the gradient an update reads in place reads
 * no other param and its own only at the index being updated (plan.c), so
 * the order of the rows does not matter.  Where the threads find the
 * param and its gradient matters: after a product split across them (it
 * computed the gradient), or past a core's L2 cache, splitting pays; after
 * a product the calling thread ran alone, the data are in its cache, and
 * splitting the example's W1 (200K elements) made the step at batch 1 take
 * 1.5 times as long on 2 threads.  So a param of 64K elements or more is
 * split when the product its gradient reads had the work to be split, at
 * the sizes of the call, and one of 1M elements or more always.
 * update_split tells which: NULL for never, else an i1 of the call's
 * sizes; train: the plan whose gradient the update reads, NULL when it
 * reads one from a struct (the update entry). */
enum { PAR_MIN_UPDATE = 1 << 20 };

static LLVMValueRef update_split(CG *cg, const Tensor *t, const Plan *train) {
    const Shape *s = &t->shape;
    Node *prod = train ? gradient_product(train, t->grad) : NULL;
    int64_t need = prod ? 2 * PAR_MIN_ELEMS : PAR_MIN_UPDATE;
    if (s->rank < 1 || !has_loop(s, 0) || s->d[0] < 2 || shape_numel(s) < need)
        return NULL;
    if (!prod)
        return LLVMConstInt(cg->i1, 1, 0);
    LLVMValueRef m = cg_extent(cg, &prod->shape, 0), n = cg_extent(cg, &prod->shape, 1);
    LLVMValueRef k = cg_extent(cg, &prod->in[0]->shape, 1);
    LLVMValueRef flops = LLVMBuildMul(cg->b, LLVMBuildMul(cg->b, LLVMBuildMul(cg->b, m, n, ""), k, ""), cg_i64(cg, 2), "");
    return LLVMBuildICmp(cg->b, LLVMIntUGE, flops, cg_i64(cg, 2 * PAR_MIN_FLOPS), "");
}

static void emit_param_update(CG *cg, const Tensor *t, const Layout *grad) {
    const Shape *s = &t->shape;
    LLVMValueRef split = update_split(cg, t, grad ? NULL : cg->plan);
    if (!split) {
        update_loop(cg, t, grad);
        return;
    }
    LLVMValueRef bases = ptr_array(cg, cg->base, NBASE, "update_bases");
    LLVMValueRef entry = cg->fn, entry_bases[NBASE], entry_dims[MAX_DIMS];
    LLVMBasicBlockRef here = LLVMGetInsertBlock(cg->b);
    memcpy(entry_bases, cg->base, sizeof entry_bases);
    memcpy(entry_dims, cg->dimval, sizeof entry_dims);
    size_t len;
    LLVMValueRef rows = LLVMAddFunction(cg->mod, arena_printf("%s.update.%s", LLVMGetValueName2(entry, &len), t->name),
                                        cg_task_type(cg));
    LLVMSetLinkage(rows, LLVMInternalLinkage);
    LLVMAddAttributeAtIndex(rows, LLVMAttributeFunctionIndex, cg_attr(cg, "nounwind"));
    cg_set_cpu(cg, rows, cg->entry_cpu);
    cg->fn = rows;
    LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, rows, "entry"));
    ptrs_from(cg, LLVMGetParam(rows, 0), NBASE, cg->base);
    if (cg->plan)   /* train_step; update reads no dims */
        load_dims(cg);
    cg->split_shape = s;
    cg->split_begin = LLVMGetParam(rows, 1);
    cg->split_end = LLVMGetParam(rows, 2);
    update_loop(cg, t, grad);
    cg->split_shape = NULL;
    LLVMBuildRetVoid(cg->b);
    cg->fn = entry;
    memcpy(cg->base, entry_bases, sizeof entry_bases);
    memcpy(cg->dimval, entry_dims, sizeof entry_dims);
    LLVMPositionBuilderAtEnd(cg->b, here);
    int64_t per_row = shape_numel(s) / s->d[0];
    LLVMValueRef units = cg_extent(cg, s, 0);
    /* one unit a thread, the whole, unless split */
    LLVMValueRef grain = LLVMBuildSelect(cg->b, split, cg_i64(cg, (PAR_MIN_ELEMS + per_row - 1) / per_row), units, "");
    parallel_rows_call(cg, rows, bases, units, grain);
}

/* step += 1, after an optimizer step. */
static void count_step(CG *cg) {
    Layout sl = {.base = BASE_STATE, .byte_off = offsetof(nnrt_state_head, step)};
    LLVMValueRef p = cg_elem_ptr(cg, &sl, DT_I64, 0, NULL);
    store(cg, DT_I64, LLVMBuildAdd(cg->b, load(cg, DT_I64, p), cg_i64(cg, 1), ""), p);
}

/* Branch to a new block that returns code when bad holds. */
static void fail_if(CG *cg, LLVMValueRef bad, int code) {
    LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "bad");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "ok");
    LLVMBuildCondBr(cg->b, bad, fail, ok);
    LLVMPositionBuilderAtEnd(cg->b, fail);
    LLVMBuildRet(cg->b, ci32(cg, code));
    LLVMPositionBuilderAtEnd(cg->b, ok);
}

/* A dropout's p given by a hyper in [0, 1), else NNRT_EINVAL; in a
 * training entry, more than one value per channel for each batch_norm
 * (some dim it counts above 1), else NNRT_ESHAPE. */
static void emit_training_checks(CG *cg) {
    const Model *m = cg->m;
    for (int k = 0; k < m->ndropouts; k++) {
        Node *p = m->dropout_p[k];
        while (p->op == OP_CAST)
            p = p->in[0];
        if (p->op == OP_CONST)   /* checked by sema */
            continue;
        LLVMValueRef v = scalar_value(cg, p, DT_F64);
        LLVMValueRef ok = LLVMBuildAnd(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGE, v, cval(cg, DT_F64, 0), ""),
                                       LLVMBuildFCmp(cg->b, LLVMRealOLT, v, cval(cg, DT_F64, 1), ""), "");
        fail_if(cg, LLVMBuildNot(cg->b, ok, ""), NNRT_EINVAL);
    }
    if (cg->plan->kind == ENTRY_FORWARD)
        return;
    for (int c = 0; c < m->ncounts; c++) {
        if (m->counts[c].fixed > 1)
            continue;
        LLVMValueRef more = LLVMConstInt(cg->i1, 0, 0);
        for (int k = 0; k < m->ndims; k++)
            if (m->counts[c].dims & (1u << k))
                more = LLVMBuildOr(cg->b, more, LLVMBuildICmp(cg->b, LLVMIntUGT, cg->dimval[k], cg_i64(cg, 1), ""), "");
        fail_if(cg, LLVMBuildNot(cg->b, more, ""), NNRT_ESHAPE);
    }
}

/* Before anything is written (contract, 5.8 Errors): every dim in [1, MAX],
 * else NNRT_ESHAPE; then every label in use in range, else NNRT_EINDEX;
 * then the training checks. */
static void emit_checks(CG *cg) {
    const Model *m = cg->m;
    LLVMBasicBlockRef bad_dim = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "bad_dim");
    for (int k = 0; k < m->ndims; k++) {
        const Tensor *t = &m->tensors[m->dims[k]];
        Layout l = {.base = BASE_INPUTS, .byte_off = (int64_t)t->offset};
        LLVMValueRef n = load(cg, DT_I64, cg_elem_ptr(cg, &l, DT_I64, 0, NULL));
        /* n - 1 < MAX as unsigned: 1 <= n <= MAX */
        LLVMValueRef ok = LLVMBuildICmp(cg->b, LLVMIntULT, LLVMBuildSub(cg->b, n, cg_i64(cg, 1), ""),
                                        cg_i64(cg, (int64_t)t->default_value), "");
        LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "dim_ok");
        LLVMBuildCondBr(cg->b, ok, next, bad_dim);
        LLVMPositionBuilderAtEnd(cg->b, next);
        cg->dimval[k] = n;
    }
    LLVMBasicBlockRef here = LLVMGetInsertBlock(cg->b);
    LLVMPositionBuilderAtEnd(cg->b, bad_dim);
    LLVMBuildRet(cg->b, ci32(cg, NNRT_ESHAPE));
    LLVMPositionBuilderAtEnd(cg->b, here);
    for (int i = 0; i < m->ntensors; i++) {
        const Tensor *t = &m->tensors[i];
        if (t->role != NNRT_INPUT || !t->label_classes || cg->plan->slot[t->node->id].st == ST_DEAD)
            continue;
        Layout l = layout_of(BASE_INPUTS, (int64_t)t->offset, &t->shape);
        LLVMValueRef idx[MAX_RANK];
        Nest ns;
        nest_open(cg, &ns, &t->shape, idx);
        LLVMValueRef v = load(cg, DT_I32, cg_elem_ptr(cg, &l, DT_I32, t->shape.rank, idx));
        LLVMValueRef bad = LLVMBuildICmp(cg->b, LLVMIntUGE, v, LLVMConstInt(cg->i32, (unsigned long long)t->label_classes, 0), "");
        LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "label_ok");
        LLVMBuildCondBr(cg->b, bad, cg->fail, ok);
        LLVMPositionBuilderAtEnd(cg->b, ok);
        nest_close(cg, &ns, &t->shape);
    }
    emit_training_checks(cg);
}

/* Where the train step copies a gradient that cannot be read in place. */
static Layout snapshot_layout(const Tensor *t, int64_t off) { return layout_of(BASE_WS, off, &t->shape); }

/* The generated entry points (contract, 5.5): their arguments in order,
 * and what each computes.  plan: the Plan (EntryKind) whose values it
 * computes, or -1 for none. */
typedef struct EntryPoint {
    const char *name;
    int plan;
    Base args[6];
    int nargs;
    bool with_optimizer;        /* exists only with an optimizer */
    bool updates;               /* runs the optimizer step: step += 1 */
} EntryPoint;

static const EntryPoint entry_points[] = {
    {"forward", ENTRY_FORWARD, {BASE_PARAMS, BASE_STATE, BASE_INPUTS, BASE_OUTPUTS, BASE_WS}, 5, false, false},
    {"backward", ENTRY_BACKWARD, {BASE_PARAMS, BASE_STATE, BASE_INPUTS, BASE_OUTPUTS, BASE_GRADS, BASE_WS}, 6,
     false, false},
    {"train_step", ENTRY_TRAIN, {BASE_PARAMS, BASE_STATE, BASE_INPUTS, BASE_OUTPUTS, BASE_WS}, 5, true, true},
    {"update", -1, {BASE_PARAMS, BASE_STATE, BASE_GRADS, BASE_INPUTS}, 4, true, true},
};

static LLVMValueRef entry_function(CG *cg, const char *name, const EntryPoint *e) {
    LLVMTypeRef args[6];
    for (int i = 0; i < e->nargs; i++)
        args[i] = cg->ptr;
    LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(cg->i32, args, (unsigned)e->nargs, 0));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "nounwind"));
    for (int i = 0; i < NBASE; i++)
        cg->base[i] = NULL;
    for (int i = 0; i < e->nargs; i++) {
        cg->base[e->args[i]] = LLVMGetParam(fn, (unsigned)i);
        /* The structs never overlap: the caller passes distinct objects. */
        LLVMAddAttributeAtIndex(fn, (unsigned)i + 1, cg_attr(cg, "noalias"));
        LLVMAddAttributeAtIndex(fn, (unsigned)i + 1, cg_attr(cg, "nocapture"));
    }
    return fn;
}

/* ---- kernel tables ----
 *
 * An entry point calls its kernels in order.  Up to KERNELS_INLINE of them
 * it calls with a call instruction each.  Beyond (an unrolled loop, a
 * generated model) that made the entry point's code grow with the graph,
 * and LLVM's time grow faster: the addresses the calls share stay live
 * across every call between their uses, and the register allocator's time
 * grew with the square of the calls (a loop of 2,000 iterations took 10 s,
 * 90% of it in the greedy allocator).  The calls are then data instead: a
 * table of words, per call its kernel's thunk and its arguments as (byte
 * offset << 3 | base), walked by one loop.  Each kernel so called gets a
 * thunk, i32 (ptr argv), that calls it with its arguments from argv.  The
 * entry point's code is then the same at any length, and compile time
 * grows with the table, linearly.
 */
enum { KERNELS_INLINE = 128 };

static LLVMTypeRef thunk_type(CG *cg) { return LLVMFunctionType(cg->i32, &cg->ptr, 1, 0); }

static LLVMValueRef kernel_thunk(CG *cg, Kernel *k) {
    if (k->thunk)
        return k->thunk;
    LLVMBasicBlockRef here = LLVMGetInsertBlock(cg->b);
    size_t len;
    const char *name = arena_printf("%s.thunk", LLVMGetValueName2(k->fn, &len));
    LLVMValueRef fn = LLVMAddFunction(cg->mod, name, thunk_type(cg));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "nounwind"));
    LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
    LLVMValueRef *argv = NEWA(LLVMValueRef, k->nargs);
    for (int i = 0; i < k->nargs; i++) {
        LLVMValueRef at = cg_i64(cg, i);
        argv[i] = LLVMBuildLoad2(cg->b, cg->ptr, LLVMBuildInBoundsGEP2(cg->b, cg->ptr, LLVMGetParam(fn, 0), &at, 1, ""), "");
    }
    LLVMBuildRet(cg->b, LLVMBuildCall2(cg->b, k->fty, k->fn, argv, (unsigned)k->nargs, ""));
    LLVMPositionBuilderAtEnd(cg->b, here);
    k->thunk = fn;
    return fn;
}

static LLVMValueRef private_constant(CG *cg, LLVMTypeRef t, LLVMValueRef init, const char *name);

/* A constant i64 array, private to the module. */
static LLVMValueRef word_table(CG *cg, const int64_t *w, size_t n, const char *name) {
    LLVMValueRef *v = NEWA(LLVMValueRef, n);
    for (size_t i = 0; i < n; i++)
        v[i] = cg_i64(cg, w[i]);
    return private_constant(cg, LLVMArrayType2(cg->i64, n), LLVMConstArray2(cg->i64, v, n), name);
}

static void emit_kernel_table(CG *cg, Node **kernels, int n) {
    /* The table: per call, (thunk << 16 | nargs), then its arguments. */
    size_t cap = 64, nw = 0;
    int64_t *words = NEWA(int64_t, cap);
    LLVMValueRef *thunks = NEWA(LLVMValueRef, n);
    int nthunks = 0, maxargs = 1;
    for (int i = 0; i < n; i++) {
        Reads r = {0};
        Kernel *k = find_kernel(cg, kernels[i], &r);
        if (k->thunk_of != cg->fn) {   /* first met in this entry point */
            k->thunk_of = cg->fn;
            k->thunk_index = nthunks;
            thunks[nthunks++] = kernel_thunk(cg, k);
        }
        if (nw + 1 + (size_t)k->nargs > cap) {
            while (nw + 1 + (size_t)k->nargs > cap)
                cap *= 2;
            int64_t *nwords = NEWA(int64_t, cap);
            memcpy(nwords, words, sizeof(int64_t) * nw);
            words = nwords;
        }
        int *base = NEWA(int, k->nargs);
        int64_t *off = NEWA(int64_t, k->nargs);
        kernel_args(cg, kernels[i], &r, base, off);
        words[nw++] = (int64_t)k->thunk_index << 16 | k->nargs;
        for (int a = 0; a < k->nargs; a++)
            words[nw++] = off[a] << 3 | base[a];
        if (k->nargs > maxargs)
            maxargs = k->nargs;
    }
    size_t len;
    const char *entry = LLVMGetValueName2(cg->fn, &len);
    LLVMValueRef table = word_table(cg, words, nw, arena_printf("%s.calls", entry));
    LLVMValueRef fns = private_constant(cg, LLVMArrayType2(cg->ptr, (uint64_t)nthunks),
                                       LLVMConstArray2(cg->ptr, thunks, (uint64_t)nthunks),
                                       arena_printf("%s.kernels", entry));

    /* The entry's bases in an array, argv beside it. */
    LLVMValueRef bases = ptr_array(cg, cg->base, NBASE, "bases");
    LLVMValueRef argv = cg_entry_alloca(cg, LLVMArrayType2(cg->ptr, (uint64_t)maxargs), "argv");

    /* for (c = 0, w = 0; c < n; c++, w += 1 + nargs) { call c } */
    Loop calls, args;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(cg->b);
    cg_loop_open(cg, &calls, n);
    LLVMValueRef w = LLVMBuildPhi(cg->b, cg->i64, "w");
    LLVMValueRef zero = cg_i64(cg, 0);
    LLVMValueRef word = LLVMBuildLoad2(cg->b, cg->i64, LLVMBuildInBoundsGEP2(cg->b, cg->i64, table, &w, 1, ""), "");
    LLVMValueRef nargs = LLVMBuildAnd(cg->b, word, cg_i64(cg, 0xffff), "");
    LLVMValueRef ti = LLVMBuildLShr(cg->b, word, cg_i64(cg, 16), "");
    LLVMValueRef thunk = LLVMBuildLoad2(cg->b, cg->ptr, LLVMBuildInBoundsGEP2(cg->b, cg->ptr, fns, &ti, 1, ""), "");
    LLVMValueRef a = cg_range_open(cg, &args, zero, nargs);
    LLVMValueRef wi = LLVMBuildAdd(cg->b, LLVMBuildAdd(cg->b, w, cg_i64(cg, 1), ""), a, "");
    LLVMValueRef arg = LLVMBuildLoad2(cg->b, cg->i64, LLVMBuildInBoundsGEP2(cg->b, cg->i64, table, &wi, 1, ""), "");
    LLVMValueRef bi = LLVMBuildAnd(cg->b, arg, cg_i64(cg, 7), "");
    LLVMValueRef base = LLVMBuildLoad2(cg->b, cg->ptr, LLVMBuildInBoundsGEP2(cg->b, cg->ptr, bases, &bi, 1, ""), "");
    LLVMValueRef boff = LLVMBuildAShr(cg->b, arg, cg_i64(cg, 3), "");
    LLVMBuildStore(cg->b, LLVMBuildGEP2(cg->b, cg->i8, base, &boff, 1, ""),
                   LLVMBuildInBoundsGEP2(cg->b, cg->ptr, argv, &a, 1, ""));
    cg_loop_close(cg, &args);
    LLVMValueRef rc = LLVMBuildCall2(cg->b, thunk_type(cg), thunk, &argv, 1, "");
    LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "kernel_failed");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "kernel_ok");
    LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntNE, rc, LLVMConstInt(cg->i32, 0, 0), ""), fail, ok);
    LLVMPositionBuilderAtEnd(cg->b, fail);
    LLVMBuildRet(cg->b, rc);
    LLVMPositionBuilderAtEnd(cg->b, ok);
    LLVMValueRef wnext = LLVMBuildAdd(cg->b, LLVMBuildAdd(cg->b, w, cg_i64(cg, 1), ""), nargs, "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(cg->b);
    LLVMAddIncoming(w, &zero, &pre, 1);
    LLVMAddIncoming(w, &wnext, &latch, 1);
    cg_loop_close(cg, &calls);
}

static void emit_kernel_calls(CG *cg) {
    const Plan *pl = cg->plan;
    Graph *g = cg->m->g;
    Node **kernels = NEWA(Node *, g->n + 1);
    int n = 0;
    for (int i = 0; i < g->n; i++)
        if (pl->slot[i].st == ST_BUFFER && !pl->slot[i].by_epilogue)
            kernels[n++] = g->nodes[i];
    if (n > KERNELS_INLINE) {
        emit_kernel_table(cg, kernels, n);
        return;
    }
    for (int i = 0; i < n; i++)
        emit_outlined_kernel(cg, kernels[i]);
}

static void emit_entry(CG *cg, const char *name, const EntryPoint *e) {
    const Model *m = cg->m;
    Plan *pl = e->plan >= 0 ? cg->plans[e->plan] : NULL;
    cg->plan = pl;
    cg->fn = entry_function(cg, name, e);
    memset(cg->dimval, 0, sizeof cg->dimval);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "entry");
    cg->fail = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "bad_label");
    LLVMPositionBuilderAtEnd(cg->b, cg->fail);
    LLVMBuildRet(cg->b, ci32(cg, NNRT_EINDEX));
    LLVMPositionBuilderAtEnd(cg->b, entry);
    if (!pl) {   /* update: reads no dims and checks nothing */
        for (int i = 0; i < m->ntensors; i++)
            if (param_updated(&m->tensors[i])) {
                Layout g = layout_of(BASE_GRADS, (int64_t)m->tensors[i].offset, &m->tensors[i].shape);
                emit_param_update(cg, &m->tensors[i], &g);
            }
        count_step(cg);
        LLVMBuildRet(cg->b, ci32(cg, 0));
        return;
    }
    emit_checks(cg);
    emit_kernel_calls(cg);
    /* Outputs before updates: they report the values before the step. */
    for (int r = 0; r < pl->nroots; r++)
        if (!pl->roots[r].direct && !pl->roots[r].by_epilogue)
            cg_store_all(cg, pl->roots[r].node, &pl->roots[r].dest);
    if (e->updates) {
        for (int i = 0; i < m->ntensors; i++)
            if (param_updated(&m->tensors[i]) && pl->snapshot[i] >= 0) {
                Layout snap = snapshot_layout(&m->tensors[i], pl->snapshot[i]);
                cg_store_all(cg, m->tensors[i].grad, &snap);
            }
        for (int i = 0; i < m->ntensors; i++)
            if (param_updated(&m->tensors[i])) {
                Layout snap = snapshot_layout(&m->tensors[i], pl->snapshot[i]);
                emit_param_update(cg, &m->tensors[i], pl->snapshot[i] >= 0 ? &snap : NULL);
            }
        count_step(cg);
    }
    LLVMBuildRet(cg->b, ci32(cg, 0));
}

/* The entry point name, and without --cpu on x86-64 one copy for each
 * level (internal, name.vN) with name choosing among them: the update
 * loops and the fused passes in the entry points are a small batch's step
 * (codegen.h). */
static void emit_entry_for_cpus(CG *cg, const char *name, const EntryPoint *e) {
    if (!cg->dispatch_isa) {
        emit_entry(cg, name, e);
        return;
    }
    LLVMValueRef fns[CG_NLEVELS];
    for (int i = 0; i < CG_NLEVELS; i++) {
        cg->entry_cpu = cg_levels[i].cpu;
        emit_entry(cg, arena_printf("%s.v%d", name, cg_levels[i].level), e);
        cg->entry_cpu = NULL;
        fns[i] = cg->fn;
        LLVMSetLinkage(fns[i], LLVMInternalLinkage);
        cg_set_cpu(cg, fns[i], cg_levels[i].cpu);
    }
    cg->fn = entry_function(cg, name, e);
    LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "entry"));
    cg_dispatch_call(cg, cg->fn, fns);
}

/* ---- init, set_defaults ---- */

static LLVMValueRef global_string(CG *cg, const char *s) {
    return LLVMBuildGlobalStringPtr(cg->b, s, "");
}

static LLVMValueRef private_constant(CG *cg, LLVMTypeRef t, LLVMValueRef init, const char *name) {
    LLVMValueRef gv = LLVMAddGlobal(cg->mod, t, name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    return gv;
}

static LLVMValueRef dims_global(CG *cg, const Shape *s) {
    LLVMValueRef v[MAX_RANK];
    for (int d = 0; d < s->rank; d++)
        v[d] = cg_i64(cg, s->d[d]);
    LLVMTypeRef at = LLVMArrayType2(cg->i64, (uint64_t)(s->rank ? s->rank : 1));
    LLVMValueRef gv = private_constant(cg, at, s->rank ? LLVMConstArray2(cg->i64, v, (uint64_t)s->rank) : LLVMConstNull(at), "dims");
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    return gv;
}

static LLVMValueRef runtime_fn(CG *cg, const char *name, LLVMTypeRef ret, LLVMTypeRef *args, int n, LLVMTypeRef *fty) {
    *fty = LLVMFunctionType(ret, args, (unsigned)n, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
    return fn ? fn : LLVMAddFunction(cg->mod, name, *fty);
}

/* init and set_defaults run once per program: not worth the optimizer's
 * or the back end's time (optnone also selects instructions fast). */
static LLVMValueRef cold_function(CG *cg, const char *name, LLVMTypeRef *args, int nargs) {
    LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(LLVMVoidTypeInContext(cg->ctx), args, (unsigned)nargs, 0));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "nounwind"));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "noinline"));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "optnone"));
    return fn;
}

/* init(params, state, seed): every param and state from its initializer,
 * each from the stream of its own name; the optimizer buffers zeroed;
 * seed and step = 0. */
static void emit_init(CG *cg, const char *name) {
    const Model *m = cg->m;
    LLVMTypeRef args[3] = {cg->ptr, cg->ptr, cg->i64};
    cg->fn = cold_function(cg, name, args, 3);
    LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "entry"));
    LLVMValueRef structs[2] = {LLVMGetParam(cg->fn, 0), LLVMGetParam(cg->fn, 1)};
    LLVMValueRef seed = LLVMGetParam(cg->fn, 2);
    LLVMTypeRef sid_ty, init_ty;
    LLVMValueRef sid = runtime_fn(cg, "nnrt_stream_id", cg->i64, (LLVMTypeRef[]){cg->ptr}, 1, &sid_ty);
    LLVMTypeRef init_args[9] = {cg->i32, cg->ptr, cg->i32, cg->ptr, cg->i32, cg->f64, cg->f64, cg->i64, cg->i64};
    LLVMValueRef init = runtime_fn(cg, "nnrt_init_tensor", cg->i32, init_args, 9, &init_ty);
    for (int i = 0; i < m->ntensors; i++) {
        const Tensor *t = &m->tensors[i];
        if (t->role != NNRT_PARAM && t->role != NNRT_STATE)
            continue;
        LLVMValueRef dims = dims_global(cg, &t->shape);
        for (int b = -1; b < (t->role == NNRT_PARAM ? m->nbuffers : 0); b++) {
            bool buffer = b >= 0;
            LLVMValueRef nm = global_string(cg, t->name);
            LLVMValueRef stream = LLVMBuildCall2(cg->b, sid_ty, sid, &nm, 1, "");
            LLVMValueRef off = cg_i64(cg, (int64_t)(buffer ? t->buf_offset[b] : t->offset));
            LLVMValueRef base = structs[buffer || t->role == NNRT_STATE];
            LLVMValueRef a[9] = {
                ci32(cg, t->dt), LLVMBuildInBoundsGEP2(cg->b, cg->i8, base, &off, 1, ""),
                ci32(cg, t->shape.rank), dims, ci32(cg, buffer ? NNRT_INIT_ZEROS : (int)t->init),
                LLVMConstReal(cg->f64, t->init_a), LLVMConstReal(cg->f64, t->init_b), seed, stream};
            LLVMBuildCall2(cg->b, init_ty, init, a, 9, "");
        }
    }
    LLVMValueRef head[2] = {seed, cg_i64(cg, 0)};
    for (int k = 0; k < 2; k++) {
        LLVMValueRef off = cg_i64(cg, k * 8);
        store(cg, DT_I64, head[k], LLVMBuildInBoundsGEP2(cg->b, cg->i8, structs[1], &off, 1, ""));
    }
    LLVMBuildRetVoid(cg->b);
}

/* set_defaults(inputs): every hyper to its default, every dim to its MAX. */
static void emit_set_defaults(CG *cg, const char *name) {
    const Model *m = cg->m;
    LLVMTypeRef arg = cg->ptr;
    cg->fn = cold_function(cg, name, &arg, 1);
    LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "entry"));
    cg->base[BASE_INPUTS] = LLVMGetParam(cg->fn, 0);
    for (int i = 0; i < m->ntensors; i++) {
        const Tensor *t = &m->tensors[i];
        if (t->role != NNRT_HYPER && t->role != NNRT_DIM)
            continue;
        Layout l = {.base = BASE_INPUTS, .byte_off = (int64_t)t->offset};
        LLVMValueRef v = t->dt == DT_I64 ? cg_i64(cg, (int64_t)t->default_value) : cval(cg, t->dt, t->default_value);
        store(cg, t->dt, v, cg_elem_ptr(cg, &l, t->dt, 0, NULL));
    }
    LLVMBuildRetVoid(cg->b);
}

/* ---- the descriptor ---- */

/* nnrt_tensor.dim_names: NULL, or for each axis its runtime dim's name or NULL. */
static LLVMValueRef dim_names_global(CG *cg, const Shape *s) {
    if (!shape_is_dynamic(s))
        return LLVMConstPointerNull(cg->ptr);
    LLVMValueRef v[MAX_RANK];
    for (int d = 0; d < s->rank; d++)
        v[d] = s->dyn[d] ? global_string(cg, cg->m->tensors[cg->m->dims[s->dyn[d] - 1]].name)
                         : LLVMConstPointerNull(cg->ptr);
    return private_constant(cg, LLVMArrayType2(cg->ptr, (uint64_t)s->rank),
                            LLVMConstArray2(cg->ptr, v, (uint64_t)s->rank), "dim_names");
}

/* fns: init, set_defaults, then each of entry_points[] or NULL. */
static void emit_descriptor(CG *cg, LLVMValueRef *fns) {
    const Model *m = cg->m;
    LLVMTypeRef sz = cg->intptr;
    /* struct nnrt_tensor { name, role, dtype, rank, dims, offset, size, default_value, dim_names } */
    LLVMTypeRef tt_fields[9] = {cg->ptr, cg->i32, cg->i32, cg->i32, cg->ptr, sz, sz, cg->f64, cg->ptr};
    LLVMTypeRef tt = LLVMStructTypeInContext(cg->ctx, tt_fields, 9, 0);
    LLVMValueRef *rows = NEWA(LLVMValueRef, m->ntensors + 1);
    for (int i = 0; i < m->ntensors; i++) {
        const Tensor *t = &m->tensors[i];
        bool has_default = t->role == NNRT_HYPER || t->role == NNRT_DIM;
        LLVMValueRef f[9] = {
            global_string(cg, t->name), ci32(cg, t->role), ci32(cg, t->dt), ci32(cg, t->shape.rank),
            dims_global(cg, &t->shape), LLVMConstInt(sz, t->offset, 0), LLVMConstInt(sz, t->size, 0),
            LLVMConstReal(cg->f64, has_default ? t->default_value : 0), dim_names_global(cg, &t->shape)};
        rows[i] = LLVMConstNamedStruct(tt, f, 9);
    }
    LLVMValueRef table = private_constant(cg, LLVMArrayType2(tt, (uint64_t)m->ntensors),
                                          LLVMConstArray2(tt, rows, (uint64_t)m->ntensors), "tensors");
    /* struct nnrt_model { abi_version, name, 5 sizes, n_tensors, tensors, objective,
     *                     init, set_defaults, forward, backward, train_step, update } */
    LLVMTypeRef mt_fields[16] = {cg->i32, cg->ptr, sz, sz, sz, sz, sz, cg->i32, cg->ptr, cg->ptr,
                                 cg->ptr, cg->ptr, cg->ptr, cg->ptr, cg->ptr, cg->ptr};
    LLVMTypeRef mt = LLVMStructTypeInContext(cg->ctx, mt_fields, 16, 0);
    size_t ws = 0;
    for (int k = 0; k < 3; k++)
        if (cg->plans[k] && cg->plans[k]->workspace > ws)
            ws = cg->plans[k]->workspace;
    LLVMValueRef null = LLVMConstPointerNull(cg->ptr);
    LLVMValueRef f[16] = {
        ci32(cg, NNRT_ABI_VERSION), global_string(cg, m->name),
        LLVMConstInt(sz, m->params_size, 0), LLVMConstInt(sz, m->inputs_size, 0),
        LLVMConstInt(sz, m->outputs_size, 0), LLVMConstInt(sz, m->state_size, 0),
        LLVMConstInt(sz, ws, 0), ci32(cg, m->ntensors), table,
        m->objective >= 0 ? global_string(cg, m->tensors[m->objective].name) : null};
    for (int k = 0; k < 6; k++)
        f[10 + k] = fns[k] ? fns[k] : null;
    LLVMValueRef desc = LLVMAddGlobal(cg->mod, mt, arena_printf("%s_model", m->prefix));
    LLVMSetInitializer(desc, LLVMConstNamedStruct(mt, f, 16));
    LLVMSetGlobalConstant(desc, 1);
}

/* ---- the module ---- */

void cg_lower(CG *cg) {
    const Model *m = cg->m;
    const char *n = m->prefix;
    cg->b = LLVMCreateBuilderInContext(cg->ctx);
    LLVMValueRef fns[6] = {0};
    /* Strings and dims are built while a function is open: give the global
     * helpers a block to sit in. */
    emit_init(cg, arena_printf("%s_init", n));
    fns[0] = cg->fn;
    emit_set_defaults(cg, arena_printf("%s_set_defaults", n));
    fns[1] = cg->fn;
    for (size_t k = 0; k < sizeof entry_points / sizeof *entry_points; k++) {
        const EntryPoint *e = &entry_points[k];
        if (e->with_optimizer && !m->has_optimizer)
            continue;
        emit_entry_for_cpus(cg, arena_printf("%s_%s", n, e->name), e);
        fns[2 + k] = cg->fn;
    }
    /* The descriptor's strings need an insertion point: a scratch function
     * that is deleted afterwards. */
    LLVMValueRef scratch = LLVMAddFunction(cg->mod, "nnc.scratch", LLVMFunctionType(LLVMVoidTypeInContext(cg->ctx), NULL, 0, 0));
    LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, scratch, "entry"));
    emit_descriptor(cg, fns);
    LLVMDeleteFunction(scratch);
    LLVMDisposeBuilder(cg->b);
}
