/*
 * sema.c: checking the program and elaborating it into a tensor graph.
 *
 * One walk over the statements does both: names are resolved through a hash
 * map per frame (the top level, and each inlined call), consts are evaluated
 * with -D overrides, `for` loops are unrolled, functions inlined, and every
 * expression becomes graph nodes whose dtypes and shapes are checked as they
 * are built.  An error yields V_ERR, which every consumer passes on
 * silently, so one mistake is reported once.  The result is a Model: the
 * tensor table of the generated ABI in declaration order, the objective and
 * the optimizer.
 *
 * Bounded work: every statement and expression elaborated, loop iteration,
 * inlined call and imported byte is charged to one budget (--max-work), so
 * an exploding model stops with an error at the loop or call that exploded
 * instead of exhausting time or memory.  Memory follows the graph: a name
 * rebound in a loop reuses its binding, and a call's bindings are recycled
 * when it returns.
 */
#include "nnc.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Limits that turn runaway programs into errors instead of exhausted memory. */
#define MAX_NODES      500000      /* nodes in the unrolled graph */
#define MAX_ELEMS      ((int64_t)1 << 31)   /* elements of one tensor */
#define MAX_BYTES      ((int64_t)1 << 38)   /* bytes of one struct */
#define MAX_CALL_DEPTH 64
#define MAX_EXPR_DEPTH 1000   /* nested subexpressions: bounds sema's recursion */
/* What an imported file costs of the work budget (docs/language.md, Limits). */
#define IMPORT_STEPS          256
#define IMPORT_BYTES_PER_STEP 2

/* B_POISON: a name whose value had an error, already reported; uses of it
 * stay silent. */
typedef enum { B_CONSTV, B_VALUE, B_FN, B_POISON } BindKind;

typedef struct Binding Binding;
typedef struct Table Table;
struct Binding {
    const char *name;
    BindKind kind;
    double num;             /* B_CONSTV */
    Node *node;             /* B_VALUE */
    Stmt *fn;               /* B_FN */
    Table *closure;         /* B_FN: what each name of its body meant where it was defined */
    Binding *fn_scope;      /* B_FN: the scope it was defined in, for suggestions */
    Loc loc;
    Binding *next;          /* the scope, newest first: read only for suggestions */
    Binding *fnext;         /* the other bindings of its frame (recycling) */
    bool captured;          /* a closure holds it: a rebinding must not overwrite it */
};

/* Open addressing, name -> binding.  Entries of an older generation are
 * empty, so a table is cleared in O(1) by bumping gen. */
typedef struct Entry {
    const char *name;
    uint32_t hash, gen;
    Binding *b;
    int index;          /* tables of tensors: the index in Model.tensors */
} Entry;
struct Table {
    Entry *e;
    uint32_t cap, n, gen;
};

/* The names of the top level (frame 0) or of one inlined call (frame k at
 * call depth k).  A call sees its own bindings, then its function's
 * closure; a call's frame dies when it returns, and nothing outside it
 * can refer to its bindings (functions are not values), so they are
 * recycled. */
typedef struct Frame {
    Table names;            /* name -> its newest binding in this frame */
    const Table *closure;   /* in a call: the function's closure */
    Binding *bindings;      /* made in this frame, through fnext */
} Frame;

/* A loop being unrolled or a call being inlined, innermost first: where
 * an error about the work budget points. */
typedef struct Expansion {
    Loc loc;
    const char *fn;         /* a call of this function, or NULL: a loop */
    int64_t iterations;     /* a loop's */
    struct Expansion *up;
} Expansion;

/* The files being imported, innermost first: a file met again here is a cycle. */
typedef struct ImportFrame {
    const char *real;           /* realpath */
    const char *path;
    Loc loc;                    /* the import statement */
    struct ImportFrame *up;
} ImportFrame;

struct Sema {
    const Options *opt;
    const char *dir;            /* folder of the file being elaborated */
    ImportFrame *imports;       /* the import stack; its bottom is the model's file */
    Table done;                 /* realpaths of files imported already */
    Table declared, outputs;    /* tensor names: declarations, outputs */
    int tensor_cap;
    Loc optarg_loc[MAX_OPT_ARGS];
    Model *m;
    Graph *g;
    Binding *scope;             /* for suggestions; lookups go through frames */
    Frame frames[MAX_CALL_DEPTH + 1];
    Binding *free_bindings;     /* of calls that returned */
    int call_depth;
    int64_t work, max_work;     /* steps spent, and the budget */
    bool stop;                  /* the budget is spent (reported): elaborate nothing more */
    Expansion *expanding;
    int expr_depth;
    bool depth_reported;    /* in this statement */
    bool has_objective;
    Loc objective_loc;
    Loc optimizer_loc;
    int noutputs_declared;
    const char **dim_names;     /* MAX_DIMS, in the arena: shape_str reads them */
    int64_t *dim_max;           /* MAX_DIMS, in the arena: shape_rows_per_n reads them */
};

Graph *sema_graph(Sema *S) { return S->g; }
Model *sema_model_of(Sema *S) { return S->m; }
DType sema_float(Sema *S) { return S->opt->force_f64 ? DT_F64 : DT_F32; }
Val val_err(void) { return (Val){.kind = V_ERR}; }
Val val_node(Node *n, Loc loc) { return (Val){.kind = V_NODE, .node = n, .loc = loc}; }
static Val val_num(double v, bool is_int, Loc loc) {
    return (Val){.kind = V_NUM, .num = v, .is_int = is_int, .loc = loc};
}

/* ---- names ---- */

static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    int d[65][65];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

/* The candidate closest to name, if it is close enough to be a typo. */
const char *nearest_name(const char *name, const char *const *cands, int n) {
    const char *best = NULL;
    int bestd = 1 + (int)strlen(name) / 3;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(name, cands[i]);
        if (d < bestd || (d == bestd && !best && d <= 2)) {
            best = cands[i];
            bestd = d;
        }
    }
    return best;
}

static uint32_t name_hash(const char *s) {
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The entry of name, or the empty slot where it would go. */
static Entry *table_slot(const Table *t, const char *name, uint32_t h) {
    for (uint32_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        Entry *e = &t->e[i];
        if (e->gen != t->gen || (e->hash == h && strcmp(e->name, name) == 0))
            return e;
    }
}

static Entry *table_find(const Table *t, const char *name, uint32_t h) {
    if (!t || !t->n)
        return NULL;
    Entry *e = table_slot(t, name, h);
    return e->gen == t->gen ? e : NULL;
}

/* The entry of name, added (with b NULL) if it was not there. */
static Entry *table_put(Table *t, const char *name, uint32_t h) {
    if (!t->gen)
        t->gen = 1;
    if (2 * (t->n + 1) > t->cap) {
        Table old = *t;
        t->cap = old.cap ? 2 * old.cap : 16;
        t->e = NEWA(Entry, t->cap);
        t->n = 0;
        for (uint32_t i = 0; i < old.cap; i++)
            if (old.e[i].gen == old.gen) {
                Entry *e = table_slot(t, old.e[i].name, old.e[i].hash);
                *e = old.e[i];
                e->gen = t->gen;
                t->n++;
            }
    }
    Entry *e = table_slot(t, name, h);
    if (e->gen != t->gen) {
        *e = (Entry){.name = name, .hash = h, .gen = t->gen};
        t->n++;
    }
    return e;
}

static void table_clear(Table *t) {
    t->n = 0;
    if (++t->gen == 0) {   /* wrapped: old entries would look current */
        memset(t->e, 0, sizeof(Entry) * t->cap);
        t->gen = 1;
    }
}

static Binding *lookup(Sema *S, const char *name) {
    const Frame *f = &S->frames[S->call_depth];
    uint32_t h = name_hash(name);
    Entry *e = table_find(&f->names, name, h);
    if (!e && f->closure)
        e = table_find(f->closure, name, h);
    return e ? e->b : NULL;
}

/* A new binding of name in the current frame.  When the frame's previous
 * binding of the name is held by no closure, nothing can see its value any
 * more: it is overwritten, so a loop that rebinds a name does not grow. */
static Binding *bind(Sema *S, const char *name, BindKind kind, Loc loc) {
    Frame *f = &S->frames[S->call_depth];
    Entry *e = table_put(&f->names, name, name_hash(name));
    Binding *b = e->b;
    if (b && !b->captured) {
        *b = (Binding){.name = b->name, .next = b->next, .fnext = b->fnext};
    } else {
        b = S->free_bindings;
        if (b)
            S->free_bindings = b->fnext;
        else
            b = NEW(Binding);
        *b = (Binding){.name = name, .next = S->scope, .fnext = f->bindings};
        S->scope = b;
        f->bindings = b;
        e->b = b;
    }
    b->kind = kind;
    b->loc = loc;
    return b;
}

/* The frame of a call that returned: its bindings go back to the pool. */
static void frame_release(Sema *S, Frame *f) {
    if (f->bindings) {
        Binding *last = f->bindings;
        while (last->fnext)
            last = last->fnext;
        last->fnext = S->free_bindings;
        S->free_bindings = f->bindings;
    }
    f->bindings = NULL;
    f->closure = NULL;
    table_clear(&f->names);
}

/* ---- the work budget ---- */

/* The budget is spent: say where, once, and stop elaborating.  The error
 * points at the outermost loop or call being expanded (the statement the
 * user wrote at the top level), a note at the innermost one. */
static const char *expansion_str(const Expansion *x) {
    if (x->fn)
        return arena_printf("call of '%s'", x->fn);
    return arena_printf("loop of %lld iteration%s", (long long)x->iterations, x->iterations == 1 ? "" : "s");
}

static void over_budget(Sema *S, Loc here) {
    S->stop = true;
    Expansion *outer = S->expanding;
    int depth = 0;
    for (Expansion *x = S->expanding; x; x = x->up, depth++)
        outer = x;
    if (!outer) {
        error_at(here, "the model takes more than %lld steps of compile-time work, the limit "
                 "(--max-work=N raises it)", (long long)S->max_work);
        return;
    }
    error_at(outer->loc, "expanding this %s takes more than %lld steps of compile-time work, the limit "
             "(--max-work=N raises it)", expansion_str(outer), (long long)S->max_work);
    if (depth > 1)
        note_at(S->expanding->loc, "the limit was reached in this %s, nested %d deep",
                expansion_str(S->expanding), depth);
}

/* Charge n steps; false once the budget is spent (reported already). */
static bool spend(Sema *S, int64_t n, Loc here) {
    if (S->stop)
        return false;
    S->work += n;
    if (S->work <= S->max_work)
        return true;
    over_budget(S, here);
    return false;
}

/* ---- closures ---- */

/* Record what name means here, for a function being defined. */
static void capture_name(Sema *S, Table *c, const char *name) {
    Entry *e = table_put(c, name, name_hash(name));
    if (e->b)
        return;
    e->b = lookup(S, name);
    if (e->b)
        e->b->captured = true;
}

static void capture_ast(Sema *S, Table *c, Ast *a, int depth) {
    for (; a && depth < MAX_EXPR_DEPTH + 8; a = a->next) {
        if (a->kind == A_NAME || a->kind == A_CALL)
            capture_name(S, c, a->name);
        capture_ast(S, c, a->lhs, depth + 1);
        capture_ast(S, c, a->rhs, depth + 1);
        capture_ast(S, c, a->args, depth + 1);
    }
}

static void capture_stmts(Sema *S, Table *c, Stmt *s) {
    for (; s; s = s->next) {
        if (s->name)
            capture_name(S, c, s->name);
        if (s->type)
            capture_ast(S, c, s->type->dims, 0);
        capture_ast(S, c, s->expr, 0);
        capture_ast(S, c, s->expr2, 0);
        capture_ast(S, c, s->args, 0);
        capture_stmts(S, c, s->body);
    }
}

/* A function sees the names of its defining scope as they were when it was
 * defined (itself included): its closure resolves every name its body
 * mentions, once, so that a call looks each up in O(1).  Each name costs a
 * step of the budget. */
static Table *closure_of(Sema *S, Stmt *fn) {
    Table *c = NEW(Table);
    capture_name(S, c, fn->name);
    capture_ast(S, c, fn->expr, 0);
    capture_stmts(S, c, fn->body);
    spend(S, c->n, fn->nameloc);
    return c;
}

static void unknown_name(Sema *S, const char *name, Loc loc, bool as_function) {
    const char *cands[256];
    int n = 0;
    for (Binding *b = S->scope; b && n < 200; b = b->next)
        if ((b->kind == B_FN) == as_function)
            cands[n++] = b->name;
    static const char *const builtins[] = {
        "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "softplus", "square",
        "pow", "maximum", "minimum", "sum", "mean", "max", "logsumexp", "softmax",
        "log_softmax", "cross_entropy", "reshape", "transpose", "argmax"};
    if (as_function)
        for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
            cands[n++] = builtins[i];
    const char *near = nearest_name(name, cands, n);
    const char *what = as_function ? "function" : "name";
    if (near)
        error_at(loc, "unknown %s '%s'; did you mean '%s'?", what, name, near);
    else
        error_at(loc, "unknown %s '%s'", what, name);
}

/* ---- values ---- */

/* A number takes the float type that uses it (contract, 5.8 Literals) and
 * must lie in its range: 1e39 is no f32 (it would silently be infinity). */
bool sema_number_fits(double v, DType dt, Loc loc) {
    if (dt != DT_F32 || !isfinite(v) || !isinf((float)v))
        return true;
    error_at(loc, "%g is out of the range of f32 (largest magnitude %g)", v, (double)FLT_MAX);
    return false;
}

Node *sema_as_float(Sema *S, Val v, DType like) {
    DType dt = dtype_is_float(like) ? like : sema_float(S);
    if (v.kind == V_NUM) {
        sema_number_fits(v.num, dt, v.loc);   /* reported; the compile fails */
        return ir_const(S->g, dt, v.num);
    }
    if (!dtype_is_float(v.node->dt))
        return ir_cast(S->g, v.node, dt);
    return v.node;
}

bool sema_is_dim(const Node *n) { return n->op == OP_DIM; }

Node *sema_dim_value(Sema *S, int dyn, DType dt) {
    return ir_cast(S->g, S->m->tensors[S->m->dims[dyn - 1]].node, dt);
}

/* Note that an input holds labels of `classes` classes (for --gradcheck,
 * which must draw labels in range). */
void sema_label_range(Sema *S, Node *labels, int64_t classes) {
    while (op_info[labels->op].kind == K_VIEW)
        labels = labels->in[0];
    if (labels->op != OP_INPUT)
        return;
    Tensor *t = &S->m->tensors[labels->tensor];
    if (!t->label_classes || classes < t->label_classes)
        t->label_classes = classes;
}

/* The float dtype two operands compute in: f64 if either is, else f32. */
static DType common_float(Sema *S, Val a, Val b) {
    DType da = a.kind == V_NODE ? a.node->dt : DT_NONE;
    DType db = b.kind == V_NODE ? b.node->dt : DT_NONE;
    if (da == DT_F64 || db == DT_F64)
        return DT_F64;
    if (da == DT_F32 || db == DT_F32)
        return DT_F32;
    return sema_float(S);
}

static bool check_nodes(Sema *S, Loc loc) {
    if (S->g->n > MAX_NODES) {
        error_at(loc, "the unrolled graph exceeds %d nodes; reduce the loop counts", MAX_NODES);
        return false;
    }
    return true;
}

static const char *binop_name(BinOp op) {
    static const char *const names[] = {"+", "-", "*", "/", "@", "**", "==", "!=", "<", "<=", ">", ">="};
    return names[op];
}

/* The graph op of each elementwise BinOp (0 for @ and **, handled apart);
 * a < b is b > a and a <= b is b >= a (binop_swaps). */
static const Op binop_ops[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV, 0, 0, OP_EQ, OP_NE, OP_GT, OP_GE, OP_GT, OP_GE};
static bool binop_swaps(BinOp op) { return op == B_LT || op == B_LE; }
static bool binop_compares(BinOp op) { return op >= B_EQ; }

/* After a shape error: where a named operand got its shape. */
static void note_operands(Sema *S, Ast *a) {
    Ast *ops[2] = {a->lhs, a->rhs};
    for (int i = 0; i < 2; i++) {
        if (ops[i]->kind != A_NAME)
            continue;
        Binding *b = lookup(S, ops[i]->name);
        if (b && b->kind == B_VALUE)
            note_at(b->loc, "'%s' %s here as %s", ops[i]->name,
                    op_info[b->node->op].kind == K_LEAF ? "declared" : "bound",
                    shape_str(b->node->dt, &b->node->shape));
    }
}

static void warn_fan(Sema *S, Ast *a, Node *w);

static Val eval_binary(Sema *S, Ast *a) {
    Val l = sema_eval(S, a->lhs), r = sema_eval(S, a->rhs);
    if (l.kind == V_ERR || r.kind == V_ERR)
        return val_err();
    if (l.kind == V_LIST || r.kind == V_LIST) {
        error_at(a->loc, "a list cannot be an operand of '%s'", binop_name(a->op));
        return val_err();
    }
    if (l.kind == V_NUM && r.kind == V_NUM) {
        if (a->op == B_MATMUL) {
            error_at(a->loc, "'@' needs two matrices, not numbers");
            return val_err();
        }
        if (a->op == B_DIV && r.num == 0) {
            error_at(a->loc, "division by zero in a constant expression");
            return val_err();
        }
        double v = a->op == B_POW ? pow(l.num, r.num)
                   : binop_swaps(a->op) ? ir_fold_binary(binop_ops[a->op], r.num, l.num)
                   : ir_fold_binary(binop_ops[a->op], l.num, r.num);
        if (!isfinite(v)) {
            error_at(a->loc, "constant expression overflows");
            return val_err();
        }
        return val_num(v, l.is_int && r.is_int && v == floor(v) && fabs(v) < 9e15, a->loc);
    }
    Graph *g = S->g;
    if (a->op == B_POW) {
        if (r.kind != V_NUM) {
            error_at(a->rhs->loc, "the exponent of '**' must be a compile-time number");
            return val_err();
        }
        Node *x = sema_as_float(S, l, DT_NONE);
        if (!sema_number_fits(r.num, x->dt, a->rhs->loc))
            return val_err();
        return val_node(ir_powc(g, x, r.num), a->loc);
    }
    if (a->op == B_MATMUL) {
        if (l.kind != V_NODE || r.kind != V_NODE || l.node->shape.rank != 2 || r.node->shape.rank != 2) {
            Val bad = (l.kind != V_NODE || l.node->shape.rank != 2) ? l : r;
            error_at(a->loc, "'@' needs two matrices (rank 2); got %s",
                     bad.kind == V_NUM ? "a number" : shape_str(bad.node->dt, &bad.node->shape));
            return val_err();
        }
        if (!shape_axis_eq(&l.node->shape, 1, &r.node->shape, 0)) {
            error_at(a->loc, "matmul of %s and %s: inner dimensions %s and %s differ",
                     shape_str(l.node->dt, &l.node->shape), shape_str(r.node->dt, &r.node->shape),
                     shape_axis_str(&l.node->shape, 1), shape_axis_str(&r.node->shape, 0));
            note_operands(S, a);
            return val_err();
        }
        warn_fan(S, a, r.node);
        DType dt = common_float(S, l, r);
        Node *x = ir_cast(g, sema_as_float(S, l, dt), dt), *y = ir_cast(g, sema_as_float(S, r, dt), dt);
        return val_node(ir_matmul(g, x, y), a->loc);
    }
    Node *x, *y;
    if (binop_compares(a->op) && l.kind == V_NODE && r.kind == V_NODE &&
        l.node->dt == DT_I32 && r.node->dt == DT_I32) {
        x = l.node;   /* labels compare as integers */
        y = r.node;
    } else {
        DType dt = common_float(S, l, r);
        x = ir_cast(g, sema_as_float(S, l, dt), dt);
        y = ir_cast(g, sema_as_float(S, r, dt), dt);
    }
    Node *n = binop_swaps(a->op) ? ir_binary(g, binop_ops[a->op], y, x) : ir_binary(g, binop_ops[a->op], x, y);
    if (!n) {
        error_at(a->loc, "'%s' of %s and %s: shapes do not broadcast%s", binop_name(a->op),
                 shape_str(x->dt, &x->shape), shape_str(y->dt, &y->shape),
                 shape_is_dynamic(&x->shape) || shape_is_dynamic(&y->shape)
                     ? " (a runtime axis broadcasts only against the same dim or 1)" : "");
        note_operands(S, a);
        return val_err();
    }
    if (n->dt == DT_F32 && sema_float(S) == DT_F64)
        n = ir_cast(g, n, DT_F64);
    return val_node(n, a->loc);
}

/* Evaluate a call of a user function: bind the arguments in the scope the
 * function was defined in, run its block, and evaluate its result. */
static void exec_block(Sema *S, Stmt *s, bool top);

static Val call_user(Sema *S, Binding *fb, Ast *call) {
    Stmt *fn = fb->fn;
    /* Small calls keep their arguments on the stack: a call allocates
     * nothing that outlives it. */
    enum { SMALL = 16 };
    const char *params[SMALL];
    Ast *argbuf[SMALL];
    Val valbuf[SMALL];
    int np = 0;
    for (Ast *p = fn->args; p; p = p->next)
        np++;
    if (!spend(S, 1 + np, call->loc))
        return val_err();
    const char **pnames = np <= SMALL ? params : NEWA(const char *, np);
    Ast **args = np <= SMALL ? argbuf : NEWA(Ast *, np);
    Val *vals = np <= SMALL ? valbuf : NEWA(Val, np);
    np = 0;
    for (Ast *p = fn->args; p; p = p->next)
        pnames[np++] = p->name;
    if (!match_args(call, fn->name, pnames, np, np, args))
        return val_err();
    for (int i = 0; i < np; i++) {
        vals[i] = sema_eval(S, args[i]);
        if (vals[i].kind == V_ERR)
            return val_err();
        if (vals[i].kind == V_LIST) {
            error_at(args[i]->loc, "a list cannot be passed to a function");
            return val_err();
        }
    }
    if (S->call_depth >= MAX_CALL_DEPTH) {
        error_at(call->loc, "calls nested more than %d deep (is '%s' recursive? functions are inlined, so they cannot recurse)",
                 MAX_CALL_DEPTH, fn->name);
        return val_err();
    }
    Binding *saved = S->scope;
    S->scope = fb->fn_scope;
    Frame *f = &S->frames[++S->call_depth];
    f->closure = fb->closure;
    for (int i = 0; i < np; i++) {
        Binding *b = bind(S, pnames[i], vals[i].kind == V_NUM ? B_CONSTV : B_VALUE, fn->args->loc);
        b->num = vals[i].num;
        b->node = vals[i].node;
    }
    Expansion x = {.loc = call->loc, .fn = fn->name, .up = S->expanding};
    S->expanding = &x;
    Val result;
    if (fn->body) {
        exec_block(S, fn->body, false);
        Stmt *last = fn->body;
        while (last->next)
            last = last->next;
        result = S->stop ? val_err() : sema_eval(S, last->expr);
    } else {
        result = sema_eval(S, fn->expr);
    }
    S->expanding = x.up;
    frame_release(S, f);
    S->call_depth--;
    S->scope = saved;
    return result;
}

static Val eval_call(Sema *S, Ast *a) {
    if (strchr(a->name, '.')) {   /* torch.relu(x), x.sum(1): PyTorch's forms */
        builtin_pytorch_hint(a);
        return val_err();
    }
    Binding *b = lookup(S, a->name);
    if (b && b->kind == B_FN)
        return call_user(S, b, a);
    if (b && b->kind == B_POISON)
        return val_err();
    if (b) {
        error_at(a->loc, "'%s' is not a function", a->name);
        note_at(b->loc, "'%s' is defined here", a->name);
        return val_err();
    }
    const Builtin *bi = builtin_find(a->name);
    if (bi)
        return builtin_call(S, bi, a);
    if (builtin_is_initializer(a->name)) {
        error_at(a->loc, "'%s' is an initializer: it can only follow 'param NAME : TYPE ='", a->name);
        return val_err();
    }
    unknown_name(S, a->name, a->loc, true);
    return val_err();
}

static Val eval(Sema *S, Ast *a);

/* An index or a slice bound of an axis of extent n: a compile-time
 * integer (its Ast e, or dflt when e is NULL), negative from the end. */
static bool index_value(Sema *S, Ast *e, int64_t dflt, int64_t n, int64_t *out) {
    if (!e) {
        *out = dflt;
        return true;
    }
    Val i = sema_eval(S, e);
    if (i.kind == V_ERR)
        return false;
    if (i.kind != V_NUM || !i.is_int) {
        error_at(e->loc, "an index must be a compile-time integer (a const or a loop variable)");
        return false;
    }
    *out = (int64_t)i.num < 0 ? (int64_t)i.num + n : (int64_t)i.num;
    return true;
}

/* x[e1, ..., ek] (contract, 5.8 Indexing): item j applies to axis j-1 of
 * x, later axes are kept.  A slice a:b, bounds negative from the end,
 * 0 <= a < b <= d, keeps its axis narrowed (a view with an offset); an
 * integer i, -d <= i < d, is the slice i:i+1 with the axis then dropped (a
 * view too); ':' keeps the axis whole, the only item a runtime axis takes.
 * A slice's gradient places it back elementwise (PAD), so the gradients of
 * x[:, t] over the steps of a loop add up in fused loops, not in copies. */
static Val eval_index(Sema *S, Ast *a) {
    Val v = sema_eval(S, a->lhs);
    if (v.kind == V_ERR)
        return v;
    Ast *items = a->rhs ? a->rhs : a->args;
    int k = 0;
    for (Ast *it = items; it; it = it->next)
        k++;
    if (v.kind != V_NODE || v.node->shape.rank == 0) {
        error_at(a->loc, "only a tensor of rank 1 or more can be indexed");
        return val_err();
    }
    Node *x = v.node;
    if (k > x->shape.rank) {
        error_at(a->loc, "%d indices for %s, which has %d axes", k, shape_str(x->dt, &x->shape), x->shape.rank);
        return val_err();
    }
    int at = 0;   /* the axis of x's result that the next item applies to */
    for (Ast *it = items; it; it = it->next) {
        Shape s = x->shape;
        int64_t n = s.d[at], from, to;
        bool whole = it->kind == A_SLICE && !it->lhs && !it->rhs;
        if (s.dyn[at] && !whole) {
            error_at(it->loc, "axis %d of %s is a runtime dim: it takes only ':'", at, shape_str(x->dt, &s));
            return val_err();
        }
        if (it->kind != A_SLICE) {
            if (!index_value(S, it, 0, n, &from))
                return val_err();
            if (from < 0 || from >= n) {
                error_at(it->loc, "index %lld is out of range for axis %d of %s (valid: %lld to %lld)",
                         (long long)(from < 0 ? from - n : from), at, shape_str(x->dt, &s), (long long)-n,
                         (long long)n - 1);
                return val_err();
            }
            Shape dropped = shape_scalar();
            for (int d = 0; d < s.rank; d++)
                if (d != at)
                    shape_push(&dropped, &s, d);
            x = ir_reshape(S->g, ir_slice(S->g, x, at, from, 1), dropped);
            continue;
        }
        if (!index_value(S, it->lhs, 0, n, &from) || !index_value(S, it->rhs, n, n, &to))
            return val_err();
        if (from < 0 || to > n || from >= to) {
            error_at(it->loc, "slice %lld:%lld of axis %d of %s is empty or out of range (0 <= a < b <= %lld, "
                     "negative bounds count from the end)", (long long)from, (long long)to, at, shape_str(x->dt, &s),
                     (long long)n);
            return val_err();
        }
        x = ir_slice(S->g, x, at++, from, to - from);
    }
    return val_node(x, a->loc);
}

/* Every tensor a model computes is checked against the limit of one
 * tensor's elements as soon as it is built, so no size downstream (buffers,
 * the workspace) can wrap. */
static bool check_intermediate(Node *n, Loc loc) {
    int64_t numel = 1;
    for (int i = 0; i < n->shape.rank; i++) {
        if (n->shape.d[i] > MAX_ELEMS / numel) {
            error_at(loc, "this value would be %s: more than %lld elements, the limit of one tensor",
                     shape_str(n->dt, &n->shape), (long long)MAX_ELEMS);
            return false;
        }
        numel *= n->shape.d[i];
    }
    return true;
}

Val sema_eval(Sema *S, Ast *a) {
    if (!spend(S, 1, a->loc) || !check_nodes(S, a->loc))
        return val_err();
    if (S->expr_depth >= MAX_EXPR_DEPTH) {
        if (!S->depth_reported)
            error_at(a->loc, "expression nested more than %d deep; split it with intermediate names", MAX_EXPR_DEPTH);
        S->depth_reported = true;
        return val_err();
    }
    S->expr_depth++;
    Val v = eval(S, a);
    S->expr_depth--;
    if (v.kind == V_NODE && !check_intermediate(v.node, a->loc))
        return val_err();
    return v;
}

static Val eval(Sema *S, Ast *a) {
    switch (a->kind) {
    case A_NUM:
        if (!isfinite(a->num)) {
            error_at(a->loc, "number out of range");
            return val_err();
        }
        if (a->is_int && a->num > 9e15) {
            error_at(a->loc, "integer too large");
            return val_err();
        }
        return val_num(a->num, a->is_int, a->loc);
    case A_NAME: {
        if (strchr(a->name, '.')) {   /* torch.float32, nn.ReLU */
            builtin_pytorch_hint(a);
            return val_err();
        }
        Binding *b = lookup(S, a->name);
        if (!b) {
            unknown_name(S, a->name, a->loc, false);
            return val_err();
        }
        if (b->kind == B_POISON)
            return val_err();
        if (b->kind == B_FN) {
            error_at(a->loc, "'%s' is a function; call it with arguments", a->name);
            return val_err();
        }
        if (b->kind == B_CONSTV)
            return val_num(b->num, b->num == floor(b->num), a->loc);
        return val_node(b->node, a->loc);
    }
    case A_BIN:
        return eval_binary(S, a);
    case A_NEG: {
        Val v = sema_eval(S, a->lhs);
        if (v.kind == V_NUM)
            return val_num(-v.num, v.is_int, a->loc);
        if (v.kind != V_NODE) {
            if (v.kind == V_LIST)
                error_at(a->loc, "a list cannot be negated");
            return val_err();
        }
        return val_node(ir_unary(S->g, OP_NEG, sema_as_float(S, v, DT_NONE)), a->loc);
    }
    case A_CALL:
        return eval_call(S, a);
    case A_TRANSPOSE: {
        Val v = sema_eval(S, a->lhs);
        if (v.kind == V_ERR)
            return v;
        if (v.kind != V_NODE || v.node->shape.rank != 2) {
            error_at(a->loc, "'.T' transposes a matrix (rank 2); got %s",
                     v.kind == V_NODE ? shape_str(v.node->dt, &v.node->shape) : "a number");
            return val_err();
        }
        static const int swap[2] = {1, 0};
        return val_node(ir_transpose(S->g, v.node, swap), a->loc);
    }
    case A_INDEX:
        return eval_index(S, a);
    case A_SLICE:   /* the parser makes them only inside [ ], where eval_index explains */
        error_at(a->loc, "a slice is only written inside [ ]");
        return val_err();
    case A_STR:
        error_at(a->loc, "a string is only an initializer's fan: kaiming_uniform(fan = \"out\")");
        return val_err();
    case A_LIST: {
        if (a->paren) {
            error_at(a->loc, "(a, b) is a Python tuple, which the language does not have; a list is written [a, b]");
            return val_err();
        }
        int n = 0;
        for (Ast *e = a->args; e; e = e->next)
            n++;
        Val l = {.kind = V_LIST, .list = NEWA(int64_t, n + 1), .list_dyn = NEWA(uint8_t, n + 1),
                 .nlist = n, .loc = a->loc};
        n = 0;
        for (Ast *e = a->args; e; e = e->next) {
            Val v = sema_eval(S, e);
            if (v.kind == V_ERR)
                return v;
            /* a list of tensors: concat([a, b]) */
            if (n == 0 && v.kind == V_NODE && !sema_is_dim(v.node)) {
                l.nodes = NEWA(Node *, l.nlist);
                l.list = NULL;
            }
            if (l.nodes) {
                if (v.kind != V_NODE || sema_is_dim(v.node)) {
                    error_at(e->loc, "a list holds tensors or compile-time integers, not both");
                    return val_err();
                }
                l.nodes[n++] = v.node;
                continue;
            }
            if (v.kind == V_NODE && sema_is_dim(v.node)) {   /* reshape(x, [batch, -1]) */
                l.list_dyn[n] = (uint8_t)(v.node->attr[0] + 1);
                l.list[n++] = (int64_t)S->m->tensors[v.node->tensor].default_value;
                continue;
            }
            if (v.kind != V_NUM || !v.is_int) {
                error_at(e->loc, "a list holds compile-time integers");
                return val_err();
            }
            l.list[n++] = (int64_t)v.num;
        }
        return l;
    }
    }
    return val_err();
}

/* A compile-time integer, for consts, dims and loop bounds. */
static bool eval_int(Sema *S, Ast *a, const char *what, int64_t *out) {
    Val v = sema_eval(S, a);
    if (v.kind == V_ERR)
        return false;
    if (v.kind == V_NODE && sema_is_dim(v.node)) {
        error_at(a->loc, "%s must be a compile-time integer; '%s' is a runtime dim", what, v.node->name);
        return false;
    }
    if (v.kind != V_NUM || !v.is_int) {
        error_at(a->loc, "%s must be a compile-time integer", what);
        return false;
    }
    *out = (int64_t)v.num;
    return true;
}

/* ---- declarations ---- */

/* Declared names become struct fields in the generated header: what C
 * and C++ cannot take there is refused (header.c, c_name_problem). */
static bool check_field_name(const char *name, Loc loc) {
    const char *why = c_name_problem(name);
    if (why)
        error_at(loc, "'%s' cannot name a tensor: %s and would be a struct field in the header", name, why);
    return !why;
}

static int add_tensor(Sema *S, const char *name, nnrt_role role, DType dt, Shape shape, Loc loc) {
    Model *m = S->m;
    if (m->ntensors == S->tensor_cap) {
        S->tensor_cap = S->tensor_cap ? 2 * S->tensor_cap : 16;
        Tensor *t = NEWA(Tensor, S->tensor_cap);
        if (m->ntensors)
            memcpy(t, m->tensors, sizeof(Tensor) * (size_t)m->ntensors);
        m->tensors = t;
    }
    Tensor *nt = &m->tensors[m->ntensors];
    nt->name = name;
    nt->role = role;
    nt->dt = dt;
    nt->shape = shape;
    nt->loc = loc;
    Table *names = role == NNRT_OUTPUT ? &S->outputs : &S->declared;
    table_put(names, name, name_hash(name))->index = m->ntensors;
    return m->ntensors++;
}

static bool redeclared(Sema *S, Stmt *s) {
    Entry *e = table_find(&S->declared, s->name, name_hash(s->name));
    if (!e)
        return false;
    error_at(s->nameloc, "'%s' is declared twice", s->name);
    note_at(S->m->tensors[e->index].loc, "first declared here");
    return true;
}

/* A declared type.  A runtime dim may stand as a whole axis where
 * allow_dims (inputs); elsewhere it is an error. */
static bool eval_type(Sema *S, TypeAst *t, DType *dt, Shape *shape, bool allow_dims, const char *what) {
    *dt = (t->dtype == DT_F32 && S->opt->force_f64) ? DT_F64 : t->dtype;
    *shape = shape_scalar();
    int64_t numel = 1;
    for (Ast *d = t->dims; d; d = d->next) {
        if (shape->rank == MAX_RANK) {
            error_at(d->loc, "tensors have at most %d dimensions", MAX_RANK);
            return false;
        }
        Val dv = sema_eval(S, d);
        int64_t v;
        if (dv.kind == V_NODE && sema_is_dim(dv.node)) {
            if (!allow_dims) {
                error_at(d->loc, "the dims of a %s are fixed; '%s' is a runtime dim (only inputs and "
                         "what is computed from them take one)", what, dv.node->name);
                return false;
            }
            v = (int64_t)S->m->tensors[dv.node->tensor].default_value;
            /* A dim whose MAX is 1 is always 1: a fixed axis of size 1. */
            shape->dyn[shape->rank] = v > 1 ? (uint8_t)(dv.node->attr[0] + 1) : 0;
        } else if (!eval_int(S, d, "a dimension", &v)) {
            return false;
        }
        if (v < 1) {
            error_at(d->loc, "a dimension must be at least 1; this one is %lld", (long long)v);
            return false;
        }
        if (v > MAX_ELEMS || numel > MAX_ELEMS / v) {
            error_at(d->loc, "tensor too large: more than %lld elements", (long long)MAX_ELEMS);
            return false;
        }
        numel *= v;
        shape->d[shape->rank++] = v;
    }
    return true;
}

/* A declaration's leaf: its tensor, its node and its name. */
static Node *declare(Sema *S, Stmt *s, Op op, nnrt_role role, DType dt, Shape shape) {
    int ti = add_tensor(S, s->name, role, dt, shape, s->nameloc);
    Node *n = ir_leaf(S->g, op, dt, shape, ti, s->name, s->nameloc);
    S->m->tensors[ti].node = n;
    Binding *b = bind(S, s->name, B_VALUE, s->nameloc);
    b->node = n;
    return n;
}

/* `= INIT` of a param or a state. */
static void decl_init(Sema *S, Stmt *s, Tensor *t) {
    t->init = NNRT_INIT_DEFAULT;
    if (!s->expr)
        return;
    if (s->expr->kind == A_CALL && strchr(s->expr->name, '.'))
        builtin_pytorch_hint(s->expr);   /* nn.init.kaiming_uniform_(...) */
    else if (s->expr->kind != A_CALL || !builtin_is_initializer(s->expr->name))
        error_at(s->expr->loc, "a %s's initializer is one of zeros(), ones(), constant(v), "
                 "uniform(a, b), normal(mean, std), xavier_uniform(), xavier_normal(), "
                 "kaiming_uniform(), kaiming_normal()", s->kind == S_STATE ? "state" : "param");
    else if (builtin_initializer(S, s->expr, &t->init, &t->init_a, &t->init_b) && t->dt == DT_F32 &&
             sema_number_fits(t->init_a, t->dt, s->expr->loc))
        sema_number_fits(t->init_b, t->dt, s->expr->loc);
    /* Whether it chose its fan (kaiming's fan = "in" | "out"), for the
     * warning about x @ W in eval_binary. */
    int pos = 0;
    for (Ast *x = s->expr->kind == A_CALL ? s->expr->args : NULL; x; x = x->next)
        t->init_fan |= x->kw ? strcmp(x->kw, "fan") == 0 : pos++ == 1;
}

/* x @ W with W a param [in, out] (the textbook's layout) whose kaiming
 * initializer takes its fan from dims[1], as for PyTorch's [out, in]: the
 * number of outputs, silently.  Said once per param. */
static void warn_fan(Sema *S, Ast *a, Node *w) {
    if (w->op != OP_PARAM)
        return;
    Tensor *t = &S->m->tensors[w->tensor];
    if ((t->init != NNRT_INIT_KAIMING_UNIFORM && t->init != NNRT_INIT_KAIMING_NORMAL) || t->init_fan ||
        t->shape.d[0] == t->shape.d[1])
        return;
    t->init_fan = true;
    const char *init = t->init == NNRT_INIT_KAIMING_UNIFORM ? "kaiming_uniform" : "kaiming_normal";
    warning_at(a->loc, "'%s' %s is used as x @ %s, as [in, out]; but %s() takes the fan from dims[1] "
               "(PyTorch's [out, in] layout, used as x @ %s.T): here %lld, its outputs", t->name,
               shape_str(t->dt, &t->shape), t->name, init, t->name, (long long)t->shape.d[1]);
    note_at(t->loc, "write %s(fan = \"out\") to take the fan from dims[0] (%lld, its inputs), "
            "or declare '%s : %s[%lld, %lld]' and write x @ %s.T", init, (long long)t->shape.d[0], t->name,
            dtype_name(t->dt), (long long)t->shape.d[1], (long long)t->shape.d[0], t->name);
}

static void decl_tensor(Sema *S, Stmt *s) {
    if (redeclared(S, s) || !check_field_name(s->name, s->nameloc))
        return;
    static const struct { StmtKind kind; Op op; nnrt_role role; const char *word; } kinds[] = {
        {S_INPUT, OP_INPUT, NNRT_INPUT, "input"}, {S_PARAM, OP_PARAM, NNRT_PARAM, "param"},
        {S_HYPER, OP_HYPER, NNRT_HYPER, "hyper"}, {S_STATE, OP_STATE, NNRT_STATE, "state"}};
    size_t k = 0;
    while (kinds[k].kind != s->kind)
        k++;
    DType dt;
    Shape shape;
    if (!eval_type(S, s->type, &dt, &shape, s->kind == S_INPUT, kinds[k].word))
        return;
    if (s->kind != S_INPUT && !dtype_is_float(dt)) {
        error_at(s->type->loc, "a %s must be f32 or f64, not %s", kinds[k].word, dtype_name(dt));
        return;
    }
    if (s->kind == S_HYPER && shape.rank != 0) {
        error_at(s->type->loc, "a hyper is a scalar: write '%s' without dims", dtype_name(dt));
        return;
    }
    if (s->kind == S_STATE && (strcmp(s->name, "seed") == 0 || strcmp(s->name, "step") == 0)) {
        error_at(s->nameloc, "a state cannot be named '%s': the state struct begins with seed and step", s->name);
        return;
    }
    Node *n = declare(S, s, kinds[k].op, kinds[k].role, dt, shape);
    Tensor *t = &S->m->tensors[n->tensor];
    if (s->kind == S_HYPER) {
        if (!s->expr) {
            error_at(s->nameloc, "hyper '%s' needs a default value: 'hyper %s : %s = VALUE'",
                     s->name, s->name, dtype_name(dt));
        } else {
            Val v = sema_eval(S, s->expr);
            if (v.kind == V_NUM)
                t->default_value = dt == DT_F32 ? (float)v.num : v.num;
            if (v.kind == V_NUM)
                sema_number_fits(v.num, dt, s->expr->loc);
            else if (v.kind != V_ERR)
                error_at(s->expr->loc, "the default of a hyper must be a compile-time number");
        }
    }
    if (s->kind == S_PARAM)
        decl_init(S, s, t);
    if (s->kind == S_STATE) {
        decl_init(S, s, t);
        if (t->init == NNRT_INIT_DEFAULT)
            t->init = NNRT_INIT_ZEROS;   /* contract, 5.5: a state without = INIT is zeros() */
    }
}

/* dim NAME <= MAX: -D NAME=VALUE overrides MAX. */
static void decl_dim(Sema *S, Stmt *s) {
    if (redeclared(S, s) || !check_field_name(s->name, s->nameloc))
        return;
    if (S->m->ndims == MAX_DIMS) {
        error_at(s->nameloc, "a model has at most %d runtime dims", MAX_DIMS);
        return;
    }
    int64_t max = 0;
    bool ok = eval_int(S, s->expr, "a dim's maximum", &max);
    for (int i = 0; i < S->opt->ndefines; i++)
        if (strcmp(S->opt->defines[i].name, s->name) == 0) {
            S->opt->defines[i].used = true;
            max = S->opt->defines[i].value;
            ok = true;
        }
    if (ok && (max < 1 || max > MAX_ELEMS)) {
        error_at(s->expr->loc, "a dim's maximum must be from 1 to %lld; this one is %lld",
                 (long long)MAX_ELEMS, (long long)max);
        ok = false;
    }
    if (!ok) {
        bind(S, s->name, B_POISON, s->nameloc);
        return;
    }
    Node *n = declare(S, s, OP_DIM, NNRT_DIM, DT_I64, shape_scalar());
    n->attr[0] = S->m->ndims;
    S->m->tensors[n->tensor].default_value = (double)max;
    S->m->dims[S->m->ndims] = n->tensor;
    S->dim_max[S->m->ndims] = max;
    S->dim_names[S->m->ndims++] = s->name;
    ir_set_dims(S->dim_names, S->dim_max, S->m->ndims);
}

static void decl_const(Sema *S, Stmt *s) {
    Binding *old = lookup(S, s->name);
    if (old && old->kind == B_CONSTV) {
        error_at(s->nameloc, "const '%s' is declared twice", s->name);
        note_at(old->loc, "first declared here");
        return;
    }
    int64_t v = 0;
    bool ok = eval_int(S, s->expr, "a const", &v);
    for (int i = 0; i < S->opt->ndefines; i++) {
        Define *d = &S->opt->defines[i];
        if (strcmp(d->name, s->name) == 0) {
            d->used = true;
            v = d->value;
            ok = true;
        }
    }
    if (!ok) {
        bind(S, s->name, B_POISON, s->nameloc);
        return;
    }
    Binding *b = bind(S, s->name, B_CONSTV, s->nameloc);
    b->num = (double)v;
}

static Tensor *find_output(Sema *S, const char *name) {
    Entry *e = table_find(&S->outputs, name, name_hash(name));
    return e ? &S->m->tensors[e->index] : NULL;
}

static Node *named_value(Sema *S, const char *name, Loc loc) {
    Binding *b = lookup(S, name);
    if (!b) {
        unknown_name(S, name, loc, false);
        return NULL;
    }
    if (b->kind == B_POISON)
        return NULL;
    if (b->kind != B_VALUE) {
        error_at(loc, "'%s' is %s, not a tensor", name, b->kind == B_FN ? "a function" : "a const");
        return NULL;
    }
    return b->node;
}

static void add_output(Sema *S, const char *name, Node *n, Loc loc) {
    if (!check_field_name(name, loc))
        return;
    if (sema_is_dim(n)) {
        error_at(loc, "'%s' is a runtime dim, which the caller sets; it cannot be an output", name);
        return;
    }
    int ti = add_tensor(S, name, NNRT_OUTPUT, n->dt, n->shape, loc);
    S->m->tensors[ti].node = n;
}

static void stmt_output(Sema *S, Stmt *s) {
    for (Ast *a = s->args; a; a = a->next) {
        Tensor *old = find_output(S, a->name);
        if (old && S->m->objective >= 0 && old == &S->m->tensors[S->m->objective] &&
            old->node == named_value(S, a->name, a->loc))
            continue;   /* the objective is an output already */
        if (old) {
            error_at(a->loc, "'%s' is an output already", a->name);
            note_at(old->loc, "first named here");
            continue;
        }
        Node *n = named_value(S, a->name, a->loc);
        if (n)
            add_output(S, a->name, n, a->loc);
    }
}

static void stmt_minimize(Sema *S, Stmt *s) {
    if (S->has_objective) {
        error_at(s->loc, "a model has at most one objective");
        note_at(S->objective_loc, "the first 'minimize' is here");
        return;
    }
    S->has_objective = true;
    S->objective_loc = s->loc;
    Node *n = named_value(S, s->name, s->nameloc);
    if (!n)
        return;
    if (n->shape.rank != 0 || !dtype_is_float(n->dt)) {
        if (n->shape.rank)
            error_at(s->nameloc, "the objective must be a float scalar; '%s' is %s (reduce it, e.g. mean(%s))",
                     s->name, shape_str(n->dt, &n->shape), s->name);
        else
            error_at(s->nameloc, "the objective must be a float scalar; '%s' is %s", s->name,
                     dtype_name(n->dt));
        return;
    }
    Tensor *t = find_output(S, s->name);
    if (t && t->node != n) {
        error_at(s->nameloc, "'%s' was rebound after it was named as an output", s->name);
        return;
    }
    if (!t)
        add_output(S, s->name, n, s->nameloc);
    t = find_output(S, s->name);
    if (t)
        S->m->objective = (int)(t - S->m->tensors);
}

/* An optimizer's argument: a number (kept in f64 and converted once to
 * each param's type) or a hyper; a flag is true or false. */
static Node *optimizer_arg(Sema *S, Ast *a, const OptimArg *arg) {
    Val v = sema_eval(S, a);
    if (v.kind == V_ERR)
        return NULL;
    if (arg->is_flag) {
        if (v.kind != V_NUM || (v.num != 0 && v.num != 1)) {
            error_at(a->loc, "%s must be true or false", arg->name);
            return NULL;
        }
        return ir_const(S->g, DT_F64, v.num);
    }
    if (v.kind == V_NUM)
        return ir_const(S->g, DT_F64, v.num);
    if (v.kind == V_NODE && v.node->op == OP_HYPER)
        return v.node;
    error_at(a->loc, "%s must be a number or a hyper", arg->name);
    return NULL;
}

static void stmt_optimizer(Sema *S, Stmt *s) {
    if (S->m->has_optimizer) {
        error_at(s->loc, "a model has at most one optimizer");
        note_at(S->optimizer_loc, "the first one is here");
        return;
    }
    S->optimizer_loc = s->loc;
    const Optimizer *o = optim_find(s->name);
    if (!o) {
        error_at(s->nameloc, "unknown optimizer '%s' (nnc has %s)", s->name, optim_names());
        return;
    }
    const char *names[MAX_OPT_ARGS];
    int nrequired = 0;
    for (int k = 0; k < o->nargs; k++) {
        names[k] = o->args[k].name;
        if (isnan(o->args[k].default_value))
            nrequired = k + 1;
    }
    Ast *args[MAX_OPT_ARGS] = {0};
    Ast call = {.kind = A_CALL, .loc = s->nameloc, .name = s->name, .args = s->args};
    if (!match_args(&call, o->name, names, o->nargs, nrequired, args))
        return;
    Model *m = S->m;
    m->has_optimizer = true;
    m->optim = o;
    for (int k = 0; k < o->nargs; k++) {
        m->optarg[k] = args[k] ? optimizer_arg(S, args[k], &o->args[k])
                               : ir_const(S->g, DT_F64, o->args[k].default_value);
        S->optarg_loc[k] = args[k] ? args[k]->loc : s->nameloc;
        if (!m->optarg[k])
            m->has_optimizer = false;
    }
    if (m->has_optimizer)
        m->nbuffers = o->nbuffers(m->optarg);
}

/* Unrolled: each iteration costs a step of the budget, and its body what
 * its statements cost. */
static void stmt_for(Sema *S, Stmt *s) {
    int64_t a, b;
    if (!eval_int(S, s->expr, "a loop bound", &a) | !eval_int(S, s->expr2, "a loop bound", &b))
        return;
    Expansion x = {.loc = s->loc, .iterations = b > a ? b - a : 0, .up = S->expanding};
    S->expanding = &x;
    for (int64_t i = a; i < b && !diag_stop && spend(S, 1, s->loc); i++) {
        Binding *v = bind(S, s->name, B_CONSTV, s->nameloc);
        v->num = (double)i;
        int before = diag_errors;
        exec_block(S, s->body, false);
        if (diag_errors > before || !check_nodes(S, s->loc))
            break;   /* the same error in every iteration is noise */
    }
    S->expanding = x.up;
}

/* ---- imports ---- */

static const char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? arena_printf("%.*s", (int)(slash - path), path) : ".";
}

/* The file an import names: as written if absolute, else beside the
 * importing file, then in each -I folder. */
static const char *find_import(Sema *S, const char *name) {
    if (name[0] == '/')
        return access(name, R_OK) == 0 ? name : NULL;
    const char *p = strcmp(S->dir, ".") == 0 ? name : arena_printf("%s/%s", S->dir, name);
    if (access(p, R_OK) == 0)
        return p;
    for (int i = 0; i < S->opt->ninclude_dirs; i++) {
        p = arena_printf("%s/%s", S->opt->include_dirs[i], name);
        if (access(p, R_OK) == 0)
            return p;
    }
    return NULL;
}

static void exec_stmt(Sema *S, Stmt *s, bool top);

static bool import_done(Sema *S, const char *real) {
    return table_find(&S->done, real, name_hash(real)) != NULL;
}

/* An imported file brings its functions and consts (and its own imports);
 * each file is read once however often it is imported.  Only a regular file
 * can be imported, and its size is charged to the work budget before it is
 * read. */
static void stmt_import(Sema *S, Stmt *s) {
    const char *path = find_import(S, s->name);
    if (!path) {
        error_at(s->nameloc, "cannot find '%s' (looked beside this file%s)", s->name,
                 S->opt->ninclude_dirs ? " and in the -I folders" : "; add a folder with -I");
        return;
    }
    struct stat st;
    char *real = realpath(path, NULL);
    if (!real || stat(real, &st) != 0) {
        error_at(s->nameloc, "cannot open '%s': %s", path, strerror(errno));
        free(real);
        return;
    }
    const char *r = arena_strdup(real);
    free(real);
    if (!S_ISREG(st.st_mode)) {
        error_at(s->nameloc, "cannot import '%s': %s", path,
                 S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file (a device, pipe or socket)");
        return;
    }
    for (ImportFrame *f = S->imports; f; f = f->up)
        if (strcmp(f->real, r) == 0) {
            error_at(s->nameloc, "import cycle: '%s' imports itself", path);
            for (ImportFrame *g = S->imports; g->up; g = g->up)
                note_at(g->loc, "through the import of '%s'", g->path);
            return;
        }
    if (import_done(S, r))
        return;
    int64_t cost = IMPORT_STEPS + (int64_t)st.st_size / IMPORT_BYTES_PER_STEP;
    if (cost > S->max_work - S->work) {
        error_at(s->nameloc, "importing '%s' (%lld bytes) takes more than the %lld steps of compile-time "
                 "work left (the limit is %lld, --max-work=N raises it)", path, (long long)st.st_size,
                 (long long)(S->max_work - S->work), (long long)S->max_work);
        S->stop = true;
        return;
    }
    spend(S, cost, s->nameloc);
    int before = diag_errors;
    Source *src = source_read_max(path, (size_t)st.st_size);
    if (!src)
        return;
    Stmt *prog = parse_source(src);
    if (diag_errors > before)
        return;
    ImportFrame frame = {r, path, s->nameloc, S->imports};
    const char *dir = S->dir;
    S->imports = &frame;
    S->dir = dir_of(path);
    for (Stmt *t = prog; t && !diag_stop; t = t->next) {
        if (t->kind != S_FN && t->kind != S_CONST && t->kind != S_IMPORT)
            error_at(t->loc, "an imported file holds only fn, const and import statements");
        else
            exec_stmt(S, t, true);
    }
    S->imports = frame.up;
    S->dir = dir;
    Entry *e = table_put(&S->done, r, name_hash(r));
    static Binding seen;
    e->b = &seen;
    Model *m = S->m;
    m->imports = arena_grow(m->imports, m->nimports, sizeof *m->imports);
    m->imports[m->nimports++] = path;
}

static const char *stmt_word(StmtKind k) {
    switch (k) {
    case S_MODEL: return "model";
    case S_CONST: return "const";
    case S_INPUT: return "input";
    case S_PARAM: return "param";
    case S_HYPER: return "hyper";
    case S_OUTPUT: return "output";
    case S_MINIMIZE: return "minimize";
    case S_OPTIMIZER: return "optimizer";
    case S_FN: return "fn";
    case S_IMPORT: return "import";
    case S_DIM: return "dim";
    case S_STATE: return "state";
    case S_ASSIGN: case S_FOR: case S_RETURN:
    default: return "this statement";
    }
}

static void exec_stmt(Sema *S, Stmt *s, bool top) {
    switch (s->kind) {
    case S_MODEL:
        if (top)
            error_at(s->loc, "'model' must be the first statement");
        else
            error_at(s->loc, "'model' is only allowed as the first statement of the file");
        return;
    case S_CONST:
        decl_const(S, s);
        return;
    case S_ASSIGN: {
        Binding *old = lookup(S, s->name);
        Val v = sema_eval(S, s->expr);
        if (v.kind == V_ERR) {
            bind(S, s->name, B_POISON, s->nameloc);
            return;
        }
        if (v.kind == V_LIST) {
            error_at(s->expr->loc, "a list cannot be bound to a name");
            return;
        }
        if (old && old->kind == B_FN)
            warning_at(s->nameloc, "'%s' shadows a function", s->name);
        Binding *b = bind(S, s->name, v.kind == V_NUM ? B_CONSTV : B_VALUE, s->nameloc);
        b->num = v.num;
        b->node = v.node;
        if (v.node && !v.node->name && op_info[v.node->op].kind != K_LEAF)
            v.node->name = s->name;
        return;
    }
    case S_FN: {
        Binding *old = lookup(S, s->name);
        if (top && old && old->kind == B_FN) {
            error_at(s->nameloc, "function '%s' is defined twice", s->name);
            note_at(old->loc, "first defined here");
            return;
        }
        static Binding seen;
        Table params = {0};
        for (Ast *p = s->args; p; p = p->next) {
            Entry *e = table_put(&params, p->name, name_hash(p->name));
            if (e->b) {
                Ast *first = s->args;
                while (strcmp(first->name, p->name) != 0)
                    first = first->next;
                error_at(p->loc, "function '%s' has two parameters named '%s'", s->name, p->name);
                note_at(first->loc, "the first is here");
                bind(S, s->name, B_POISON, s->nameloc);
                return;
            }
            e->b = &seen;
        }
        Binding *b = bind(S, s->name, B_FN, s->nameloc);
        b->fn = s;
        b->fn_scope = S->scope;
        b->closure = closure_of(S, s);
        if (s->body) {
            Stmt *last = s->body;
            while (last->next)
                last = last->next;
            if (last->kind != S_RETURN)
                error_at(s->endloc, "function '%s' must end with 'return EXPR'", s->name);
            for (Stmt *t = s->body; t != last; t = t->next)
                if (t->kind == S_RETURN)
                    error_at(t->loc, "'return' must be the last statement of the function");
        }
        return;
    }
    case S_FOR:
        stmt_for(S, s);
        return;
    case S_IMPORT:
        if (top)
            stmt_import(S, s);
        else
            error_at(s->loc, "'import' is only allowed at the top level");
        return;
    case S_RETURN:
        if (top)
            error_at(s->loc, "'return' outside a function");
        return;   /* a function's return is evaluated by call_user */
    case S_INPUT: case S_PARAM: case S_HYPER: case S_OUTPUT: case S_MINIMIZE: case S_OPTIMIZER: case S_DIM:
    case S_STATE:
    default:
        break;
    }
    if (!top) {
        error_at(s->loc, "'%s' is only allowed at the top level", stmt_word(s->kind));
        return;
    }
    switch (s->kind) {
    case S_INPUT: case S_PARAM: case S_HYPER: case S_STATE:
        decl_tensor(S, s);
        break;
    case S_DIM:
        decl_dim(S, s);
        break;
    case S_OUTPUT:
        stmt_output(S, s);
        break;
    case S_MINIMIZE:
        stmt_minimize(S, s);
        break;
    case S_OPTIMIZER:
        stmt_optimizer(S, s);
        break;
    case S_MODEL: case S_CONST: case S_ASSIGN: case S_FN: case S_FOR: case S_RETURN: case S_IMPORT:
    default:
        break;
    }
}

static void exec_block(Sema *S, Stmt *s, bool top) {
    for (; s && !diag_stop && spend(S, 1, s->loc); s = s->next) {
        S->depth_reported = false;
        exec_stmt(S, s, top);
    }
}

/* The default model name: the file's stem, made an identifier. */
static const char *stem_name(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        n = (size_t)(dot - base);
    char *s = arena_alloc(n + 2);
    size_t k = 0;
    if (n == 0 || isdigit((unsigned char)base[0]))
        s[k++] = '_';
    for (size_t i = 0; i < n; i++)
        s[k++] = isalnum((unsigned char)base[i]) ? base[i] : '_';
    s[k] = 0;
    return s;
}

/* The state struct's fields: states, then P_<buffer> for each param. */
static void check_state_names(Model *m) {
    for (int i = 0; i < m->ntensors; i++) {
        if (m->tensors[i].role != NNRT_STATE)
            continue;
        for (int j = 0; j < m->ntensors; j++)
            for (int b = 0; b < m->nbuffers && m->tensors[j].role == NNRT_PARAM; b++)
                if (strcmp(m->tensors[i].name, arena_printf("%s_%s", m->tensors[j].name, m->optim->buffers[b])) == 0)
                    error_at(m->tensors[i].loc, "state '%s' would clash with param %s's optimizer buffer %s in the state struct",
                             m->tensors[i].name, m->tensors[j].name, m->optim->buffers[b]);
    }
}

/* The other names that reach C: the model's name as the prefix of every C
 * name (--prefix is checked by main.c), each optimizer buffer's field
 * P_<buffer>, and the header's struct types, which no field may be named. */
static void check_c_names(Model *m, const Stmt *prog, const Options *opt) {
    const char *why = opt->prefix ? NULL : c_prefix_problem(m->name);
    if (why && prog && prog->kind == S_MODEL)
        error_at(prog->nameloc, "'%s' cannot name the model: %s (or give the C names another prefix with "
                 "--prefix)", m->name, why);
    else if (why)
        error_plain("the model's name '%s', from the file name, cannot begin its C names: %s; name the model "
                    "with 'model NAME' or pass --prefix", m->name, why);
    static const char *const types[] = {"params", "inputs", "outputs", "state"};
    for (int i = 0; i < m->ntensors; i++) {
        const Tensor *t = &m->tensors[i];
        for (int b = 0; b < m->nbuffers && t->role == NNRT_PARAM; b++) {
            const char *field = arena_printf("%s_%s", t->name, m->optim->buffers[b]);
            if ((why = c_name_problem(field)) != NULL)
                error_at(t->loc, "'%s' cannot name a param with %s: its buffer would be the field '%s' of the "
                         "state struct, and %s", t->name, m->optim->name, field, why);
        }
        for (int k = 0; k < 4; k++)
            if (strcmp(t->name, arena_printf("%s_%s", m->prefix, types[k])) == 0)
                error_at(t->loc, "'%s' cannot name a tensor: it is the name of a struct type of the header",
                         t->name);
    }
}

static void check_sizes(Model *m) {
    int64_t bytes[NNRT_STATE + 1] = {0};
    for (int i = 0; i < m->ntensors; i++) {
        Tensor *t = &m->tensors[i];
        int64_t b = shape_numel(&t->shape) * (int64_t)dtype_size(t->dt);
        if (b > MAX_BYTES || (bytes[t->role] += b + 64) > MAX_BYTES) {
            error_at(t->loc, "the tensors of this model take more than %lld bytes", (long long)MAX_BYTES);
            return;
        }
    }
}

Model *sema_model(Stmt *prog, const Source *src, const Options *opt) {
    Sema S = {.opt = opt, .dir = dir_of(src->path), .dim_names = NEWA(const char *, MAX_DIMS),
              .dim_max = NEWA(int64_t, MAX_DIMS),
              .max_work = opt->max_work > 0 ? opt->max_work : NNC_DEFAULT_MAX_WORK};
    /* The model's own file is the bottom of the import stack: a file that
     * imports it is a cycle. */
    char *real = realpath(src->path, NULL);
    ImportFrame top = {real ? arena_strdup(real) : "", src->path, {0}, NULL};
    free(real);
    S.imports = &top;
    Model *m = S.m = NEW(Model);
    m->g = S.g = graph_new();
    ir_set_dims(NULL, NULL, 0);
    m->objective = -1;
    m->path = src->path;
    m->name = stem_name(opt->input ? opt->input : src->path);
    Stmt *s = prog;
    if (s && s->kind == S_MODEL) {
        m->name = s->name;
        s = s->next;
    }
    exec_block(&S, s, true);
    m->prefix = opt->prefix ? opt->prefix : m->name;
    if (S.stop)   /* the budget ran out: the rest was not elaborated */
        return m;
    for (int i = 0; i < opt->ndefines; i++)
        if (!opt->defines[i].used)
            error_plain("-D %s: the model has no const or dim '%s'", opt->defines[i].name, opt->defines[i].name);
    if (m->has_optimizer && !S.has_objective && !diag_stop)
        error_at(S.optimizer_loc, "an optimizer needs an objective: add 'minimize NAME'");
    /* An optimizer's numbers are converted to each param's type. */
    bool f32_params = false;
    for (int i = 0; i < m->ntensors; i++)
        f32_params |= m->tensors[i].role == NNRT_PARAM && m->tensors[i].dt == DT_F32;
    for (int k = 0; m->has_optimizer && f32_params && k < m->optim->nargs; k++)
        if (m->optarg[k]->op == OP_CONST)
            sema_number_fits(m->optarg[k]->value, DT_F32, S.optarg_loc[k]);
    check_state_names(m);
    check_c_names(m, prog, opt);
    check_sizes(m);
    if (!diag_errors)
        modes_split(m);
    return m;
}
