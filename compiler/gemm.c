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
 * AVX-512: 16; f64 half as many).  Kernels are internal functions of the
 * module, one per tile shape, shared by every product; the loops around
 * them have static trip counts.
 *
 * Determinism: the order of the additions into each element of C is fixed
 * by the shapes and the target alone.  In the outer-product form each
 * element is summed over p in increasing order, in blocks of kc each summed
 * from zero and added to C in block order; in the dot form lane l sums the
 * p = l (mod lanes) in increasing order, and the lanes are added by halves.
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
static Target target_of(CG *cg) {
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
    char *triple = LLVMGetTargetMachineTriple(cg->tm);
    char *cpu = LLVMGetTargetMachineCPU(cg->tm);
    char *fs = LLVMGetTargetMachineFeatureString(cg->tm);
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

/* ---- blocking ---- */

/* K is cut into blocks of at most KC elements and N into blocks of at most
 * NC_BYTES of a row, so that a kc x nc block of B (at most KC * NC_BYTES,
 * 256 KB) stays in L2.  The blocks are balanced: K = 784 is cut 4 x 196,
 * not 3 x 256 + 16. */
enum { KC = 256, NC_BYTES = 1024 };

/* A packed panel is at most PANEL_BYTES of a row of B wide: the widest
 * kernel packs 2 AVX-512 vectors.  The scratch is sized with it, so that it
 * does not depend on the target. */
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

/* A range of n cut into count blocks of size, then one block of tail
 * (0: none); size a multiple of unit unless count == 0. */
typedef struct Blocks {
    int64_t size, count, tail;
} Blocks;

static Blocks split(int64_t n, int64_t max, int64_t unit) {
    int64_t nb = cdiv(n, max);
    int64_t size = round_up(cdiv(n, nb), unit);
    Blocks b = {size, n / size, n % size};
    return b;
}

/* ---- a product, as the loops see it ---- */

/* An operand in memory: element (i, j) at ptr[i * rs + j * cs]. */
typedef struct Mat {
    LLVMValueRef ptr;
    int64_t rs, cs;
} Mat;

typedef struct Gemm {
    CG *cg;
    LLVMBuilderRef b;
    DType dt;
    LLVMTypeRef t, vt;      /* element, vector */
    int esize, lanes;
    Target tg;
    int64_t M, N, K;
    Mat A, B, C;
    /* outer-product form */
    int mr, nv;             /* the kernel of the full tiles */
    bool pack;              /* B is packed into bp */
    bool pack_a;            /* each tile of A is packed into ap */
    LLVMValueRef bp, ap;
    Blocks kb, nb;
} Gemm;

static LLVMValueRef i64c(Gemm *g, int64_t v) { return cg_i64(g->cg, v); }

static LLVMValueRef add(Gemm *g, LLVMValueRef x, LLVMValueRef y) { return LLVMBuildAdd(g->b, x, y, ""); }
static LLVMValueRef mul(Gemm *g, LLVMValueRef x, int64_t k) {
    return k == 1 ? x : LLVMBuildMul(g->b, x, i64c(g, k), "");
}

/* &p[i], p an element pointer, i an i64 index in elements. */
static LLVMValueRef at(Gemm *g, LLVMValueRef p, LLVMValueRef i) {
    return LLVMBuildGEP2(g->b, g->t, p, &i, 1, "");
}

static LLVMValueRef load_t(Gemm *g, LLVMTypeRef ty, LLVMValueRef p, int align) {
    LLVMValueRef v = LLVMBuildLoad2(g->b, ty, p, "");
    LLVMSetAlignment(v, (unsigned)align);
    return v;
}

static void store_t(Gemm *g, LLVMValueRef v, LLVMValueRef p, int align) {
    LLVMSetAlignment(LLVMBuildStore(g->b, v, p), (unsigned)align);
}

static LLVMValueRef call_intrinsic(Gemm *g, const char *name, LLVMTypeRef *tys, int ntys,
                                   LLVMValueRef *args, int nargs) {
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

/* The first n lanes on, as a constant <lanes x i1>. */
static LLVMValueRef lane_mask(Gemm *g, int n) {
    LLVMValueRef bits[64];
    for (int i = 0; i < g->lanes; i++)
        bits[i] = LLVMConstInt(g->cg->i1, i < n, 0);
    return LLVMConstVector(bits, (unsigned)g->lanes);
}

/* A vector at p of which only the first n lanes may be touched (the others
 * read as 0). */
static LLVMValueRef vload(Gemm *g, LLVMValueRef p, int n) {
    if (n >= g->lanes)
        return load_t(g, g->vt, p, g->esize);
    LLVMTypeRef tys[2] = {g->vt, g->cg->ptr};
    LLVMValueRef a[4] = {p, LLVMConstInt(g->cg->i32, (unsigned)g->esize, 0), lane_mask(g, n), LLVMConstNull(g->vt)};
    return call_intrinsic(g, "llvm.masked.load", tys, 2, a, 4);
}

static void vstore(Gemm *g, LLVMValueRef v, LLVMValueRef p, int n) {
    if (n >= g->lanes) {
        store_t(g, v, p, g->esize);
        return;
    }
    LLVMTypeRef tys[2] = {g->vt, g->cg->ptr};
    LLVMValueRef a[4] = {v, p, LLVMConstInt(g->cg->i32, (unsigned)g->esize, 0), lane_mask(g, n)};
    call_intrinsic(g, "llvm.masked.store", tys, 2, a, 4);
}

static LLVMValueRef shuffle(Gemm *g, LLVMValueRef x, LLVMValueRef y, const int *idx, int n) {
    LLVMValueRef m[64];
    for (int i = 0; i < n; i++)
        m[i] = LLVMConstInt(g->cg->i32, (unsigned)idx[i], 0);
    return LLVMBuildShuffleVector(g->b, x, y, LLVMConstVector(m, (unsigned)n), "");
}

static LLVMValueRef splat(Gemm *g, LLVMValueRef s) {
    LLVMValueRef v = LLVMBuildInsertElement(g->b, LLVMGetPoison(g->vt), s, LLVMConstInt(g->cg->i32, 0, 0), "");
    int zeros[64] = {0};
    return shuffle(g, v, LLVMGetPoison(g->vt), zeros, g->lanes);
}

/* A new function of the module: internal, with the vector width its
 * kernels use declared legal (else x86 splits 512-bit vectors in two on
 * CPUs tuned for 256). */
static void legal_width(Gemm *g, LLVMValueRef fn) {
    const char *bits = arena_printf("%d", g->tg.vbytes * 8);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateStringAttribute(g->cg->ctx, "min-legal-vector-width", 22, bits, (unsigned)strlen(bits)));
}

static LLVMValueRef kernel_function(Gemm *g, const char *name, LLVMTypeRef *args, int nargs) {
    CG *cg = g->cg;
    LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(LLVMVoidTypeInContext(cg->ctx), args, (unsigned)nargs, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, cg_attr(cg, "nounwind"));
    legal_width(g, fn);
    return fn;
}

static void call(Gemm *g, LLVMValueRef fn, LLVMValueRef *args, int n) {
    LLVMBuildCall2(g->b, LLVMGlobalGetValueType(fn), fn, args, (unsigned)n, "");
}

/* ---- loops with a trip count known only at run time (inside kernels) ---- */

typedef struct RLoop {
    LLVMBasicBlockRef head, pre;
    LLVMValueRef iv;
} RLoop;

static LLVMBasicBlockRef block(Gemm *g, LLVMValueRef fn, const char *name) {
    return LLVMAppendBasicBlockInContext(g->cg->ctx, fn, name);
}

/* ---- the outer-product micro-kernel ---- */

/* Unrolling of the loop over p inside a kernel. */
enum { UNROLL = 4 };

/* One step p of the kernel: acc[i][v] += a_i[p * csa] * b[p * rsb + v * lanes]. */
static void kernel_step(Gemm *g, int mr, int nv, int nlast, LLVMValueRef *arow, LLVMValueRef csa,
                        LLVMValueRef bptr, LLVMValueRef rsb, LLVMValueRef p, LLVMValueRef *acc) {
    LLVMValueRef bv[MAX_ACC];
    LLVMValueRef brow = at(g, bptr, LLVMBuildMul(g->b, p, rsb, ""));
    for (int v = 0; v < nv; v++)
        bv[v] = vload(g, at(g, brow, i64c(g, (int64_t)v * g->lanes)), v == nv - 1 ? nlast : g->lanes);
    LLVMValueRef aoff = LLVMBuildMul(g->b, p, csa, "");
    for (int i = 0; i < mr; i++) {
        LLVMValueRef s = splat(g, load_t(g, g->t, at(g, arow[i], aoff), g->esize));
        for (int v = 0; v < nv; v++)
            acc[i * nv + v] = fmuladd(g, s, bv[v], acc[i * nv + v]);
    }
}

/* void kernel(ptr a, i64 rsa, i64 csa, ptr b, i64 rsb, ptr c, i64 ldc, i64 kc, i1 accumulate)
 *   for i < mr, j < (nv - 1) * lanes + nlast:
 *     s = sum over p < kc, in order, of a[i*rsa + p*csa] * b[p*rsb + j]
 *     c[i*ldc + j] = accumulate ? c[i*ldc + j] + s : s
 * kc >= 1.  Lanes past nlast in the last vector are neither read nor
 * written, so B and C may end there. */
static LLVMValueRef micro_kernel(Gemm *g, int mr, int nv, int nlast) {
    CG *cg = g->cg;
    const char *name = arena_printf("nnc.gemm.%s.%dx%dx%d.%d", g->dt == DT_F64 ? "f64" : "f32", mr, nv, g->lanes, nlast);
    LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
    if (fn)
        return fn;
    LLVMTypeRef args[9] = {cg->ptr, cg->i64, cg->i64, cg->ptr, cg->i64, cg->ptr, cg->i64, cg->i64, cg->i1};
    fn = kernel_function(g, name, args, 9);
    for (int k = 0; k < 9; k++)
        if (LLVMGetTypeKind(args[k]) == LLVMPointerTypeKind)
            LLVMAddAttributeAtIndex(fn, (unsigned)k + 1, cg_attr(cg, "nocapture"));
    LLVMValueRef a = LLVMGetParam(fn, 0), rsa = LLVMGetParam(fn, 1), csa = LLVMGetParam(fn, 2);
    LLVMValueRef bptr = LLVMGetParam(fn, 3), rsb = LLVMGetParam(fn, 4), c = LLVMGetParam(fn, 5);
    LLVMValueRef ldc = LLVMGetParam(fn, 6), kc = LLVMGetParam(fn, 7), accumulate = LLVMGetParam(fn, 8);

    LLVMBasicBlockRef saved = LLVMGetInsertBlock(g->b);
    LLVMBasicBlockRef entry = block(g, fn, "entry"), body = block(g, fn, "unrolled"), mid = block(g, fn, "mid");
    LLVMBasicBlockRef rest = block(g, fn, "rest"), fin = block(g, fn, "fin");
    LLVMBasicBlockRef addc = block(g, fn, "add"), setc = block(g, fn, "set");
    int nacc = mr * nv;
    LLVMValueRef acc[MAX_ACC], arow[MAX_ACC], zero = LLVMConstNull(g->vt);

    LLVMPositionBuilderAtEnd(g->b, entry);
    for (int i = 0; i < mr; i++)
        arow[i] = at(g, a, LLVMBuildMul(g->b, rsa, i64c(g, i), ""));
    LLVMValueRef nmain = LLVMBuildAnd(g->b, kc, i64c(g, -UNROLL), "");
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntNE, nmain, i64c(g, 0), ""), body, mid);

    /* p += UNROLL while p < nmain */
    LLVMPositionBuilderAtEnd(g->b, body);
    LLVMValueRef p = LLVMBuildPhi(g->b, cg->i64, "p"), phi[MAX_ACC];
    for (int k = 0; k < nacc; k++)
        acc[k] = phi[k] = LLVMBuildPhi(g->b, g->vt, "acc");
    for (int u = 0; u < UNROLL; u++)
        kernel_step(g, mr, nv, nlast, arow, csa, bptr, rsb, LLVMBuildNUWAdd(g->b, p, i64c(g, u), ""), acc);
    LLVMValueRef pn = LLVMBuildNUWAdd(g->b, p, i64c(g, UNROLL), "");
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntULT, pn, nmain, ""), body, mid);
    LLVMValueRef z64 = i64c(g, 0);
    LLVMAddIncoming(p, &z64, &entry, 1);
    LLVMAddIncoming(p, &pn, &body, 1);
    for (int k = 0; k < nacc; k++) {
        LLVMAddIncoming(phi[k], &zero, &entry, 1);
        LLVMAddIncoming(phi[k], &acc[k], &body, 1);
    }
    LLVMValueRef after[MAX_ACC];
    memcpy(after, acc, sizeof(LLVMValueRef) * (size_t)nacc);

    /* the kc % UNROLL steps left */
    LLVMPositionBuilderAtEnd(g->b, mid);
    LLVMValueRef pm = LLVMBuildPhi(g->b, cg->i64, "p"), mphi[MAX_ACC];
    LLVMAddIncoming(pm, &z64, &entry, 1);
    LLVMAddIncoming(pm, &pn, &body, 1);
    for (int k = 0; k < nacc; k++) {
        mphi[k] = LLVMBuildPhi(g->b, g->vt, "acc");
        LLVMAddIncoming(mphi[k], &zero, &entry, 1);
        LLVMAddIncoming(mphi[k], &after[k], &body, 1);
    }
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntULT, pm, kc, ""), rest, fin);

    LLVMPositionBuilderAtEnd(g->b, rest);
    LLVMValueRef pr = LLVMBuildPhi(g->b, cg->i64, "p"), rphi[MAX_ACC];
    for (int k = 0; k < nacc; k++)
        acc[k] = rphi[k] = LLVMBuildPhi(g->b, g->vt, "acc");
    kernel_step(g, mr, nv, nlast, arow, csa, bptr, rsb, pr, acc);
    LLVMValueRef prn = LLVMBuildNUWAdd(g->b, pr, i64c(g, 1), "");
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntULT, prn, kc, ""), rest, fin);
    LLVMAddIncoming(pr, &pm, &mid, 1);
    LLVMAddIncoming(pr, &prn, &rest, 1);
    for (int k = 0; k < nacc; k++) {
        LLVMAddIncoming(rphi[k], &mphi[k], &mid, 1);
        LLVMAddIncoming(rphi[k], &acc[k], &rest, 1);
    }

    /* C = sum, or C += sum */
    LLVMPositionBuilderAtEnd(g->b, fin);
    LLVMValueRef sum[MAX_ACC];
    for (int k = 0; k < nacc; k++) {
        sum[k] = LLVMBuildPhi(g->b, g->vt, "sum");
        LLVMAddIncoming(sum[k], &mphi[k], &mid, 1);
        LLVMAddIncoming(sum[k], &acc[k], &rest, 1);
    }
    LLVMValueRef crow[MAX_ACC];
    for (int i = 0; i < mr; i++)
        crow[i] = at(g, c, LLVMBuildMul(g->b, ldc, i64c(g, i), ""));
    LLVMBuildCondBr(g->b, accumulate, addc, setc);
    for (int pass = 0; pass < 2; pass++) {
        LLVMPositionBuilderAtEnd(g->b, pass ? addc : setc);
        for (int i = 0; i < mr; i++)
            for (int v = 0; v < nv; v++) {
                int n = v == nv - 1 ? nlast : g->lanes;
                LLVMValueRef cp = at(g, crow[i], i64c(g, (int64_t)v * g->lanes));
                LLVMValueRef s = sum[i * nv + v];
                if (pass)
                    s = LLVMBuildFAdd(g->b, vload(g, cp, n), s, "");
                vstore(g, s, cp, n);
            }
        LLVMBuildRetVoid(g->b);
    }
    LLVMPositionBuilderAtEnd(g->b, saved);
    return fn;
}

/* ---- packing B ---- */

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

/* Pack rows [p0, p0 + kc) of B's columns [j0, j0 + ncols) as panels of
 * w = nv * lanes columns, panel t at bp + t * kc * w, row p of it at
 * p * w; columns past ncols are zero.  j0 + ncols <= N. */
static void pack_b(Gemm *g, LLVMValueRef p0, int64_t kc, LLVMValueRef j0, int64_t ncols, int nv) {
    CG *cg = g->cg;
    int L = g->lanes;
    int64_t w = (int64_t)nv * L, full = ncols / w, part = ncols % w;
    for (int last = 0; last < 2; last++) {
        if (last ? part == 0 : full == 0)
            continue;
        Loop lt;
        LLVMValueRef t = last ? i64c(g, full) : cg_loop_open(cg, &lt, full);
        int64_t width = last ? part : w;
        LLVMValueRef jt = add(g, j0, mul(g, t, w));
        LLVMValueRef panel = at(g, g->bp, mul(g, t, kc * w));
        if (g->B.rs == 1 && g->B.cs != 1) {
            /* Columns contiguous: lanes x lanes blocks, transposed. */
            int64_t nq = kc / L, kr = kc % L;
            for (int tail = 0; tail < 2; tail++) {
                if (tail ? kr == 0 : nq == 0)
                    continue;
                Loop lq;
                LLVMValueRef q = tail ? i64c(g, nq) : cg_loop_open(cg, &lq, nq);
                LLVMValueRef prow = mul(g, q, L);
                LLVMValueRef src = at(g, g->B.ptr, mul(g, add(g, p0, prow), g->B.rs));
                for (int v = 0; v < nv; v++) {
                    LLVMValueRef r[64];
                    for (int l = 0; l < L; l++) {
                        int64_t jl = (int64_t)v * L + l;
                        r[l] = jl < width ? vload(g, at(g, src, mul(g, add(g, jt, i64c(g, jl)), g->B.cs)), tail ? (int)kr : L)
                                          : LLVMConstNull(g->vt);
                    }
                    transpose(g, r);
                    for (int l = 0; l < (tail ? kr : L); l++)
                        store_t(g, r[l], at(g, panel, add(g, mul(g, add(g, prow, i64c(g, l)), w), i64c(g, (int64_t)v * L))), g->esize);
                }
                if (!tail)
                    cg_loop_close(cg, &lq);
            }
        } else {
            /* Rows contiguous, or any strides: a row of the panel at a time. */
            Loop lp;
            LLVMValueRef p = cg_loop_open(cg, &lp, kc);
            LLVMValueRef src = at(g, g->B.ptr, add(g, mul(g, add(g, p0, p), g->B.rs), mul(g, jt, g->B.cs)));
            LLVMValueRef dst = at(g, panel, mul(g, p, w));
            for (int v = 0; v < nv; v++) {
                int64_t n = width - (int64_t)v * L;
                n = n < 0 ? 0 : n > L ? L : n;
                LLVMValueRef x;
                if (g->B.cs == 1 || n == 0) {
                    x = n ? vload(g, at(g, src, i64c(g, (int64_t)v * L)), (int)n) : LLVMConstNull(g->vt);
                } else {
                    x = LLVMConstNull(g->vt);
                    for (int l = 0; l < n; l++) {
                        LLVMValueRef e = load_t(g, g->t, at(g, src, i64c(g, ((int64_t)v * L + l) * g->B.cs)), g->esize);
                        x = LLVMBuildInsertElement(g->b, x, e, LLVMConstInt(cg->i32, (unsigned)l, 0), "");
                    }
                }
                store_t(g, x, at(g, dst, i64c(g, (int64_t)v * L)), g->esize);
            }
            cg_loop_close(cg, &lp);
        }
        if (!last)
            cg_loop_close(cg, &lt);
    }
}

/* ---- the outer-product form: loops around the kernel ---- */

/* The tiles of rows [0, M) x columns [j0, j0 + ncols) for the K block
 * [p0, p0 + kc): full mr-row tiles then the rest, each against full
 * panels then the rest. */
static void tiles(Gemm *g, LLVMValueRef p0, int64_t kc, LLVMValueRef j0, int64_t ncols) {
    CG *cg = g->cg;
    int L = g->lanes;
    int64_t w = (int64_t)g->nv * L;
    int64_t mfull = g->M / g->mr, mpart = g->M % g->mr, nfull = ncols / w, npart = ncols % w;
    LLVMValueRef accumulate = LLVMBuildICmp(g->b, LLVMIntNE, p0, i64c(g, 0), "");
    for (int mlast = 0; mlast < 2; mlast++) {
        if (mlast ? mpart == 0 : mfull == 0)
            continue;
        Loop li;
        LLVMValueRef it = mlast ? i64c(g, mfull) : cg_loop_open(cg, &li, mfull);
        int mr = mlast ? (int)mpart : g->mr;
        LLVMValueRef i0 = mul(g, it, g->mr);
        LLVMValueRef a = at(g, g->A.ptr, add(g, mul(g, i0, g->A.rs), mul(g, p0, g->A.cs)));
        LLVMValueRef rsa = i64c(g, g->A.rs), csa = i64c(g, g->A.cs);
        if (g->pack_a) {
            /* A's columns are contiguous: copy the tile's mr x kc to ap,
             * column by column, with whole vectors that the next column
             * overwrites past mr. */
            Loop lp;
            LLVMValueRef p = cg_loop_open(cg, &lp, kc);
            LLVMValueRef src = at(g, a, mul(g, p, g->A.cs)), dst = at(g, g->ap, mul(g, p, mr));
            for (int v = 0; v * L < mr; v++) {
                int n = mr - v * L < L ? mr - v * L : L;
                store_t(g, vload(g, at(g, src, i64c(g, (int64_t)v * L)), n), at(g, dst, i64c(g, (int64_t)v * L)), g->esize);
            }
            cg_loop_close(cg, &lp);
            a = g->ap;
            rsa = i64c(g, 1);
            csa = i64c(g, mr);
        }
        for (int nlast = 0; nlast < 2; nlast++) {
            if (nlast ? npart == 0 : nfull == 0)
                continue;
            Loop lj;
            LLVMValueRef jt = nlast ? i64c(g, nfull) : cg_loop_open(cg, &lj, nfull);
            int nv = nlast ? (int)cdiv(npart, L) : g->nv;
            int tail = nlast ? (int)(npart - (int64_t)(nv - 1) * L) : L;
            LLVMValueRef jl = mul(g, jt, w);   /* column in the block */
            LLVMValueRef bsrc, rsb;
            if (g->pack) {
                bsrc = at(g, g->bp, mul(g, jl, kc));
                rsb = i64c(g, w);
            } else {
                bsrc = at(g, g->B.ptr, add(g, mul(g, p0, g->B.rs), add(g, j0, jl)));
                rsb = i64c(g, g->B.rs);
            }
            LLVMValueRef cptr = at(g, g->C.ptr, add(g, mul(g, i0, g->C.rs), add(g, j0, jl)));
            LLVMValueRef args[9] = {a, rsa, csa, bsrc, rsb, cptr,
                                    i64c(g, g->C.rs), i64c(g, kc), accumulate};
            call(g, micro_kernel(g, mr, nv, tail), args, 9);
            if (!nlast)
                cg_loop_close(cg, &lj);
        }
        if (!mlast)
            cg_loop_close(cg, &li);
    }
}

/* for each N block, for each K block: pack it, then its tiles. */
static void outer_products(Gemm *g) {
    CG *cg = g->cg;
    for (int nlast = 0; nlast < 2; nlast++) {
        if (nlast ? g->nb.tail == 0 : g->nb.count == 0)
            continue;
        Loop ln;
        LLVMValueRef jb = nlast ? i64c(g, g->nb.count) : cg_loop_open(cg, &ln, g->nb.count);
        int64_t ncols = nlast ? g->nb.tail : g->nb.size;
        LLVMValueRef j0 = mul(g, jb, g->nb.size);
        for (int klast = 0; klast < 2; klast++) {
            if (klast ? g->kb.tail == 0 : g->kb.count == 0)
                continue;
            Loop lk;
            LLVMValueRef kbi = klast ? i64c(g, g->kb.count) : cg_loop_open(cg, &lk, g->kb.count);
            int64_t kc = klast ? g->kb.tail : g->kb.size;
            LLVMValueRef p0 = mul(g, kbi, g->kb.size);
            if (g->pack)
                pack_b(g, p0, kc, j0, ncols, g->nv);
            tiles(g, p0, kc, j0, ncols);
            if (!klast)
                cg_loop_close(cg, &lk);
        }
        if (!nlast)
            cg_loop_close(cg, &ln);
    }
}

/* ---- the dot-product form ---- */

/* A sum of the lanes of v, by halves: a fixed order. */
static LLVMValueRef reduce(Gemm *g, LLVMValueRef v) {
    int idx[64];
    for (int h = g->lanes / 2; h >= 1; h /= 2) {
        for (int k = 0; k < h; k++)
            idx[k] = k;
        LLVMValueRef lo = shuffle(g, v, LLVMGetPoison(LLVMTypeOf(v)), idx, h);
        for (int k = 0; k < h; k++)
            idx[k] = h + k;
        LLVMValueRef hi = shuffle(g, v, LLVMGetPoison(LLVMTypeOf(v)), idx, h);
        v = LLVMBuildFAdd(g->b, lo, hi, "");
    }
    return LLVMBuildExtractElement(g->b, v, LLVMConstInt(g->cg->i32, 0, 0), "");
}

/* void dot(ptr a, i64 rsa, ptr b, i64 csb, ptr c, i64 ldc)
 *   for i < mt, j < nt: c[i*ldc + j] = sum over p < K of a[i*rsa + p] * b[j*csb + p]
 * each sum taken lanes-wise in order of p, then reduced by halves. */
static LLVMValueRef dot_kernel(Gemm *g, int mt, int nt) {
    CG *cg = g->cg;
    const char *name = arena_printf("nnc.dot.%s.%dx%dx%d.%lld", g->dt == DT_F64 ? "f64" : "f32", mt, nt, g->lanes,
                                    (long long)g->K);
    LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
    if (fn)
        return fn;
    LLVMTypeRef args[6] = {cg->ptr, cg->i64, cg->ptr, cg->i64, cg->ptr, cg->i64};
    fn = kernel_function(g, name, args, 6);
    LLVMValueRef a = LLVMGetParam(fn, 0), rsa = LLVMGetParam(fn, 1), bptr = LLVMGetParam(fn, 2);
    LLVMValueRef csb = LLVMGetParam(fn, 3), c = LLVMGetParam(fn, 4), ldc = LLVMGetParam(fn, 5);
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(g->b);
    LLVMValueRef saved_fn = cg->fn;
    cg->fn = fn;
    LLVMPositionBuilderAtEnd(g->b, block(g, fn, "entry"));
    int L = g->lanes, nacc = mt * nt;
    LLVMValueRef arow[MAX_ACC], bcol[MAX_ACC], acc[MAX_ACC];
    for (int i = 0; i < mt; i++)
        arow[i] = at(g, a, LLVMBuildMul(g->b, rsa, i64c(g, i), ""));
    for (int j = 0; j < nt; j++)
        bcol[j] = at(g, bptr, LLVMBuildMul(g->b, csb, i64c(g, j), ""));
    for (int k = 0; k < nacc; k++)
        acc[k] = LLVMConstNull(g->vt);
    int64_t nq = g->K / L, kr = g->K % L;
    if (nq) {
        LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->b);
        Loop lq;
        LLVMValueRef q = cg_loop_open(cg, &lq, nq), phi[MAX_ACC];
        for (int k = 0; k < nacc; k++) {
            phi[k] = LLVMBuildPhi(g->b, g->vt, "acc");
            LLVMAddIncoming(phi[k], &acc[k], &pre, 1);
            acc[k] = phi[k];
        }
        LLVMValueRef off = mul(g, q, L), va[MAX_ACC];
        for (int i = 0; i < mt; i++)
            va[i] = load_t(g, g->vt, at(g, arow[i], off), g->esize);
        for (int j = 0; j < nt; j++) {
            LLVMValueRef vb = load_t(g, g->vt, at(g, bcol[j], off), g->esize);
            for (int i = 0; i < mt; i++)
                acc[i * nt + j] = fmuladd(g, va[i], vb, acc[i * nt + j]);
        }
        LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->b);
        for (int k = 0; k < nacc; k++)
            LLVMAddIncoming(phi[k], &acc[k], &latch, 1);
        cg_loop_close(cg, &lq);
    }
    if (kr) {
        LLVMValueRef off = i64c(g, nq * L), va[MAX_ACC];
        for (int i = 0; i < mt; i++)
            va[i] = vload(g, at(g, arow[i], off), (int)kr);
        for (int j = 0; j < nt; j++) {
            LLVMValueRef vb = vload(g, at(g, bcol[j], off), (int)kr);
            for (int i = 0; i < mt; i++)
                acc[i * nt + j] = fmuladd(g, va[i], vb, acc[i * nt + j]);
        }
    }
    for (int i = 0; i < mt; i++) {
        LLVMValueRef crow = at(g, c, LLVMBuildMul(g->b, ldc, i64c(g, i), ""));
        for (int j = 0; j < nt; j++)
            store_t(g, reduce(g, acc[i * nt + j]), at(g, crow, i64c(g, j)), g->esize);
    }
    LLVMBuildRetVoid(g->b);
    cg->fn = saved_fn;
    LLVMPositionBuilderAtEnd(g->b, saved);
    return fn;
}

/* Tiles of mt x nt sums over the whole of C: for each nt columns of B
 * (kept in L1), every mt rows of A. */
static void dot_products(Gemm *g) {
    CG *cg = g->cg;
    int mt = g->M == 1 ? 1 : g->M == 2 ? 2 : 3;
    int nt = mt == 1 ? 8 : mt == 2 ? 6 : 4;
    int64_t mfull = g->M / mt, mpart = g->M % mt, nfull = g->N / nt, npart = g->N % nt;
    for (int nlast = 0; nlast < 2; nlast++) {
        if (nlast ? npart == 0 : nfull == 0)
            continue;
        Loop lj;
        LLVMValueRef j0 = mul(g, nlast ? i64c(g, nfull) : cg_loop_open(cg, &lj, nfull), nt);
        for (int mlast = 0; mlast < 2; mlast++) {
            if (mlast ? mpart == 0 : mfull == 0)
                continue;
            Loop li;
            LLVMValueRef i0 = mul(g, mlast ? i64c(g, mfull) : cg_loop_open(cg, &li, mfull), mt);
            LLVMValueRef args[6] = {
                at(g, g->A.ptr, mul(g, i0, g->A.rs)), i64c(g, g->A.rs),
                at(g, g->B.ptr, mul(g, j0, g->B.cs)), i64c(g, g->B.cs),
                at(g, g->C.ptr, add(g, mul(g, i0, g->C.rs), j0)), i64c(g, g->C.rs)};
            call(g, dot_kernel(g, mlast ? (int)mpart : mt, nlast ? (int)npart : nt), args, 6);
            if (!mlast)
                cg_loop_close(cg, &li);
        }
        if (!nlast)
            cg_loop_close(cg, &lj);
    }
}

/* ---- the plain loops, for operands without a layout ---- */

static void naive(CG *cg, Node *n, const Layout *out) {
    Node *a = n->in[0], *b = n->in[1];
    int64_t M = n->shape.d[0], N = n->shape.d[1], K = a->shape.d[1];
    LLVMTypeRef t = cg_type(cg, n->dt);
    Loop li, lj, lp;
    LLVMValueRef ij[2];
    ij[0] = cg_loop_open(cg, &li, M);
    ij[1] = cg_loop_open(cg, &lj, N);
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(cg->b);
    LLVMValueRef ip[2] = {ij[0], cg_loop_open(cg, &lp, K)};
    LLVMValueRef acc = LLVMBuildPhi(cg->b, t, "acc");
    LLVMValueRef pj[2] = {ip[1], ij[1]};
    LLVMValueRef prod = LLVMBuildFMul(cg->b, cg_value_at(cg, a, ip), cg_value_at(cg, b, pj), "");
    LLVMValueRef sum = LLVMBuildFAdd(cg->b, acc, prod, "");
    LLVMValueRef zero = LLVMConstReal(t, 0);
    LLVMAddIncoming(acc, &zero, &pre, 1);
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(cg->b);
    LLVMAddIncoming(acc, &sum, &latch, 1);
    cg_loop_close(cg, &lp);
    LLVMBuildStore(cg->b, sum, cg_elem_ptr(cg, out, n->dt, 2, ij));
    cg_loop_close(cg, &lj);
    cg_loop_close(cg, &li);
}

/* ---- choosing the form ---- */

static bool has_layout(const Slot *s) { return s->st == ST_LEAF || s->st == ST_VIEW || s->st == ST_BUFFER; }

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

/* A product with C a column is turned around (C.T = B.T @ A.T, the same
 * memory): the forms below vectorize along N. */
static void turn(int64_t *M, int64_t *N, int64_t sa[2], int64_t sb[2]) {
    if (*N != 1 || *M == 1)
        return;
    int64_t a0 = sa[0], a1 = sa[1];
    sa[0] = sb[1];
    sa[1] = sb[0];
    sb[0] = a1;
    sb[1] = a0;
    *N = *M;
    *M = 1;
}

typedef enum { FORM_OUTER, FORM_DOT, FORM_NAIVE } Form;

typedef struct Choice {
    Form form;
    bool pack_b, pack_a;
} Choice;

/* How to compute a (turned) product with these shapes and strides.
 * - The dot form for few rows of C when both operands are contiguous
 *   along K and B's rows are not (x @ W.T at a small batch).
 * - Otherwise outer products, packing B when its rows are not contiguous,
 *   when they are a multiple of 2 KB apart (each row of a block would fall
 *   in the same few cache sets), or when B is large and C tall.
 * - Tiles of A are packed when A's columns, not its rows, are contiguous
 *   (A = X.T): in place, mr x kc of it would spread over kc cache lines. */
static Choice choose(int64_t M, int64_t N, int64_t K, size_t esize, const int64_t *sa, const int64_t *sb) {
    Choice c = {FORM_OUTER, false, false};
    if (M <= DOT_MAX_M && !rows_contiguous(N, sb) && dot_ok(K, sa, sb)) {
        c.form = FORM_DOT;
        return c;
    }
    if (!rows_contiguous(N, sb))
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
    Blocks kb = split(K, KC, 1);
    int64_t ncmax = N < NC_BYTES / (int64_t)esize ? N : NC_BYTES / (int64_t)esize;
    int64_t w = PANEL_BYTES / (int64_t)esize;
    return (size_t)round_up((int64_t)esize * kb.size * (round_up(ncmax, w) + w), 64);
}

/* The scratch for a tile of A, and a vector's overhang. */
static size_t pack_a_bytes(size_t esize) { return (size_t)round_up((int64_t)esize * (MAX_MR * KC + 64), 64); }

static size_t choice_bytes(const Choice *c, int64_t N, int64_t K, size_t esize) {
    return (c->pack_b ? pack_b_bytes(N, K, esize) : 0) + (c->pack_a ? pack_a_bytes(esize) : 0);
}

/* With less scratch than the choice needs (a plan that gave none): no
 * packing of A, then none of B, which the dot form may do without. */
static void make_do(Choice *c, int64_t N, int64_t K, size_t esize, const int64_t *sa, const int64_t *sb, size_t have) {
    if (choice_bytes(c, N, K, esize) <= have)
        return;
    c->pack_a = false;
    if (choice_bytes(c, N, K, esize) <= have || !c->pack_b)
        return;
    c->pack_b = false;
    if (!rows_contiguous(N, sb))
        c->form = dot_ok(K, sa, sb) ? FORM_DOT : FORM_NAIVE;
}

/* The layout the plan will give an operand, when it can be told from the
 * graph: a leaf or a buffer is contiguous, a transpose swaps strides. */
static bool predict_strides(const Node *x, int64_t st[2]) {
    while (x->op == OP_DETACH)
        x = x->in[0];
    if (x->op == OP_TRANSPOSE) {
        int64_t in[2];
        if (!predict_strides(x->in[0], in))
            return false;
        st[0] = in[x->attr[0]];
        st[1] = in[x->attr[1]];
        return true;
    }
    if (op_info[x->op].kind == K_VIEW || op_info[x->op].kind == K_CONST)
        return false;
    st[0] = x->shape.d[1];
    st[1] = 1;
    return true;
}

size_t gemm_scratch_bytes(const Node *n) {
    const Node *a = n->in[0], *b = n->in[1];
    int64_t M = n->shape.d[0], N = n->shape.d[1], K = a->shape.d[1];
    size_t esize = dtype_size(n->dt);
    int64_t sa[2], sb[2], ra[2], rb[2];
    if (!predict_strides(a, ra) || !predict_strides(b, rb)) {
        /* Unknown strides: room for anything. */
        Choice all = {FORM_OUTER, true, true};
        return choice_bytes(&all, M > N ? M : N, K, esize);
    }
    strides_of(&a->shape, ra, sa);
    strides_of(&b->shape, rb, sb);
    turn(&M, &N, sa, sb);
    Choice c = choose(M, N, K, esize, sa, sb);
    return choice_bytes(&c, N, K, esize);
}

/* Element 0 of a value with a layout (cg_elem_ptr knows where the layout's
 * base is: an entry point's argument or an outlined kernel's). */
static LLVMValueRef operand_ptr(CG *cg, const Layout *l, DType dt) { return cg_elem_ptr(cg, l, dt, 0, NULL); }

/* The tile of the outer-product kernel: mr rows of A by nv vectors of B. */
static void choose_tile(Gemm *g) {
    int mr = g->tg.nregs >= 32 ? 12 : 6, nv = 2;
    if (g->M < mr) {
        /* Few rows: more vectors per row, to keep enough sums in flight. */
        mr = (int)g->M;
        nv = cdiv(MIN_ACC, mr) > nv ? (int)cdiv(MIN_ACC, mr) : nv;
    }
    int64_t panels = cdiv(g->N, g->lanes);
    if (nv > panels)
        nv = (int)panels;
    if (g->pack && nv * g->lanes * g->esize > PANEL_BYTES)
        nv = PANEL_BYTES / (g->lanes * g->esize);
    g->mr = mr;
    g->nv = nv;
    if (mr * nv > MAX_ACC) {
        fprintf(stderr, "nnc: internal error: a %dx%d gemm tile\n", mr, nv);
        abort();
    }
}

void cg_matmul(CG *cg, Node *n, const Layout *out) {
    Node *a = n->in[0], *b = n->in[1];
    const Slot *sa = &cg->plan->slot[a->id], *sb = &cg->plan->slot[b->id], *so = &cg->plan->slot[n->id];
    if (!has_layout(sa) || !has_layout(sb) || !layout_contiguous(out, &n->shape)) {
        naive(cg, n, out);
        return;
    }
    Gemm g = {.cg = cg, .b = cg->b, .dt = n->dt, .t = cg_type(cg, n->dt), .tg = target_of(cg)};
    g.esize = (int)dtype_size(n->dt);
    g.lanes = g.tg.vbytes / g.esize;
    g.vt = LLVMVectorType(g.t, (unsigned)g.lanes);
    g.M = n->shape.d[0];
    g.N = n->shape.d[1];
    g.K = a->shape.d[1];
    int64_t ast[2], bst[2];
    strides_of(&a->shape, sa->lay.stride, ast);
    strides_of(&b->shape, sb->lay.stride, bst);
    turn(&g.M, &g.N, ast, bst);
    bool turned = g.M != n->shape.d[0];
    Choice c = choose(g.M, g.N, g.K, (size_t)g.esize, ast, bst);
    make_do(&c, g.N, g.K, (size_t)g.esize, ast, bst, so->scratch);
    if (c.form == FORM_NAIVE) {
        naive(cg, n, out);
        return;
    }
    g.A = (Mat){operand_ptr(cg, turned ? &sb->lay : &sa->lay, n->dt), ast[0], ast[1]};
    g.B = (Mat){operand_ptr(cg, turned ? &sa->lay : &sb->lay, n->dt), bst[0], bst[1]};
    g.C = (Mat){operand_ptr(cg, out, n->dt), g.N, 1};
    legal_width(&g, cg->fn);   /* the packing loops below use whole vectors too */
    if (c.form == FORM_DOT) {
        dot_products(&g);
        return;
    }
    /* The scratch follows the result, 64-byte aligned (plan.c): B's block,
     * then A's tile. */
    int64_t value_bytes = round_up((int64_t)shape_numel(&n->shape) * g.esize, 64);
    LLVMValueRef scratch = LLVMBuildGEP2(cg->b, cg->i8, g.C.ptr, (LLVMValueRef[]){cg_i64(cg, value_bytes)}, 1, "");
    g.pack = c.pack_b;
    g.pack_a = c.pack_a;
    g.bp = scratch;
    int64_t bbytes = c.pack_b ? (int64_t)pack_b_bytes(g.N, g.K, (size_t)g.esize) : 0;
    g.ap = LLVMBuildGEP2(cg->b, cg->i8, scratch, (LLVMValueRef[]){cg_i64(cg, bbytes)}, 1, "");
    choose_tile(&g);
    g.kb = split(g.K, KC, 1);
    g.nb = split(g.N, NC_BYTES / g.esize, (int64_t)g.nv * g.lanes);
    outer_products(&g);
}
