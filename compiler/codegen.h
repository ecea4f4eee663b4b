/*
 * codegen.h: what the LLVM side of nnc shares (codegen.c, gemm.c, emit.c).
 * Kept apart from nnc.h so the front end never sees LLVM's headers.
 */
#ifndef NNC_CODEGEN_H
#define NNC_CODEGEN_H

#include "nnc.h"

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

/* target.c: the target machine for --target and --cpu, checked first
 * (target_check); NULL with an error printed if they cannot be used.
 * *triple_out is the triple, to dispose with LLVMDisposeMessage. */
LLVMTargetMachineRef target_machine(const Options *opt, int opt_level, char **triple_out);

typedef struct CG {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMTargetMachineRef tm;
    LLVMTypeRef i1, i8, i32, i64, f32, f64, ptr, intptr;
    const Model *m;
    Plan *plans[3];             /* by EntryKind; NULL when not generated */
    /* the function being emitted */
    Plan *plan;
    LLVMValueRef fn;
    LLVMBasicBlockRef fail;     /* returns NNRT_EINDEX */
    LLVMValueRef base[NBASE];
    LLVMValueRef *kargs;        /* inside an outlined kernel: its arguments */
    int nkargs;
    /* Inside an epilogue, which finds the kernel's arguments in memory:
     * for each, the alias scope of what is reached through it and the
     * scopes of all the others (the arguments never overlap a written
     * one, as in the kernel, where they are noalias). */
    LLVMValueRef *scope, *noalias;
    struct Kernel **kernels;    /* outlined kernels, a hash table by key */
    unsigned kcap, nkernels;
    /* In the function being emitted, each runtime dim's n (an i64 loaded
     * once at its entry), or NULL where no dim may be read (an epilogue). */
    LLVMValueRef dimval[MAX_DIMS];
    /* No --cpu on x86-64: code for several levels, one chosen at run time
     * (cg_levels below). */
    bool dispatch_isa;
    /* Inside a kernel split across threads: axis 0 of this shape runs over
     * [split_begin, split_end) only (codegen.c, emit_parallel_rows). */
    const Shape *split_shape;
    LLVMValueRef split_begin, split_end;
    const char *entry_cpu;      /* the target-cpu of the entry point being emitted */
} CG;

/* codegen.c: code for several x86-64 levels.  Without --cpu, an x86-64
 * object must run on any x86-64 machine: its entry points, its matrix
 * products and its kernels over many elements are compiled for each level
 * of cg_levels (their functions get its target-cpu) and the highest the
 * CPU supports is taken at run time (nnrt_cpu_level, asked once and kept
 * in a global of the module).  The rest is baseline x86-64. */
typedef struct IsaLevel {
    int level;          /* nnrt_cpu_level() at least this */
    const char *cpu;    /* the functions' target-cpu; NULL: the module's */
    int vbytes, nregs;  /* its vector registers: bytes, how many */
} IsaLevel;
enum { CG_NLEVELS = 3 };
extern const IsaLevel cg_levels[CG_NLEVELS];     /* the highest first */
LLVMValueRef cg_cpu_level(CG *cg);      /* an i32, where the builder is */
void cg_set_cpu(CG *cg, LLVMValueRef fn, const char *cpu);
/* The level whose target-cpu function fn was given (cg_set_cpu), or NULL. */
const IsaLevel *cg_level_of(LLVMValueRef fn);
/* nnrt_parallel(task, ctx, units, grain, scratch_bytes, scratch) where the
 * builder is: task, a void(ptr ctx, i64 begin, i64 end, ptr scratch), run
 * over units [0, units) across libnnrt's threads. */
/* An alloca of type t in the entry block of the function being emitted,
 * so that a call in a loop does not grow the stack. */
LLVMValueRef cg_entry_alloca(CG *cg, LLVMTypeRef t, const char *name);
/* void (ptr ctx, i64 begin, i64 end, ptr scratch): an nnrt_task. */
LLVMTypeRef cg_task_type(CG *cg);
void cg_parallel(CG *cg, LLVMValueRef task, LLVMValueRef ctx, LLVMValueRef units, LLVMValueRef grain,
                 size_t scratch_bytes, LLVMValueRef scratch);
/* A product is split across threads when each gets at least this many
 * FLOPs of it (about 4 us at full speed). */
enum { PAR_MIN_FLOPS = 1 << 20 };
/* In the function being emitted: return fns[i](its arguments) for the
 * first cg_levels[i] the CPU's level reaches. */
void cg_dispatch_call(CG *cg, LLVMValueRef self, LLVMValueRef *fns);

typedef struct Loop {
    LLVMBasicBlockRef head;
    LLVMValueRef iv;
    LLVMValueRef end;           /* the bound: n, or a value of the running code */
} Loop;
LLVMValueRef cg_loop_open(CG *cg, Loop *l, int64_t n);   /* returns the induction variable */
/* for (iv = start; iv < end; iv++) with start < end when it runs */
LLVMValueRef cg_range_open(CG *cg, Loop *l, LLVMValueRef start, LLVMValueRef end);
/* Closes the loop; returns its branch back, for cg_loop_hints. */
LLVMValueRef cg_loop_close(CG *cg, Loop *l);
/* Metadata llvm.loop on a loop's branch back (at most 7 hints): each key
 * with on[k] (i1 for an ".enable", else i32), or alone where on[k] < 0. */
void cg_loop_hints(CG *cg, LLVMValueRef br, int n, const char *const *key, const int *on);
LLVMValueRef cg_i64(CG *cg, int64_t v);
/* The extent of axis d of s in use: its n for a runtime axis, else fixed. */
LLVMValueRef cg_extent(CG *cg, const Shape *s, int d);
void cg_lower(CG *cg);
LLVMTypeRef cg_type(CG *cg, DType dt);
LLVMAttributeRef cg_attr(CG *cg, const char *name);
LLVMValueRef cg_elem_ptr(CG *cg, const Layout *l, DType dt, int rank, LLVMValueRef *idx);
LLVMValueRef cg_value_at(CG *cg, Node *n, LLVMValueRef *idx);
void cg_store_all(CG *cg, Node *src, const Layout *dst);
void cg_store_const(CG *cg, Node *n, const Layout *out, double v);
LLVMValueRef cg_scratch(CG *cg, Node *n);    /* the node's scratch bytes (Slot.scratch) */
/* A vector of lanes copies of the scalar x. */
LLVMValueRef cg_splat(CG *cg, LLVMValueRef x, int lanes);
/* A vector load of dt's at p under mask (an <n x i1>): masked-off lanes are
 * not touched, and read as passthru's. */
LLVMValueRef cg_masked_load(CG *cg, DType dt, LLVMValueRef p, LLVMValueRef mask, LLVMValueRef passthru);
/* The sum of the lanes of v, by halves: a fixed order. */
LLVMValueRef cg_lanes_sum(CG *cg, LLVMValueRef v, int lanes);

/* gemm.c: the matrix product n = a @ b into out, using the node's scratch
 * (Slot.gemm, as the plan chose). */
void cg_matmul(CG *cg, Node *n, const Layout *out);
/* Columns [col0, col1) of the product n (Slot.gemm, gemm_by_columns), on
 * the calling thread: C[i, j] at c + i*ldc + j (c is where column 0 would
 * be), the packing in scratch (gemm_scratch bytes), for the code's own
 * target (the function being emitted's level). */
typedef struct Columns {
    LLVMValueRef col0, col1, c, ldc, scratch;
} Columns;
void cg_matmul_columns(CG *cg, Node *n, const Columns *cols);
/* Bytes of the vector registers the module's products use (gemm.c). */
int cg_vector_bytes(CG *cg);
int cg_vector_regs(CG *cg);             /* and how many there are */
/* Whether every function compiled for tm has 32 vector registers of
 * WIDE_VECTOR_BYTES: an AVX-512 CPU, and no copy for lower x86-64 levels. */
bool cg_wide_registers(LLVMTargetMachineRef tm, bool dispatch_isa);
void cg_conv_direct(CG *cg, Node *n, const Layout *out);   /* Slot.conv_direct */
/* Inside the kernel of product n with an epilogue (Slot.epilogue): a
 * function void(ptr args, i64 i0, i64 j0, i64 rows, i64 cols) that computes
 * the epilogue over rows [i0, i0 + rows) and columns [j0, j0 + cols) of the
 * product, in its place, once they hold their final sums; *args receives
 * what to pass it. */
LLVMValueRef cg_epilogue(CG *cg, Node *n, LLVMValueRef *args);
LLVMTypeRef cg_epilogue_type(CG *cg);   /* that function's type */
/* The im2col a value of ST_WINDOWS (or a view of it) is, and a function
 * void fill(ptr args, ptr dst, i64 rs, i64 cs, i64 r0, i64 r1, i64 q0, i64 q1)
 * that writes its elements (r, q) of [r0, r1) x [q0, q1) to
 * dst[(r - r0)*rs + (q - q0)*cs], reading the image through the arguments
 * of the kernel being emitted (stored at *args, its first argument). */
Node *cg_windows(Node *x);
LLVMValueRef cg_window_fill(CG *cg, Node *n, LLVMValueRef *args);
LLVMTypeRef cg_fill_type(CG *cg);

#endif
