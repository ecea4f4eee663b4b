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
        if (k < 0) {
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
    return val_node(ir_powc(sema_graph(S), x, args[1].num), call->loc);
}

/* A number argument takes the precision of the tensor beside it
 * (contract, 5.8 Literals): maximum(b, 0.2) of an f64 b is f64's 0.2. */
static DType float_of(Val v) { return v.kind == V_NODE && dtype_is_float(v.node->dt) ? v.node->dt : DT_NONE; }

static Val fn_binary(Sema *S, const Builtin *b, Ast *call, Val *args) {
    for (int k = 0; k < 2; k++)
        if (!tensor_arg(S, args[k], b->name))   /* reports a list */
            return val_err();
    DType like = float_of(args[0]) == DT_F64 || float_of(args[1]) == DT_F64 ? DT_F64
                 : float_of(args[0]) ? float_of(args[0]) : float_of(args[1]);
    Node *x = sema_as_float(S, args[0], like), *y = sema_as_float(S, args[1], like);
    DType dt = x->dt == DT_F64 || y->dt == DT_F64 ? DT_F64 : x->dt;
    Graph *g = sema_graph(S);
    Node *n = ir_binary(g, b->op, ir_cast(g, x, dt), ir_cast(g, y, dt));
    if (!n) {
        error_at(call->loc, "%s() of %s and %s: shapes do not broadcast", b->name,
                 shape_str(x->dt, &x->shape), shape_str(y->dt, &y->shape));
        return val_err();
    }
    return val_node(n, call->loc);
}

/* ---- reductions ---- */

/* The axes a reduction covers: all, or the one given. */
static bool reduce_axes(Val axis, Node *x, unsigned *axes) {
    if (axis.kind == V_NONE) {
        *axes = all_axes(x);
        return true;
    }
    int a;
    if (!axis_arg(axis, x, &a))
        return false;
    *axes = 1u << a;
    return true;
}

static Node *logsumexp_keep(Graph *g, Node *x, unsigned axes) {
    Node *m = ir_detach(g, ir_reduce(g, OP_MAX, x, axes));
    Node *s = ir_reduce(g, OP_SUM, ir_unary(g, OP_EXP, ir_binary(g, OP_SUB, x, m)), axes);
    return ir_binary(g, OP_ADD, ir_unary(g, OP_LOG, s), m);
}

static Val fn_reduce(Sema *S, const Builtin *b, Ast *call, Val *args) {
    Node *x = tensor_arg(S, args[0], b->name);
    unsigned axes;
    bool keep = false;
    if (!x || !reduce_axes(args[1], x, &axes) || (args[2].kind != V_NONE && !bool_arg(args[2], &keep)))
        return val_err();
    Graph *g = sema_graph(S);
    Node *r;
    if (strcmp(b->name, "logsumexp") == 0) {
        r = logsumexp_keep(g, x, axes);
    } else if (strcmp(b->name, "mean") == 0) {
        /* The divisor counts the elements in use: a runtime axis adds its n. */
        int64_t count = 1;
        Node *divisor = NULL;
        for (int i = 0; i < x->shape.rank; i++) {
            if (!(axes & (1u << i)))
                continue;
            if (x->shape.dyn[i]) {
                Node *n = sema_dim_value(S, x->shape.dyn[i], x->dt);
                divisor = divisor ? ir_binary(g, OP_MUL, divisor, n) : n;
            } else {
                count *= x->shape.d[i];
            }
        }
        Node *c = ir_const(g, x->dt, (double)count);
        divisor = divisor ? ir_binary(g, OP_MUL, divisor, c) : c;
        r = ir_binary(g, OP_DIV, ir_reduce(g, OP_SUM, x, axes), divisor);
    } else {
        r = ir_reduce(g, b->op, x, axes);
    }
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
        known *= l.list[i];
        s.d[i] = l.list[i];
        s.dyn[i] = l.list[i] > 1 ? l.list_dyn[i] : 0;
    }
    if (infer >= 0 && known > 0 && n % known == 0)
        s.d[infer] = n / known;
    if (shape_numel(&s) != n || (infer >= 0 && n % known)) {
        error_at(call->loc, "reshape() of %s (%lld elements) to %s (%lld elements)",
                 shape_str(x->dt, &x->shape), (long long)n, shape_str(x->dt, &s), (long long)shape_numel(&s));
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
        error_at(call->loc, "argmax() of %s needs an axis: argmax(x, axis = k)", shape_str(x->dt, &x->shape));
        return val_err();
    }
    if (args[2].kind != V_NONE && !bool_arg(args[2], &keep))
        return val_err();
    Graph *g = sema_graph(S);
    Node *r = ir_argmax(g, x, axis);
    if (!keep)
        r = ir_reshape(g, r, drop_axes(&x->shape, 1u << axis));
    return val_node(r, call->loc);
}

/* ---- the table ---- */

#define UNARY(name, op) {name, {"x"}, 1, 1, fn_unary, op}
#define REDUCE(name, op) {name, {"x", "axis", "keepdims"}, 3, 1, fn_reduce, op}
static const Builtin builtins[] = {
    UNARY("exp", OP_EXP), UNARY("log", OP_LOG), UNARY("sqrt", OP_SQRT), UNARY("abs", OP_ABS),
    UNARY("tanh", OP_TANH), UNARY("sigmoid", OP_SIGMOID), UNARY("relu", OP_RELU),
    UNARY("softplus", OP_SOFTPLUS), UNARY("square", OP_SQUARE),
    {"pow", {"x", "c"}, 2, 2, fn_pow, OP_POWC},
    {"maximum", {"a", "b"}, 2, 2, fn_binary, OP_MAXIMUM},
    {"minimum", {"a", "b"}, 2, 2, fn_binary, OP_MINIMUM},
    REDUCE("sum", OP_SUM), REDUCE("mean", OP_SUM), REDUCE("max", OP_MAX), REDUCE("logsumexp", OP_SUM),
    {"softmax", {"x", "axis"}, 2, 1, fn_softmax, OP_EXP},
    {"log_softmax", {"x", "axis"}, 2, 1, fn_softmax, OP_LOG},
    {"cross_entropy", {"logits", "labels"}, 2, 2, fn_cross_entropy, OP_PICK},
    {"reshape", {"x", "dims"}, 2, 2, fn_reshape, OP_RESHAPE},
    {"transpose", {"x", "perm"}, 2, 1, fn_transpose, OP_TRANSPOSE},
    {"argmax", {"x", "axis", "keepdims"}, 3, 1, fn_argmax, OP_ARGMAX},
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
        args[i] = sema_eval(S, argast[i]);
        if (args[i].kind == V_ERR)
            return val_err();
        args[i].loc = argast[i]->loc;
    }
    return b->fn(S, b, call, args);
}

/* ---- initializers ---- */

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
    {"kaiming_uniform", NNRT_INIT_KAIMING_UNIFORM, {0}, 0, 0, {0}},
    {"kaiming_normal", NNRT_INIT_KAIMING_NORMAL, {0}, 0, 0, {0}},
};

bool builtin_is_initializer(const char *name) {
    for (size_t i = 0; i < sizeof inits / sizeof *inits; i++)
        if (strcmp(inits[i].name, name) == 0)
            return true;
    return false;
}

bool builtin_initializer(Sema *S, Ast *call, nnrt_init_kind *kind, double *a, double *b) {
    for (size_t i = 0; i < sizeof inits / sizeof *inits; i++) {
        if (strcmp(inits[i].name, call->name) != 0)
            continue;
        Ast *args[2];
        if (!match_args(call, call->name, inits[i].params, inits[i].nparams, inits[i].nrequired, args))
            return false;
        double v[2] = {inits[i].defaults[0], inits[i].defaults[1]};
        for (int k = 0; k < inits[i].nparams; k++) {
            if (!args[k])
                continue;
            Val x = sema_eval(S, args[k]);
            if (x.kind == V_ERR)
                return false;
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
