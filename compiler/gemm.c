/*
 * gemm.c: the matrix product C = A @ B in generated code.
 *
 * The loop order follows the operands' layouts so that the innermost loop
 * walks memory contiguously and vectorizes: when B's rows are contiguous,
 * C's row i is accumulated as a sum of B's rows scaled by A[i, p] (axpy
 * form); otherwise each C[i, j] is a dot product along p whose additions
 * may be reassociated (a fixed, compile-time order, so results do not vary
 * between runs).
 */
#include "codegen.h"

static bool has_layout(const Slot *s) { return s->st == ST_LEAF || s->st == ST_VIEW || s->st == ST_BUFFER; }

void cg_matmul(CG *cg, Node *n, const Layout *out) {
    Node *a = n->in[0], *b = n->in[1];
    int64_t M = n->shape.d[0], N = n->shape.d[1], K = a->shape.d[1];
    LLVMTypeRef t = cg_type(cg, n->dt);
    const Slot *sb = &cg->plan->slot[b->id];
    bool rows_contiguous = has_layout(sb) && (sb->lay.stride[1] == 1 || N == 1);
    Loop li, lj, lp;
    LLVMValueRef i = cg_loop_open(cg, &li, M);
    if (rows_contiguous) {
        LLVMValueRef ij[2] = {i, NULL};
        ij[1] = cg_loop_open(cg, &lj, N);
        LLVMBuildStore(cg->b, LLVMConstReal(t, 0), cg_elem_ptr(cg, out, n->dt, 2, ij));
        cg_loop_close(cg, &lj);
        LLVMValueRef ip[2] = {i, cg_loop_open(cg, &lp, K)};
        LLVMValueRef av = cg_value_at(cg, a, ip);
        LLVMValueRef pj[2] = {ip[1], cg_loop_open(cg, &lj, N)};
        ij[1] = pj[1];
        LLVMValueRef cp = cg_elem_ptr(cg, out, n->dt, 2, ij);
        LLVMValueRef prod = LLVMBuildFMul(cg->b, av, cg_value_at(cg, b, pj), "");
        LLVMBuildStore(cg->b, LLVMBuildFAdd(cg->b, LLVMBuildLoad2(cg->b, t, cp, ""), prod, ""), cp);
        cg_loop_close(cg, &lj);
        cg_loop_close(cg, &lp);
    } else {
        LLVMValueRef ij[2] = {i, cg_loop_open(cg, &lj, N)};
        LLVMBasicBlockRef pre = LLVMGetInsertBlock(cg->b);
        LLVMValueRef ip[2] = {i, cg_loop_open(cg, &lp, K)};
        LLVMValueRef acc = LLVMBuildPhi(cg->b, t, "acc");
        LLVMValueRef pj[2] = {ip[1], ij[1]};
        LLVMValueRef prod = LLVMBuildFMul(cg->b, cg_value_at(cg, a, ip), cg_value_at(cg, b, pj), "");
        LLVMValueRef sum = LLVMBuildFAdd(cg->b, acc, prod, "");
        LLVMSetFastMathFlags(sum, LLVMFastMathAllowReassoc | LLVMFastMathAllowContract);
        LLVMSetFastMathFlags(prod, LLVMFastMathAllowContract);
        LLVMValueRef zero = LLVMConstReal(t, 0);
        LLVMAddIncoming(acc, &zero, &pre, 1);
        LLVMBasicBlockRef latch = LLVMGetInsertBlock(cg->b);
        LLVMAddIncoming(acc, &sum, &latch, 1);
        cg_loop_close(cg, &lp);
        LLVMBuildStore(cg->b, sum, cg_elem_ptr(cg, out, n->dt, 2, ij));
        cg_loop_close(cg, &lj);
    }
    cg_loop_close(cg, &li);
}
