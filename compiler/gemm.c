/*
 * gemm.c: the matrix product C = A @ B in generated code, no BLAS.
 *
 * C is M x N, row-major and contiguous; A (M x K) and B (K x N) are read at
 * whatever strided layout the plan gave them: leaves, buffers, transposed or
 * indexed views.  The form is chosen at compile time from the shapes and
 * strides (choose()):
 *
 * - Outer products in registers, the common case.  A micro-kernel keeps an
 *   mr x (nv vectors) tile of C in vector registers and, for each p,
 *   broadcasts mr elements of A's column p into nv vectors of B's row p with
 *   llvm.fmuladd.  The loops around it block K by kc and N by nc, so that a
 *   block of B stays in L2 while mr rows of A stay in L1.  A is read in
 *   place at any strides, except that A = X.T has each tile copied first;
 *   B is read in place when its rows are contiguous, otherwise (B = W.T, or
 *   anything else) each kc x nc block is packed into the node's scratch as
 *   panels of nv vectors, W.T transposed lanes x lanes in registers.
 * - Dot products along K, for C with few rows whose operands are both
 *   contiguous along K (x @ W.T at a small batch): no packing; mt rows of A
 *   against nt columns of B at once, each sum reduced at the end by halves.
 * - The plain triple loop, for an operand with no memory layout (a
 *   constant).
 * A product whose C is a column is first turned into one whose C is a row.
 *
 * The vector width comes from the target machine (SSE2: 4 floats, AVX: 8,
 * AVX-512: 16; f64 half as many).  The code of each form is emitted once per
 * module and tile shape, as internal functions that take the sizes and
 * strides as arguments: a product costs the compiler one call, however many
 * a model has.  What is decided per product (the form, the tile, what is
 * packed, the block sizes) is decided here, at compile time.
 *
 * Determinism: the order of the additions into each element of C depends
 * only on the shapes and the target.  In the outer-product form each element
 * is summed over p in increasing order, onto C in blocks of kc; in the dot
 * form, within each chunk of K (DOT_KC_BYTES per row), lane l of a vector
 * sums the p = l (mod lanes) in increasing order, the lanes are added by
 * halves, then the last K mod lanes terms in order, and the chunks' sums
 * are added onto C in order.
 */
#include "codegen.h"

#include <stdlib.h>
#include <string.h>

/* ---- the target's vectors ---- */

/* Bytes of a vector register, and how many there are. */
typedef struct Target {
    int vbytes, nregs;
} Target;

/* Whether the comma-separated feature string fs holds exactly f ("+avx2"). */
static bool feature_on(const char *fs, const char *f) {
    size_t n = strlen(f);
    for (const char *p = fs; (p = strstr(p, f)) != NULL; p += n)
        if ((p == fs || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static bool cpu_in(const char *cpu, const char *const *list) {
    for (; *list; list++)
        if (strcmp(cpu, *list) == 0)
            return true;
    return false;
}

/* With --cpu=native the target machine carries the host's feature string;
 * with --cpu=NAME it carries only the name, so known x86 names are listed. */
static Target target_of_tm(LLVMTargetMachineRef tm) {
    static const char *const avx512[] = {
        "skylake-avx512", "cascadelake", "cooperlake", "cannonlake", "icelake-client",
        "icelake-server", "tigerlake", "rocketlake", "sapphirerapids", "emeraldrapids",
        "graniterapids", "graniterapids-d", "diamondrapids", "znver4", "znver5",
        "x86-64-v4", "knl", "knm", NULL};
    static const char *const avx[] = {
        "sandybridge", "ivybridge", "haswell", "broadwell", "skylake", "alderlake",
        "raptorlake", "meteorlake", "arrowlake", "arrowlake-s", "lunarlake", "gracemont",
        "pantherlake", "sierraforest", "grandridge", "clearwaterforest", "znver1", "znver2",
        "znver3", "x86-64-v3", "corei7-avx", "core-avx-i", "core-avx2", "bdver1", "bdver2",
        "bdver3", "bdver4", "btver2", NULL};
    char *triple = LLVMGetTargetMachineTriple(tm);
    char *cpu = LLVMGetTargetMachineCPU(tm);
    char *fs = LLVMGetTargetMachineFeatureString(tm);
    Target t = {16, 16};
    bool x86 = strncmp(triple, "x86_64", 6) == 0 || (triple[0] == 'i' && strncmp(triple + 2, "86", 2) == 0);
    if (x86) {
        bool named = fs[0] == '\0';
        if (named ? cpu_in(cpu, avx512) : feature_on(fs, "+avx512f"))
            t = (Target){64, 32};
        else if (named ? cpu_in(cpu, avx) : feature_on(fs, "+avx"))
            t = (Target){32, 16};
    } else if (strncmp(triple, "aarch64", 7) == 0 || strncmp(triple, "arm64", 5) == 0) {
        t = (Target){16, 32};
    }
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(fs);
    return t;
}

static Target target_of(CG *cg) { return target_of_tm(cg->tm); }

int cg_vector_bytes(CG *cg) { return target_of(cg).vbytes; }
int cg_vector_regs(CG *cg) { return target_of(cg).nregs; }

bool cg_wide_registers(LLVMTargetMachineRef tm, bool dispatch_isa) {
    Target t = target_of_tm(tm);
    return !dispatch_isa && t.vbytes == WIDE_VECTOR_BYTES && t.nregs >= 32;
}

/* ---- blocking ---- */

/* K is cut into blocks of at most KC elements and N into blocks of at most
 * NC_BYTES of a row, so that a kc x nc block of B (at most KC * NC_BYTES,
 * 256 KB) stays in L2.  The blocks are balanced: K = 784 is cut 4 x 196,
 * not 3 x 256 + 16. */
enum { KC = 256, NC_BYTES = 1024 };

/* A kernel's tile is at most PANEL_BYTES of a row wide (2 AVX-512
 * vectors), and so is a packed panel of B: the scratch is sized with it,
 * and does not depend on the target. */
enum { PANEL_BYTES = 128 };

/* Rows of A per kernel (m) and vectors of B (nv) when M is small: enough
 * independent sums to cover the latency of an FMA. */
enum { MIN_ACC = 8, MAX_ACC = 32 };

/* The dot-product form is chosen for B = W.T (columns contiguous) when C has
 * at most this many rows: below, packing B costs more than it saves. */
enum { DOT_MAX_M = 64 };

/* B, when its rows are contiguous, is still packed if it is larger than
 * this and C has at least PACK_MIN_M rows to amortize the packing. */
enum { PACK_MIN_BYTES = 1 << 20, PACK_MIN_M = 256 };

/* A tile of A is packed into at most MAX_MR x KC elements. */
enum { MAX_MR = 16 };

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return cdiv(a, b) * b; }

/* The block size for a range of n cut into blocks of at most max, balanced,
 * a multiple of unit. */
static int64_t block_size(int64_t n, int64_t max, int64_t unit) {
    return round_up(cdiv(n, cdiv(n, max)), unit);
}

/* ---- emitting IR ---- */

typedef struct Gemm {
    CG *cg;
    LLVMBuilderRef b;
    DType dt;
    LLVMTypeRef t, vt;      /* element, vector */
    int esize, lanes;
    Target tg;
    const char *cpu;        /* the functions' target-cpu, or NULL for the module's */
} Gemm;

static LLVMValueRef i64c(Gemm *g, int64_t v) { return cg_i64(g->cg, v); }
static LLVMValueRef i32c(Gemm *g, int v) { return LLVMConstInt(g->cg->i32, (unsigned long long)(int64_t)v, 1); }
static LLVMValueRef add(Gemm *g, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildAdd(g->b, x, y, ""); }
static LLVMValueRef sub(Gemm *g, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildSub(g->b, x, y, ""); }
static LLVMValueRef mulv(Gemm *g, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildMul(g->b, x, y, ""); }
static LLVMValueRef mul(Gemm *g, LLVMValueRef x, int64_t k) { return k == 1 ? x : mulv(g, x, i64c(g, k)); }
static LLVMValueRef ult(Gemm *g, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildICmp(g->b, LLVMIntULT, x, y, ""); }
static LLVMValueRef eq(Gemm *g, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildICmp(g->b, LLVMIntEQ, x, y, ""); }
static LLVMValueRef eq32(Gemm *g, LLVMValueRef x, int k) { return eq(g, x, i32c(g, k)); }
static LLVMValueRef sel(Gemm *g, LLVMValueRef c, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildSelect(g->b, c, x, y, ""); }
static LLVMValueRef umin(Gemm *g, LLVMValueRef x, LLVMValueRef y) { return sel(g, ult(g, x, y), x, y); }

/* &p[i], p an element pointer, i an i64 index in elements. */
static LLVMValueRef at(Gemm *g, LLVMValueRef p, LLVMValueRef i) { return LLVMBuildGEP2(g->b, g->t, p, &i, 1, ""); }

static LLVMValueRef load_t(Gemm *g, LLVMTypeRef ty, LLVMValueRef p) {
    LLVMValueRef v = LLVMBuildLoad2(g->b, ty, p, "");
    LLVMSetAlignment(v, (unsigned)g->esize);
    return v;
}

static void store_t(Gemm *g, LLVMValueRef v, LLVMValueRef p) {
    LLVMSetAlignment(LLVMBuildStore(g->b, v, p), (unsigned)g->esize);
}

static LLVMValueRef call_intrinsic(Gemm *g, const char *name, LLVMTypeRef *tys, int ntys, LLVMValueRef *args,
                                   int nargs) {
    CG *cg = g->cg;
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, tys, (size_t)ntys);
    LLVMTypeRef fty = LLVMIntrinsicGetType(cg->ctx, id, tys, (size_t)ntys);
    return LLVMBuildCall2(g->b, fty, fn, args, (unsigned)nargs, "");
}

static LLVMValueRef fmuladd(Gemm *g, LLVMValueRef x, LLVMValueRef y, LLVMValueRef z) {
    LLVMValueRef a[3] = {x, y, z};
    LLVMTypeRef t = LLVMTypeOf(x);
    return call_intrinsic(g, "llvm.fmuladd", &t, 1, a, 3);
}

static LLVMValueRef shuffle(Gemm *g, LLVMValueRef x, LLVMValueRef y, const int *idx, int n) {
    LLVMValueRef m[64];
    for (int i = 0; i < n; i++)
        m[i] = i32c(g, idx[i]);
    return LLVMBuildShuffleVector(g->b, x, y, LLVMConstVector(m, (unsigned)n), "");
}

/* A load under mask, an <lanes x i1> value, or NULL for a whole vector.
 * Masked-off lanes are not touched and read as 0. */
static LLVMValueRef vload_masked(Gemm *g, LLVMValueRef p, LLVMValueRef mask) {
    return mask ? cg_masked_load(g->cg, g->dt, p, mask, LLVMConstNull(g->vt)) : load_t(g, g->vt, p);
}

/* The first n lanes, as a constant mask (NULL when that is all of them). */
static LLVMValueRef first_lanes(Gemm *g, int64_t n) {
    if (n >= g->lanes)
        return NULL;
    LLVMValueRef bits[64];
    for (int i = 0; i < g->lanes; i++)
        bits[i] = LLVMConstInt(g->cg->i1, i < n, 0);
    return LLVMConstVector(bits, (unsigned)g->lanes);
}

/* ---- functions and control flow ---- */

/* A new internal function of the module, with the vector width its code
 * uses declared legal (else x86 splits 512-bit vectors in two on CPUs
 * tuned for 256).  noinline: every product of the module calls the one
 * copy. */
static void legal_width(Gemm *g, LLVMValueRef fn) {
    const char *bits = arena_printf("%d", g->tg.vbytes * 8);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateStringAttribute(g->cg->ctx, "min-legal-vector-width", 22, bits, (unsigned)strlen(bits)));
}

static LLVMValueRef new_function(Gemm *g, const char *name, LLVMTypeRef *args, int nargs) {
    CG *cg = g->cg;
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(cg->ctx), args, (unsigned)nargs, 0);
    LLVMValueRef fn = LLVMAddFunction(cg->mod, name, fty);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "nounwind"));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "noinline"));
    for (int k = 0; k < nargs; k++)
        if (LLVMGetTypeKind(args[k]) == LLVMPointerTypeKind)
            LLVMAddAttributeAtIndex(fn, (unsigned)k + 1, cg_attr(cg, "nocapture"));
    legal_width(g, fn);
    cg_set_cpu(cg, fn, g->cpu);
    LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
    return fn;
}

static void call(Gemm *g, LLVMValueRef fn, LLVMValueRef *args, int n) {
    LLVMBuildCall2(g->b, LLVMGlobalGetValueType(fn), fn, args, (unsigned)n, "");
}

static LLVMBasicBlockRef new_block(Gemm *g, const char *name) {
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(g->b));
    return LLVMAppendBasicBlockInContext(g->cg->ctx, fn, name);
}

/* Mark the loop whose latch branch is br as final: these loops are
 * already vectorized or too short to gain, and unrolling or vectorizing
 * them again would only cost compile time. */
static void keep_loop(Gemm *g, LLVMValueRef br) {
    static const char *const key[2] = {"llvm.loop.unroll.disable", "llvm.loop.vectorize.enable"};
    static const int on[2] = {-1, 0};
    cg_loop_hints(g->cg, br, 2, key, on);
}

/* for (iv = start; iv < end; iv += step), any number of trips. */
typedef struct RLoop {
    LLVMBasicBlockRef body, exit;
    LLVMValueRef iv, end, step;
} RLoop;

static LLVMValueRef rloop_open(Gemm *g, RLoop *l, LLVMValueRef start, LLVMValueRef end, LLVMValueRef step) {
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->b);
    l->body = new_block(g, "loop");
    l->exit = new_block(g, "done");
    l->end = end;
    l->step = step;
    LLVMBuildCondBr(g->b, ult(g, start, end), l->body, l->exit);
    LLVMPositionBuilderAtEnd(g->b, l->body);
    l->iv = LLVMBuildPhi(g->b, g->cg->i64, "i");
    LLVMAddIncoming(l->iv, &start, &pre, 1);
    return l->iv;
}

static void rloop_close(Gemm *g, RLoop *l) {
    LLVMValueRef next = LLVMBuildNUWAdd(g->b, l->iv, l->step, "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->b);
    keep_loop(g, LLVMBuildCondBr(g->b, ult(g, next, l->end), l->body, l->exit));
    LLVMAddIncoming(l->iv, &next, &latch, 1);
    LLVMPositionBuilderAtEnd(g->b, l->exit);
}

/* if (cond) { ... } [else { ... }] */
typedef struct If {
    LLVMBasicBlockRef other, join;
} If;

static void if_open(Gemm *g, If *f, LLVMValueRef cond) {
    LLVMBasicBlockRef then = new_block(g, "then");
    f->other = new_block(g, "else");
    f->join = new_block(g, "join");
    LLVMBuildCondBr(g->b, cond, then, f->other);
    LLVMPositionBuilderAtEnd(g->b, then);
}

static void if_else(Gemm *g, If *f) {
    LLVMBuildBr(g->b, f->join);
    LLVMPositionBuilderAtEnd(g->b, f->other);
    f->other = NULL;
}

static void if_close(Gemm *g, If *f) {
    LLVMBuildBr(g->b, f->join);
    if (f->other) {
        LLVMPositionBuilderAtEnd(g->b, f->other);
        LLVMBuildBr(g->b, f->join);
    }
    LLVMPositionBuilderAtEnd(g->b, f->join);
}

/* ---- the outer-product micro-kernel ---- */

/* One step p: acc[i][v] += a[i * rsa + p * csa] * b[p * rsb + v * lanes].
 * Row i + 1 of A is addressed from row i, one add of rsa: addresses kept
 * apart for each of mr rows would take as many registers, and spilling
 * them makes the register allocator spill accumulators too. */
static void kernel_step(Gemm *g, int mr, int nv, LLVMValueRef a, LLVMValueRef rsa, LLVMValueRef csa,
                        LLVMValueRef bptr, LLVMValueRef rsb, LLVMValueRef p, LLVMValueRef *acc) {
    LLVMValueRef bv[MAX_ACC];
    LLVMValueRef brow = at(g, bptr, mulv(g, p, rsb));
    for (int v = 0; v < nv; v++)
        bv[v] = load_t(g, g->vt, at(g, brow, i64c(g, (int64_t)v * g->lanes)));
    LLVMValueRef arow = at(g, a, mulv(g, p, csa));
    for (int i = 0; i < mr; i++) {
        if (i)
            arow = at(g, arow, rsa);
        LLVMValueRef s = cg_splat(g->cg, load_t(g, g->t, arow), g->lanes);
        for (int v = 0; v < nv; v++)
            acc[i * nv + v] = fmuladd(g, s, bv[v], acc[i * nv + v]);
    }
}

/* p = p0, p0 + 1, ... while p < end, each step updating the nacc values
 * of acc (phis); acc holds the values after the loop. */
typedef void StepFn(Gemm *g, void *ctx, LLVMValueRef p, LLVMValueRef *acc);

static void acc_loop(Gemm *g, int nacc, LLVMValueRef p0, LLVMValueRef end, LLVMValueRef *acc, StepFn *fn,
                     void *ctx) {
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->b), body = new_block(g, "steps"), after = new_block(g, "after");
    LLVMValueRef in[MAX_ACC], phi[MAX_ACC];
    LLVMTypeRef ty = LLVMTypeOf(acc[0]);
    memcpy(in, acc, sizeof(LLVMValueRef) * (size_t)nacc);
    LLVMBuildCondBr(g->b, ult(g, p0, end), body, after);
    LLVMPositionBuilderAtEnd(g->b, body);
    LLVMValueRef p = LLVMBuildPhi(g->b, g->cg->i64, "p");
    for (int k = 0; k < nacc; k++)
        acc[k] = phi[k] = LLVMBuildPhi(g->b, ty, "acc");
    fn(g, ctx, p, acc);
    LLVMValueRef pn = LLVMBuildNUWAdd(g->b, p, i64c(g, 1), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->b);
    keep_loop(g, LLVMBuildCondBr(g->b, ult(g, pn, end), body, after));
    LLVMAddIncoming(p, &p0, &pre, 1);
    LLVMAddIncoming(p, &pn, &latch, 1);
    for (int k = 0; k < nacc; k++) {
        LLVMAddIncoming(phi[k], &in[k], &pre, 1);
        LLVMAddIncoming(phi[k], &acc[k], &latch, 1);
    }
    LLVMPositionBuilderAtEnd(g->b, after);
    for (int k = 0; k < nacc; k++) {
        LLVMValueRef x = LLVMBuildPhi(g->b, ty, "acc");
        LLVMAddIncoming(x, &in[k], &pre, 1);
        LLVMAddIncoming(x, &acc[k], &latch, 1);
        acc[k] = x;
    }
}

typedef struct KernelCtx {
    int mr, nv;
    LLVMValueRef a, rsa, csa, bptr, rsb;
} KernelCtx;

static void kernel_step_fn(Gemm *g, void *ctx, LLVMValueRef p, LLVMValueRef *acc) {
    KernelCtx *k = ctx;
    kernel_step(g, k->mr, k->nv, k->a, k->rsa, k->csa, k->bptr, k->rsb, p, acc);
}

/* void kernel(ptr a, i64 rsa, i64 csa, ptr b, i64 rsb, ptr c, i64 ldc, i64 kc, i1 accumulate)
 *   for i < mr, j < nv * lanes:
 *     c[i*ldc + j] = (accumulate ? c[i*ldc + j] : 0) + a[i*rsa] * b[j] + ... (p < kc, in order)
 *   with a[i*rsa + p*csa], b[p*rsb + j]. */
static LLVMValueRef micro_kernel(Gemm *g, int mr, int nv) {
    CG *cg = g->cg;
    const char *name = arena_printf("nnc.gemm.%s.%dx%dx%d", g->dt == DT_F64 ? "f64" : "f32", mr, nv, g->lanes);
    LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
    if (fn)
        return fn;
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(g->b);
    LLVMTypeRef args[9] = {cg->ptr, cg->i64, cg->i64, cg->ptr, cg->i64, cg->ptr, cg->i64, cg->i64, cg->i1};
    fn = new_function(g, name, args, 9);
    LLVMValueRef a = LLVMGetParam(fn, 0), rsa = LLVMGetParam(fn, 1), csa = LLVMGetParam(fn, 2);
    LLVMValueRef bptr = LLVMGetParam(fn, 3), rsb = LLVMGetParam(fn, 4), c = LLVMGetParam(fn, 5);
    LLVMValueRef ldc = LLVMGetParam(fn, 6), kc = LLVMGetParam(fn, 7), accumulate = LLVMGetParam(fn, 8);
    LLVMValueRef acc[MAX_ACC], crow[MAX_ACC], zero = LLVMConstNull(g->vt);
    for (int i = 0; i < mr; i++)
        crow[i] = at(g, c, mul(g, ldc, i));
    /* The sums start from C when accumulating, else from 0 (without
     * loading C, which may not be in cache). */
    LLVMBasicBlockRef entry = LLVMGetInsertBlock(g->b), load = new_block(g, "load"), start = new_block(g, "start");
    LLVMBuildCondBr(g->b, accumulate, load, start);
    LLVMPositionBuilderAtEnd(g->b, load);
    LLVMValueRef old[MAX_ACC];
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < nv; v++)
            old[i * nv + v] = load_t(g, g->vt, at(g, crow[i], i64c(g, (int64_t)v * g->lanes)));
    LLVMBuildBr(g->b, start);
    LLVMPositionBuilderAtEnd(g->b, start);
    for (int k = 0; k < mr * nv; k++) {
        acc[k] = LLVMBuildPhi(g->b, g->vt, "acc");
        LLVMAddIncoming(acc[k], &zero, &entry, 1);
        LLVMAddIncoming(acc[k], &old[k], &load, 1);
    }
    /* The loop over p is not unrolled: with a 12 x 2 tile's 24
     * accumulators, the unrolled body and its remainder loop ran out of
     * registers and spilled (perf). */
    KernelCtx k = {mr, nv, a, rsa, csa, bptr, rsb};
    acc_loop(g, mr * nv, i64c(g, 0), kc, acc, kernel_step_fn, &k);
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < nv; v++)
            store_t(g, acc[i * nv + v], at(g, crow[i], i64c(g, (int64_t)v * g->lanes)));
    LLVMBuildRetVoid(g->b);
    LLVMPositionBuilderAtEnd(g->b, saved);
    return fn;
}

/* ---- packing ---- */

/* Transpose the lanes x lanes matrix whose rows are r[0..lanes) in place.
 * Stage h exchanges bit h of the row index with bit h of the column index:
 * rows i and i + h (bit h of i clear) trade their blocks of h lanes.  After
 * every stage the matrix is transposed. */
static void transpose(Gemm *g, LLVMValueRef *r) {
    int L = g->lanes, lo[64], hi[64];
    for (int h = L / 2; h >= 1; h /= 2) {
        for (int k = 0; k < L; k++) {
            bool odd = (k / h) % 2;
            lo[k] = odd ? L + k - h : k;
            hi[k] = odd ? L + k : k + h;
        }
        for (int i = 0; i < L; i++)
            if (!(i & h)) {
                LLVMValueRef x = r[i], y = r[i + h];
                r[i] = shuffle(g, x, y, lo, L);
                r[i + h] = shuffle(g, x, y, hi, L);
            }
    }
}

/* How B is packed: not at all (its rows are contiguous and read in place),
 * by whole vectors (rows contiguous), by lanes x lanes blocks transposed in
 * registers (columns contiguous: B = W.T), or an element at a time.  The
 * outer-product function takes it as an argument. */
typedef enum { PACK_NONE, PACK_ROWS, PACK_COLS, PACK_ANY } PackB;

/* B (element (p, j) at b[p*rsb + j*csb]): pack rows [p0, p0 + kc) of its
 * columns [j0, j0 + ncols) into bp as panels of w = nv * lanes columns,
 * panel t at bp + t * kc * w, row p of it at p * w, the way how (an i32
 * PackB other than PACK_NONE) says.  Columns past ncols repeat the last one
 * (the kernel computes them into columns of a tile that are never copied
 * to C).  What the chosen way leaves (a last, narrower panel; the last
 * kc mod lanes rows) goes an element at a time. */
static void pack_b(Gemm *g, LLVMValueRef how, int nv, LLVMValueRef b, LLVMValueRef rsb, LLVMValueRef csb,
                   LLVMValueRef bp, LLVMValueRef p0, LLVMValueRef kc, LLVMValueRef j0, LLVMValueRef ncols) {
    int L = g->lanes;
    int64_t w = (int64_t)nv * L;
    LLVMValueRef zero = i64c(g, 0), one = i64c(g, 1), jmax = sub(g, add(g, j0, ncols), one);
    LLVMValueRef by_rows = eq32(g, how, PACK_ROWS), by_cols = eq32(g, how, PACK_COLS);
    RLoop lt, lp, lq, lj;
    If fr, fc;
    LLVMValueRef t = rloop_open(g, &lt, zero, LLVMBuildUDiv(g->b, add(g, ncols, i64c(g, w - 1)), i64c(g, w), ""), one);
    LLVMValueRef jt = add(g, j0, mul(g, t, w));
    LLVMValueRef panel = at(g, bp, mulv(g, mul(g, t, w), kc));
    /* By rows: a whole panel's rows, as vectors. */
    LLVMValueRef whole = LLVMBuildAnd(g->b, by_rows, LLVMBuildICmp(g->b, LLVMIntULE, add(g, jt, i64c(g, w - 1)), jmax, ""), "");
    if_open(g, &fr, whole);
    LLVMValueRef p = rloop_open(g, &lp, zero, kc, one);
    LLVMValueRef src = at(g, b, add(g, mulv(g, add(g, p0, p), rsb), jt));
    LLVMValueRef dst = at(g, panel, mul(g, p, w));
    for (int v = 0; v < nv; v++)
        store_t(g, load_t(g, g->vt, at(g, src, i64c(g, (int64_t)v * L))), at(g, dst, i64c(g, (int64_t)v * L)));
    rloop_close(g, &lp);
    if_close(g, &fr);
    /* By columns: lanes x lanes blocks, transposed. */
    LLVMValueRef nq = LLVMBuildUDiv(g->b, kc, i64c(g, L), "");
    if_open(g, &fc, by_cols);
    LLVMValueRef q = rloop_open(g, &lq, zero, nq, one);
    src = at(g, b, add(g, p0, mul(g, q, L)));
    dst = at(g, panel, mul(g, q, L * w));
    for (int v = 0; v < nv; v++) {
        LLVMValueRef r[64];
        for (int l = 0; l < L; l++)
            r[l] = load_t(g, g->vt, at(g, src, mulv(g, umin(g, add(g, jt, i64c(g, (int64_t)v * L + l)), jmax), csb)));
        transpose(g, r);
        for (int l = 0; l < L; l++)
            store_t(g, r[l], at(g, dst, i64c(g, l * w + (int64_t)v * L)));
    }
    rloop_close(g, &lq);
    if_close(g, &fc);
    /* The rest, an element at a time, from the first row not packed. */
    LLVMValueRef done = sel(g, whole, kc, sel(g, by_cols, mul(g, nq, L), zero));
    p = rloop_open(g, &lp, done, kc, one);
    LLVMValueRef jj = rloop_open(g, &lj, zero, i64c(g, w), one);
    LLVMValueRef col = umin(g, add(g, jt, jj), jmax);
    LLVMValueRef x = load_t(g, g->t, at(g, b, add(g, mulv(g, add(g, p0, p), rsb), mulv(g, col, csb))));
    store_t(g, x, at(g, panel, add(g, mul(g, p, w), jj)));
    rloop_close(g, &lj);
    rloop_close(g, &lp);
    rloop_close(g, &lt);
}

/* The block of B of rows [p0, p0 + kc) and columns [j0, j0 + ncols),
 * filled from the image into bp.  B is the im2col (element (p, j) is the
 * windows' (p, j)): the block is filled in one call, row-major with rows
 * ncs apart, and the kernel reads it in place.  B is its transpose (the
 * windows' (j, p)): the block is filled as pack_b leaves it, a panel at a
 * time.  Columns past ncols in the last panel are left as they are: the
 * kernel computes them into columns of a tile that are never copied to C. */
static void fill_b(Gemm *g, LLVMValueRef fill, LLVMValueRef fill_args, LLVMValueRef transposed, int nv,
                   LLVMValueRef bp, LLVMValueRef p0, LLVMValueRef kc, LLVMValueRef j0, LLVMValueRef ncols,
                   LLVMValueRef ncs) {
    int64_t w = (int64_t)nv * g->lanes;
    LLVMValueRef one = i64c(g, 1), W = i64c(g, w), p1 = add(g, p0, kc);
    LLVMTypeRef fty = cg_fill_type(g->cg);
    If ft;
    if_open(g, &ft, transposed);
    RLoop lt;
    LLVMValueRef t = rloop_open(g, &lt, i64c(g, 0), LLVMBuildUDiv(g->b, add(g, ncols, i64c(g, w - 1)), W, ""), one);
    LLVMValueRef jt = add(g, j0, mul(g, t, w));
    LLVMValueRef jend = add(g, jt, umin(g, W, sub(g, ncols, mul(g, t, w))));
    LLVMValueRef panel[8] = {fill_args, at(g, bp, mulv(g, mul(g, t, w), kc)), one, W, jt, jend, p0, p1};
    LLVMBuildCall2(g->b, fty, fill, panel, 8, "");
    rloop_close(g, &lt);
    if_else(g, &ft);
    LLVMValueRef block[8] = {fill_args, bp, ncs, one, p0, p1, j0, add(g, j0, ncols)};
    LLVMBuildCall2(g->b, fty, fill, block, 8, "");
    if_close(g, &ft);
}

/* A's tile of mr rows and kc columns at a, whose columns are contiguous
 * (A = X.T; element (i, p) at a[i + p*csa]), copied to ap mr apart along
 * p, with whole vectors that the next p overwrites past mr. */
static void pack_a(Gemm *g, int mr, LLVMValueRef a, LLVMValueRef csa, LLVMValueRef ap, LLVMValueRef kc) {
    int L = g->lanes;
    RLoop lp;
    LLVMValueRef p = rloop_open(g, &lp, i64c(g, 0), kc, i64c(g, 1));
    LLVMValueRef src = at(g, a, mulv(g, p, csa)), dst = at(g, ap, mul(g, p, mr));
    for (int v = 0; v * L < mr; v++) {
        LLVMValueRef x = vload_masked(g, at(g, src, i64c(g, (int64_t)v * L)), first_lanes(g, mr - v * L));
        store_t(g, x, at(g, dst, i64c(g, (int64_t)v * L)));
    }
    rloop_close(g, &lp);
}

/* Copy rows x cols elements between C (row stride ldc) and a tile (row
 * stride w), either way. */
static void copy_tile(Gemm *g, LLVMValueRef dst, LLVMValueRef dld, LLVMValueRef src, LLVMValueRef sld,
                      LLVMValueRef rows, LLVMValueRef cols) {
    RLoop li, lj;
    LLVMValueRef zero = i64c(g, 0), one = i64c(g, 1);
    LLVMValueRef i = rloop_open(g, &li, zero, rows, one);
    LLVMValueRef j = rloop_open(g, &lj, zero, cols, one);
    store_t(g, load_t(g, g->t, at(g, src, add(g, mulv(g, i, sld), j))), at(g, dst, add(g, mulv(g, i, dld), j)));
    rloop_close(g, &lj);
    rloop_close(g, &li);
}

/* ---- the outer-product form ---- */

/* The outer function's arguments, in order. */
enum {
    OA_M, OA_N, OA_K, OA_A, OA_RSA, OA_CSA, OA_B, OA_RSB, OA_CSB, OA_C, OA_LDC, OA_BP, OA_AP, OA_KCS, OA_NCS,
    OA_PACKB, OA_PACKA, OA_EPI, OA_EPI_ARGS, OA_FILL, OA_FILL_ARGS, OA_FILL_T, OA_ROW0, OA_ROW1, OA_COL0, OA_COL1,
    OUTER_NARGS
};

static void outer_arg_types(Gemm *g, LLVMTypeRef *t) {
    CG *cg = g->cg;
    for (int k = 0; k < OUTER_NARGS; k++)
        t[k] = cg->i64;
    static const int ptrs[] = {OA_A, OA_B, OA_C, OA_BP, OA_AP, OA_EPI, OA_EPI_ARGS, OA_FILL, OA_FILL_ARGS};
    for (size_t k = 0; k < sizeof ptrs / sizeof *ptrs; k++)
        t[ptrs[k]] = cg->ptr;
    t[OA_PACKB] = cg->i32;
    t[OA_PACKA] = cg->i1;
    t[OA_FILL_T] = cg->i1;
}

/* void outer(i64 M, i64 N, i64 K, ptr a, i64 rsa, i64 csa, ptr b, i64 rsb, i64 csb,
 *            ptr c, i64 ldc, ptr bp, ptr ap, i64 kcs, i64 ncs, i32 packb, i1 packa,
 *            ptr epi, ptr epi_args, ptr fill, ptr fill_args, i1 fill_t,
 *            i64 row0, i64 row1, i64 col0, i64 col1)
 *   c[i*ldc + j] = sum over p of a[i*rsa + p*csa] * b[p*rsb + j*csb]
 * for the rows i of [row0, row1) and the columns j of [col0, col1): a
 * thread's share (task_function).  row0 is a multiple of mr and row1 one
 * too or M; col0 is a multiple of nv * lanes and col1 one too or N.
 * For each block of ncs columns, for each block of kcs rows of B: pack the
 * block into bp as packb says (PACK_NONE: B is read in place, its rows
 * contiguous, csb == 1), then for each mr rows of A (packed into ap if
 * packa: A's columns are then contiguous, rsa == 1), for each nv vectors
 * of columns, the kernel.  One kernel serves the edges too: the last tile
 * of rows is moved up to end at row M (mr <= M), a last narrower panel of
 * an unpacked B is copied to a buffer on the stack with its last column
 * repeated, and the kernel writes such tiles of C into a buffer whose
 * rows and columns that exist are then copied to C (and from it first,
 * when accumulating).  ncs is a multiple of nv * lanes.
 * Each tile of C, once it holds its final sums, is passed to epi (unless
 * it is null) as epi(epi_args, i, j, rows, cols): the fused epilogue
 * (cg_epilogue) runs on it while it is in cache.
 * With fill (not null), B is windows never written out (ST_WINDOWS): each
 * block is filled from the image by fill(fill_args, ...) (cg_window_fill;
 * fill_b says how), B being the im2col or, if fill_t, its transpose.
 * How A and B are packed are arguments, not variants: one function per
 * tile costs the back end a third of three, and when every product of a
 * module packs alike, ipsccp folds the tests away. */
static LLVMValueRef outer_function(Gemm *g, int mr, int nv) {
    CG *cg = g->cg;
    const char *name = arena_printf("nnc.gemm.%s.%dx%dx%d.outer", g->dt == DT_F64 ? "f64" : "f32", mr, nv, g->lanes);
    LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
    if (fn)
        return fn;
    LLVMValueRef kernel = micro_kernel(g, mr, nv);
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(g->b);
    LLVMTypeRef args[OUTER_NARGS];
    outer_arg_types(g, args);
    fn = new_function(g, name, args, OUTER_NARGS);
    LLVMValueRef v[OUTER_NARGS];
    for (int k = 0; k < OUTER_NARGS; k++)
        v[k] = LLVMGetParam(fn, (unsigned)k);
    LLVMValueRef M = v[OA_M], K = v[OA_K], a = v[OA_A], rsa = v[OA_RSA], csa = v[OA_CSA];   /* N: col1 */
    LLVMValueRef b = v[OA_B], rsb = v[OA_RSB], csb = v[OA_CSB], c = v[OA_C], ldc = v[OA_LDC];
    LLVMValueRef bp = v[OA_BP], ap = v[OA_AP], kcs = v[OA_KCS], ncs = v[OA_NCS];
    LLVMValueRef packb = v[OA_PACKB], packa = v[OA_PACKA], epi = v[OA_EPI], epi_args = v[OA_EPI_ARGS];
    LLVMValueRef fill = v[OA_FILL], fill_args = v[OA_FILL_ARGS], fill_t = v[OA_FILL_T];
    LLVMValueRef row0 = v[OA_ROW0], row1 = v[OA_ROW1], col0 = v[OA_COL0], col1 = v[OA_COL1];
    int64_t w = (int64_t)nv * g->lanes;
    LLVMValueRef zero = i64c(g, 0), W = i64c(g, w), MR = i64c(g, mr);
    LLVMValueRef ctile = LLVMBuildArrayAlloca(g->b, g->t, i64c(g, mr * w), "ctile");
    LLVMValueRef bedge = LLVMBuildArrayAlloca(g->b, g->t, i64c(g, KC * w), "bedge");
    LLVMSetAlignment(ctile, 64);
    LLVMSetAlignment(bedge, 64);
    LLVMValueRef in_place = eq32(g, packb, PACK_NONE);
    RLoop ln, lk, li, lj;
    If fp, ff, fa, fk, fc, fe;
    LLVMValueRef j0 = rloop_open(g, &ln, col0, col1, ncs);
    LLVMValueRef ncols = umin(g, ncs, sub(g, col1, j0));
    LLVMValueRef nfull = mul(g, LLVMBuildUDiv(g->b, ncols, W, ""), w);   /* columns in whole panels */
    LLVMValueRef p0 = rloop_open(g, &lk, zero, K, kcs);
    LLVMValueRef kc = umin(g, kcs, sub(g, K, p0));
    LLVMValueRef accumulate = LLVMBuildICmp(g->b, LLVMIntNE, p0, zero, "");
    /* Pack the block of B; read in place, only its last, narrower panel. */
    if_open(g, &fp, LLVMBuildOr(g->b, LLVMBuildNot(g->b, in_place, ""), ult(g, nfull, ncols), ""));
    if_open(g, &ff, LLVMBuildIsNotNull(g->b, fill, ""));
    fill_b(g, fill, fill_args, fill_t, nv, bp, p0, kc, j0, ncols, ncs);
    if_else(g, &ff);
    pack_b(g, LLVMBuildSelect(g->b, in_place, LLVMConstInt(cg->i32, PACK_ANY, 0), packb, ""), nv, b, rsb, csb,
           LLVMBuildSelect(g->b, in_place, bedge, bp, ""), p0, kc, sel(g, in_place, add(g, j0, nfull), j0),
           sel(g, in_place, sub(g, ncols, nfull), ncols));
    if_close(g, &ff);
    if_close(g, &fp);
    LLVMValueRef i0 = rloop_open(g, &li, row0, row1, MR);
    LLVMValueRef mrv = umin(g, MR, sub(g, M, i0));
    LLVMValueRef ia = sub(g, i0, sub(g, MR, mrv));      /* the tile's first row in A */
    LLVMValueRef asrc = at(g, a, add(g, mulv(g, ia, rsa), mulv(g, p0, csa)));
    if_open(g, &fa, packa);
    pack_a(g, mr, asrc, csa, ap, kc);
    if_close(g, &fa);
    LLVMValueRef ra = sel(g, packa, i64c(g, 1), rsa), ca = sel(g, packa, MR, csa);
    asrc = LLVMBuildSelect(g->b, packa, ap, asrc, "");
    LLVMValueRef jl = rloop_open(g, &lj, zero, ncols, W);
    LLVMValueRef nrv = umin(g, W, sub(g, ncols, jl));
    LLVMValueRef whole = eq(g, nrv, W);
    /* a block filled row-major (fill_b) is read in place, rows ncs apart */
    LLVMValueRef rowwise = LLVMBuildAnd(g->b, LLVMBuildIsNotNull(g->b, fill, ""), LLVMBuildNot(g->b, fill_t, ""), "");
    LLVMValueRef bsrc = LLVMBuildSelect(g->b, in_place,
                                        LLVMBuildSelect(g->b, whole, at(g, b, add(g, mulv(g, p0, rsb), add(g, j0, jl))),
                                                        bedge, ""),
                                        LLVMBuildSelect(g->b, rowwise, at(g, bp, jl), at(g, bp, mulv(g, jl, kc)), ""), "");
    LLVMValueRef rb = sel(g, LLVMBuildAnd(g->b, in_place, whole, ""), rsb, sel(g, rowwise, ncs, W));
    LLVMValueRef cptr = at(g, c, add(g, mulv(g, i0, ldc), add(g, j0, jl)));
    if_open(g, &fk, LLVMBuildAnd(g->b, eq(g, mrv, MR), whole, ""));
    LLVMValueRef kargs[9] = {asrc, ra, ca, bsrc, rb, cptr, ldc, kc, accumulate};
    call(g, kernel, kargs, 9);
    if_else(g, &fk);
    /* An edge tile: its rows that exist are the last mrv of the kernel's. */
    LLVMValueRef ctop = at(g, ctile, mul(g, sub(g, MR, mrv), w));
    if_open(g, &fc, accumulate);
    copy_tile(g, ctop, W, cptr, ldc, mrv, nrv);
    if_close(g, &fc);
    LLVMValueRef eargs[9] = {asrc, ra, ca, bsrc, rb, ctile, W, kc, accumulate};
    call(g, kernel, eargs, 9);
    copy_tile(g, cptr, ldc, ctop, W, mrv, nrv);
    if_close(g, &fk);
    if_open(g, &fe, LLVMBuildAnd(g->b, LLVMBuildIsNotNull(g->b, epi, ""), eq(g, add(g, p0, kc), K), ""));
    LLVMValueRef eargs5[5] = {epi_args, i0, add(g, j0, jl), mrv, nrv};
    LLVMBuildCall2(g->b, cg_epilogue_type(g->cg), epi, eargs5, 5, "");
    if_close(g, &fe);
    rloop_close(g, &lj);
    rloop_close(g, &li);
    rloop_close(g, &lk);
    rloop_close(g, &ln);
    LLVMBuildRetVoid(g->b);
    LLVMPositionBuilderAtEnd(g->b, saved);
    return fn;
}

/* ---- the dot-product form ---- */

typedef struct DotCtx {
    int mt, nt;
    LLVMValueRef *arow, *bcol;
    bool vector;
} DotCtx;

/* acc[i][j] += a_i[q..] * b_j[q..]: a vector of lanes at q * lanes, or one
 * element at q. */
static void dot_step(Gemm *g, void *ctx, LLVMValueRef q, LLVMValueRef *acc) {
    DotCtx *d = ctx;
    LLVMTypeRef ty = d->vector ? g->vt : g->t;
    LLVMValueRef off = d->vector ? mul(g, q, g->lanes) : q, va[MAX_ACC];
    for (int i = 0; i < d->mt; i++)
        va[i] = load_t(g, ty, at(g, d->arow[i], off));
    for (int j = 0; j < d->nt; j++) {
        LLVMValueRef vb = load_t(g, ty, at(g, d->bcol[j], off));
        for (int i = 0; i < d->mt; i++)
            acc[i * d->nt + j] = fmuladd(g, va[i], vb, acc[i * d->nt + j]);
    }
}

/* void dot(i64 M, i64 N, i64 K, ptr a, i64 rsa, ptr b, i64 csb, ptr c, i64 ldc,
 *          ptr fill, ptr fill_args, ptr scratch, i64 jbase)
 *   c[i*ldc + j] = sum over p of a[i*rsa + p] * b[j*csb + p]
 * by tiles of mt x nt: for each nt columns of B (kept in L1), each mt rows
 * of A; the last tiles repeat their last row or column.  K is cut into
 * chunks of DOT_KC_BYTES per row, each walked by every tile before the
 * next, so that a long K (a convolution's weight gradient sums over every
 * pixel of the batch) streams A and B from memory once rather than once
 * per tile; each chunk's sum is added onto C.
 * With fill (not null), B is the transpose of windows never written out
 * (ST_WINDOWS): column j of B is row jbase + j of the im2col, and each
 * tile's nt columns of a chunk are filled into scratch (DOT_FILL_BYTES)
 * from the image first. */

enum { DOT_KC_BYTES = 4096, DOT_MAX_NT = 8, DOT_FILL_BYTES = DOT_MAX_NT * DOT_KC_BYTES };

/* The dot function's arguments: those after ldc, and how many. */
enum { DA_FILL = 9, DA_FILL_ARGS, DA_SCRATCH, DA_JBASE, DOT_NARGS };

static void dot_arg_types(Gemm *g, LLVMTypeRef *t) {
    CG *cg = g->cg;
    for (int k = 0; k < DOT_NARGS; k++)
        t[k] = cg->i64;
    static const int ptrs[] = {3, 5, 7, DA_FILL, DA_FILL_ARGS, DA_SCRATCH};
    for (size_t k = 0; k < sizeof ptrs / sizeof *ptrs; k++)
        t[ptrs[k]] = cg->ptr;
}

static LLVMValueRef dot_function(Gemm *g, int mt, int nt) {
    CG *cg = g->cg;
    const char *name = arena_printf("nnc.dot.%s.%dx%dx%d", g->dt == DT_F64 ? "f64" : "f32", mt, nt, g->lanes);
    LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
    if (fn)
        return fn;
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(g->b);
    LLVMTypeRef args[DOT_NARGS];
    dot_arg_types(g, args);
    fn = new_function(g, name, args, DOT_NARGS);
    LLVMValueRef M = LLVMGetParam(fn, 0), N = LLVMGetParam(fn, 1), K = LLVMGetParam(fn, 2);
    LLVMValueRef a = LLVMGetParam(fn, 3), rsa = LLVMGetParam(fn, 4), b = LLVMGetParam(fn, 5);
    LLVMValueRef csb = LLVMGetParam(fn, 6), c = LLVMGetParam(fn, 7), ldc = LLVMGetParam(fn, 8);
    LLVMValueRef fill = LLVMGetParam(fn, DA_FILL), filled = LLVMBuildIsNotNull(g->b, fill, "");
    LLVMValueRef scratch = LLVMGetParam(fn, DA_SCRATCH), jbase = LLVMGetParam(fn, DA_JBASE);
    LLVMValueRef zero = i64c(g, 0), one = i64c(g, 1);
    int64_t kc = DOT_KC_BYTES / (int64_t)dtype_size(g->dt);
    RLoop lk, lj, li;
    LLVMValueRef k0 = rloop_open(g, &lk, zero, K, i64c(g, kc));
    LLVMValueRef k1 = umin(g, K, add(g, k0, i64c(g, kc)));
    LLVMValueRef j0 = rloop_open(g, &lj, zero, N, i64c(g, nt));
    LLVMValueRef lastcol = sub(g, umin(g, i64c(g, nt), sub(g, N, j0)), one);
    If ff;
    if_open(g, &ff, filled);
    LLVMValueRef row0 = add(g, jbase, j0);
    LLVMValueRef fargs[8] = {LLVMGetParam(fn, DA_FILL_ARGS), scratch, i64c(g, kc), one, row0,
                             add(g, add(g, row0, lastcol), one), k0, k1};
    LLVMBuildCall2(g->b, cg_fill_type(cg), fill, fargs, 8, "");
    if_close(g, &ff);
    LLVMValueRef i0 = rloop_open(g, &li, zero, M, i64c(g, mt));
    LLVMValueRef lastrow = sub(g, umin(g, i64c(g, mt), sub(g, M, i0)), one);
    LLVMValueRef arow[MAX_ACC], bcol[MAX_ACC], crow[MAX_ACC], ccol[MAX_ACC], acc[MAX_ACC];
    for (int i = 0; i < mt; i++) {
        LLVMValueRef row = add(g, i0, umin(g, i64c(g, i), lastrow));
        arow[i] = at(g, a, mulv(g, rsa, row));
        crow[i] = at(g, c, mulv(g, ldc, row));
    }
    for (int j = 0; j < nt; j++) {
        LLVMValueRef jj = umin(g, i64c(g, j), lastcol);
        ccol[j] = add(g, j0, jj);
        /* filled: the chunk's row of scratch, indexed from k0 like B */
        bcol[j] = LLVMBuildSelect(g->b, filled, at(g, scratch, sub(g, mul(g, jj, kc), k0)),
                                  at(g, b, mulv(g, csb, ccol[j])), "");
    }
    int nacc = mt * nt;
    for (int k = 0; k < nacc; k++)
        acc[k] = LLVMConstNull(g->vt);
    DotCtx d = {mt, nt, arow, bcol, true};
    /* kc is a multiple of the lanes: only the last chunk has a tail. */
    LLVMValueRef q1 = LLVMBuildUDiv(g->b, k1, i64c(g, g->lanes), "");
    acc_loop(g, nacc, LLVMBuildUDiv(g->b, k0, i64c(g, g->lanes), ""), q1, acc, dot_step, &d);
    for (int k = 0; k < nacc; k++)
        acc[k] = cg_lanes_sum(g->cg, acc[k], g->lanes);
    d.vector = false;
    acc_loop(g, nacc, mul(g, q1, g->lanes), k1, acc, dot_step, &d);
    /* After the first chunk, add onto C: every element is loaded before
     * any is stored, since a last tile's repeated row or column would
     * otherwise add its sum twice. */
    If later;
    if_open(g, &later, ult(g, zero, k0));
    LLVMValueRef sum[MAX_ACC];
    for (int k = 0; k < nacc; k++)
        sum[k] = LLVMBuildFAdd(g->b, load_t(g, g->t, at(g, crow[k / nt], ccol[k % nt])), acc[k], "");
    for (int k = 0; k < nacc; k++)
        store_t(g, sum[k], at(g, crow[k / nt], ccol[k % nt]));
    if_else(g, &later);
    for (int k = 0; k < nacc; k++)
        store_t(g, acc[k], at(g, crow[k / nt], ccol[k % nt]));
    if_close(g, &later);
    rloop_close(g, &li);
    rloop_close(g, &lj);
    rloop_close(g, &lk);
    LLVMBuildRetVoid(g->b);
    LLVMPositionBuilderAtEnd(g->b, saved);
    return fn;
}

/* ---- the plain loops, for operands without a layout ---- */

static void naive(CG *cg, Node *n, const Layout *out) {
    Node *a = n->in[0], *b = n->in[1];
    LLVMTypeRef t = cg_type(cg, n->dt);
    LLVMValueRef zero = cg_i64(cg, 0);
    Loop li, lj, lp;
    LLVMValueRef ij[2];
    ij[0] = cg_range_open(cg, &li, zero, cg_extent(cg, &n->shape, 0));
    ij[1] = cg_range_open(cg, &lj, zero, cg_extent(cg, &n->shape, 1));
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(cg->b);
    LLVMValueRef ip[2] = {ij[0], cg_range_open(cg, &lp, zero, cg_extent(cg, &a->shape, 1))};
    LLVMValueRef acc = LLVMBuildPhi(cg->b, t, "acc");
    LLVMValueRef pj[2] = {ip[1], ij[1]};
    LLVMValueRef prod = LLVMBuildFMul(cg->b, cg_value_at(cg, a, ip), cg_value_at(cg, b, pj), "");
    LLVMValueRef sum = LLVMBuildFAdd(cg->b, acc, prod, "");
    LLVMValueRef fzero = LLVMConstReal(t, 0);
    LLVMAddIncoming(acc, &fzero, &pre, 1);
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(cg->b);
    LLVMAddIncoming(acc, &sum, &latch, 1);
    cg_loop_close(cg, &lp);
    LLVMBuildStore(cg->b, sum, cg_elem_ptr(cg, out, n->dt, 2, ij));
    cg_loop_close(cg, &lj);
    cg_loop_close(cg, &li);
}

/* ---- choosing the form ---- */

/* The strides of a 2-d operand; a dim of size 1 has stride 0. */
static void strides_of(const Shape *s, const int64_t *st, int64_t out[2]) {
    for (int d = 0; d < 2; d++)
        out[d] = s->d[d] == 1 ? 0 : st[d];
}

/* Whether B is contiguous along N (a dim of size 1 counts). */
static bool rows_contiguous(int64_t N, const int64_t *sb) { return N == 1 || sb[1] == 1; }

/* Can the dot-product form read both operands along K? */
static bool dot_ok(int64_t K, const int64_t *sa, const int64_t *sb) {
    return K == 1 || (sa[1] == 1 && sb[0] == 1);
}

/* An extent of a product: its maximum, and for a runtime axis its dim
 * (Shape.dyn) and rows per unit of n (shape_rows_per_n); the code runs at
 * the n of the call. */
typedef struct Extent {
    int64_t max;
    int dyn;
    int64_t per;
} Extent;

static Extent extent_of(const Shape *s, int d) {
    return (Extent){s->d[d], s->dyn[d], s->dyn[d] ? shape_rows_per_n(s, d) : 1};
}

/* A product with C a column is turned around (C.T = B.T @ A.T, the same
 * memory): the forms vectorize along N. */
static bool turn(Extent *M, Extent *N, int64_t sa[2], int64_t sb[2]) {
    if (N->max != 1 || N->dyn || (M->max == 1 && !M->dyn))
        return false;
    int64_t a0 = sa[0], a1 = sa[1];
    sa[0] = sb[1];
    sa[1] = sb[0];
    sb[0] = a1;
    sb[1] = a0;
    *N = *M;
    *M = (Extent){1, 0, 1};
    return true;
}

typedef enum { FORM_OUTER, FORM_DOT, FORM_NAIVE } Form;

typedef struct Choice {
    Form form;
    bool pack_b, pack_a;
    bool fill_b;        /* B is ST_WINDOWS: its blocks are filled from the image */
} Choice;

/* How to compute a (turned) product with these shapes and strides.
 * - The dot form for few rows of C when both operands are contiguous
 *   along K and B's rows are not (x @ W.T at a small batch).
 * - Otherwise outer products, packing B when its rows are not contiguous,
 *   when they are a multiple of 2 KB apart (each row of a block would fall
 *   in the same few cache sets), or when B is large and C tall.
 * - Tiles of A are packed when A's columns, not its rows, are contiguous
 *   (A = X.T): in place, mr x kc of it would spread over kc cache lines.
 * - B filled from the image (b_filled) is always packed, by the fill. */
static Choice choose(int64_t M, int64_t N, int64_t K, size_t esize, const int64_t *sa, const int64_t *sb,
                     bool b_filled) {
    Choice c = {FORM_OUTER, false, false, b_filled};
    if (M <= DOT_MAX_M && !rows_contiguous(N, sb) && dot_ok(K, sa, sb)) {
        c.form = FORM_DOT;
        return c;
    }
    if (!rows_contiguous(N, sb) || b_filled)
        c.pack_b = true;
    else if (K > 1 && sb[0] != 0)
        c.pack_b = ((int64_t)esize * sb[0]) % 2048 == 0 ||
                   (M >= PACK_MIN_M && K * N * (int64_t)esize > PACK_MIN_BYTES);
    c.pack_a = M > 1 && K > 1 && sa[0] == 1 && sa[1] != 1;
    return c;
}

/* The scratch for a block of B: at most KC rows of at most NC_BYTES,
 * rounded up to whole panels of at most PANEL_BYTES. */
static size_t pack_b_bytes(int64_t N, int64_t K, size_t esize) {
    int64_t ncmax = N < NC_BYTES / (int64_t)esize ? N : NC_BYTES / (int64_t)esize;
    int64_t w = PANEL_BYTES / (int64_t)esize;
    return (size_t)round_up((int64_t)esize * block_size(K, KC, 1) * (round_up(ncmax, w) + w), 64);
}

/* The scratch for a tile of A, and a vector's overhang. */
static size_t pack_a_bytes(size_t esize) { return (size_t)round_up((int64_t)esize * (MAX_MR * KC + 64), 64); }

static size_t choice_bytes(const Choice *c, int64_t N, int64_t K, size_t esize) {
    if (c->form == FORM_DOT)
        return c->fill_b ? DOT_FILL_BYTES : 0;
    return (c->pack_b ? pack_b_bytes(N, K, esize) : 0) + (c->pack_a ? pack_a_bytes(esize) : 0);
}

/* ---- a runtime M ----
 *
 * With M a runtime dim, the form and tile chosen for its maximum would do
 * a whole tile's work for every row at a small n (12 times the work at
 * n = 1).  So M's range is cut where choose() and choose_tile() change
 * their minds, each part takes the form chosen for its smallest M, and a
 * branch on n picks the part at run time.  A fixed M is one part. */
enum { MAX_PARTS = 8 };

typedef struct Part {
    int64_t lo;         /* the smallest M it runs */
    Choice c;
    int mr, nv;         /* the tile: FORM_OUTER's mr x nv vectors, FORM_DOT's rows x columns */
} Part;

static int m_parts(Extent M, Extent N, Extent K, size_t esize, const int64_t *sa, const int64_t *sb, bool b_filled,
                   Part *part) {
    static const int64_t cuts[] = {2, 3, 6, 12, DOT_MAX_M + 1, PACK_MIN_M};
    int n = 0;
    part[n++].lo = M.dyn ? 1 : M.max;
    for (size_t i = 0; M.dyn && i < sizeof cuts / sizeof *cuts; i++)
        if (cuts[i] <= M.max)
            part[n++].lo = cuts[i];
    for (int i = 0; i < n; i++)
        part[i].c = choose(part[i].lo, N.max, K.max, esize, sa, sb, b_filled);
    return n;
}

static bool same_choice(const Choice *x, const Choice *y) {
    return x->form == y->form && x->pack_a == y->pack_a && x->pack_b == y->pack_b && x->fill_b == y->fill_b;
}

/* What the plan keeps of a product: its form and packing for each part of
 * M, and the scratch they need.  The tiles depend on the target's vectors
 * and are chosen with the code. */
struct GemmPlan {
    Extent M, N, K;
    int64_t sa[2], sb[2];       /* A's and B's strides, after turning */
    bool turned;
    int nparts;
    Part part[MAX_PARTS];
    size_t scratch;
    bool by_columns;            /* computed a range of columns at a time, each on one thread */
};

const GemmPlan *gemm_plan(const Node *n, const Layout *a, const Layout *b, const Layout *out, bool b_filled) {
    GemmPlan *p = NEW(GemmPlan);
    p->M = extent_of(&n->shape, 0);
    p->N = extent_of(&n->shape, 1);
    p->K = extent_of(&n->in[0]->shape, 1);
    if (!a || !b || !layout_contiguous(out, &n->shape)) {
        p->nparts = 1;
        p->part[0] = (Part){.lo = 1, .c = {FORM_NAIVE, false, false, false}};
        return p;
    }
    strides_of(&n->in[0]->shape, a->stride, p->sa);
    strides_of(&n->in[1]->shape, b->stride, p->sb);
    p->turned = turn(&p->M, &p->N, p->sa, p->sb);
    p->nparts = m_parts(p->M, p->N, p->K, dtype_size(n->dt), p->sa, p->sb, b_filled, p->part);
    for (int i = 0; i < p->nparts; i++) {
        size_t bytes = choice_bytes(&p->part[i].c, p->N.max, p->K.max, dtype_size(n->dt));
        p->scratch = bytes > p->scratch ? bytes : p->scratch;
    }
    return p;
}

size_t gemm_scratch(const GemmPlan *p) { return p->scratch; }

/* A turned product would fill A; the plain loops read B in place. */
bool gemm_fills_b(const GemmPlan *p) {
    for (int i = 0; i < p->nparts; i++)
        if (p->part[i].c.form == FORM_NAIVE)
            return false;
    return !p->turned;
}

/* Outer products of B in memory, not turned: columns of C a range at a time
 * into another C (cg_matmul_columns) are then the same sums.  The plan
 * for that, or NULL. */
const GemmPlan *gemm_by_columns(const GemmPlan *p) {
    for (int i = 0; i < p->nparts; i++)
        if (p->part[i].c.form != FORM_OUTER || p->part[i].c.fill_b)
            return NULL;
    if (p->turned)
        return NULL;
    GemmPlan *q = NEW(GemmPlan);
    *q = *p;
    q->by_columns = true;
    return q;
}

/* Products of at least 2 * PAR_MIN_FLOPS are split across threads (below),
 * but one computed by columns: its caller splits it. */
static bool worth_threads(const GemmPlan *p) {
    return !p->by_columns && 2.0 * (double)p->M.max * (double)p->N.max * (double)p->K.max >= 2.0 * PAR_MIN_FLOPS;
}

const char *gemm_describe(const GemmPlan *p) {
    static const char *const forms[] = {"outer products", "dot products", "plain loops"};
    const char *s = p->turned ? "turned, " : "";
    bool several = false;
    for (int i = 1; i < p->nparts; i++)
        several |= !same_choice(&p->part[i].c, &p->part[0].c);
    for (int i = 0; i < p->nparts; i++) {
        const Part *q = &p->part[i];
        if (i > 0 && same_choice(&q->c, &p->part[i - 1].c))
            continue;
        if (several)
            s = arena_printf("%s%sM >= %lld: ", s, i ? "; " : "", (long long)q->lo);
        s = arena_printf("%s%s%s%s", s, forms[q->c.form], q->c.pack_a ? ", A packed" : "",
                         q->c.fill_b ? ", B filled from the image" : q->c.pack_b ? ", B packed" : "");
    }
    return worth_threads(p) ? arena_printf("%s; threads", s) : s;
}

/* ---- threads ----
 *
 * A product with enough work is split across libnnrt's threads
 * (nnrt_parallel) by units of its result (Split).  Each element of C is
 * still summed by one thread, in the order one thread would, so results do
 * not depend on the thread count.  Each thread packs the blocks of B it
 * needs into scratch of its own; the calling thread's is the node's.  A
 * thread gets at least PAR_MIN_FLOPS of the product (about 4 us at full
 * speed), the grain computed from the sizes in use, so small products and
 * small batches stay on the calling thread. */

/* The outer-product form is cut by columns when C has at least this many
 * panels of them. */
enum { MIN_PANELS = 4 };

/* How a product is cut into units of work: the outer-product form by
 * panels of nv * lanes columns (each thread packs only its own columns of
 * B) or, when C has few of those or only A is packed, by tiles of mr rows
 * (each thread packs all of B, if B is packed, and only its own rows of
 * A: cut by columns, the example's gradient of W1, A packed, had every
 * thread pack all of A, and its step at batch 32 took 1.13 times as long
 * on 2 threads); the dot form by groups of nt columns. */
typedef enum { SPLIT_COLS, SPLIT_ROWS, SPLIT_DOT } Split;

/* void task(ptr ctx, i64 begin, i64 end, ptr scratch) for nnrt_parallel,
 * calling fn with the arguments stored at ctx, a struct of types
 * tys[0 .. n) (the form's arguments and, for the outer form, the bytes
 * of B's block in the scratch), on units [begin, end) of `unit` rows or
 * columns each. */
static LLVMValueRef task_function(Gemm *g, LLVMValueRef fn, LLVMTypeRef *tys, int n, int unit, Split split) {
    CG *cg = g->cg;
    size_t len;
    static const char *const how[] = {"cols", "rows", "cols"};
    const char *name = arena_printf("%s.task.%s", LLVMGetValueName2(fn, &len), how[split]);
    LLVMValueRef task = LLVMGetNamedFunction(cg->mod, name);
    if (task)
        return task;
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(g->b);
    LLVMTypeRef st = LLVMStructTypeInContext(cg->ctx, tys, (unsigned)n, 0);
    LLVMTypeRef targs[4] = {cg->ptr, cg->i64, cg->i64, cg->ptr};
    task = new_function(g, name, targs, 4);
    LLVMValueRef ctx = LLVMGetParam(task, 0), scratch = LLVMGetParam(task, 3);
    LLVMValueRef first = mul(g, LLVMGetParam(task, 1), unit), last = mul(g, LLVMGetParam(task, 2), unit);
    LLVMValueRef v[OUTER_NARGS];
    for (int k = 0; k < n; k++)
        v[k] = LLVMBuildLoad2(g->b, tys[k], LLVMBuildStructGEP2(g->b, st, ctx, (unsigned)k, ""), "");
    LLVMValueRef null = LLVMConstPointerNull(cg->ptr);
    if (split == SPLIT_DOT) {
        /* columns [first, last) of N: B's and C's first columns move
         * (a filled B's rows of the windows), with this thread's scratch */
        LLVMValueRef cols = sub(g, umin(g, last, v[1]), first);
        v[5] = at(g, v[5], mulv(g, first, v[6]));
        v[7] = at(g, v[7], first);
        v[1] = cols;
        v[DA_SCRATCH] = scratch;
        v[DA_JBASE] = add(g, v[DA_JBASE], first);
        call(g, fn, v, n);
    } else {
        /* this thread's scratch, then its rows or columns */
        LLVMValueRef bp = v[OA_BP], ap = v[OA_AP], bbytes = v[OA_ROW0];
        v[OA_BP] = LLVMBuildSelect(g->b, LLVMBuildIsNull(g->b, bp, ""), null, scratch, "");
        v[OA_AP] = LLVMBuildSelect(g->b, LLVMBuildIsNull(g->b, ap, ""), null,
                                   LLVMBuildGEP2(g->b, cg->i8, scratch, &bbytes, 1, ""), "");
        bool rows = split == SPLIT_ROWS;
        v[OA_ROW0] = rows ? first : i64c(g, 0);
        v[OA_ROW1] = rows ? umin(g, last, v[OA_M]) : v[OA_M];
        v[OA_COL0] = rows ? i64c(g, 0) : first;
        v[OA_COL1] = rows ? v[OA_N] : umin(g, last, v[OA_N]);
        call(g, fn, v, OUTER_NARGS);
    }
    LLVMBuildRetVoid(g->b);
    LLVMPositionBuilderAtEnd(g->b, saved);
    return task;
}

/* Units of `unit` in extent n, the last one possibly short. */
static LLVMValueRef units_of(Gemm *g, LLVMValueRef n, int64_t unit) {
    return LLVMBuildUDiv(g->b, add(g, n, i64c(g, unit - 1)), i64c(g, unit), "");
}

/* Store the n values v into a struct of types tys on the stack of the
 * function being emitted (allocated at its entry), and return it. */
static LLVMValueRef stack_struct(Gemm *g, LLVMTypeRef *tys, LLVMValueRef *v, int n) {
    CG *cg = g->cg;
    LLVMTypeRef st = LLVMStructTypeInContext(cg->ctx, tys, (unsigned)n, 0);
    LLVMValueRef p = cg_entry_alloca(cg, st, "gemm_task");
    for (int k = 0; k < n; k++)
        LLVMBuildStore(g->b, v[k], LLVMBuildStructGEP2(g->b, st, p, (unsigned)k, ""));
    return p;
}

/* nnrt_parallel(task, ctx, units, grain, scratch_bytes, scratch), the grain
 * such that a thread gets at least PAR_MIN_FLOPS, flops_per_unit (an i64
 * value) each. */
static void parallel_call(Gemm *g, LLVMValueRef task, LLVMValueRef ctx, LLVMValueRef units,
                          LLVMValueRef flops_per_unit, size_t scratch_bytes, LLVMValueRef scratch) {
    LLVMValueRef grain = LLVMBuildUDiv(g->b, add(g, flops_per_unit, i64c(g, PAR_MIN_FLOPS - 1)), flops_per_unit, "");
    cg_parallel(g->cg, task, ctx, units, grain, scratch_bytes, scratch);
}

/* ---- the product ---- */

/* Element 0 of a value with a layout (cg_elem_ptr knows where the layout's
 * base is: an entry point's argument or an outlined kernel's). */
static LLVMValueRef operand_ptr(CG *cg, const Layout *l, DType dt) { return cg_elem_ptr(cg, l, dt, 0, NULL); }

/* The tile of the outer-product kernel: mr rows of A by nv vectors of B;
 * with few rows, more vectors per row, to keep enough sums in flight.  A
 * fixed M is cut into tiles of balanced heights: M = 16 runs two tiles of
 * 8 rows, where tiles of 12 would compute 24 (the last tile is moved up to
 * end at row M). */
static void choose_tile(const Gemm *g, int64_t M, bool fixed, int64_t N, int *mrp, int *nvp) {
    int mr = g->tg.nregs >= 32 ? 12 : 6, nv = 2;
    if (fixed && M > mr)
        mr = (int)cdiv(M, cdiv(M, mr));
    if (M < mr) {
        mr = (int)M;
        nv = cdiv(MIN_ACC, mr) > nv ? (int)cdiv(MIN_ACC, mr) : nv;
    }
    if (nv > cdiv(N, g->lanes))
        nv = (int)cdiv(N, g->lanes);
    if (nv * g->lanes * g->esize > PANEL_BYTES)
        nv = PANEL_BYTES / (g->lanes * g->esize);
    if (mr * nv > MAX_ACC) {
        fprintf(stderr, "nnc: internal error: a %dx%d gemm tile\n", mr, nv);
        abort();
    }
    *mrp = mr;
    *nvp = nv;
}

static bool same_code(const Part *x, const Part *y) {
    return same_choice(&x->c, &y->c) && x->mr == y->mr && x->nv == y->nv;
}

/* The operands of a product, as its forms take them. */
typedef struct Operands {
    Extent M, N, K;
    LLVMValueRef m, n, k;       /* the extents in use */
    LLVMValueRef A, B, C;
    int64_t sa[2], sb[2];
    bool turned;
    bool threads;               /* split across threads (worth_threads) */
    LLVMValueRef fill, fill_args;   /* B is ST_WINDOWS: cg_window_fill's function, or null */
    bool fill_t;                /* B is the windows' transpose */
    const Columns *cols;        /* only these columns, into their own C (cg_matmul_columns); or NULL */
} Operands;

/* The epilogue over the whole of C, after the product. */
static void epilogue_whole(CG *cg, Node *n, LLVMValueRef epi, LLVMValueRef epi_args) {
    LLVMValueRef whole[5] = {epi_args, cg_i64(cg, 0), cg_i64(cg, 0), cg_extent(cg, &n->shape, 0),
                             cg_extent(cg, &n->shape, 1)};
    LLVMBuildCall2(cg->b, cg_epilogue_type(cg), epi, whole, 5, "");
}

/* One part's code: the product, and the epilogue (epi, with epi_args) on
 * each tile when the form has tiles, else on the whole of C after it. */
static void product_part(Gemm *g, Node *n, const Part *p, const Operands *o, LLVMValueRef epi, LLVMValueRef epi_args) {
    CG *cg = g->cg;
    LLVMValueRef null = LLVMConstPointerNull(cg->ptr);
    bool tiled = false;
    if (p->c.form == FORM_DOT) {
        LLVMValueRef scratch = p->c.fill_b ? cg_scratch(cg, n) : null;
        LLVMValueRef args[DOT_NARGS] = {o->m, o->n, o->k, o->A, i64c(g, o->sa[0]), o->B, i64c(g, o->sb[1]),
                                        o->C, i64c(g, o->N.max), o->fill, o->fill_args, scratch, i64c(g, 0)};
        LLVMValueRef dot = dot_function(g, p->mr, p->nv);
        if (o->threads) {
            LLVMTypeRef tys[DOT_NARGS];
            dot_arg_types(g, tys);
            LLVMValueRef ctx = stack_struct(g, tys, args, DOT_NARGS);
            parallel_call(g, task_function(g, dot, tys, DOT_NARGS, p->nv, SPLIT_DOT), ctx, units_of(g, o->n, p->nv),
                          mul(g, mulv(g, o->m, o->k), 2 * p->nv), choice_bytes(&p->c, 0, 0, 0), scratch);
        } else {
            call(g, dot, args, DOT_NARGS);
        }
    } else {
        /* The node's scratch (plan.c): B's block, then A's tile. */
        int64_t bbytes = p->c.pack_b ? (int64_t)pack_b_bytes(o->N.max, o->K.max, (size_t)g->esize) : 0;
        LLVMValueRef scratch = o->cols ? o->cols->scratch : cg_scratch(cg, n);
        LLVMValueRef bp = p->c.pack_b ? scratch : null;
        LLVMValueRef ap = p->c.pack_a ? LLVMBuildGEP2(cg->b, cg->i8, scratch, (LLVMValueRef[]){i64c(g, bbytes)}, 1, "") : null;
        PackB packb = !p->c.pack_b ? PACK_NONE : o->sb[1] == 1 ? PACK_ROWS : o->sb[0] == 1 ? PACK_COLS : PACK_ANY;
        /* A turned product's tiles are tiles of C.T: the epilogue runs after. */
        tiled = epi && !o->turned;
        LLVMValueRef args[OUTER_NARGS] = {o->m, o->n, o->k, o->A, i64c(g, o->sa[0]), i64c(g, o->sa[1]),
                                          o->B, i64c(g, o->sb[0]), i64c(g, o->sb[1]), o->C, i64c(g, o->N.max),
                                          bp, ap, i64c(g, block_size(o->K.max, KC, 1)),
                                          i64c(g, block_size(o->N.max, NC_BYTES / g->esize, (int64_t)p->nv * g->lanes)),
                                          i32c(g, packb), LLVMConstInt(cg->i1, p->c.pack_a, 0),
                                          tiled ? epi : null, tiled ? epi_args : null, o->fill, o->fill_args,
                                          LLVMConstInt(cg->i1, o->fill_t, 0), i64c(g, 0), o->m, i64c(g, 0), o->n};
        if (o->cols) {
            args[OA_LDC] = o->cols->ldc;
            args[OA_COL0] = o->cols->col0;
            args[OA_COL1] = o->cols->col1;
        }
        LLVMValueRef outer = outer_function(g, p->mr, p->nv);
        if (o->threads) {
            /* The struct holds the arguments but the ranges, and in the
             * first range's place the bytes of B's block, where A's tile
             * starts in the scratch. */
            LLVMTypeRef tys[OUTER_NARGS];
            outer_arg_types(g, tys);
            args[OA_ROW0] = i64c(g, bbytes);
            LLVMValueRef ctx = stack_struct(g, tys, args, OA_ROW1);
            int64_t w = (int64_t)p->nv * g->lanes;
            Split split = cdiv(o->N.max, w) >= MIN_PANELS && (p->c.pack_b || !p->c.pack_a) ? SPLIT_COLS : SPLIT_ROWS;
            int unit = split == SPLIT_COLS ? (int)w : p->mr;
            LLVMValueRef units = units_of(g, split == SPLIT_COLS ? o->n : o->m, unit);
            LLVMValueRef other = split == SPLIT_COLS ? o->m : o->n;
            parallel_call(g, task_function(g, outer, tys, OA_ROW1, unit, split), ctx, units,
                          mul(g, mulv(g, other, o->k), 2 * unit),
                          choice_bytes(&p->c, o->N.max, o->K.max, (size_t)g->esize), scratch);
        } else {
            call(g, outer, args, OUTER_NARGS);
        }
    }
    if (epi && !tiled)
        epilogue_whole(cg, n, epi, epi_args);
}

/* The product's code for the target tg, its functions compiled for cpu
 * (NULL: the module's). */
static void emit_product(CG *cg, Node *n, const Layout *out, Target tg, const char *cpu, LLVMValueRef epi,
                         LLVMValueRef epi_args, LLVMValueRef fill, LLVMValueRef fill_args, const Columns *cols) {
    const GemmPlan *gp = cg->plan->slot[n->id].gemm;
    Gemm g = {.cg = cg, .b = cg->b, .dt = n->dt, .t = cg_type(cg, n->dt), .tg = tg, .cpu = cpu};
    g.esize = (int)dtype_size(n->dt);
    g.lanes = g.tg.vbytes / g.esize;
    g.vt = LLVMVectorType(g.t, (unsigned)g.lanes);
    /* Each part's tile; adjacent parts with the same code are one. */
    Part part[MAX_PARTS];
    int kept = 0;
    for (int i = 0; i < gp->nparts; i++) {
        Part p = gp->part[i];
        if (p.c.form == FORM_OUTER)
            choose_tile(&g, p.lo, !gp->M.dyn, gp->N.max, &p.mr, &p.nv);
        if (p.c.form == FORM_DOT) {
            /* With 32 registers, 4 x 6 sums load A's rows (which a long K
             * streams from L2 for every group of columns) a third fewer
             * times than 3 x 4: VGG's weight gradient took 8% less time. */
            p.mr = p.lo == 1 ? 1 : p.lo == 2 ? 2 : p.lo == 3 || g.tg.nregs < 32 ? 3 : 4;
            p.nv = p.mr == 1 ? 8 : p.mr == 2 ? 6 : p.mr == 3 ? 4 : 6;
        }
        if (kept == 0 || !same_code(&part[kept - 1], &p))
            part[kept++] = p;
    }
    Node *a = n->in[0], *b = n->in[1];
    const Slot *sa = &cg->plan->slot[a->id], *sb = &cg->plan->slot[b->id];
    Operands o = {.M = gp->M, .N = gp->N, .K = gp->K, .turned = gp->turned, .threads = worth_threads(gp),
                  .cols = cols};
    memcpy(o.sa, gp->sa, sizeof o.sa);
    memcpy(o.sb, gp->sb, sizeof o.sb);
    Extent *ext[3] = {&o.M, &o.N, &o.K};
    LLVMValueRef *val[3] = {&o.m, &o.n, &o.k};
    for (int i = 0; i < 3; i++)
        *val[i] = !ext[i]->dyn ? cg_i64(cg, ext[i]->max)
                  : ext[i]->per == 1 ? cg->dimval[ext[i]->dyn - 1]
                  : LLVMBuildNUWMul(cg->b, cg->dimval[ext[i]->dyn - 1], cg_i64(cg, ext[i]->per), "");
    o.A = operand_ptr(cg, o.turned ? &sb->lay : &sa->lay, n->dt);
    /* windows have no memory to point at (not turned: gemm_fills_b) */
    o.B = fill ? LLVMConstPointerNull(cg->ptr) : operand_ptr(cg, o.turned ? &sa->lay : &sb->lay, n->dt);
    o.fill = fill ? fill : LLVMConstPointerNull(cg->ptr);
    o.fill_args = fill ? fill_args : LLVMConstPointerNull(cg->ptr);
    o.fill_t = b->op != OP_IM2COL;
    o.C = cols ? cols->c : operand_ptr(cg, out, n->dt);
    /* if (m < part[1].lo) part 0 else if (m < part[2].lo) part 1 ... */
    If branch[MAX_PARTS];
    for (int i = 0; i < kept; i++) {
        if (i + 1 < kept)
            if_open(&g, &branch[i], ult(&g, o.m, i64c(&g, part[i + 1].lo)));
        product_part(&g, n, &part[i], &o, epi, epi_args);
        if (i + 1 < kept)
            if_else(&g, &branch[i]);
    }
    for (int i = kept - 2; i >= 0; i--)
        if_close(&g, &branch[i]);
}

/* The product n into out, as the plan chose, with the node's epilogue if
 * it has one. */
void cg_matmul(CG *cg, Node *n, const Layout *out) {
    LLVMValueRef epi = NULL, epi_args = NULL, fill = NULL, fill_args = NULL;
    const Slot *so = &cg->plan->slot[n->id];
    if (so->conv_direct) {
        cg_conv_direct(cg, n, out);
        return;
    }
    if (so->epilogue)
        epi = cg_epilogue(cg, n, &epi_args);
    if (cg->plan->slot[n->in[1]->id].st == ST_WINDOWS)
        fill = cg_window_fill(cg, cg_windows(n->in[1]), &fill_args);
    const GemmPlan *gp = so->gemm;
    if (gp->part[0].c.form == FORM_NAIVE) {
        naive(cg, n, out);
        if (epi)
            epilogue_whole(cg, n, epi, epi_args);
        return;
    }
    if (!cg->dispatch_isa) {
        emit_product(cg, n, out, target_of(cg), NULL, epi, epi_args, fill, fill_args, NULL);
        return;
    }
    /* if (level >= 4) x86-64-v4 else if (level >= 3) x86-64-v3 else baseline */
    Gemm g = {.cg = cg, .b = cg->b};
    LLVMValueRef level = cg_cpu_level(cg);
    If branch[CG_NLEVELS];
    for (int i = 0; i < CG_NLEVELS; i++) {
        const IsaLevel *l = &cg_levels[i];
        if (i + 1 < CG_NLEVELS)
            if_open(&g, &branch[i], LLVMBuildICmp(cg->b, LLVMIntSGE, level, i32c(&g, l->level), ""));
        emit_product(cg, n, out, (Target){l->vbytes, l->nregs}, l->cpu, epi, epi_args, fill, fill_args, NULL);
        if (i + 1 < CG_NLEVELS)
            if_else(&g, &branch[i]);
    }
    for (int i = CG_NLEVELS - 2; i >= 0; i--)
        if_close(&g, &branch[i]);
}

void cg_matmul_columns(CG *cg, Node *n, const Columns *cols) {
    const IsaLevel *l = cg_level_of(cg->fn);
    emit_product(cg, n, NULL, l ? (Target){l->vbytes, l->nregs} : target_of(cg), l ? l->cpu : NULL, NULL, NULL, NULL,
                 NULL, cols);
}
