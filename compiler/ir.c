/*
 * ir.c: the tensor graph and its constructors.
 *
 * Every node is built through the constructors below, which keep the graph
 * small as it is built: constants are folded, algebraic identities applied
 * (x*1, x+0, --x, transposes of transposes), and a computation that exists
 * already is returned instead of a copy (hash-consing, hence CSE).  Node ids
 * follow creation, and a node's operands always exist before it, so id order
 * is a topological order for every later pass.
 */
#include "nnc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const OpInfo op_info[OP_COUNT] = {
#define OP(id, name, arity, kind, grad) [OP_##id] = {name, arity, K_##kind},
#include "ops.h"
#undef OP
};

/* ---- shapes and dtypes ---- */

int64_t shape_numel(const Shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= s->d[i];
    return n;
}

bool shape_axis_eq(const Shape *a, int i, const Shape *b, int j) {
    return a->d[i] == b->d[j] && a->dyn[i] == b->dyn[j];
}

bool shape_eq(const Shape *a, const Shape *b) {
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (!shape_axis_eq(a, i, b, i))
            return false;
    return true;
}

bool shape_is_dynamic(const Shape *s) {
    for (int i = 0; i < s->rank; i++)
        if (s->dyn[i])
            return true;
    return false;
}

void shape_push(Shape *s, const Shape *from, int axis) {
    s->d[s->rank] = from->d[axis];
    s->dyn[s->rank++] = from->dyn[axis];
}

void shape_push_fixed(Shape *s, int64_t extent) {
    s->d[s->rank] = extent;
    s->dyn[s->rank++] = 0;
}

static const char *const *dim_names;
static const int64_t *dim_max;
static int ndim_names;

void ir_set_dims(const char *const *names, const int64_t *max, int n) {
    dim_names = names;
    dim_max = max;
    ndim_names = n;
}

int64_t shape_rows_per_n(const Shape *s, int i) {
    int k = s->dyn[i] - 1;
    return k >= 0 && k < ndim_names ? s->d[i] / dim_max[k] : 1;
}

Shape shape_scalar(void) { return (Shape){0}; }

const char *dtype_name(DType dt) {
    switch (dt) {
    case DT_F32: return "f32";
    case DT_F64: return "f64";
    case DT_I32: return "i32";
    case DT_I64: return "i64";
    case DT_NONE: break;
    }
    return "?";
}

size_t dtype_size(DType dt) { return dt == DT_F64 || dt == DT_I64 ? 8 : 4; }
bool dtype_is_float(DType dt) { return dt == DT_F32 || dt == DT_F64; }

const char *shape_axis_str(const Shape *s, int i) {
    int k = s->dyn[i] - 1;
    if (k < 0 || k >= ndim_names)
        return arena_printf("%lld", (long long)s->d[i]);
    int64_t per = shape_rows_per_n(s, i);
    return per == 1 ? dim_names[k] : arena_printf("%s*%lld", dim_names[k], (long long)per);
}

const char *shape_str(DType dt, const Shape *s) {
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s", dtype_name(dt));
    if (s->rank > 0) {
        n += snprintf(buf + n, sizeof buf - (size_t)n, "[");
        for (int i = 0; i < s->rank && n < (int)sizeof buf - 40; i++)
            n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%.30s", i ? ", " : "", shape_axis_str(s, i));
        snprintf(buf + n, sizeof buf - (size_t)n, "]");
    }
    return arena_strdup(buf);
}

/* NumPy's rule: align the trailing dims; each pair must be equal or 1.
 * A runtime axis matches only the same dim or 1 (contract, 5.1). */
bool shape_broadcast(const Shape *a, const Shape *b, Shape *out) {
    Shape r = {.rank = a->rank > b->rank ? a->rank : b->rank};
    for (int i = 0; i < r.rank; i++) {
        int ia = a->rank - r.rank + i, ib = b->rank - r.rank + i;
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        int ya = ia >= 0 ? a->dyn[ia] : 0, yb = ib >= 0 ? b->dyn[ib] : 0;
        bool a1 = da == 1 && !ya, b1 = db == 1 && !yb;
        if (!a1 && !b1 && (da != db || ya != yb))
            return false;
        r.d[i] = a1 ? db : da;
        r.dyn[i] = (uint8_t)(a1 ? yb : ya);
    }
    *out = r;
    return true;
}

/* ---- the graph and hash-consing ---- */

Graph *graph_new(void) {
    Graph *g = NEW(Graph);
    g->tcap = 1024;
    g->table = NEWA(Node *, g->tcap);
    return g;
}

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

static uint64_t node_hash(const Node *n) {
    uint64_t h = mix((uint64_t)n->op, (uint64_t)n->dt);
    for (int i = 0; i < n->shape.rank; i++)
        h = mix(h, (uint64_t)n->shape.d[i] * 31 + n->shape.dyn[i]);
    for (int i = 0; i < 3; i++)
        h = mix(h, n->in[i] ? (uint64_t)n->in[i]->id + 1 : 0);
    uint64_t bits;
    memcpy(&bits, &n->value, sizeof bits);
    h = mix(h, bits);
    for (int i = 0; i < MAX_RANK; i++)
        h = mix(h, (uint64_t)n->attr[i]);
    /* The bucket is the low bits, and mix() moves high bits down slowly: the
     * constants 1, 2, 3 ... differ only in their top bits and all fell into
     * one chain, making a loop over t that uses t + 1 quadratic.  MurmurHash3's
     * finalizer spreads every bit over all of them. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static bool node_same(const Node *a, const Node *b) {
    return a->op == b->op && a->dt == b->dt && shape_eq(&a->shape, &b->shape) &&
           a->in[0] == b->in[0] && a->in[1] == b->in[1] && a->in[2] == b->in[2] &&
           memcmp(&a->value, &b->value, sizeof a->value) == 0 &&
           memcmp(a->attr, b->attr, sizeof a->attr) == 0;
}

static Node *append(Graph *g, Node *n) {
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 256;
        Node **nodes = NEWA(Node *, cap);
        if (g->n)
            memcpy(nodes, g->nodes, sizeof(Node *) * (size_t)g->n);
        g->nodes = nodes;
        g->cap = cap;
    }
    n->id = g->n;
    g->nodes[g->n++] = n;
    return n;
}

static void rehash(Graph *g) {
    int cap = g->tcap * 2;
    Node **t = NEWA(Node *, cap);
    for (int i = 0; i < g->tcap; i++)
        for (Node *n = g->table[i], *next; n; n = next) {
            next = n->hnext;
            uint64_t h = node_hash(n) & (uint64_t)(cap - 1);
            n->hnext = t[h];
            t[h] = n;
        }
    g->table = t;
    g->tcap = cap;
}

/* Return the existing node equal to *proto, or add a copy of it. */
static Node *intern(Graph *g, const Node *proto) {
    uint64_t h = node_hash(proto) & (uint64_t)(g->tcap - 1);
    for (Node *n = g->table[h]; n; n = n->hnext)
        if (node_same(n, proto))
            return n;
    Node *n = NEW(Node);
    *n = *proto;
    n->name = NULL;
    n->hnext = g->table[h];
    g->table[h] = n;
    append(g, n);
    if (g->n > g->tcap)
        rehash(g);
    return n;
}

static Node proto(Op op, DType dt, Shape s, Node *a, Node *b) {
    Node p = {.op = op, .dt = dt, .shape = s, .in = {a, b}};
    if (a)
        p.loc = a->loc;
    return p;
}

Node *ir_leaf(Graph *g, Op op, DType dt, Shape shape, int tensor, const char *name, Loc loc) {
    Node *n = NEW(Node);
    n->op = op;
    n->dt = dt;
    n->shape = shape;
    n->tensor = tensor;
    n->name = name;
    n->loc = loc;
    return append(g, n);
}

Node *ir_const(Graph *g, DType dt, double v) {
    if (dt == DT_F32)
        v = (float)v;
    Node p = proto(OP_CONST, dt, shape_scalar(), NULL, NULL);
    p.value = v;
    return intern(g, &p);
}

bool ir_is_const(const Node *n, double v) {
    while (n->op == OP_BROADCAST)
        n = n->in[0];
    return n->op == OP_CONST && n->value == v;
}

/* ---- constant folding ---- */

static double sigmoid(double x) {
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

static double fold_unary(Op op, double x, double c) {
    switch (op) {
    case OP_NEG: return -x;
    case OP_EXP: return exp(x);
    case OP_LOG: return log(x);
    case OP_SQRT: return sqrt(x);
    case OP_ABS: return fabs(x);
    case OP_TANH: return tanh(x);
    case OP_SIGMOID: return sigmoid(x);
    case OP_RELU: return x > 0 ? x : 0;
    case OP_SOFTPLUS: return fmax(x, 0) + log1p(exp(-fabs(x)));
    case OP_SQUARE: return x * x;
    case OP_POWC: return pow(x, c);
    case OP_CAST: return x;
    case OP_SIGN: return (x > 0) - (x < 0);
    case OP_STEP: return x > 0;
    case OP_SIN: return sin(x);
    case OP_COS: return cos(x);
    case OP_ERF: return erf(x);
    case OP_LOG1P: return log1p(x);
    case OP_EXPM1: return expm1(x);
    LEAF_OPS: BINARY_OPS: TERNARY_OPS: MODE_OPS: REINDEX_OPS: VIEW_OPS: REDUCE_OPS: KERNEL_OPS: case OP_CONST: case OP_COUNT:
    default: return NAN;
    }
}

double ir_fold_binary(Op op, double a, double b) {
    switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return a / b;
    case OP_MAXIMUM: return a >= b ? a : b;
    case OP_MINIMUM: return a <= b ? a : b;
    case OP_EQ: return a == b;
    case OP_NE: return a != b;
    case OP_GT: return a > b;
    case OP_GE: return a >= b;
    LEAF_OPS: UNARY_OPS: TERNARY_OPS: MODE_OPS: REINDEX_OPS: VIEW_OPS: REDUCE_OPS: KERNEL_OPS: case OP_CONST: case OP_COUNT:
    default: return NAN;
    }
}

/* ---- elementwise ---- */

Node *ir_unary(Graph *g, Op op, Node *a) {
    if (a->op == OP_CONST && op != OP_CAST)
        return ir_const(g, a->dt, fold_unary(op, a->value, 0));
    if (op == OP_NEG && a->op == OP_NEG)
        return a->in[0];
    Node p = proto(op, a->dt, a->shape, a, NULL);
    return intern(g, &p);
}

Node *ir_powc(Graph *g, Node *a, double c) {
    if (c == 1)
        return a;
    if (c == 0)
        return ir_broadcast(g, ir_const(g, a->dt, 1), a->shape);
    if (c == 2)
        return ir_unary(g, OP_SQUARE, a);
    if (a->op == OP_CONST)
        return ir_const(g, a->dt, pow(a->value, c));
    Node p = proto(OP_POWC, a->dt, a->shape, a, NULL);
    p.value = c;
    return intern(g, &p);
}

Node *ir_cast(Graph *g, Node *a, DType dt) {
    if (a->dt == dt)
        return a;
    if (a->op == OP_CONST)
        return ir_const(g, dt, a->value);
    Node p = proto(OP_CAST, dt, a->shape, a, NULL);
    return intern(g, &p);
}

/* A binary op whose result is its operand `keep`, once broadcast to the
 * result's shape. */
static Node *identity_result(Graph *g, Node *keep, const Shape *s) {
    return ir_broadcast(g, keep, *s);
}

Node *ir_binary(Graph *g, Op op, Node *a, Node *b) {
    Shape s;
    if (!shape_broadcast(&a->shape, &b->shape, &s))
        return NULL;
    DType dt = a->dt;
    if (op == OP_EQ || op == OP_NE || op == OP_GT || op == OP_GE)
        dt = a->dt == DT_I32 ? DT_F32 : a->dt;
    /* A broadcast constant is its constant here: the result is s-shaped. */
    if (a->op == OP_BROADCAST && a->in[0]->op == OP_CONST)
        a = a->in[0];
    if (b->op == OP_BROADCAST && b->in[0]->op == OP_CONST)
        b = b->in[0];
    if (a->op == OP_CONST && b->op == OP_CONST)
        return ir_broadcast(g, ir_const(g, dt, ir_fold_binary(op, a->value, b->value)), s);
    switch (op) {
    case OP_ADD:
        if (ir_is_const(b, 0)) return identity_result(g, a, &s);
        if (ir_is_const(a, 0)) return identity_result(g, b, &s);
        if (a == b) return ir_binary(g, OP_MUL, ir_const(g, a->dt, 2), a);
        break;
    case OP_SUB:
        if (ir_is_const(b, 0)) return identity_result(g, a, &s);
        if (ir_is_const(a, 0)) return ir_unary(g, OP_NEG, identity_result(g, b, &s));
        break;
    case OP_MUL:
        if (ir_is_const(b, 1)) return identity_result(g, a, &s);
        if (ir_is_const(a, 1)) return identity_result(g, b, &s);
        if (ir_is_const(b, -1)) return ir_unary(g, OP_NEG, identity_result(g, a, &s));
        if (ir_is_const(a, -1)) return ir_unary(g, OP_NEG, identity_result(g, b, &s));
        break;
    case OP_DIV:
        if (ir_is_const(b, 1)) return identity_result(g, a, &s);
        break;
    LEAF_OPS: UNARY_OPS: TERNARY_OPS: MODE_OPS: REINDEX_OPS: VIEW_OPS: REDUCE_OPS: KERNEL_OPS: case OP_CONST: case OP_MAXIMUM:
    case OP_MINIMUM: case OP_EQ: case OP_NE: case OP_GT: case OP_GE: case OP_COUNT:
    default:
        break;
    }
    /* Canonical operand order for commutative ops, so a*b and b*a are one node. */
    if ((op == OP_ADD || op == OP_MUL || op == OP_MAXIMUM || op == OP_MINIMUM ||
         op == OP_EQ || op == OP_NE) && a->id > b->id) {
        Node *t = a;
        a = b;
        b = t;
    }
    Node p = proto(op, dt, s, a, b);
    return intern(g, &p);
}

/* A constant condition picks its branch; equal branches need none. */
Node *ir_where(Graph *g, Node *c, Node *a, Node *b) {
    Shape ab, s;
    if (!shape_broadcast(&a->shape, &b->shape, &ab) || !shape_broadcast(&c->shape, &ab, &s))
        return NULL;
    const Node *k = c;
    while (k->op == OP_BROADCAST)
        k = k->in[0];
    if (k->op == OP_CONST)
        return identity_result(g, k->value != 0 ? a : b, &s);
    if (a == b)
        return identity_result(g, a, &s);
    Node p = proto(OP_WHERE, a->dt, s, c, a);
    p.in[2] = b;
    return intern(g, &p);
}

/* ---- views ---- */

Node *ir_transpose(Graph *g, Node *a, const int *perm) {
    int r = a->shape.rank;
    bool identity = true;
    for (int i = 0; i < r; i++)
        identity &= perm[i] == i;
    if (identity)
        return a;
    static const int swap[2] = {1, 0};
    if (a->op == OP_MATMUL) {
        /* (A B)^T = B^T A^T: a product written out transposed costs a
         * strided pass; the swapped product does not. */
        return ir_matmul(g, ir_transpose(g, a->in[1], swap), ir_transpose(g, a->in[0], swap));
    }
    if (a->op == OP_TRANSPOSE) {
        /* transpose(transpose(x, p), q) = transpose(x, p o q) */
        int comp[MAX_RANK];
        for (int i = 0; i < r; i++)
            comp[i] = (int)a->attr[perm[i]];
        return ir_transpose(g, a->in[0], comp);
    }
    Node p = proto(OP_TRANSPOSE, a->dt, (Shape){.rank = r}, a, NULL);
    for (int i = 0; i < r; i++) {
        p.shape.d[i] = a->shape.d[perm[i]];
        p.shape.dyn[i] = a->shape.dyn[perm[i]];
        p.attr[i] = perm[i];
    }
    return intern(g, &p);
}

Node *ir_reshape(Graph *g, Node *a, Shape s) {
    if (shape_eq(&a->shape, &s))
        return a;
    if (a->op == OP_RESHAPE)
        a = a->in[0];
    if (a->op == OP_CONST) {
        Node p = proto(OP_BROADCAST, a->dt, s, a, NULL);
        return intern(g, &p);
    }
    if (shape_eq(&a->shape, &s))
        return a;
    Node p = proto(OP_RESHAPE, a->dt, s, a, NULL);
    return intern(g, &p);
}

Node *ir_index(Graph *g, Node *a, int64_t i) {
    Node p = proto(OP_INDEX, a->dt, shape_scalar(), a, NULL);
    for (int k = 1; k < a->shape.rank; k++)
        shape_push(&p.shape, &a->shape, k);
    p.attr[0] = i;
    return intern(g, &p);
}

Node *ir_broadcast(Graph *g, Node *a, Shape s) {
    if (shape_eq(&a->shape, &s))
        return a;
    if (a->op == OP_BROADCAST)
        a = a->in[0];
    Node p = proto(OP_BROADCAST, a->dt, s, a, NULL);
    return intern(g, &p);
}

Node *ir_detach(Graph *g, Node *a) {
    if (a->op == OP_CONST || a->op == OP_DETACH)
        return a;
    Node p = proto(OP_DETACH, a->dt, a->shape, a, NULL);
    return intern(g, &p);
}

/* ---- training mode (modes.c) ---- */

Node *ir_dropmask(Graph *g, Node *p, Node *seedstep, Shape s, int site) {
    if (ir_is_const(p, 0))
        return ir_broadcast(g, ir_const(g, p->dt, 1), s);
    Node q = proto(OP_DROPMASK, p->dt, s, p, seedstep);
    q.value = site;   /* in value, which kernel keys spell out, so sites never share a kernel */
    return intern(g, &q);
}

Node *ir_mode(Graph *g, Node *train, Node *eval) {
    if (train == eval)
        return train;
    Node p = proto(OP_MODE, train->dt, train->shape, train, eval);
    return intern(g, &p);
}

Node *ir_rebuild(Graph *g, const Node *n, Node *const in[3]) {
    Node p = *n;
    memcpy(p.in, in, sizeof p.in);
    return intern(g, &p);
}

/* ---- reductions and kernels ---- */

static Shape reduced_shape(const Shape *s, unsigned axes) {
    Shape r = *s;
    for (int i = 0; i < s->rank; i++)
        if (axes & (1u << i)) {
            r.d[i] = 1;
            r.dyn[i] = 0;
        }
    return r;
}

/* The axes of `axes` along which s has more than one element. */
static unsigned real_axes(const Shape *s, unsigned axes) {
    unsigned real = 0;
    for (int i = 0; i < s->rank; i++)
        if ((axes & (1u << i)) && (s->d[i] != 1 || s->dyn[i]))
            real |= 1u << i;
    return real;
}

static Node *reduce_plain(Graph *g, Op op, Node *a, unsigned real) {
    Node p = proto(op, a->dt, reduced_shape(&a->shape, real), a, NULL);
    p.attr[0] = real;
    return intern(g, &p);
}

/* A sum's operand as a product: the factors that vary along the summed
 * axes, the factors that do not (broadcast ones, which come out of the
 * sum), each in the numerator or the denominator, and a sign. */
enum { MAX_FACTORS = 8 };
typedef struct Product {
    Node *vary[2][MAX_FACTORS], *fixed[2][MAX_FACTORS];   /* [0] numerator, [1] denominator */
    int nvary[2], nfixed[2];
    bool negate, overflow;
} Product;

/* Whether n takes one value along the axes of `full`, the shape it is
 * broadcast to: its extent there is 1, or it lacks the axis. */
static bool constant_along(const Node *n, const Shape *full, unsigned axes) {
    if (n->op == OP_BROADCAST)
        n = n->in[0];
    int lead = full->rank - n->shape.rank;
    for (int i = 0; i < full->rank; i++)
        if ((axes & (1u << i)) && i >= lead && (n->shape.d[i - lead] != 1 || n->shape.dyn[i - lead]))
            return false;
    return true;
}

static void push_factor(Node **list, int *n, Node *f, Product *p) {
    if (*n == MAX_FACTORS)
        p->overflow = true;
    else
        list[(*n)++] = f;
}

static void factor(Node *n, const Shape *full, unsigned axes, int den, Product *p) {
    if (p->overflow) {
        /* x*x*x... shares operands: stop before the walk grows with 2^depth */
    } else if (constant_along(n, full, axes)) {
        push_factor(p->fixed[den], &p->nfixed[den], n->op == OP_BROADCAST ? n->in[0] : n, p);
    } else if (shape_eq(&n->shape, full) && n->op == OP_NEG) {
        p->negate = !p->negate;
        factor(n->in[0], full, axes, den, p);
    } else if (shape_eq(&n->shape, full) && (n->op == OP_MUL || n->op == OP_DIV)) {
        factor(n->in[0], full, axes, den, p);
        factor(n->in[1], full, axes, n->op == OP_DIV ? !den : den, p);
    } else {
        push_factor(p->vary[den], &p->nvary[den], n, p);
    }
}

/* The axes over which sums of n are 0 (0: none known): a centered value
 * (ir_center), times or over factors constant along those axes, and sums
 * of such values.  n has the shape `full` that the axes index.  `depth`
 * bounds the walk, which shared operands would make exponential. */
static unsigned zero_sum_axes(const Node *n, const Shape *full, int depth) {
    if (depth == 0 || !shape_eq(&n->shape, full))
        return 0;
    if (n->zero_sum)
        return n->zero_sum;
    unsigned z, z1;
    depth--;
    if (n->op == OP_NEG)
        return zero_sum_axes(n->in[0], full, depth);
    if (n->op == OP_MUL) {
        if ((z = zero_sum_axes(n->in[0], full, depth)) && constant_along(n->in[1], full, z))
            return z;
        z = zero_sum_axes(n->in[1], full, depth);
        return z && constant_along(n->in[0], full, z) ? z : 0;
    }
    if (n->op == OP_DIV) {
        z = zero_sum_axes(n->in[0], full, depth);
        return z && constant_along(n->in[1], full, z) ? z : 0;
    }
    if (n->op == OP_ADD || n->op == OP_SUB) {
        z = zero_sum_axes(n->in[0], full, depth);
        z1 = z ? zero_sum_axes(n->in[1], full, depth) : 0;
        return z && z1 ? z | z1 : 0;
    }
    return 0;
}

static bool sums_to_zero(const Node *n, const Shape *full, unsigned axes) {
    unsigned z = zero_sum_axes(n, full, 8);
    return z && (z & axes) == z;
}

static int by_id(const void *a, const void *b) {
    return (*(Node *const *)a)->id - (*(Node *const *)b)->id;
}

static Node *product(Graph *g, Node **f, int n) {
    qsort(f, (size_t)n, sizeof *f, by_id);   /* one order, so equal products are one node */
    Node *r = f[0];
    for (int i = 1; i < n; i++)
        r = ir_binary(g, OP_MUL, r, f[i]);
    return r;
}

/* A sum over the (real) axes of a product, with what is constant along
 * them taken out: sum(g * gamma * c / s) = gamma / s * sum(g * c).  Sums
 * then meet where they differ only by such factors, as batch norm's
 * gradient's do, and are computed once; a sum of a centered value is 0.
 * NULL when there is nothing to take out. */
static Node *sum_factored(Graph *g, Node *a, unsigned axes) {
    if (!dtype_is_float(a->dt))
        return NULL;
    Shape reduced = reduced_shape(&a->shape, axes);
    if (sums_to_zero(a, &a->shape, axes))
        return ir_broadcast(g, ir_const(g, a->dt, 0), reduced);
    /* sum(u + v) with v summing to 0 is sum(u). */
    if ((a->op == OP_ADD || a->op == OP_SUB) && shape_eq(&a->in[0]->shape, &a->shape) &&
        shape_eq(&a->in[1]->shape, &a->shape)) {
        if (sums_to_zero(a->in[1], &a->shape, axes))
            return ir_reduce(g, OP_SUM, a->in[0], axes);
        if (sums_to_zero(a->in[0], &a->shape, axes))
            return ir_reduce(g, OP_SUM, a->op == OP_SUB ? ir_unary(g, OP_NEG, a->in[1]) : a->in[1], axes);
    }
    Product p = {0};
    factor(a, &a->shape, axes, 0, &p);
    if (p.overflow || p.nvary[0] == 0 || (p.nfixed[0] + p.nfixed[1] == 0 && !p.negate))
        return NULL;
    Node *v = product(g, p.vary[0], p.nvary[0]);
    if (p.nvary[1])
        v = ir_binary(g, OP_DIV, v, product(g, p.vary[1], p.nvary[1]));
    /* The sum must still cover every summed element. */
    for (int i = 0; i < a->shape.rank; i++)
        if ((axes & (1u << i)) && !shape_axis_eq(&v->shape, i, &a->shape, i))
            return NULL;
    Node *r = ir_reduce(g, OP_SUM, v, axes);
    for (int k = 0; k < p.nfixed[0] && r; k++)
        r = ir_binary(g, OP_MUL, r, p.fixed[0][k]);
    for (int k = 0; k < p.nfixed[1] && r; k++)
        r = ir_binary(g, OP_DIV, r, p.fixed[1][k]);
    if (r && p.negate)
        r = ir_unary(g, OP_NEG, r);
    return r && shape_eq(&r->shape, &reduced) ? r : NULL;
}

Node *ir_reduce(Graph *g, Op op, Node *a, unsigned axes) {
    /* Reducing size-1 axes changes nothing. */
    unsigned real = real_axes(&a->shape, axes);
    if (!real)
        return a;
    Node *r = op == OP_SUM ? sum_factored(g, a, real) : NULL;
    return r ? r : reduce_plain(g, op, a, real);
}

Node *ir_center(Graph *g, Node *x, unsigned axes, Node *count) {
    Node *c = ir_binary(g, OP_SUB, x, ir_binary(g, OP_DIV, ir_reduce(g, OP_SUM, x, axes), count));
    if (c->op == OP_SUB)
        c->zero_sum = real_axes(&x->shape, axes);
    return c;
}

Node *ir_matmul(Graph *g, Node *a, Node *b) {
    Node p = proto(OP_MATMUL, a->dt, shape_scalar(), a, b);
    shape_push(&p.shape, &a->shape, 0);
    shape_push(&p.shape, &b->shape, 1);
    return intern(g, &p);
}

Node *ir_embed(Graph *g, Node *a, int64_t i, int64_t n) {
    Node p = proto(OP_EMBED, a->dt, shape_scalar(), a, NULL);
    shape_push_fixed(&p.shape, n);
    for (int k = 0; k < a->shape.rank; k++)
        shape_push(&p.shape, &a->shape, k);
    p.attr[0] = i;
    return intern(g, &p);
}

Node *ir_slice(Graph *g, Node *x, int axis, int64_t start, int64_t len) {
    if (start == 0 && len == x->shape.d[axis])
        return x;
    Node p = proto(OP_SLICE, x->dt, x->shape, x, NULL);
    p.shape.d[axis] = len;
    p.attr[0] = axis;
    p.attr[1] = start;
    return intern(g, &p);
}

Node *ir_pad(Graph *g, Node *x, int axis, int64_t start, Shape s) {
    if (shape_eq(&x->shape, &s))
        return x;
    Node p = proto(OP_PAD, x->dt, s, x, NULL);
    p.attr[0] = axis;
    p.attr[1] = start;
    return intern(g, &p);
}

Node *ir_flip(Graph *g, Node *x, unsigned axes) {
    axes &= (1u << x->shape.rank) - 1;
    for (int d = 0; d < x->shape.rank; d++)
        if (x->shape.d[d] == 1 && !x->shape.dyn[d])
            axes &= ~(1u << d);
    if (!axes)
        return x;
    if (x->op == OP_FLIP && (unsigned)x->attr[0] == axes)
        return x->in[0];
    Node p = proto(OP_FLIP, x->dt, x->shape, x, NULL);
    p.attr[0] = axes;
    return intern(g, &p);
}

Node *ir_maxmask(Graph *g, Node *a, unsigned axes) {
    Node p = proto(OP_MAXMASK, a->dt, a->shape, a, NULL);
    p.attr[0] = axes;
    return intern(g, &p);
}

Node *ir_argmax(Graph *g, Node *a, int axis) {
    Node p = proto(OP_ARGMAX, DT_I32, reduced_shape(&a->shape, 1u << axis), a, NULL);
    p.attr[0] = axis;
    return intern(g, &p);
}

Node *ir_pick(Graph *g, Node *x, Node *y) {
    Node p = proto(OP_PICK, x->dt, y->shape, x, y);
    return intern(g, &p);
}

Node *ir_onehot(Graph *g, Node *y, int64_t c, DType dt) {
    Node p = proto(OP_ONEHOT, dt, shape_scalar(), y, NULL);
    shape_push(&p.shape, &y->shape, 0);
    shape_push_fixed(&p.shape, c);
    return intern(g, &p);
}

int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

static void window_attr(Node *n, const Window *w) {
    const int64_t v[8] = {w->kh, w->kw, w->sh, w->sw, w->ph, w->pw, w->dh, w->dw};
    memcpy(n->attr, v, sizeof v);
}

Window ir_window(const Node *n) {
    const int64_t *a = n->attr;
    return (Window){a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]};
}

Node *ir_im2col(Graph *g, Node *x, const Window *w, double pad) {
    int64_t oh = window_out(x->shape.d[2], w->kh, w->sh, w->ph, w->dh);
    int64_t ow = window_out(x->shape.d[3], w->kw, w->sw, w->pw, w->dw);
    Node p = proto(OP_IM2COL, x->dt, shape_scalar(), x, NULL);
    shape_push_fixed(&p.shape, x->shape.d[1] * w->kh * w->kw);
    shape_push(&p.shape, &x->shape, 0);
    p.shape.d[1] *= oh * ow;
    window_attr(&p, w);
    p.value = pad;
    return intern(g, &p);
}

Node *ir_columns_image(Graph *g, Node *cols, const Node *x, const Window *w) {
    Shape s = shape_scalar();
    shape_push_fixed(&s, cols->shape.d[0]);
    shape_push(&s, &x->shape, 0);
    shape_push_fixed(&s, window_out(x->shape.d[2], w->kh, w->sh, w->ph, w->dh));
    shape_push_fixed(&s, window_out(x->shape.d[3], w->kw, w->sw, w->pw, w->dw));
    static const int to_nchw[4] = {1, 0, 2, 3};
    return ir_transpose(g, ir_reshape(g, cols, s), to_nchw);
}

Node *ir_col2im(Graph *g, Node *cols, Shape xs, const Window *w) {
    Node p = proto(OP_COL2IM, cols->dt, xs, cols, NULL);
    window_attr(&p, w);
    return intern(g, &p);
}

Node *ir_unbroadcast(Graph *g, Node *grad, const Shape *s) {
    const Shape *gs = &grad->shape;
    unsigned axes = 0;
    int lead = gs->rank - s->rank;
    for (int i = 0; i < gs->rank; i++)
        if (i < lead || (s->d[i - lead] == 1 && !s->dyn[i - lead] && (gs->d[i] != 1 || gs->dyn[i])))
            axes |= 1u << i;
    return ir_reshape(g, ir_reduce(g, OP_SUM, grad, axes), *s);
}

/* ---- dump (--emit=ir) ---- */

static void dump_node(FILE *f, const Node *n) {
    fprintf(f, "  %%%d = %s", n->id, op_info[n->op].name);
    switch (n->op) {
    LEAF_OPS:
        fprintf(f, " %s", n->name);
        break;
    case OP_CONST:
        fprintf(f, " %.9g", n->value);
        break;
    UNARY_OPS: BINARY_OPS: TERNARY_OPS: MODE_OPS: REINDEX_OPS: VIEW_OPS: REDUCE_OPS: KERNEL_OPS: case OP_COUNT:
    default:
        for (int i = 0; i < op_info[n->op].arity; i++)
            fprintf(f, "%s%%%d", i ? ", " : " ", n->in[i]->id);
    }
    if (n->op == OP_POWC)
        fprintf(f, " ^%.9g", n->value);
    if (n->op == OP_TRANSPOSE) {
        fprintf(f, " perm [");
        for (int i = 0; i < n->shape.rank; i++)
            fprintf(f, "%s%lld", i ? ", " : "", (long long)n->attr[i]);
        fprintf(f, "]");
    }
    if (n->op == OP_INDEX || n->op == OP_EMBED)
        fprintf(f, " at %lld", (long long)n->attr[0]);
    if (op_info[n->op].kind == K_REDUCE || n->op == OP_MAXMASK) {
        fprintf(f, " axes [");
        for (int i = 0, first = 1; i < n->in[0]->shape.rank; i++)
            if (n->attr[0] & (1 << i)) {
                fprintf(f, "%s%d", first ? "" : ", ", i);
                first = 0;
            }
        fprintf(f, "]");
    }
    if (n->op == OP_ARGMAX)
        fprintf(f, " axis %lld", (long long)n->attr[0]);
    if (n->op == OP_DROPMASK)
        fprintf(f, " site %.0f", n->value);
    fprintf(f, " : %s", shape_str(n->dt, &n->shape));
    if (n->name && op_info[n->op].kind != K_LEAF)
        fprintf(f, "  # %s", n->name);
    fputc('\n', f);
}

/* Print the nodes the roots depend on, in order, then the roots. */
void ir_dump(FILE *f, const Graph *g, Node **roots, const char **root_names, int nroots) {
    bool *live = NEWA(bool, g->n);
    for (int i = 0; i < nroots; i++)
        if (roots[i])
            live[roots[i]->id] = true;
    for (int i = g->n - 1; i >= 0; i--)
        if (live[i])
            for (int k = 0; k < op_info[g->nodes[i]->op].arity; k++)
                live[g->nodes[i]->in[k]->id] = true;
    for (int i = 0; i < g->n; i++)
        if (live[i])
            dump_node(f, g->nodes[i]);
    for (int i = 0; i < nroots; i++)
        if (roots[i])
            fprintf(f, "  %s <- %%%d\n", root_names[i], roots[i]->id);
}
