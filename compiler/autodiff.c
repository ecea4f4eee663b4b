/*
 * autodiff.c: reverse-mode symbolic differentiation.
 *
 * The backward graph is built in the same graph as the forward one, through
 * the same folding constructors, so the gradient shares the forward values it
 * needs (sigmoid' reuses the sigmoid) and simplifies as it is built.  Walking
 * the nodes in reverse id order (a reverse topological order), each node
 * that lies between a param and the objective hands its adjoint to its
 * operands by its op's rule; an operand used several times sums its
 * contributions.  Only params get gradients: nothing flows into inputs.
 */
#include "nnc.h"

#include <stdlib.h>

typedef Node *GradRule(Graph *g, Node *n, Node *gy, int k);

/* ---- rules: the contribution of n's adjoint gy to its operand k ---- */

static Node *c(Graph *g, Node *like, double v) { return ir_const(g, like->dt, v); }
static Node *add(Graph *g, Node *a, Node *b) { return ir_binary(g, OP_ADD, a, b); }
static Node *sub(Graph *g, Node *a, Node *b) { return ir_binary(g, OP_SUB, a, b); }
static Node *mul(Graph *g, Node *a, Node *b) { return ir_binary(g, OP_MUL, a, b); }
static Node *dvd(Graph *g, Node *a, Node *b) { return ir_binary(g, OP_DIV, a, b); }

static Node *grad_none(Graph *g, Node *n, Node *gy, int k) { return NULL; }
static Node *grad_neg(Graph *g, Node *n, Node *gy, int k) { return ir_unary(g, OP_NEG, gy); }
static Node *grad_exp(Graph *g, Node *n, Node *gy, int k) { return mul(g, gy, n); }
static Node *grad_log(Graph *g, Node *n, Node *gy, int k) { return dvd(g, gy, n->in[0]); }
static Node *grad_sqrt(Graph *g, Node *n, Node *gy, int k) { return dvd(g, gy, mul(g, c(g, n, 2), n)); }
static Node *grad_abs(Graph *g, Node *n, Node *gy, int k) { return mul(g, gy, ir_unary(g, OP_SIGN, n->in[0])); }
static Node *grad_relu(Graph *g, Node *n, Node *gy, int k) { return mul(g, gy, ir_unary(g, OP_STEP, n->in[0])); }
static Node *grad_square(Graph *g, Node *n, Node *gy, int k) { return mul(g, gy, mul(g, c(g, n, 2), n->in[0])); }

static Node *grad_sin(Graph *g, Node *n, Node *gy, int k) { return mul(g, gy, ir_unary(g, OP_COS, n->in[0])); }
static Node *grad_cos(Graph *g, Node *n, Node *gy, int k) {
    return ir_unary(g, OP_NEG, mul(g, gy, ir_unary(g, OP_SIN, n->in[0])));
}
static Node *grad_log1p(Graph *g, Node *n, Node *gy, int k) { return dvd(g, gy, add(g, n->in[0], c(g, n, 1))); }
/* PyTorch's rule, from the result: expm1' = expm1 + 1 */
static Node *grad_expm1(Graph *g, Node *n, Node *gy, int k) { return mul(g, gy, add(g, n, c(g, n, 1))); }

/* erf' = 2/sqrt(pi) exp(-x^2) */
static Node *grad_erf(Graph *g, Node *n, Node *gy, int k) {
    Node *e = ir_unary(g, OP_EXP, ir_unary(g, OP_NEG, ir_unary(g, OP_SQUARE, n->in[0])));
    return mul(g, gy, mul(g, c(g, n, 1.12837916709551257390), e));
}

static Node *grad_tanh(Graph *g, Node *n, Node *gy, int k) {
    return mul(g, gy, sub(g, c(g, n, 1), ir_unary(g, OP_SQUARE, n)));
}

static Node *grad_sigmoid(Graph *g, Node *n, Node *gy, int k) {
    return mul(g, gy, mul(g, n, sub(g, c(g, n, 1), n)));
}

static Node *grad_softplus(Graph *g, Node *n, Node *gy, int k) {
    return mul(g, gy, ir_unary(g, OP_SIGMOID, n->in[0]));
}

static Node *grad_powc(Graph *g, Node *n, Node *gy, int k) {
    return mul(g, gy, mul(g, c(g, n, n->value), ir_powc(g, n->in[0], n->value - 1)));
}

static Node *grad_cast(Graph *g, Node *n, Node *gy, int k) {
    return dtype_is_float(n->in[0]->dt) ? ir_cast(g, gy, n->in[0]->dt) : NULL;
}

static Node *grad_add(Graph *g, Node *n, Node *gy, int k) { return gy; }
static Node *grad_sub(Graph *g, Node *n, Node *gy, int k) { return k == 0 ? gy : ir_unary(g, OP_NEG, gy); }
static Node *grad_mul(Graph *g, Node *n, Node *gy, int k) { return mul(g, gy, n->in[1 - k]); }

static Node *grad_div(Graph *g, Node *n, Node *gy, int k) {
    Node *a = n->in[0], *b = n->in[1];
    if (k == 0)
        return dvd(g, gy, b);
    return ir_unary(g, OP_NEG, dvd(g, mul(g, gy, a), ir_unary(g, OP_SQUARE, b)));
}

/* PyTorch's maximum and minimum split the gradient evenly at ties. */
static Node *grad_extremum(Graph *g, Node *n, Node *gy, bool wins_if_greater) {
    Node *a = n->in[0], *b = n->in[1];
    Node *win = wins_if_greater ? ir_binary(g, OP_GT, a, b) : ir_binary(g, OP_GT, b, a);
    Node *tie = mul(g, c(g, n, 0.5), ir_binary(g, OP_EQ, a, b));
    return mul(g, gy, add(g, win, tie));
}

static Node *grad_maximum(Graph *g, Node *n, Node *gy, int k) {
    if (k == 0)
        return grad_extremum(g, n, gy, true);
    Node swapped = *n;   /* maximum(a, b) = maximum(b, a) */
    swapped.in[0] = n->in[1];
    swapped.in[1] = n->in[0];
    return grad_extremum(g, &swapped, gy, true);
}

static Node *grad_minimum(Graph *g, Node *n, Node *gy, int k) {
    if (k == 0)
        return grad_extremum(g, n, gy, false);
    Node swapped = *n;
    swapped.in[0] = n->in[1];
    swapped.in[1] = n->in[0];
    return grad_extremum(g, &swapped, gy, false);
}

/* where(c, a, b): the gradient goes to the branch taken, selected (not
 * multiplied by a mask) so that an infinite or NaN gradient of one branch
 * does not reach the other. */
static Node *grad_where(Graph *g, Node *n, Node *gy, int k) {
    if (k == 0)
        return NULL;
    Node *zero = c(g, gy, 0);
    return k == 1 ? ir_where(g, n->in[0], gy, zero) : ir_where(g, n->in[0], zero, gy);
}

static Node *grad_transpose(Graph *g, Node *n, Node *gy, int k) {
    int inv[MAX_RANK];
    for (int i = 0; i < n->shape.rank; i++)
        inv[n->attr[i]] = i;
    return ir_transpose(g, gy, inv);
}

static Node *grad_reshape(Graph *g, Node *n, Node *gy, int k) { return ir_reshape(g, gy, n->in[0]->shape); }
static Node *grad_index(Graph *g, Node *n, Node *gy, int k) {
    return ir_embed(g, gy, n->attr[0], n->in[0]->shape.d[0]);
}
static Node *grad_embed(Graph *g, Node *n, Node *gy, int k) { return ir_index(g, gy, n->attr[0]); }
static Node *grad_broadcast(Graph *g, Node *n, Node *gy, int k) {
    return ir_unbroadcast(g, gy, &n->in[0]->shape);
}
static Node *grad_slice(Graph *g, Node *n, Node *gy, int k) {
    return ir_pad(g, gy, (int)n->attr[0], n->attr[1], n->in[0]->shape);
}
static Node *grad_pad(Graph *g, Node *n, Node *gy, int k) {
    int axis = (int)n->attr[0];
    return ir_slice(g, gy, axis, n->attr[1], n->in[0]->shape.d[axis]);
}
static Node *grad_flip(Graph *g, Node *n, Node *gy, int k) { return ir_flip(g, gy, (unsigned)n->attr[0]); }
static Node *grad_sum(Graph *g, Node *n, Node *gy, int k) { return ir_broadcast(g, gy, n->in[0]->shape); }

/* max sends the gradient to the first maximal element of each group. */
static Node *grad_max(Graph *g, Node *n, Node *gy, int k) {
    Node *x = n->in[0];
    return mul(g, ir_broadcast(g, gy, x->shape), ir_maxmask(g, x, (unsigned)n->attr[0]));
}

/* PyTorch's rule, right with zeros in the input: each element gets the
 * product of the others.  That is prod / x where x is not 0 (0 if another
 * element is), and where x is 0 the product of the nonzero elements if x
 * is the group's only 0, else 0. */
static Node *grad_prod(Graph *g, Node *n, Node *gy, int k) {
    Node *x = n->in[0];
    unsigned axes = (unsigned)n->attr[0];
    Node *zero = ir_binary(g, OP_EQ, x, c(g, x, 0));
    Node *nonzero = ir_reduce(g, OP_PROD, ir_where(g, zero, c(g, x, 1), x), axes);
    Node *one_zero = ir_binary(g, OP_EQ, ir_reduce(g, OP_SUM, zero, axes), c(g, x, 1));
    Node *at_zero = ir_where(g, one_zero, nonzero, c(g, x, 0));
    Node *others = ir_where(g, zero, at_zero, dvd(g, n, x));
    return mul(g, ir_broadcast(g, gy, x->shape), others);
}

static Node *grad_matmul(Graph *g, Node *n, Node *gy, int k) {
    static const int swap[2] = {1, 0};
    if (k == 0)
        return ir_matmul(g, gy, ir_transpose(g, n->in[1], swap));
    return ir_matmul(g, ir_transpose(g, n->in[0], swap), gy);
}

/* pick(x, y)[i] = x[i, y[i]]: the gradient scatters back to the labels. */
static Node *grad_pick(Graph *g, Node *n, Node *gy, int k) {
    if (k == 1)
        return NULL;
    Node *x = n->in[0];
    Shape cs = shape_scalar();
    shape_push(&cs, &x->shape, 0);
    shape_push_fixed(&cs, 1);
    Node *col = ir_reshape(g, gy, cs);
    return mul(g, ir_onehot(g, n->in[1], x->shape.d[1], x->dt), col);
}

/* The windows' gradient A.T @ B of a convolution with stride 1 (A its
 * weights [O, C*kh*kw], B the output's gradient [O, N*OH*OW]), summed back
 * into the image, is the convolution of B's image with A's windows
 * flipped and A's axes O and C swapped, padded by p' = d(k-1) - p: row
 * (o, i', j') of its windows reads B at h + p - d(k-1-i'), which is where
 * window row k-1-i' of the forward read pixel h.  Its product [C, O*kh*kw]
 * fills its windows from the image, where A.T @ B has K = O and writes
 * out C*kh*kw rows a pixel for col2im to add up.
 *
 * It is taken where it was measured to win (bench/README.md): the output
 * as large as the image (padding d(k-1)/2, or the product would also
 * multiply the zeros around a smaller B) and the product not too thin,
 * C >= 8 rows for O <= 2C filters.  A 3x3 over 16 channels at 14x14 then
 * takes 0.73 to 0.77 of the time col2im's way does, forward and both
 * gradients; 6 -> 32 channels took 1.12 of it, 1 -> 6 (LeNet's first)
 * 1.53.  NULL when the gradient is not of that form or size. */
static Node *input_gradient_by_conv(Graph *g, Node *n, Node *gy) {
    Window w = ir_window(n);
    if (w.sh != 1 || w.sw != 1 || 2 * w.ph != w.dh * (w.kh - 1) || 2 * w.pw != w.dw * (w.kw - 1) ||
        gy->op != OP_MATMUL || gy->in[0]->op != OP_TRANSPOSE || shape_is_dynamic(&gy->in[0]->shape))
        return NULL;
    Node *x = n->in[0], *a = gy->in[0]->in[0];
    int64_t O = a->shape.d[0], C = x->shape.d[1];
    /* its windows have O*kh*kw rows where n has C*kh*kw */
    if (C < 8 || O > 2 * C || shape_numel(&n->shape) / C * O > INT32_MAX)
        return NULL;
    Node *image = ir_columns_image(g, gy->in[1], x, &w);
    Window t = {w.kh, w.kw, 1, 1, w.dh * (w.kh - 1) - w.ph, w.dw * (w.kw - 1) - w.pw, w.dh, w.dw};
    Node *cols = ir_im2col(g, image, &t, 0);
    Shape ws = shape_scalar(), flat = shape_scalar();
    shape_push_fixed(&ws, O);
    shape_push_fixed(&ws, C);
    shape_push_fixed(&ws, w.kh);
    shape_push_fixed(&ws, w.kw);
    shape_push_fixed(&flat, C);
    shape_push_fixed(&flat, O * w.kh * w.kw);
    static const int swap_oc[4] = {1, 0, 2, 3};
    Node *flipped = ir_flip(g, ir_transpose(g, ir_reshape(g, a, ws), swap_oc), 1u << 2 | 1u << 3);
    return ir_columns_image(g, ir_matmul(g, ir_reshape(g, flipped, flat), cols), image, &t);
}

static Node *grad_im2col(Graph *g, Node *n, Node *gy, int k) {
    Node *by_conv = input_gradient_by_conv(g, n, gy);
    if (by_conv)
        return by_conv;
    Window w = ir_window(n);
    return ir_col2im(g, gy, n->in[0]->shape, &w);
}
static Node *grad_col2im(Graph *g, Node *n, Node *gy, int k) {
    Window w = ir_window(n);
    return ir_im2col(g, gy, &w, 0);
}

static GradRule *const rules[OP_COUNT] = {
#define OP(id, name, arity, kind, grad) [OP_##id] = grad,
#include "ops.h"
#undef OP
};

/* ---- the pass ---- */

/* Without an objective every gradient is zero (backward still fills them). */
static void zero_gradients(Model *m) {
    for (int t = 0; t < m->ntensors; t++)
        if (m->tensors[t].role == NNRT_PARAM && !m->tensors[t].grad)
            m->tensors[t].grad = ir_broadcast(m->g, ir_const(m->g, m->tensors[t].dt, 0), m->tensors[t].shape);
}

void autodiff(Model *m) {
    if (m->objective < 0) {
        zero_gradients(m);
        return;
    }
    Graph *g = m->g;
    Node *J = m->tensors[m->objective].node;
    int n = g->n;
    /* varies[i]: node i depends on a param, so gradients may flow through it. */
    bool *varies = calloc((size_t)n, sizeof *varies);
    bool *reaches = calloc((size_t)n, sizeof *reaches);   /* J depends on node i */
    Node **adj = calloc((size_t)n, sizeof *adj);
    if (!varies || !reaches || !adj) {
        fprintf(stderr, "nnc: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        Node *x = g->nodes[i];
        varies[i] = x->op == OP_PARAM;
        for (int k = 0; k < op_info[x->op].arity; k++)
            varies[i] |= varies[x->in[k]->id];
    }
    reaches[J->id] = true;
    adj[J->id] = ir_const(g, J->dt, 1);
    for (int i = J->id; i >= 0; i--) {
        Node *x = g->nodes[i];
        for (int k = 0; k < op_info[x->op].arity && reaches[i]; k++)
            reaches[x->in[k]->id] = true;
        if (!adj[i] || !varies[i])
            continue;
        for (int k = 0; k < op_info[x->op].arity; k++) {
            Node *in = x->in[k];
            if (!varies[in->id])
                continue;
            Node *d = rules[x->op](g, x, adj[i], k);
            if (!d)
                continue;
            if (op_info[x->op].kind == K_EW)
                d = ir_unbroadcast(g, d, &in->shape);
            adj[in->id] = adj[in->id] ? ir_binary(g, OP_ADD, adj[in->id], d) : d;
        }
    }
    for (int t = 0; t < m->ntensors; t++) {
        Tensor *p = &m->tensors[t];
        if (p->role != NNRT_PARAM)
            continue;
        Node *leaf = p->node;
        p->grad = adj[leaf->id];
        if (!p->grad && reaches[leaf->id])
            warning_at(p->loc, "the objective depends on '%s' only through argmax, argmin or comparisons, "
                       "which have no gradient; its gradient is zero", p->name);
    }
    zero_gradients(m);
    free(varies);
    free(reaches);
    free(adj);
}
