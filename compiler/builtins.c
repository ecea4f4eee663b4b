/*
 * builtins.c: the functions of the language (contract, section 1:
 * Expressions) and the initializers of params.
 *
 * Each function checks its arguments' shapes and builds graph nodes.  Those
 * that have a numerically stable form are built from stable pieces:
 * logsumexp subtracts the (detached) maximum, softmax and log_softmax and
 * cross_entropy go through it, so all of them stay finite for logits of
 * magnitude 1e4 and their gradients come out of autodiff's rules.
 */
#include "nnc.h"

#include <float.h>
#include <math.h>
#include <string.h>

typedef Val (*BuiltinFn)(Sema *S, const Builtin *b, Ast *call, Val *args);

struct Builtin {
    const char *name;
    const char *params[MAX_ARGS];
    int nparams, nrequired;
    BuiltinFn fn;
    Op op;
};

/* ---- argument matching ---- */

bool match_args(Ast *call, const char *fname, const char *const *params, int nparams,
                int nrequired, Ast **out) {
    for (int i = 0; i < nparams; i++)
        out[i] = NULL;
    int pos = 0;
    bool seen_kw = false;
    for (Ast *a = call->args; a; a = a->next) {
        if (!a->kw) {
            if (seen_kw) {
                error_at(a->loc, "a positional argument cannot follow a keyword argument");
                return false;
            }
            if (pos >= nparams) {
                int given = 0;
                for (Ast *c = call->args; c; c = c->next)
                    given++;
                error_at(a->loc, "%s() takes %s%d argument%s (%d given)", fname,
                         nrequired < nparams ? "at most " : "", nparams, nparams == 1 ? "" : "s", given);
                return false;
            }
            out[pos++] = a;
            continue;
        }
        seen_kw = true;
        int k = -1;
        for (int i = 0; i < nparams; i++)
            if (strcmp(params[i], a->kw) == 0)
                k = i;
        if (k < 0 && strcmp(a->kw, "training") == 0 &&
            (strcmp(fname, "dropout") == 0 || strcmp(fname, "batch_norm") == 0)) {
            error_at(a->kwloc, "%s() has no argument 'training': the entry point sets the mode (forward "
                     "evaluates; backward and train_step train)", fname);
            return false;
        }
        if (k < 0) {
            /* PyTorch's names for the same arguments */
            static const char *const torch_kw[][2] = {{"dim", "axis"}, {"keepdim", "keepdims"},
                                                       {"mode", "fan"}};
            for (size_t j = 0; j < sizeof torch_kw / sizeof *torch_kw; j++)
                for (int i = 0; i < nparams; i++)
                    if (strcmp(a->kw, torch_kw[j][0]) == 0 && strcmp(params[i], torch_kw[j][1]) == 0) {
                        error_at(a->kwloc, "%s() has no argument '%s': PyTorch's %s is nnc's '%s'",
                                 fname, a->kw, a->kw, params[i]);
                        return false;
                    }
            const char *near = nearest_name(a->kw, params, nparams);
            if (near)
                error_at(a->kwloc, "%s() has no argument '%s'; did you mean '%s'?", fname, a->kw, near);
            else if (nparams == 0)
                error_at(a->kwloc, "%s() takes no arguments", fname);
            else
                error_at(a->kwloc, "%s() has no argument '%s'", fname, a->kw);
            return false;
        }
        if (out[k]) {
            error_at(a->kwloc, "%s() got argument '%s' twice", fname, a->kw);
            return false;
        }
        out[k] = a;
    }
    for (int i = 0; i < nrequired; i++)
        if (!out[i]) {
            error_at(call->loc, "%s() is missing its argument '%s'", fname, params[i]);
            return false;
        }
    return true;
}

/* ---- argument helpers ---- */

static Node *tensor_arg(Sema *S, Val v, const char *fname) {
    if (v.kind == V_ERR)
        return NULL;
    if (v.kind == V_LIST) {
        error_at(v.loc, "%s() takes a tensor here, not a list", fname);
        return NULL;
    }
    return sema_as_float(S, v, DT_NONE);
}

static bool int_arg(Val v, const char *what, int64_t *out) {
    if (v.kind == V_ERR)
        return false;
    if (v.kind != V_NUM || !v.is_int) {
        error_at(v.loc, "%s must be a compile-time integer", what);
        return false;
    }
    *out = (int64_t)v.num;
    return true;
}

static bool bool_arg(Val v, bool *out) {
    if (v.kind == V_ERR)
        return false;
    if (v.kind != V_NUM || (v.num != 0 && v.num != 1)) {
        error_at(v.loc, "keepdims must be true or false");
        return false;
    }
    *out = v.num != 0;
    return true;
}

/* An axis of a rank-r tensor; negative counts from the end, as in NumPy. */
static bool axis_arg(Val v, const Node *x, int *axis) {
    int64_t a;
    if (!int_arg(v, "axis", &a))
        return false;
    int r = x->shape.rank;
    if (a < -r || a >= r || r == 0) {
        if (r == 0)
            error_at(v.loc, "axis %lld: a scalar has no axes", (long long)a);
        else
            error_at(v.loc, "axis %lld is out of range for %s (valid: %d to %d)", (long long)a,
                     shape_str(x->dt, &x->shape), -r, r - 1);
        return false;
    }
    *axis = (int)(a < 0 ? a + r : a);
    return true;
}

static Shape drop_axes(const Shape *s, unsigned axes) {
    Shape r = {0};
    for (int i = 0; i < s->rank; i++)
        if (!(axes & (1u << i)))
            shape_push(&r, s, i);
    return r;
}

static unsigned all_axes(const Node *x) { return (1u << x->shape.rank) - 1; }

/* ---- elementwise ---- */

static Val fn_unary(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    return x ? val_node(ir_unary(sema_graph(S), b->op, x), call->loc) : val_err();
}

static Val fn_pow(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    if (!x || args[1].kind == V_ERR)
        return val_err();
    if (args[1].kind != V_NUM) {
        error_at(args[1].loc, "the exponent of pow() must be a compile-time number");
        return val_err();
    }
    if (!sema_number_fits(args[1].num, x->dt, args[1].loc))
        return val_err();
    return val_node(ir_powc(sema_graph(S), x, args[1].num), call->loc);
}

/* Tensors or numbers in the one float type they meet: f64 if any tensor
 * is, else the tensors' own.  A number takes the precision of the tensor
 * beside it (contract, 5.8 Literals): maximum(b, 0.2) of an f64 b is f64's
 * 0.2. */
static DType float_of(Val v) { return v.kind == V_NODE && dtype_is_float(v.node->dt) ? v.node->dt : DT_NONE; }

static bool float_args(Sema *S, const char *fname, const Val *args, int n, Node **out) {
    DType dt = DT_NONE;
    for (int k = 0; k < n; k++) {
        if (args[k].kind == V_LIST)
            error_at(args[k].loc, "%s() takes a tensor here, not a list", fname);
        if (args[k].kind == V_ERR || args[k].kind == V_LIST)
            return false;
        if (float_of(args[k]) == DT_F64 || !dt)
            dt = float_of(args[k]);
    }
    if (!dt)
        dt = sema_float(S);
    for (int k = 0; k < n; k++)
        out[k] = ir_cast(sema_graph(S), sema_as_float(S, args[k], dt), dt);
    return true;
}

static Val fn_binary(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *v[2];
    if (!float_args(S, b->name, args, 2, v))
        return val_err();
    Node *n = ir_binary(sema_graph(S), b->op, v[0], v[1]);
    if (!n) {
        error_at(call->loc, "%s() of %s and %s: shapes do not broadcast", b->name,
                 shape_str(v[0]->dt, &v[0]->shape), shape_str(v[1]->dt, &v[1]->shape));
        return val_err();
    }
    return val_node(n, call->loc);
}

/* The compositions below give PyTorch's values and, through autodiff's
 * rules, its gradients, kinks included. */

/* silu(x) = x sigmoid(x); gelu(x) = x/2 (1 + erf(x / sqrt 2)), torch's
 * exact gelu (approximate = "none"). */
static Val fn_silu(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    Graph *g = sema_graph(S);
    return x ? val_node(ir_binary(g, OP_MUL, x, ir_unary(g, OP_SIGMOID, x)), call->loc) : val_err();
}

static Val fn_gelu(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    if (!x)
        return val_err();
    Graph *g = sema_graph(S);
    Node *cdf = ir_unary(g, OP_ERF, ir_binary(g, OP_MUL, x, ir_const(g, x->dt, M_SQRT1_2)));
    cdf = ir_binary(g, OP_MUL, ir_const(g, x->dt, 0.5), ir_binary(g, OP_ADD, cdf, ir_const(g, x->dt, 1)));
    return val_node(ir_binary(g, OP_MUL, x, cdf), call->loc);
}

/* leaky_relu(x, negative_slope) and elu(x, alpha) (b->op MUL and EXPM1): x
 * where x > 0, else the negative branch x * slope or alpha (e^x - 1), whose
 * gradient PyTorch takes at 0 too (slope, alpha).  NaN stays NaN. */
static Val fn_negative_branch(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Val a[2] = {args[0], args[1]};
    if (a[1].kind == V_NONE)
        a[1] = (Val){.kind = V_NUM, .num = b->op == OP_MUL ? 0.01 : 1, .loc = call->loc};
    Node *v[2];
    if (!float_args(S, b->name, a, 2, v))
        return val_err();
    Graph *g = sema_graph(S);
    Node *x = v[0], *k = v[1];
    Node *neg = ir_binary(g, OP_MUL, k, b->op == OP_MUL ? x : ir_unary(g, OP_EXPM1, x));
    Node *n = ir_where(g, ir_binary(g, OP_GT, x, ir_const(g, x->dt, 0)), x, neg);
    if (!n) {
        error_at(a[1].loc, "%s() of %s: '%s' %s does not broadcast", b->name, shape_str(x->dt, &x->shape),
                 b->params[1], shape_str(k->dt, &k->shape));
        return val_err();
    }
    return val_node(n, call->loc);
}

/* where(cond, a, b): a where cond is nonzero (NaN included), else b. */
static Val fn_where(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *c = tensor_arg(S, args[0], b->name), *v[2];
    if (!c || !float_args(S, b->name, args + 1, 2, v))
        return val_err();
    Node *n = ir_where(sema_graph(S), c, v[0], v[1]);
    if (!n) {
        error_at(call->loc, "where() of %s, %s and %s: shapes do not broadcast", shape_str(c->dt, &c->shape),
                 shape_str(v[0]->dt, &v[0]->shape), shape_str(v[1]->dt, &v[1]->shape));
        return val_err();
    }
    return val_node(n, call->loc);
}

/* clamp(x, min, max) as torch.clamp, a bound omitted (not both): the
 * value min(max(x, min), max), so max wins when min > max and a NaN x
 * stays NaN.  The gradient is PyTorch's (clamp_backward and, for tensor
 * bounds, clamp_backward_min_max): x's where min <= x <= max, min's where
 * x < min < max, max's where x > max or max < min, and nobody's otherwise
 * (x < min = max, a NaN x), which the detached last branch gives.  (For a
 * NaN x and min > max PyTorch gives max a gradient; here it gets none.) */
static Val fn_clamp(Sema *S, const Builtin *b, Ast *call, Val *args) {
    if (args[1].kind == V_NONE && args[2].kind == V_NONE) {
        error_at(call->loc, "clamp() needs min, max or both");
        return val_err();
    }
    Val given[3];
    int n = 0;
    for (int k = 0; k < 3; k++)
        if (args[k].kind != V_NONE)
            given[n++] = args[k];
    Node *v[3];
    if (!float_args(S, b->name, given, n, v))
        return val_err();
    Graph *g = sema_graph(S);
    Node *x = v[0], *lo = args[1].kind != V_NONE ? v[1] : NULL, *hi = args[2].kind != V_NONE ? v[n - 1] : NULL;
    Shape s;
    for (int k = 1; k < n; k++)
        if (!shape_broadcast(&x->shape, &v[k]->shape, &s)) {
            error_at(given[k].loc, "clamp() of %s: the bound %s does not broadcast", shape_str(x->dt, &x->shape),
                     shape_str(v[k]->dt, &v[k]->shape));
            return val_err();
        }
    Node *inside = ir_const(g, x->dt, 1);
    Node *r = ir_detach(g, lo ? ir_where(g, ir_binary(g, OP_GT, lo, x), lo, x) : x);
    if (hi) {
        Node *above = ir_binary(g, OP_GT, x, hi);
        if (lo)   /* x == x: a NaN x stays NaN when min > max too */
            above = ir_binary(g, OP_MAXIMUM, above,
                              ir_binary(g, OP_MUL, ir_binary(g, OP_GT, lo, hi), ir_binary(g, OP_EQ, x, x)));
        r = ir_where(g, above, hi, r);
        inside = ir_binary(g, OP_GE, hi, x);
    }
    if (lo) {
        Node *below = ir_binary(g, OP_GT, lo, x);
        if (hi)
            below = ir_binary(g, OP_MUL, below, ir_binary(g, OP_GT, hi, lo));
        r = ir_where(g, below, lo, r);
        inside = ir_binary(g, OP_MUL, inside, ir_binary(g, OP_GE, x, lo));
    }
    return val_node(ir_where(g, inside, x, r), call->loc);
}

/* ---- reductions ---- */

/* How many elements of x the axes cover, as a scalar of x's type: a
 * runtime axis counts its n (mean's divisor).  *bc, if given, receives the
 * same count's parts. */
static Node *count_in_use(Sema *S, Node *x, unsigned axes, BatchCount *bc) {
    Graph *g = sema_graph(S);
    BatchCount c = {0, 1};
    Node *count = NULL;
    for (int i = 0; i < x->shape.rank; i++) {
        if (!(axes & (1u << i)))
            continue;
        if (x->shape.dyn[i]) {
            Node *n = sema_dim_value(S, x->shape.dyn[i], x->dt);
            count = count ? ir_binary(g, OP_MUL, count, n) : n;
            c.dims |= 1u << (x->shape.dyn[i] - 1);
        } else {
            c.fixed *= x->shape.d[i];
        }
    }
    if (bc)
        *bc = c;
    Node *fixed = ir_const(g, x->dt, (double)c.fixed);
    return count ? ir_binary(g, OP_MUL, count, fixed) : fixed;
}

/* The axes a reduction covers: all, the one given, or those of a list,
 * each once. */
static bool reduce_axes(Val axis, Node *x, unsigned *axes) {
    if (axis.kind == V_NONE) {
        *axes = all_axes(x);
        return true;
    }
    if (axis.kind != V_LIST) {
        int a;
        if (!axis_arg(axis, x, &a))
            return false;
        *axes = 1u << a;
        return true;
    }
    *axes = 0;
    for (int i = 0; i < axis.nlist; i++) {
        Val v = {.kind = axis.list_dyn[i] ? V_NODE : V_NUM, .num = (double)axis.list[i], .is_int = true,
                 .loc = axis.loc};
        int a;
        if (!axis_arg(v, x, &a))
            return false;
        if (*axes & (1u << a)) {
            error_at(axis.loc, "axis %d is listed twice", a);
            return false;
        }
        *axes |= 1u << a;
    }
    return true;
}

/* logsumexp() as torch.logsumexp: an infinite maximum is not subtracted
 * (PyTorch replaces it by 0, here it is clamped to the largest finite
 * value, which gives the same results), so a row of -inf gives -inf and a
 * row with +inf gives +inf instead of NaN from inf - inf; a NaN still gives
 * NaN.  log_softmax and cross_entropy keep the form below, whose NaN there
 * is also PyTorch's. */
static Node *logsumexp_torch(Graph *g, Node *x, unsigned axes) {
    double big = x->dt == DT_F64 ? DBL_MAX : FLT_MAX;
    Node *m = ir_reduce(g, OP_MAX, x, axes);
    m = ir_binary(g, OP_MINIMUM, ir_binary(g, OP_MAXIMUM, m, ir_const(g, x->dt, -big)), ir_const(g, x->dt, big));
    m = ir_detach(g, m);
    Node *s = ir_reduce(g, OP_SUM, ir_unary(g, OP_EXP, ir_binary(g, OP_SUB, x, m)), axes);
    return ir_binary(g, OP_ADD, ir_unary(g, OP_LOG, s), m);
}

static Node *logsumexp_keep(Graph *g, Node *x, unsigned axes) {
    Node *m = ir_detach(g, ir_reduce(g, OP_MAX, x, axes));
    Node *s = ir_reduce(g, OP_SUM, ir_unary(g, OP_EXP, ir_binary(g, OP_SUB, x, m)), axes);
    return ir_binary(g, OP_ADD, ir_unary(g, OP_LOG, s), m);
}

/* var and std as torch.var and torch.std: the sum of squared deviations
 * from the mean over max(0, N - correction).  std's gradient is 0 where
 * it is 0 (PyTorch masks it there), not 0/0: the sqrt reads 1 there. */
static Node *variance(Sema *S, Node *x, unsigned axes, double correction, bool std) {
    Graph *g = sema_graph(S);
    Node *n = count_in_use(S, x, axes, NULL);
    Node *d = ir_center(g, x, axes, n);
    Node *dof = ir_binary(g, OP_MAXIMUM, ir_binary(g, OP_SUB, n, ir_const(g, x->dt, correction)),
                          ir_const(g, x->dt, 0));
    Node *v = ir_binary(g, OP_DIV, ir_reduce(g, OP_SUM, ir_unary(g, OP_SQUARE, d), axes), dof);
    if (!std)
        return v;
    Node *zero = ir_const(g, x->dt, 0), *nonzero = ir_binary(g, OP_NE, v, zero);
    Node *root = ir_unary(g, OP_SQRT, ir_where(g, nonzero, v, ir_const(g, x->dt, 1)));
    return ir_where(g, nonzero, root, zero);
}

static Val fn_reduce(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    unsigned axes;
    bool keep = false;
    if (!x || !reduce_axes(args[1], x, &axes) || (args[2].kind != V_NONE && !bool_arg(args[2], &keep)))
        return val_err();
    double correction = 1;
    if (b->nparams > 3 && args[3].kind != V_NONE) {
        if (args[3].kind != V_NUM) {
            error_at(args[3].loc, "%s(): correction must be a compile-time number", b->name);
            return val_err();
        }
        correction = args[3].num;
    }
    Graph *g = sema_graph(S);
    Node *r;
    if (strcmp(b->name, "logsumexp") == 0)
        r = logsumexp_torch(g, x, axes);
    else if (strcmp(b->name, "mean") == 0)
        r = ir_binary(g, OP_DIV, ir_reduce(g, OP_SUM, x, axes), count_in_use(S, x, axes, NULL));
    else if (strcmp(b->name, "min") == 0)   /* the first minimum, or NaN, is the first maximum of -x */
        r = ir_unary(g, OP_NEG, ir_reduce(g, OP_MAX, ir_unary(g, OP_NEG, x), axes));
    else if (b->nparams > 3)
        r = variance(S, x, axes, correction, b->op == OP_SQRT);
    else
        r = ir_reduce(g, b->op, x, axes);
    if (!keep)
        r = ir_reshape(g, r, drop_axes(&x->shape, axes));
    return val_node(r, call->loc);
}

static Val fn_softmax(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    if (!x)
        return val_err();
    int axis = x->shape.rank - 1;
    if (args[1].kind != V_NONE) {
        if (!axis_arg(args[1], x, &axis))
            return val_err();
    } else if (x->shape.rank == 0) {
        error_at(call->loc, "%s() of a scalar", b->name);
        return val_err();
    }
    Graph *g = sema_graph(S);
    unsigned axes = 1u << axis;
    if (b->op == OP_EXP) {   /* softmax */
        Node *e = ir_unary(g, OP_EXP, ir_binary(g, OP_SUB, x, ir_detach(g, ir_reduce(g, OP_MAX, x, axes))));
        return val_node(ir_binary(g, OP_DIV, e, ir_reduce(g, OP_SUM, e, axes)), call->loc);
    }
    return val_node(ir_binary(g, OP_SUB, x, logsumexp_keep(g, x, axes)), call->loc);
}

static Val fn_cross_entropy(Sema *S, const Builtin *b, Ast *call, Val *args) {
    if (args[0].kind == V_ERR || args[1].kind == V_ERR)
        return val_err();
    if (args[0].kind != V_NODE || args[0].node->shape.rank != 2 || !dtype_is_float(args[0].node->dt)) {
        error_at(args[0].loc, "cross_entropy() takes logits of shape [n, c] first; got %s",
                 args[0].kind == V_NODE ? shape_str(args[0].node->dt, &args[0].node->shape) : "a number");
        return val_err();
    }
    Node *x = args[0].node, *y = args[1].kind == V_NODE ? args[1].node : NULL;
    if (!y || y->dt != DT_I32 || y->shape.rank != 1) {
        error_at(args[1].loc, "cross_entropy() takes i32 labels of shape [n] second; got %s",
                 y ? shape_str(y->dt, &y->shape) : "a number");
        return val_err();
    }
    if (!shape_axis_eq(&y->shape, 0, &x->shape, 0)) {
        error_at(call->loc, "cross_entropy() of logits %s and labels %s: %s examples against %s labels",
                 shape_str(x->dt, &x->shape), shape_str(y->dt, &y->shape), shape_axis_str(&x->shape, 0),
                 shape_axis_str(&y->shape, 0));
        return val_err();
    }
    Graph *g = sema_graph(S);
    sema_label_range(S, y, x->shape.d[1]);
    Node *lse = ir_reshape(g, logsumexp_keep(g, x, 2u), y->shape);
    return val_node(ir_binary(g, OP_SUB, lse, ir_pick(g, x, y)), call->loc);
}

/* ---- shapes ---- */

/* reshape keeps each runtime axis whole and in order (contract, 5.1): the
 * fixed axes between two runtime ones (and before the first, after the
 * last) must hold as many elements on both sides.  Then every element in
 * use keeps its place in the max-shape storage, so the reshape is the same
 * view at any n. */
static bool runtime_axes_kept(const Shape *from, const Shape *to) {
    int i = 0, j = 0;
    for (;;) {
        int64_t a = 1, b = 1;
        while (i < from->rank && !from->dyn[i])
            a *= from->d[i++];
        while (j < to->rank && !to->dyn[j])
            b *= to->d[j++];
        if (a != b)
            return false;
        if (i == from->rank || j == to->rank)
            return i == from->rank && j == to->rank;
        if (from->dyn[i++] != to->dyn[j++])
            return false;
    }
}

static Val fn_reshape(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    if (!x || args[1].kind == V_ERR)
        return val_err();
    if (args[1].kind != V_LIST) {
        error_at(args[1].loc, "reshape() takes the new dims as a list: reshape(x, [d1, d2])");
        return val_err();
    }
    Val l = args[1];
    if (l.nlist > MAX_RANK) {
        error_at(l.loc, "tensors have at most %d dimensions", MAX_RANK);
        return val_err();
    }
    Shape s = {.rank = l.nlist};
    int infer = -1;
    int64_t known = 1, n = shape_numel(&x->shape);
    for (int i = 0; i < l.nlist; i++) {
        if (l.list[i] == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (l.list[i] < 1 || l.list[i] > n) {
            error_at(l.loc, "reshape() dim %lld is invalid for %s", (long long)l.list[i],
                     shape_str(x->dt, &x->shape));
            return val_err();
        }
        if (__builtin_mul_overflow(known, l.list[i], &known))
            known = INT64_MAX;   /* saturates: no wrap */
        s.d[i] = l.list[i];
        s.dyn[i] = l.list[i] > 1 ? l.list_dyn[i] : 0;
    }
    if (infer >= 0 && known > 0 && n % known == 0)
        s.d[infer] = n / known;
    if (infer < 0 ? known != n : known > n || n % known) {
        if (known == INT64_MAX)
            error_at(call->loc, "reshape() of %s (%lld elements) to %s (more than %lld elements)",
                     shape_str(x->dt, &x->shape), (long long)n, shape_str(x->dt, &s), (long long)INT64_MAX);
        else
            error_at(call->loc, "reshape() of %s (%lld elements) to %s (%lld elements)",
                     shape_str(x->dt, &x->shape), (long long)n, shape_str(x->dt, &s), (long long)known);
        return val_err();
    }
    if (!runtime_axes_kept(&x->shape, &s)) {
        error_at(call->loc, "reshape() of %s to %s: each runtime axis must stay whole and in order, "
                 "with as many elements before and after it", shape_str(x->dt, &x->shape), shape_str(x->dt, &s));
        return val_err();
    }
    return val_node(ir_reshape(sema_graph(S), x, s), call->loc);
}

static Val fn_transpose(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    if (!x)
        return val_err();
    int r = x->shape.rank, perm[MAX_RANK];
    for (int i = 0; i < r; i++)
        perm[i] = r - 1 - i;   /* default: reverse the axes, as NumPy */
    if (args[1].kind == V_LIST) {
        Val l = args[1];
        unsigned seen = 0;
        bool ok = l.nlist == r;
        for (int i = 0; i < l.nlist; i++)
            ok &= !l.list_dyn[i];
        for (int i = 0; ok && i < r; i++) {
            ok = l.list[i] >= 0 && l.list[i] < r && !(seen & (1u << l.list[i]));
            if (ok) {
                seen |= 1u << l.list[i];
                perm[i] = (int)l.list[i];
            }
        }
        if (!ok) {
            error_at(l.loc, "transpose() needs a permutation of 0..%d for %s", r - 1, shape_str(x->dt, &x->shape));
            return val_err();
        }
    } else if (args[1].kind != V_NONE) {
        error_at(args[1].loc, "transpose() takes the permutation as a list: transpose(x, [1, 0])");
        return val_err();
    }
    return val_node(ir_transpose(sema_graph(S), x, perm), call->loc);
}

/* flip(x, dims) as torch.flip: x reversed along each axis of dims (an
 * axis or a list of them), a runtime axis along its rows in use. */
static Val fn_flip(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    unsigned axes;
    if (!x || !reduce_axes(args[1], x, &axes))
        return val_err();
    return val_node(ir_flip(sema_graph(S), x, axes), call->loc);
}

static Val fn_argmax(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    if (!x)
        return val_err();
    int axis = 0;
    bool keep = false;
    if (args[1].kind != V_NONE) {
        if (!axis_arg(args[1], x, &axis))
            return val_err();
    } else if (x->shape.rank != 1) {
        error_at(call->loc, "%s() of %s needs an axis: %s(x, axis = k)", b->name, shape_str(x->dt, &x->shape),
                 b->name);
        return val_err();
    }
    if (args[2].kind != V_NONE && !bool_arg(args[2], &keep))
        return val_err();
    Graph *g = sema_graph(S);
    Node *r = ir_argmax(g, b->op == OP_NEG ? ir_unary(g, OP_NEG, x) : x, axis);   /* argmin: of -x */
    if (!keep)
        r = ir_reshape(g, r, drop_axes(&x->shape, 1u << axis));
    return val_node(r, call->loc);
}

enum { MAX_WINDOW = 1 << 16 };   /* kernel sizes, strides, paddings, dilations */
enum { MAX_JOINED = 4096 };      /* tensors in one concat() or stack() */
#define MAX_WINDOW_ELEMS ((int64_t)1 << 31)   /* of the im2col matrix, as of any tensor */

/* im2col of x, unless its matrix would be too large to allocate. */
static Node *windows_of(Graph *g, Node *x, const Window *w, double pad, const char *fname, Loc loc) {
    Node *cols = ir_im2col(g, x, w, pad);
    if (shape_numel(&cols->shape) > MAX_WINDOW_ELEMS) {
        error_at(loc, "%s() of %s: its windows would take %lld x %lld elements, more than %lld", fname,
                 shape_str(x->dt, &x->shape), (long long)cols->shape.d[0], (long long)cols->shape.d[1],
                 (long long)MAX_WINDOW_ELEMS);
        return NULL;
    }
    return cols;
}

/* ---- joining and gathering (contract, 5.3 Breadth) ---- */

/* concat([a, b, ...], axis = k): each tensor placed at its offset along k
 * in zeros of the result (PAD, elementwise), the placements summed: one
 * loop when they fuse, and each gradient the slice of its place. */
static Node *concat_nodes(Sema *S, Node **xs, int n, int axis, const char *fname, Loc loc) {
    Graph *g = sema_graph(S);
    Shape s = xs[0]->shape;
    DType dt = xs[0]->dt;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        const Shape *t = &xs[i]->shape;
        bool ok = t->rank == s.rank && xs[i]->dt == dt && !t->dyn[axis];
        for (int d = 0; ok && d < s.rank; d++)
            ok = d == axis || shape_axis_eq(t, d, &s, d);
        if (!ok) {
            error_at(loc, "%s() of %s and %s: the tensors must have one dtype and the same dims except along "
                     "axis %d, which cannot be a runtime dim", fname, shape_str(dt, &s), shape_str(xs[i]->dt, t), axis);
            return NULL;
        }
        total += t->d[axis];
    }
    s.d[axis] = total;
    Node *sum = NULL;
    for (int i = 0, at = 0; i < n; at += (int)xs[i++]->shape.d[axis]) {
        Node *placed = ir_pad(g, xs[i], axis, at, s);
        sum = sum ? ir_binary(g, OP_ADD, sum, placed) : placed;
    }
    return sum;
}

/* The tensors of a list argument, float, and the axis (default 0) for a
 * result of the given rank. */
static bool tensors_arg(Sema *S, Val *args, int rank_extra, const char *fname, int *axis) {
    Val l = args[0];
    if (l.nlist < 1 || l.nlist > MAX_JOINED) {
        error_at(l.loc, "%s() joins 1 to %d tensors; this list has %d", fname, MAX_JOINED, l.nlist);
        return false;
    }
    for (int i = 0; i < l.nlist; i++)
        if (!dtype_is_float(l.nodes[i]->dt)) {
            error_at(l.loc, "%s() joins float tensors; item %d is %s", fname, i, shape_str(l.nodes[i]->dt, &l.nodes[i]->shape));
            return false;
        }
    Node like = *l.nodes[0];   /* the result's rank, for the axis */
    if (rank_extra && like.shape.rank >= MAX_RANK) {
        error_at(l.loc, "%s() would make a tensor of more than %d axes", fname, MAX_RANK);
        return false;
    }
    if (rank_extra)
        shape_push_fixed(&like.shape, 1);
    *axis = 0;
    return args[1].kind == V_NONE || axis_arg(args[1], &like, axis);
}

static Val fn_concat(Sema *S, const Builtin *b, Ast *call, Val *args) {
    int axis;
    if (!tensors_arg(S, args, 0, b->name, &axis))
        return val_err();
    Node *r = concat_nodes(S, args[0].nodes, args[0].nlist, axis, b->name, call->loc);
    return r ? val_node(r, call->loc) : val_err();
}

/* stack: each tensor given a new axis of 1 at axis, then concatenated. */
static Val fn_stack(Sema *S, const Builtin *b, Ast *call, Val *args) {
    int axis;
    if (!tensors_arg(S, args, 1, b->name, &axis))
        return val_err();
    Graph *g = sema_graph(S);
    Node **xs = NEWA(Node *, args[0].nlist);
    for (int i = 0; i < args[0].nlist; i++) {
        const Shape *t = &args[0].nodes[i]->shape;
        Shape s = shape_scalar();
        for (int d = 0; d <= t->rank; d++) {
            if (d == axis)
                shape_push_fixed(&s, 1);
            if (d < t->rank)
                shape_push(&s, t, d);
        }
        xs[i] = ir_reshape(g, args[0].nodes[i], s);
    }
    Node *r = concat_nodes(S, xs, args[0].nlist, axis, b->name, call->loc);
    return r ? val_node(r, call->loc) : val_err();
}

/* flatten(x, start_dim = 1): the axes from start_dim on as one. */
static Val fn_flatten(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    int start = x && x->shape.rank > 1 ? 1 : 0;
    if (!x || (args[1].kind != V_NONE && !axis_arg(args[1], x, &start)))
        return val_err();
    Shape s = shape_scalar();
    int64_t rest = 1;
    for (int d = 0; d < x->shape.rank; d++) {
        if (d < start) {
            shape_push(&s, &x->shape, d);
            continue;
        }
        if (x->shape.dyn[d] && x->shape.rank - start > 1) {
            error_at(call->loc, "flatten() of %s from axis %d would merge the runtime axis %d with others",
                     shape_str(x->dt, &x->shape), start, d);
            return val_err();
        }
        rest *= x->shape.d[d];
    }
    if (x->shape.rank - start == 1)
        shape_push(&s, &x->shape, start);
    else
        shape_push_fixed(&s, rest);
    return val_node(ir_reshape(sema_graph(S), x, s), call->loc);
}

/* embedding(idx, table): row idx[...] of table [V, D] for each index, as
 * one-hot rows times the table, so the gradient scatters back (summed for
 * repeated indices) by the product's own rule.  An index outside [0, V)
 * makes the entry point return NNRT_EINDEX, as a label does. */
static Val fn_embedding(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *idx = args[0].kind == V_NODE ? args[0].node : NULL;
    Node *table = tensor_arg(S, args[1], b->name);
    if (!idx || idx->dt != DT_I32 || idx->shape.rank < 1) {
        error_at(args[0].loc, "embedding() takes i32 indices of rank 1 or more first");
        return val_err();
    }
    if (!table || table->shape.rank != 2 || shape_is_dynamic(&table->shape)) {
        if (table)
            error_at(args[1].loc, "embedding() takes a table [V, D] second; got %s", shape_str(table->dt, &table->shape));
        return val_err();
    }
    for (int d = 1; d < idx->shape.rank; d++)
        if (idx->shape.dyn[d]) {
            error_at(args[0].loc, "embedding() of %s: only the first axis of the indices may be a runtime dim",
                     shape_str(idx->dt, &idx->shape));
            return val_err();
        }
    Graph *g = sema_graph(S);
    sema_label_range(S, idx, table->shape.d[0]);
    Shape flat = shape_scalar(), out = idx->shape;   /* the indices as one axis, rows merged with a runtime one */
    shape_push(&flat, &idx->shape, 0);
    flat.d[0] = shape_numel(&idx->shape);
    shape_push(&out, &table->shape, 1);
    Node *rows = ir_matmul(g, ir_onehot(g, ir_reshape(g, idx, flat), table->shape.d[0], table->dt), table);
    return val_node(ir_reshape(g, rows, out), call->loc);
}

/* ---- convolution and pooling (contract, 5.3) ----
 *
 * Each is built on im2col: the windows of x become the columns of a matrix
 * [C*kh*kw, N*OH*OW] (its second axis merges a runtime batch with the
 * output pixels), so conv2d is one matrix product per group and the pools
 * are reductions down the columns; their gradients come from the rules of
 * matmul, max and sum, and col2im, im2col's adjoint.  A pool whose windows
 * tile the image needs no copy: it reduces a view of x. */

/* stride, padding or dilation: an integer or [h, w], at least min. */
static bool pair_arg(Val v, const char *fname, const char *what, int64_t dflt, int64_t min, int64_t out[2]) {
    out[0] = out[1] = dflt;
    if (v.kind == V_NONE || v.kind == V_ERR)
        return v.kind == V_NONE;
    bool ok = (v.kind == V_NUM && v.is_int) || (v.kind == V_LIST && v.nlist == 2 && !v.list_dyn[0] && !v.list_dyn[1]);
    if (ok) {
        out[0] = v.kind == V_NUM ? (int64_t)v.num : v.list[0];
        out[1] = v.kind == V_NUM ? (int64_t)v.num : v.list[1];
        ok = out[0] >= min && out[1] >= min && out[0] <= MAX_WINDOW && out[1] <= MAX_WINDOW;
    }
    if (!ok)
        error_at(v.loc, "%s(): %s must be an integer or [h, w] of integers from %lld to %d", fname, what,
                 (long long)min, MAX_WINDOW);
    return ok;
}

/* x [N, C, H, W] of a float type, its C, H and W fixed. */
static Node *image_arg(Sema *S, Val v, const char *fname) {
    Node *x = tensor_arg(S, v, fname);
    if (x && (x->shape.rank != 4 || x->shape.dyn[1] || x->shape.dyn[2] || x->shape.dyn[3])) {
        error_at(v.loc, "%s() takes x of shape [N, C, H, W] (only N a runtime dim); got %s", fname,
                 shape_str(x->dt, &x->shape));
        return NULL;
    }
    return x;
}

/* The window's output is at least 1 x 1: each of OH and OW, by the
 * formula PyTorch's documentation gives, is stated when it is not. */
static bool window_fits(const Node *x, const Window *w, const char *fname, Loc loc) {
    const int64_t in[2] = {x->shape.d[2], x->shape.d[3]}, k[2] = {w->kh, w->kw}, s[2] = {w->sh, w->sw};
    const int64_t p[2] = {w->ph, w->pw}, d[2] = {w->dh, w->dw};
    static const char *const axis[2] = {"H", "W"}, *const out[2] = {"OH", "OW"};
    for (int i = 0; i < 2; i++) {
        int64_t span = in[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1;
        if (span >= 0)
            continue;
        error_at(loc, "%s() of %s: no output pixel: %s = (%s + 2*padding - dilation*(k - 1) - 1) / stride + 1 = "
                 "(%lld + 2*%lld - %lld*%lld - 1) / %lld + 1 < 1", fname, shape_str(x->dt, &x->shape), out[i], axis[i],
                 (long long)in[i], (long long)p[i], (long long)d[i], (long long)(k[i] - 1), (long long)s[i]);
        return false;
    }
    return true;
}

static Val fn_conv2d(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = image_arg(S, args[0], b->name), *w = tensor_arg(S, args[1], b->name);
    Node *bias = args[2].kind == V_NONE ? NULL : tensor_arg(S, args[2], b->name);
    int64_t stride[2], pad[2], dil[2], groups = 1;
    bool ok = pair_arg(args[3], b->name, "stride", 1, 1, stride);
    ok &= pair_arg(args[4], b->name, "padding", 0, 0, pad);
    ok &= pair_arg(args[5], b->name, "dilation", 1, 1, dil);
    if (args[6].kind != V_NONE && (!int_arg(args[6], "groups", &groups) || groups < 1)) {
        if (groups < 1)
            error_at(args[6].loc, "conv2d(): groups must be at least 1");
        ok = false;
    }
    if (!ok || !x || !w || (args[2].kind != V_NONE && !bias))
        return val_err();
    int64_t C = x->shape.d[1];
    if (C % groups) {
        error_at(args[6].loc, "conv2d(): groups = %lld does not divide the %lld channels of x", (long long)groups,
                 (long long)C);
        return val_err();
    }
    if (w->shape.rank != 4 || shape_is_dynamic(&w->shape) || w->dt != x->dt || w->shape.d[0] % groups ||
        w->shape.d[1] != C / groups) {
        error_at(args[1].loc, "conv2d() of %s with %lld group%s takes w of shape %s[O, %lld, kh, kw], O a multiple "
                 "of %lld; got %s", shape_str(x->dt, &x->shape), (long long)groups, groups == 1 ? "" : "s",
                 dtype_name(x->dt), (long long)(C / groups), (long long)groups, shape_str(w->dt, &w->shape));
        return val_err();
    }
    int64_t O = w->shape.d[0];
    if (bias && (bias->shape.rank != 1 || bias->shape.d[0] != O || bias->dt != x->dt)) {
        error_at(args[2].loc, "conv2d() takes b of shape %s[%lld]; got %s", dtype_name(x->dt), (long long)O,
                 shape_str(bias->dt, &bias->shape));
        return val_err();
    }
    Window win = {w->shape.d[2], w->shape.d[3], stride[0], stride[1], pad[0], pad[1], dil[0], dil[1]};
    if (!window_fits(x, &win, b->name, call->loc))
        return val_err();
    Graph *g = sema_graph(S);
    int64_t kk = win.kh * win.kw, cg = C / groups, og = O / groups;
    /* Y [O, N*OH*OW] = W [O, C*kh*kw] @ cols [C*kh*kw, N*OH*OW]: the product
     * is wide where the channels are few, as the generated product likes. */
    Node *cols = windows_of(g, x, &win, 0, b->name, call->loc);
    if (!cols)
        return val_err();
    Shape ws = shape_scalar();
    shape_push_fixed(&ws, groups);
    shape_push_fixed(&ws, og);
    shape_push_fixed(&ws, cg * kk);
    Node *wg = ir_reshape(g, w, ws), *y = NULL;
    /* group k: its rows of w against its rows of cols, placed at its rows
     * of Y (PAD: one fused loop sums the groups) */
    for (int64_t k = 0; k < groups; k++) {
        Node *yk = ir_matmul(g, ir_index(g, wg, k), ir_slice(g, cols, 0, k * cg * kk, cg * kk));
        Shape ys = yk->shape;
        ys.d[0] = O;
        Node *placed = ir_pad(g, yk, 0, k * og, ys);
        y = y ? ir_binary(g, OP_ADD, y, placed) : placed;
    }
    y = ir_columns_image(g, y, x, &win);
    if (bias) {
        Shape bs = shape_scalar();
        shape_push_fixed(&bs, O);
        shape_push_fixed(&bs, 1);
        shape_push_fixed(&bs, 1);
        y = ir_binary(g, OP_ADD, y, ir_reshape(g, bias, bs));
    }
    return val_node(y, call->loc);
}

/* Whether the windows cover x's fixed H and W exactly, side by side:
 * stride = kernel, no padding, H and W multiples of it. */
static bool tiles_image(const Node *x, const Window *w) {
    return w->sh == w->kh && w->sw == w->kw && !w->ph && !w->pw && w->dh == 1 && w->dw == 1 && !x->shape.dyn[2] &&
           !x->shape.dyn[3] && x->shape.d[2] % w->kh == 0 && x->shape.d[3] % w->kw == 0;
}

/* max_pool2d and avg_pool2d: each channel's windows as the columns of
 * [k*k, N*C*OH*OW] (x seen as [N*C, 1, H, W]), reduced down the columns;
 * windows that tile the image, as a reduction over a view of x. */
static Val fn_pool(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = image_arg(S, args[0], b->name);
    int64_t k[2], stride[2], pad[2];
    bool ok = pair_arg(args[1], b->name, "the kernel size", 1, 1, k);
    ok &= pair_arg(args[2], b->name, "stride", 0, 1, stride);
    ok &= pair_arg(args[3], b->name, "padding", 0, 0, pad);
    bool include_pad = true;
    if (b->nparams > 4 && args[4].kind != V_NONE && (args[4].kind != V_NUM || (args[4].num != 0 && args[4].num != 1))) {
        error_at(args[4].loc, "avg_pool2d(): count_include_pad must be true or false");
        ok = false;
    } else if (b->nparams > 4 && args[4].kind == V_NUM) {
        include_pad = args[4].num != 0;
    }
    if (!ok || !x)
        return val_err();
    if (args[2].kind == V_NONE)   /* stride = k */
        memcpy(stride, k, sizeof stride);
    if (2 * pad[0] > k[0] || 2 * pad[1] > k[1]) {
        error_at(args[3].loc, "%s(): padding %lld, %lld is more than half the %lldx%lld window", b->name,
                 (long long)pad[0], (long long)pad[1], (long long)k[0], (long long)k[1]);
        return val_err();
    }
    Window win = {k[0], k[1], stride[0], stride[1], pad[0], pad[1], 1, 1};
    if (!window_fits(x, &win, b->name, call->loc))
        return val_err();
    Graph *g = sema_graph(S);
    bool is_max = b->op == OP_MAX;
    int64_t oh = window_out(x->shape.d[2], win.kh, win.sh, win.ph, 1), ow = window_out(x->shape.d[3], win.kw, win.sw, win.pw, 1);
    Node *r;
    if (tiles_image(x, &win)) {
        /* Windows that tile the image: x seen as [N, C, OH, kh, OW, kw]
         * (a view), reduced over kh and kw; its gradient is a broadcast,
         * read in place, where col2im would add the windows back. */
        Shape tiles = shape_scalar();
        shape_push(&tiles, &x->shape, 0);
        shape_push(&tiles, &x->shape, 1);
        shape_push_fixed(&tiles, oh);
        shape_push_fixed(&tiles, win.kh);
        shape_push_fixed(&tiles, ow);
        shape_push_fixed(&tiles, win.kw);
        r = ir_reduce(g, is_max ? OP_MAX : OP_SUM, ir_reshape(g, x, tiles), 1u << 3 | 1u << 5);
    } else {
        Shape planes = shape_scalar();   /* [N*C, 1, H, W] */
        shape_push(&planes, &x->shape, 0);
        planes.d[0] *= x->shape.d[1];
        shape_push_fixed(&planes, 1);
        shape_push(&planes, &x->shape, 2);
        shape_push(&planes, &x->shape, 3);
        Node *cols = windows_of(g, ir_reshape(g, x, planes), &win, is_max ? -INFINITY : 0, b->name, call->loc);
        if (!cols)
            return val_err();
        r = ir_reduce(g, is_max ? OP_MAX : OP_SUM, cols, 1u);   /* down each column: vectorized across them */
    }
    Shape ys = shape_scalar();
    shape_push(&ys, &x->shape, 0);
    shape_push(&ys, &x->shape, 1);
    shape_push_fixed(&ys, oh);
    shape_push_fixed(&ys, ow);
    Node *y = ir_reshape(g, r, ys);
    if (is_max)
        return val_node(y, call->loc);
    Node *count;
    if (include_pad || (!win.ph && !win.pw)) {
        count = ir_const(g, x->dt, (double)(win.kh * win.kw));
    } else {   /* the window's elements inside x: im2col of ones, summed */
        Shape one = shape_scalar(), os = shape_scalar();
        shape_push_fixed(&one, 1);
        shape_push_fixed(&one, 1);
        shape_push(&one, &x->shape, 2);
        shape_push(&one, &x->shape, 3);
        shape_push_fixed(&os, oh);
        shape_push_fixed(&os, ow);
        Node *ones = ir_broadcast(g, ir_const(g, x->dt, 1), one);
        count = ir_reshape(g, ir_reduce(g, OP_SUM, ir_im2col(g, ones, &win, 0), 1u), os);
    }
    return val_node(ir_binary(g, OP_DIV, y, count), call->loc);
}

/* ---- training mode: dropout, batch_norm (contract, 5.3 and 5.8) ---- */

/* A rate or constant of a builtin: a number, in x's type, or a hyper. */
static Node *scalar_arg(Sema *S, Val v, double dflt, const char *fname, const char *what, DType dt) {
    Graph *g = sema_graph(S);
    if (v.kind == V_NONE)
        return ir_const(g, dt, dflt);
    if (v.kind == V_NUM)
        return sema_number_fits(v.num, dt, v.loc) ? ir_const(g, dt, v.num) : NULL;
    if (v.kind == V_NODE && v.node->op == OP_HYPER)
        return ir_cast(g, v.node, dt);
    if (v.kind != V_ERR)
        error_at(v.loc, "%s() takes %s as a number or a hyper", fname, what);
    return NULL;
}

static Val fn_dropout(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    Node *p = x ? scalar_arg(S, args[1], 0, b->name, "p", x->dt) : NULL;
    if (!p)
        return val_err();
    if (p->op == OP_CONST && !(p->value >= 0 && p->value < 1)) {
        error_at(args[1].loc, "dropout() takes p in [0, 1); this one is %g", p->value);
        return val_err();
    }
    Graph *g = sema_graph(S);
    Model *m = sema_model_of(S);
    if (!m->seedstep) {
        Shape two = shape_scalar();
        shape_push_fixed(&two, 2);
        m->seedstep = ir_leaf(g, OP_SEEDSTEP, DT_I64, two, -1, "seedstep", call->loc);
    }
    m->dropout_p = arena_grow(m->dropout_p, m->ndropouts, sizeof *m->dropout_p);
    m->dropout_p[m->ndropouts] = p;
    Node *mask = ir_dropmask(g, p, m->seedstep, x->shape, m->ndropouts++);
    return val_node(ir_mode(g, ir_binary(g, OP_MUL, x, mask), x), call->loc);
}

/* running_mean or running_var: a state [C] of x's type, which no other
 * batch_norm updates. */
static Node *running_arg(Sema *S, Val v, const char *what, const Node *x) {
    if (v.kind == V_ERR)
        return NULL;
    Node *r = v.kind == V_NODE ? v.node : NULL;
    if (!r || r->op != OP_STATE || r->shape.rank != 1 || r->shape.d[0] != x->shape.d[1] || r->dt != x->dt) {
        error_at(v.loc, "batch_norm() takes %s as a state %s[%lld] (declare 'state NAME : %s[%lld]')", what,
                 dtype_name(x->dt), (long long)x->shape.d[1], dtype_name(x->dt), (long long)x->shape.d[1]);
        return NULL;
    }
    const Model *m = sema_model_of(S);
    for (int w = 0; w < m->nwrites; w++)
        if (m->writes[w].tensor == r->tensor) {
            error_at(v.loc, "state '%s' is already the running statistic of another batch_norm()",
                     m->tensors[r->tensor].name);
            note_at(m->writes[w].loc, "updated here");
            return NULL;
        }
    return r;
}

/* weight or bias: absent (PyTorch's None), or a tensor [C]. */
static bool affine_arg(Sema *S, Val v, const char *what, const Node *x, Shape stat, Node **out) {
    *out = NULL;
    if (v.kind == V_NONE)
        return true;
    Node *w = tensor_arg(S, v, "batch_norm");
    if (w && (w->shape.rank != 1 || w->shape.d[0] != x->shape.d[1] || w->dt != x->dt)) {
        error_at(v.loc, "batch_norm() takes %s of shape %s[%lld]; got %s", what, dtype_name(x->dt),
                 (long long)x->shape.d[1], shape_str(w->dt, &w->shape));
        return false;
    }
    *out = w ? ir_reshape(sema_graph(S), w, stat) : NULL;
    return w != NULL;
}

static void state_write(Sema *S, Node *state, Node *value, Loc loc) {
    Model *m = sema_model_of(S);
    m->writes = arena_grow(m->writes, m->nwrites, sizeof *m->writes);
    m->writes[m->nwrites++] = (StateWrite){state->tensor, value, loc};
}

/* Training normalizes by the batch's statistics over every axis but the
 * channels (biased variance) and updates the running ones, r = (1-momentum)
 * r + momentum stat, with the unbiased variance; forward normalizes by the
 * running statistics.  The gradient flows through the batch statistics. */
static Val fn_batch_norm(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    if (!x)
        return val_err();
    if (x->shape.rank != 2 && x->shape.rank != 4) {
        error_at(args[0].loc, "batch_norm() takes x of shape [N, C] or [N, C, H, W]; got %s",
                 shape_str(x->dt, &x->shape));
        return val_err();
    }
    if (x->shape.dyn[1]) {
        error_at(args[0].loc, "batch_norm() of %s: the channels (axis 1) cannot be a runtime dim",
                 shape_str(x->dt, &x->shape));
        return val_err();
    }
    Graph *g = sema_graph(S);
    unsigned axes = x->shape.rank == 2 ? 0x1u : 0xdu;   /* all but axis 1 */
    Node *rm = running_arg(S, args[1], "running_mean", x);
    Node *rv = running_arg(S, args[2], "running_var", x);
    if (rm && rm == rv) {
        error_at(args[2].loc, "batch_norm() needs two distinct states for running_mean and running_var");
        return val_err();
    }
    Node *stat_like = ir_reduce(g, OP_SUM, x, axes), *weight, *bias;
    Shape stat = stat_like->shape;
    Node *momentum = scalar_arg(S, args[5], 0.1, b->name, "momentum", x->dt);
    Node *eps = scalar_arg(S, args[6], 1e-5, b->name, "eps", x->dt);
    bool affine_ok = affine_arg(S, args[3], "weight", x, stat, &weight);
    affine_ok &= affine_arg(S, args[4], "bias", x, stat, &bias);
    if (!affine_ok || !rm || !rv || !momentum || !eps)
        return val_err();
    Model *m = sema_model_of(S);
    m->counts = arena_grow(m->counts, m->ncounts, sizeof *m->counts);
    Node *count = count_in_use(S, x, axes, &m->counts[m->ncounts++]);

    Node *mean = ir_binary(g, OP_DIV, stat_like, count);
    Node *centered = ir_center(g, x, axes, count);
    Node *squares = ir_reduce(g, OP_SUM, ir_unary(g, OP_SQUARE, centered), axes);
    Node *var = ir_binary(g, OP_DIV, squares, count);
    Node *train = ir_binary(g, OP_DIV, centered, ir_unary(g, OP_SQRT, ir_binary(g, OP_ADD, var, eps)));
    Node *rm_stat = ir_reshape(g, rm, stat), *rv_stat = ir_reshape(g, rv, stat);
    Node *eval = ir_binary(g, OP_DIV, ir_binary(g, OP_SUB, x, rm_stat),
                           ir_unary(g, OP_SQRT, ir_binary(g, OP_ADD, rv_stat, eps)));
    if (weight) {
        train = ir_binary(g, OP_MUL, train, weight);
        eval = ir_binary(g, OP_MUL, eval, weight);
    }
    if (bias) {
        train = ir_binary(g, OP_ADD, train, bias);
        eval = ir_binary(g, OP_ADD, eval, bias);
    }
    Node *keep = ir_binary(g, OP_SUB, ir_const(g, x->dt, 1), momentum);
    Node *unbiased = ir_binary(g, OP_DIV, squares, ir_binary(g, OP_SUB, count, ir_const(g, x->dt, 1)));
    Node *stats[2] = {mean, unbiased}, *running[2] = {rm, rv};
    for (int k = 0; k < 2; k++) {
        Node *s = ir_reshape(g, ir_detach(g, stats[k]), running[k]->shape);
        state_write(S, running[k], ir_binary(g, OP_ADD, ir_binary(g, OP_MUL, keep, running[k]),
                                             ir_binary(g, OP_MUL, momentum, s)), args[1 + k].loc);
    }
    return val_node(ir_mode(g, train, eval), call->loc);
}

/* ---- the table ---- */

#define UNARY(name, op) {name, {"x"}, 1, 1, fn_unary, op}
#define REDUCE(name, op) {name, {"x", "axis", "keepdims"}, 3, 1, fn_reduce, op}
static const Builtin builtins[] = {
    UNARY("exp", OP_EXP), UNARY("log", OP_LOG), UNARY("sqrt", OP_SQRT), UNARY("abs", OP_ABS),
    UNARY("tanh", OP_TANH), UNARY("sigmoid", OP_SIGMOID), UNARY("relu", OP_RELU),
    UNARY("softplus", OP_SOFTPLUS), UNARY("square", OP_SQUARE), UNARY("sin", OP_SIN), UNARY("cos", OP_COS),
    UNARY("erf", OP_ERF), UNARY("log1p", OP_LOG1P), UNARY("expm1", OP_EXPM1),
    {"silu", {"x"}, 1, 1, fn_silu, OP_SIGMOID},
    {"gelu", {"x"}, 1, 1, fn_gelu, OP_ERF},
    {"leaky_relu", {"x", "negative_slope"}, 2, 1, fn_negative_branch, OP_MUL},
    {"elu", {"x", "alpha"}, 2, 1, fn_negative_branch, OP_EXPM1},
    {"where", {"cond", "a", "b"}, 3, 3, fn_where, OP_WHERE},
    {"clamp", {"x", "min", "max"}, 3, 1, fn_clamp, OP_WHERE},
    {"pow", {"x", "c"}, 2, 2, fn_pow, OP_POWC},
    {"maximum", {"a", "b"}, 2, 2, fn_binary, OP_MAXIMUM},
    {"minimum", {"a", "b"}, 2, 2, fn_binary, OP_MINIMUM},
    REDUCE("sum", OP_SUM), REDUCE("mean", OP_SUM), REDUCE("max", OP_MAX), REDUCE("logsumexp", OP_SUM),
    REDUCE("min", OP_MAX), REDUCE("prod", OP_PROD),
    {"var", {"x", "axis", "keepdims", "correction"}, 4, 1, fn_reduce, OP_SUM},
    {"std", {"x", "axis", "keepdims", "correction"}, 4, 1, fn_reduce, OP_SQRT},
    {"softmax", {"x", "axis"}, 2, 1, fn_softmax, OP_EXP},
    {"log_softmax", {"x", "axis"}, 2, 1, fn_softmax, OP_LOG},
    {"cross_entropy", {"logits", "labels"}, 2, 2, fn_cross_entropy, OP_PICK},
    {"reshape", {"x", "dims"}, 2, 2, fn_reshape, OP_RESHAPE},
    {"transpose", {"x", "perm"}, 2, 1, fn_transpose, OP_TRANSPOSE},
    {"flip", {"x", "dims"}, 2, 2, fn_flip, OP_FLIP},
    {"argmax", {"x", "axis", "keepdims"}, 3, 1, fn_argmax, OP_ARGMAX},
    {"argmin", {"x", "axis", "keepdims"}, 3, 1, fn_argmax, OP_NEG},
    {"dropout", {"x", "p"}, 2, 2, fn_dropout, OP_DROPMASK},
    {"conv2d", {"x", "w", "b", "stride", "padding", "dilation", "groups"}, 7, 2, fn_conv2d, OP_IM2COL},
    {"concat", {"tensors", "axis"}, 2, 1, fn_concat, OP_PAD},
    {"stack", {"tensors", "axis"}, 2, 1, fn_stack, OP_PAD},
    {"flatten", {"x", "start_dim"}, 2, 1, fn_flatten, OP_RESHAPE},
    {"embedding", {"idx", "table"}, 2, 2, fn_embedding, OP_ONEHOT},
    {"max_pool2d", {"x", "k", "stride", "padding"}, 4, 2, fn_pool, OP_MAX},
    {"avg_pool2d", {"x", "k", "stride", "padding", "count_include_pad"}, 5, 2, fn_pool, OP_SUM},
    {"batch_norm", {"x", "running_mean", "running_var", "weight", "bias", "momentum", "eps"}, 7, 3,
     fn_batch_norm, OP_MODE},
};

const Builtin *builtin_find(const char *name) {
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return NULL;
}

Val builtin_call(Sema *S, const Builtin *b, Ast *call) {
    Ast *argast[MAX_ARGS];
    if (!match_args(call, b->name, b->params, b->nparams, b->nrequired, argast))
        return val_err();
    Val args[MAX_ARGS];
    for (int i = 0; i < b->nparams; i++) {
        args[i] = (Val){.kind = V_NONE};
        if (!argast[i])
            continue;
        if (argast[i]->kind == A_LIST && strcmp(b->params[i], "axis") == 0 && b->fn != fn_reduce) {
            error_at(argast[i]->loc, "%s() works along one axis: axis = k", b->name);
            return val_err();
        }
        if (argast[i]->kind == A_LIST && argast[i]->paren) {   /* reshape(x, (2, 3)) */
            error_at(argast[i]->loc, "(a, b) is a Python tuple; %s() takes a list: [a, b]", b->name);
            return val_err();
        }
        args[i] = sema_eval(S, argast[i]);
        if (args[i].kind == V_ERR)
            return val_err();
        args[i].loc = argast[i]->loc;
        bool tensors = strcmp(b->params[i], "tensors") == 0, is_list = args[i].kind == V_LIST && args[i].nodes;
        if (tensors != is_list) {
            error_at(args[i].loc, tensors ? "%s() takes a list of tensors here: [a, b, ...]"
                                          : "%s() takes compile-time integers here, not a list of tensors", b->name);
            return val_err();
        }
    }
    return b->fn(S, b, call, args);
}

/* ---- initializers ---- */

/* Kaiming's arguments are PyTorch's: `a`, the negative slope of the leaky
 * ReLU that follows (gain sqrt(2 / (1 + a^2)); a = sqrt(5) is nn.Linear's
 * default), and `fan`, PyTorch's mode: "in" takes the fan from dims[1] (the
 * inputs of a weight stored [out, in]), "out" from dims[0] (the inputs of
 * one stored [in, out], used as x @ W).  The runtime takes the fan as b,
 * NNRT_FAN_IN or NNRT_FAN_OUT.  Xavier's bound uses fan_in + fan_out, the
 * same for either layout of a matrix, so it has no fan. */
static const struct {
    const char *name;
    nnrt_init_kind kind;
    const char *params[2];
    int nparams, nrequired;
    double defaults[2];
} inits[] = {
    {"zeros", NNRT_INIT_ZEROS, {0}, 0, 0, {0}},
    {"ones", NNRT_INIT_ONES, {0}, 0, 0, {0}},
    {"constant", NNRT_INIT_CONSTANT, {"value"}, 1, 1, {0}},
    {"uniform", NNRT_INIT_UNIFORM, {"a", "b"}, 2, 2, {0}},
    {"normal", NNRT_INIT_NORMAL, {"mean", "std"}, 2, 2, {0}},
    {"xavier_uniform", NNRT_INIT_XAVIER_UNIFORM, {"gain"}, 1, 0, {1}},
    {"xavier_normal", NNRT_INIT_XAVIER_NORMAL, {"gain"}, 1, 0, {1}},
    {"kaiming_uniform", NNRT_INIT_KAIMING_UNIFORM, {"a", "fan"}, 2, 0, {0, NNRT_FAN_IN}},
    {"kaiming_normal", NNRT_INIT_KAIMING_NORMAL, {"a", "fan"}, 2, 0, {0, NNRT_FAN_IN}},
};

bool builtin_is_initializer(const char *name) {
    for (size_t i = 0; i < sizeof inits / sizeof *inits; i++)
        if (strcmp(inits[i].name, name) == 0)
            return true;
    return false;
}

/* fan = "in" | "out" */
static bool fan_arg(Ast *arg, const char *fname, double *fan) {
    if (arg->kind == A_STR && (strcmp(arg->name, "in") == 0 || strcmp(arg->name, "out") == 0)) {
        *fan = strcmp(arg->name, "in") == 0 ? NNRT_FAN_IN : NNRT_FAN_OUT;
        return true;
    }
    if (arg->kind == A_STR && (strcmp(arg->name, "fan_in") == 0 || strcmp(arg->name, "fan_out") == 0))
        error_at(arg->loc, "%s(): write fan = \"%s\" for PyTorch's mode = \"%s\"", fname, arg->name + 4,
                 arg->name);
    else
        error_at(arg->loc, "%s(): fan is \"in\" (from dims[1], for a weight stored [out, in] and used as "
                 "x @ W.T) or \"out\" (from dims[0], for [in, out] used as x @ W)", fname);
    return false;
}

bool builtin_initializer(Sema *S, Ast *call, nnrt_init_kind *kind, double *a, double *b) {
    for (size_t i = 0; i < sizeof inits / sizeof *inits; i++) {
        if (strcmp(inits[i].name, call->name) != 0)
            continue;
        bool xavier = inits[i].kind == NNRT_INIT_XAVIER_UNIFORM || inits[i].kind == NNRT_INIT_XAVIER_NORMAL;
        for (Ast *x = call->args; x && xavier; x = x->next)
            if (x->kw && strcmp(x->kw, "fan") == 0) {
                error_at(x->kwloc, "%s() has no fan: its bound uses fan_in + fan_out, the same for a "
                         "weight stored [out, in] or [in, out]", call->name);
                return false;
            }
        Ast *args[2];
        if (!match_args(call, call->name, inits[i].params, inits[i].nparams, inits[i].nrequired, args))
            return false;
        double v[2] = {inits[i].defaults[0], inits[i].defaults[1]};
        for (int k = 0; k < inits[i].nparams; k++) {
            if (!args[k])
                continue;
            if (strcmp(inits[i].params[k], "fan") == 0) {
                if (!fan_arg(args[k], call->name, &v[k]))
                    return false;
                continue;
            }
            Val x = sema_eval(S, args[k]);
            if (x.kind == V_ERR)
                return false;
            /* sqrt(5), 1 / sqrt(784): constant expressions fold to a scalar node */
            if (x.kind == V_NODE && x.node->op == OP_CONST && x.node->shape.rank == 0)
                x = (Val){.kind = V_NUM, .num = x.node->value};
            if (x.kind != V_NUM) {
                error_at(args[k]->loc, "%s(): '%s' must be a compile-time number", call->name, inits[i].params[k]);
                return false;
            }
            v[k] = x.num;
        }
        if (inits[i].kind == NNRT_INIT_UNIFORM && v[1] < v[0]) {
            error_at(call->loc, "uniform(a, b) needs a <= b; got a = %g, b = %g", v[0], v[1]);
            return false;
        }
        if (inits[i].kind == NNRT_INIT_NORMAL && v[1] < 0) {
            error_at(call->loc, "normal(mean, std) needs std >= 0; got %g", v[1]);
            return false;
        }
        *kind = inits[i].kind;
        *a = v[0];
        *b = v[1];
        return true;
    }
    return false;
}

/* ---- PyTorch habits ----
 *
 * Code ported from PyTorch brings its spellings along: modules (torch.relu,
 * nn.Linear, F.softmax(o, dim = 1)), methods (x.sum(1)), slices (x[0:4]).
 * The parser keeps them (nnc.h, A_CALL) and these say, as the error, what
 * the language writes instead. */

/* PyTorch's names with another form in nnc, by the last part of the name
 * (its trailing _ dropped). */
static const struct { const char *torch, *nnc; } torch_forms[] = {
    {"matmul", "the operator @: x @ W"},
    {"mm", "the operator @: x @ W"},
    {"bmm", "the operator @ on matrices: x @ W"},
    {"CrossEntropyLoss", "mean(cross_entropy(logits, labels)) (cross_entropy() gives the loss per example)"},
    {"cross_entropy", "mean(cross_entropy(logits, labels)): nnc's cross_entropy() gives the loss per example"},
    {"MSELoss", "mean(square(o - y))"},
    {"mse_loss", "mean(square(o - y))"},
    {"view", "reshape(x, [d1, d2])"},
    {"flatten", "reshape(x, [n, -1])"},
    {"permute", "transpose(x, [1, 0])"},
    {"t", "x.T"},
    {"cat", "nothing yet (concat and stack are planned); reshape and transpose rearrange one tensor, "
            "x[i] selects along its first axis"},
    {"stack", "nothing yet (concat and stack are planned); reshape and transpose rearrange one tensor, "
              "x[i] selects along its first axis"},
    {"zeros", "a declaration: param W : f32[...] = zeros() (or an input)"},
    {"ones", "a declaration: param W : f32[...] = ones() (or an input)"},
    {"randn", "a declaration: param W : f32[...] = normal(0, 1) (or an input)"},
    {"rand", "a declaration: param W : f32[...] = uniform(0, 1) (or an input)"},
    {"tensor", "a declaration: an input (the C code fills it) or a param with its initializer"},
    {"SGD", "the statement optimizer sgd(lr = 0.1)"},
    {"Adam", "the statement optimizer adam(lr = 1e-3)"},
    {"AdamW", "the statement optimizer adamw(lr = 1e-3)"},
    {"Sequential", "the model file itself: params, the expressions between them, minimize J"},
    {"Module", "the model file itself: params, the expressions between them, minimize J"},
    {"no_grad", "nothing: gradients are generated for the objective ('minimize J'), and forward() computes none"},
    {"backward", "nothing: 'minimize J' makes nnc generate backward() and train_step()"},
    {"pi", "the number, 3.141592653589793"},
    {"float32", "the type f32"},
    {"float64", "the type f64"},
    {"int32", "the type i32"},
};

/* nn.ReLU -> relu, kaiming_uniform_ -> kaiming_uniform */
static const char *plain_name(const char *name) {
    const char *dot = strrchr(name, '.');
    char *s = arena_strdup(dot ? dot + 1 : name);
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '_')
        s[--n] = 0;
    return s;
}

static const char *lower(const char *s) {
    char *t = arena_strdup(s);
    for (char *p = t; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return t;
}

static const Ast *kwarg(const Ast *call, const char *kw) {
    for (const Ast *a = call->kind == A_CALL ? call->args : NULL; a; a = a->next)
        if (a->kw && strcmp(a->kw, kw) == 0)
            return a;
    return NULL;
}

static const char *num_text(const Ast *a) {
    return a && a->kind == A_NUM ? arena_printf("%g", a->num) : NULL;
}

/* nn.Linear(in, out): its params and PyTorch's initialization of them. */
static const char *linear_form(const Ast *call) {
    const Ast *in = call->kind == A_CALL ? call->args : NULL, *out = in ? in->next : NULL;
    const char *i = num_text(in), *o = num_text(out);
    if (!i || !o)
        i = "IN", o = "OUT";
    return arena_printf("its params and an expression: param W : f32[%s, %s] = kaiming_uniform(a = sqrt(5)) and "
                        "param b : f32[%s] = uniform(-1 / sqrt(%s), 1 / sqrt(%s)) (PyTorch's initialization), "
                        "then x @ W.T + b", o, i, o, i, i);
}

void builtin_pytorch_hint(Ast *a) {
    if (a->name[0] == '.') {   /* a method: x.sum(1) */
        const char *m = a->name + 1, *x = a->lhs && a->lhs->kind == A_NAME ? a->lhs->name : "x";
        const char *instead = NULL;
        for (size_t i = 0; i < sizeof torch_forms / sizeof *torch_forms && !instead; i++)
            if (strcmp(torch_forms[i].torch, m) == 0 && strchr(torch_forms[i].nnc, '('))
                instead = torch_forms[i].nnc;
        if (strcmp(m, "t") == 0)
            instead = arena_printf("%s.T", x);
        else if (strcmp(m, "reshape") == 0 || strcmp(m, "view") == 0)
            instead = arena_printf("reshape(%s, [d1, d2])", x);
        else if (strcmp(m, "transpose") == 0 || strcmp(m, "permute") == 0)
            instead = arena_printf("transpose(%s, [1, 0]), or %s.T for a matrix", x, x);
        const Builtin *b = builtin_find(m);
        if (!instead && b) {
            const Ast *dim = kwarg(a, "dim");
            const char *axis = num_text(dim ? dim : a->args);
            instead = b->nparams > 1 && strcmp(b->params[1], "axis") == 0 && axis
                          ? arena_printf("%s(%s, axis = %s)", m, x, axis)
                          : arena_printf("%s(%s%s)", m, x, a->args ? ", ..." : "");
        }
        if (instead)
            error_at(a->loc, "'%s.%s()' is a PyTorch method; nnc has no methods (only '.T'): write %s", x, m,
                     instead);
        else
            error_at(a->loc, "'%s.%s()' is a PyTorch method; nnc has no methods (only '.T'), and a tensor's "
                     "values live in the structs the C code passes", x, m);
        return;
    }
    const char *name = plain_name(a->name), *low = lower(name);
    const char *instead = NULL;
    if (strcmp(name, "Linear") == 0) {
        error_at(a->loc, "'%s' is PyTorch's; a layer in nnc is %s", a->name, linear_form(a));
        return;
    }
    for (size_t i = 0; i < sizeof torch_forms / sizeof *torch_forms && !instead; i++)
        if (strcmp(torch_forms[i].torch, name) == 0)
            instead = torch_forms[i].nnc;
    if (instead) {
        error_at(a->loc, "'%s' is PyTorch's; nnc writes %s", a->name, instead);
        return;
    }
    const Builtin *b = builtin_find(low);
    if (b || builtin_is_initializer(low)) {
        const Ast *dim = kwarg(a, "dim"), *mode = kwarg(a, "mode");
        const char *extra = dim ? ", with axis = k for PyTorch's dim = k"
                          : mode ? ", with fan = \"in\" | \"out\" for PyTorch's mode"
                          : "";
        if (b)
            error_at(a->loc, "'%s' is PyTorch's; nnc's builtin is %s(...), called by its name alone%s",
                     a->name, low, extra);
        else
            error_at(a->loc, "'%s' is PyTorch's; nnc's initializer is %s(...), written after "
                     "'param NAME : TYPE ='%s", a->name, low, extra);
        return;
    }
    error_at(a->loc, "'%s' is PyTorch's; nnc has no modules: its builtins are called by name (relu(x), "
             "softmax(x, axis = 1)), as listed in docs/language.md", a->name);
}
