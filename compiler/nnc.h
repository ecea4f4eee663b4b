/*
 * nnc.h: the compiler's one internal header, a section per file.
 *
 * The pipeline (main.c): parse (grammar/) -> check and elaborate into a tensor
 * graph (sema.c, builtins.c) -> differentiate (autodiff.c) -> plan memory and
 * lower through LLVM (plan.c, codegen.c) -> emit object and header (emit.c,
 * header.c).
 *
 * Memory policy: everything the compiler allocates for one compilation comes
 * from one arena (util.c) and is freed at once by arena_free_all(); nothing
 * is freed piecemeal.
 */
#ifndef NNC_H
#define NNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "nnrt.h"

/* ---- util.c: arena, strings, diagnostics ---- */

void *arena_alloc(size_t size);          /* zeroed; aborts when out of memory */
void arena_free_all(void);
unsigned arena_generation(void);        /* counts arena_free_all() calls */
char *arena_strdup(const char *s);
/* An array of n elements with room for one more: array itself, or (when n
 * is 0 or a power of two) a copy of it twice as large.  Use as
 * a = arena_grow(a, n, sizeof *a); a[n++] = x; */
void *arena_grow(void *array, int n, size_t elem);
char *arena_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define NEW(T) ((T *)arena_alloc(sizeof(T)))
#define NEWA(T, n) ((T *)arena_alloc(sizeof(T) * (size_t)(n)))

/* A source file held in memory, for diagnostics that quote lines. */
typedef struct Source {
    const char *path;
    const char *text;
    size_t len;
} Source;

/* A place in the source: 1-based line and column; len >= 1 columns wide. */
typedef struct Loc {
    const Source *src;
    int line, col, len;
} Loc;

#define MAX_ERRORS 20
extern int diag_errors;                  /* errors reported so far */
extern bool diag_stop;                   /* too many errors: stop reporting */
void diag_reset(void);
void error_at(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void warning_at(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void note_at(Loc loc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void error_plain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern FILE *diag_out;                   /* stderr unless redirected (tests) */

/* Bytes of the valid UTF-8 character at s[0, n), or 0 if it is not one. */
size_t utf8_char_len(const char *s, size_t n);
/* fputs, with control characters (but newlines) and bytes that are not
 * UTF-8 written as \xNN, as every diagnostic is. */
void fputs_clean(const char *s, FILE *f);

/* The outputs are one set (docs/guarantees.md): each is written to a new
 * temporary file beside its target (a random name, O_EXCL) and all are
 * renamed into place by outputs_commit, only when every one is complete.
 * outputs_abort, an error in commit, and SIGINT, SIGTERM and the other
 * terminating signals remove the temporaries, so a failed run leaves no
 * output and does not clobber an older one.  Errors are printed. */
bool output_begin(const char *path);          /* create path's temporary now */
FILE *output_open(const char *path);          /* a stream onto it (NULL on error) */
bool output_close(FILE *f, const char *path); /* false on a write error */
bool output_write(const char *path, const void *data, size_t n);  /* its whole contents */
bool outputs_commit(void);
void outputs_abort(void);
void outputs_abort_from_handler(void);        /* async-signal-safe: unlink only */
/* The open file descriptor a path names, or -1: "-" standard output, and
 * /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N (or a symbolic link
 * to one).  Such an output is written into that descriptor at commit, at
 * its offset, never renamed onto: when standard output is a file, renaming
 * onto /dev/stdout would replace the link itself. */
int output_stream_fd(const char *path);
/* a and b name one file: the same open descriptor (output_stream_fd: "-"
 * and /dev/stdout), the same directory entry (folders resolved), or, when
 * both exist, the same st_dev and st_ino. */
bool same_file(const char *a, const char *b);

/* ---- grammar/: the AST ---- */

typedef enum { DT_NONE = 0, DT_F32 = NNRT_F32, DT_F64 = NNRT_F64, DT_I32 = NNRT_I32, DT_I64 = NNRT_I64 } DType;

typedef enum {
    A_NUM,        /* num, is_int */
    A_NAME,       /* name */
    A_BIN,        /* lhs op rhs */
    A_NEG,        /* -lhs */
    A_CALL,       /* name(args) */
    A_TRANSPOSE,  /* lhs.T */
    A_INDEX,      /* lhs[rhs], or lhs[args] with several items or a slice */
    A_LIST,       /* [args], or (args) when paren: a Python tuple, an error */
    A_SLICE,      /* lhs:rhs inside [ ], either may be NULL: an error, with a hint */
    A_STR         /* "name": only as an initializer's fan */
} AstKind;

typedef enum { B_ADD, B_SUB, B_MUL, B_DIV, B_MATMUL, B_POW, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE } BinOp;

typedef struct Ast Ast;
struct Ast {
    AstKind kind;
    Loc loc;
    BinOp op;
    double num;
    bool is_int;
    const char *name;
    Ast *lhs, *rhs;
    Ast *args;          /* A_CALL, A_LIST: a list through next */
    const char *kw;     /* as a call argument: its keyword, or NULL */
    Loc kwloc;
    Ast *next;
    bool paren;         /* A_LIST: written (a, b) */
};
/* A_CALL and A_NAME whose name holds a '.' are PyTorch habits the parser
 * kept for sema to explain: "torch.relu", "nn.Linear" (a module's name, the
 * receiver lhs NULL) or ".sum" (a method, lhs the receiver). */

typedef struct TypeAst {
    DType dtype;
    Ast *dims;          /* list, NULL for a scalar */
    Loc loc;
} TypeAst;

typedef enum {
    S_MODEL, S_CONST, S_INPUT, S_PARAM, S_HYPER, S_ASSIGN, S_OUTPUT,
    S_MINIMIZE, S_OPTIMIZER, S_FN, S_FOR, S_RETURN, S_IMPORT, S_DIM, S_STATE
} StmtKind;

typedef struct Stmt Stmt;
struct Stmt {
    StmtKind kind;
    Loc loc;            /* the keyword, or the name of an assignment */
    const char *name;   /* declared name, fn name, loop variable, optimizer */
    Loc nameloc;
    TypeAst *type;      /* input, param, hyper, state */
    Ast *expr;          /* const, init, hyper default, assigned value, fn body
                           expression, return value, loop start, dim's max */
    Ast *expr2;         /* loop end */
    Ast *args;          /* output names, minimize name, fn params, optimizer args */
    Stmt *body;         /* fn block, loop body */
    Loc endloc;         /* the closing brace of a block */
    Stmt *next;
};

/* parse.c: parse a whole file; NULL-free even on errors (counts diag_errors). */
Stmt *parse_source(const Source *src);
Source *source_read(const char *path);   /* NULL, with an error printed, on failure */
Source *source_read_max(const char *path, size_t max);   /* the same, and no more than max bytes */
Source *source_from_string(const char *path, const char *text, size_t len);

/* ---- ir.c: the tensor graph ---- */

#define MAX_RANK 8

typedef enum {
#define OP(id, name, arity, kind, grad) OP_##id,
#include "ops.h"
#undef OP
    OP_COUNT
} Op;

typedef enum { K_LEAF, K_CONST, K_EW, K_VIEW, K_REDUCE, K_KERNEL } OpKind;

/* The ops of each group of ops.h as case labels, for switches that handle
 * some ops one by one and the rest by group.  The compiler's sources build
 * with -Werror=switch-enum, so an op added to ops.h but not here, or to no
 * case of a switch, stops the build.  Use as `VIEW_OPS: return ...;`. */
#define LEAF_OPS case OP_INPUT: case OP_PARAM: case OP_HYPER: case OP_STATE: case OP_DIM: case OP_SEEDSTEP
#define UNARY_OPS case OP_NEG: case OP_EXP: case OP_LOG: case OP_SQRT: case OP_ABS: case OP_TANH: \
    case OP_SIGMOID: case OP_RELU: case OP_SOFTPLUS: case OP_SQUARE: case OP_POWC: case OP_CAST: \
    case OP_SIGN: case OP_STEP: case OP_SIN: case OP_COS: case OP_ERF: case OP_LOG1P: case OP_EXPM1
#define BINARY_OPS case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MAXIMUM: case OP_MINIMUM: \
    case OP_EQ: case OP_NE: case OP_GT: case OP_GE
#define TERNARY_OPS case OP_WHERE
#define MODE_OPS case OP_DROPMASK: case OP_MODE
/* elementwise, each element read from another index of the operand */
#define REINDEX_OPS case OP_PAD: case OP_FLIP
#define VIEW_OPS case OP_TRANSPOSE: case OP_RESHAPE: case OP_INDEX: case OP_BROADCAST: case OP_DETACH: \
    case OP_SLICE
#define REDUCE_OPS case OP_SUM: case OP_MAX: case OP_PROD
#define KERNEL_OPS case OP_MATMUL: case OP_EMBED: case OP_MAXMASK: case OP_ARGMAX: case OP_PICK: case OP_ONEHOT: \
    case OP_IM2COL: case OP_COL2IM

typedef struct OpInfo {
    const char *name;
    int arity;
    OpKind kind;
} OpInfo;
extern const OpInfo op_info[OP_COUNT];

/* A runtime dim (`dim batch <= 256`) is an axis whose extent n is chosen
 * at each call: d[] holds its MAX, the extent of the storage, and dyn[]
 * says which dim it is (k + 1 for Model.dims[k], 0 for a fixed extent).
 * Loops over such an axis run to n; strides and sizes use MAX.  Inside the
 * compiler an axis may also merge a runtime axis with the fixed ones after
 * it (convolution's rows, one per output pixel of each example): d[] is
 * then MAX * per and n * per rows are in use (shape_rows_per_n). */
#define MAX_DIMS 16
typedef struct Shape {
    int rank;
    int64_t d[MAX_RANK];
    uint8_t dyn[MAX_RANK];
} Shape;

typedef struct Node Node;
struct Node {
    int id;             /* creation order, which is a topological order */
    Op op;
    DType dt;
    Shape shape;
    Node *in[3];
    double value;       /* CONST: the value; POWC: the exponent */
    int64_t attr[MAX_RANK]; /* TRANSPOSE: perm; INDEX, EMBED: i; SUM, MAX,
                           PROD, MAXMASK: axes mask; ARGMAX: axis; DIM: its
                           index k in Model.dims (Shape.dyn k + 1) */
    int tensor;         /* LEAF: index in Model.tensors */
    unsigned zero_sum;  /* axes along which the value sums to 0 (ir_center's
                           x - mean(x)): a fact about the value, so not part
                           of its identity */
    const char *name;   /* a name the user bound it to, for dumps */
    Loc loc;
    Node *hnext;        /* hash chain */
};

typedef struct Graph {
    Node **nodes;
    int n, cap;
    Node **table;       /* hash-consing: one node per distinct computation */
    int tcap;
} Graph;

Graph *graph_new(void);
int64_t shape_numel(const Shape *s);    /* at the max shape: the storage */
bool shape_eq(const Shape *a, const Shape *b);
bool shape_axis_eq(const Shape *a, int i, const Shape *b, int j);
bool shape_is_dynamic(const Shape *s);
void shape_push(Shape *s, const Shape *from, int axis);   /* append from's axis */
void shape_push_fixed(Shape *s, int64_t extent);
Shape shape_scalar(void);
/* Names and MAX of the runtime dims, for shape_str ("f32[batch, 784]")
 * and shape_rows_per_n. */
void ir_set_dims(const char *const *names, const int64_t *max, int n);
/* Of a runtime axis i of s: the rows in use per unit of its dim's n (1,
 * or per for a merged axis). */
int64_t shape_rows_per_n(const Shape *s, int i);
const char *shape_str(DType dt, const Shape *s);   /* "f32[2, 3]", "f32[batch, 3]" */
const char *shape_axis_str(const Shape *s, int i);  /* "3", "batch" */
const char *dtype_name(DType dt);
size_t dtype_size(DType dt);
bool dtype_is_float(DType dt);

/* Node constructors.  They fold constants, apply algebraic identities and
 * return an existing node for a repeated computation (CSE), so every pass
 * builds through them.  Shapes must already be valid (sema checks them). */
Node *ir_leaf(Graph *g, Op op, DType dt, Shape shape, int tensor, const char *name, Loc loc);
Node *ir_const(Graph *g, DType dt, double v);
Node *ir_unary(Graph *g, Op op, Node *a);
Node *ir_powc(Graph *g, Node *a, double c);
Node *ir_cast(Graph *g, Node *a, DType dt);
Node *ir_binary(Graph *g, Op op, Node *a, Node *b);     /* broadcasting */
Node *ir_where(Graph *g, Node *c, Node *a, Node *b);    /* broadcasting; NULL if the shapes do not */
Node *ir_transpose(Graph *g, Node *a, const int *perm);
Node *ir_reshape(Graph *g, Node *a, Shape s);
Node *ir_index(Graph *g, Node *a, int64_t i);
Node *ir_broadcast(Graph *g, Node *a, Shape s);
Node *ir_detach(Graph *g, Node *a);
Node *ir_reduce(Graph *g, Op op, Node *a, unsigned axes);  /* keeps dims */
/* x - sum(x, axes) / count, where count is the number of elements x has
 * along the axes (those in use): sums over the axes of it are 0. */
Node *ir_center(Graph *g, Node *x, unsigned axes, Node *count);
Node *ir_matmul(Graph *g, Node *a, Node *b);
Node *ir_embed(Graph *g, Node *a, int64_t i, int64_t n);
/* Elements [start, start + len) of axis (len: of the result), and the
 * inverse: x placed at start of axis in zeros of shape s. */
Node *ir_slice(Graph *g, Node *x, int axis, int64_t start, int64_t len);
Node *ir_pad(Graph *g, Node *x, int axis, int64_t start, Shape s);
Node *ir_flip(Graph *g, Node *x, unsigned axes);       /* x reversed along the axes */
Node *ir_maxmask(Graph *g, Node *a, unsigned axes);
Node *ir_argmax(Graph *g, Node *a, int axis);           /* keeps the axis */
Node *ir_pick(Graph *g, Node *x, Node *y);
Node *ir_onehot(Graph *g, Node *y, int64_t c, DType dt);
/* A window of conv2d and the pools, as in Node.attr of IM2COL and COL2IM:
 * kernel, stride, padding and dilation, each [h, w].  The output is
 * OH x OW with OH = (H + 2 ph - dh (kh - 1) - 1) / sh + 1. */
typedef struct Window {
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
} Window;
int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d);
Window ir_window(const Node *n);   /* of an IM2COL or COL2IM */
/* x [N, C, H, W] as a matrix of windows [C*kh*kw, N*OH*OW], a column per
 * output pixel (wide however few the channels, as the generated product
 * likes), pad outside x (0, or -inf for max_pool2d); N may be a runtime
 * axis, merged with OH*OW.  col2im is its adjoint, into shape xs. */
Node *ir_im2col(Graph *g, Node *x, const Window *w, double pad);
Node *ir_col2im(Graph *g, Node *cols, Shape xs, const Window *w);
/* [a, N*OH*OW], a column per output pixel of x's windows w (as a product
 * with im2col's result leaves it), as the image [N, a, OH, OW]: a view. */
Node *ir_columns_image(Graph *g, Node *cols, const Node *x, const Window *w);
/* Training mode (modes.c): dropout site k's mask over shape s, each element
 * 0 or 1/(1-p), drawn from the state's seed and step (the SEEDSTEP leaf);
 * a value that is train when training and eval in forward; and n again
 * with other operands (NULL beyond its arity), for the pass that resolves
 * the modes. */
Node *ir_dropmask(Graph *g, Node *p, Node *seedstep, Shape s, int site);
Node *ir_mode(Graph *g, Node *train, Node *eval);
Node *ir_rebuild(Graph *g, const Node *n, Node *const in[3]);
/* Broadcast shape of a and b; false if incompatible. */
bool shape_broadcast(const Shape *a, const Shape *b, Shape *out);
/* Sum g down to shape s (the inverse of broadcasting). */
Node *ir_unbroadcast(Graph *g, Node *grad, const Shape *s);
bool ir_is_const(const Node *n, double v);
double ir_fold_binary(Op op, double a, double b);   /* what an elementwise op gives on numbers */

void ir_dump(FILE *f, const Graph *g, Node **roots, const char **root_names, int nroots);

/* ---- sema.c: checking and elaboration into a Model ---- */

/* ---- optim.c: the optimizers, one row each ---- */

#define MAX_OPT_ARGS 8
#define MAX_BUFFERS 3

typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW, OPT_COUNT } OptimKind;

typedef struct OptimArg {
    const char *name;
    double default_value;   /* NAN: required */
    bool is_flag;           /* true/false only, fixed at compile time */
} OptimArg;

/* An optimizer's arguments (torch.optim's names and defaults), the state
 * buffers it keeps per param (named after torch.optim's state keys), and
 * how many of them a model's arguments call for.  Its update rule is
 * codegen.c's rule_<name>. */
typedef struct Optimizer {
    OptimKind kind;
    const char *name;
    OptimArg args[MAX_OPT_ARGS];
    int nargs;
    const char *buffers[MAX_BUFFERS];
    int (*nbuffers)(struct Node *const *args);
} Optimizer;

const Optimizer *optim_find(const char *name);
const char *optim_names(void);          /* "sgd" or "sgd, adam", for messages */
int optim_arg(const Optimizer *o, const char *name);   /* index, or -1 */

/* ---- sema.c: checking and elaboration into a Model ---- */

typedef struct Tensor {
    const char *name;
    nnrt_role role;
    DType dt;
    Shape shape;
    Loc loc;
    Node *node;             /* the leaf (INPUT, PARAM, HYPER, STATE, DIM) or the output's value
                               (in training mode, which backward differentiates) */
    Node *eval;             /* OUTPUT: its value in forward (evaluation mode) */
    double default_value;   /* HYPER: its default; DIM: its MAX */
    nnrt_init_kind init;    /* PARAM, STATE */
    double init_a, init_b;
    bool init_fan;          /* the initializer names its fan (or a warning about it was given) */
    Node *grad;             /* PARAM, after autodiff */
    size_t offset, size;    /* in the struct of its role (header.c layout) */
    size_t buf_offset[MAX_BUFFERS];  /* PARAM: its optimizer buffers in the state */
    int64_t label_classes;  /* INPUT used as cross_entropy labels: their count */
} Tensor;

/* A state that training entry points store at their end (batch_norm's
 * running statistics). */
typedef struct StateWrite {
    int tensor;
    Node *value;
    Loc loc;
} StateWrite;

/* The elements per channel a batch_norm normalizes over: fixed times the n
 * of each runtime dim in the mask dims (bit k: Model.dims[k]).  Training
 * entry points return NNRT_ESHAPE when that is 1. */
typedef struct BatchCount {
    unsigned dims;
    int64_t fixed;
} BatchCount;

typedef struct Model {
    const char *name;       /* the model's name: the descriptor's, a checkpoint's */
    const char *prefix;     /* of every C symbol: the name, or --prefix */
    const char *path;       /* the source file */
    Tensor *tensors;        /* declaration order; outputs, then the objective if
                               it was not declared as an output */
    int ntensors;
    int dims[MAX_DIMS];     /* the runtime dims: their index in tensors */
    int ndims;
    Graph *g;
    int objective;          /* index in tensors, or -1 */
    bool has_optimizer;
    const Optimizer *optim;
    Node *optarg[MAX_OPT_ARGS];   /* by optim->args: a CONST or HYPER scalar */
    int nbuffers;           /* optimizer buffers per param */
    size_t params_size, inputs_size, outputs_size, state_size;
    const char **imports;   /* every file imported, for -MD */
    int nimports;
    /* training mode (modes.c) */
    Node *seedstep;         /* the SEEDSTEP leaf, once a dropout needs it */
    Node **dropout_p;       /* each dropout's p (a CONST or a HYPER), for the entry checks */
    int ndropouts;
    StateWrite *writes;
    int nwrites;
    BatchCount *counts;
    int ncounts;
} Model;

/* modes.c: resolve the MODE nodes: each output's node becomes its value in
 * training mode and eval its value in forward; the state writes are
 * training values.  Run after sema, before autodiff. */
void modes_split(Model *m);

/* The struct a tensor of this role lives in (NNRT_INPUT for hypers, dims). */
nnrt_role role_struct(nnrt_role r);

typedef struct Define { const char *name; int64_t value; bool used; } Define;

enum { EMIT_OBJ, EMIT_HEADER, EMIT_LLVM, EMIT_ASM, EMIT_DOT, EMIT_IR, EMIT_PLAN, NEMIT };

typedef struct Options {
    const char *input;
    const char *path[NEMIT];    /* where each requested output goes, or NULL */
    const char *depfile;        /* -MD / -MF, or NULL */
    int opt_level;
    Define *defines;
    int ndefines;
    bool force_f64;
    const char *target;
    const char *cpu;
    bool stats;
    bool time;                  /* --time: print where the compile's time went */
    bool gradcheck;
    bool lower_only;            /* build and optimize the module, write nothing (fuzzing) */
    const char *prefix;         /* --prefix: the C symbols' prefix; the model keeps its name */
    const char **include_dirs;  /* -I, searched for imports after the importer's folder */
    int ninclude_dirs;
    int64_t max_work;           /* --max-work: the compile-time work budget (0: the default) */
    const char *gradcheck_inputs;   /* --gradcheck-inputs=DIR: DIR/NAME.idx per input */
    bool gradcheck_allow_untested;  /* --gradcheck-allow-untested */
} Options;

/* Steps of compile-time work a model may take (sema.c; docs/language.md,
 * Limits): each statement, expression, loop iteration and inlined call
 * costs one. */
#define NNC_DEFAULT_MAX_WORK 10000000

Model *sema_model(Stmt *prog, const Source *src, const Options *opt);

/* --time: the compile's wall-clock time, charged to phases.  phase_enter
 * charges the time since the previous call to the phase that was running. */
typedef enum { PH_FRONT, PH_LOWER, PH_OPTIMIZE, PH_MACHINE, PH_OUTPUT, NPHASES } Phase;
void phase_enter(Phase p);
void phase_report(FILE *f);

/* What an expression evaluates to: a compile-time number, a tensor in the
 * graph, a list of integers (reshape's dims), or an error already reported. */
typedef enum { V_ERR, V_NUM, V_NODE, V_LIST, V_NONE /* an absent optional argument */ } ValKind;
typedef struct Val {
    ValKind kind;
    double num;
    bool is_int;
    Node *node;
    int64_t *list;
    uint8_t *list_dyn;  /* V_LIST: per entry, a runtime dim (Shape.dyn) or 0 */
    Node **nodes;       /* V_LIST of tensors (concat, stack): the nlist tensors; list is NULL */
    int nlist;
    Loc loc;
} Val;

typedef struct Sema Sema;
/* sema.c, for builtins.c */
Val sema_eval(Sema *S, Ast *a);
Graph *sema_graph(Sema *S);
Model *sema_model_of(Sema *S);             /* the model being built */
DType sema_float(Sema *S);                 /* f32, or f64 with --dtype=f64 */
Val val_err(void);
Val val_node(Node *n, Loc loc);
Node *sema_as_float(Sema *S, Val v, DType like);  /* numbers become constants */
bool sema_number_fits(double v, DType dt, Loc loc);   /* false, reported, if v is out of dt's range */
Node *sema_dim_value(Sema *S, int dyn, DType dt);  /* a runtime dim's n, as a float scalar */
bool sema_is_dim(const Node *n);
void sema_label_range(Sema *S, Node *labels, int64_t classes);
const char *nearest_name(const char *name, const char *const *cands, int n);

/* builtins.c: the language's functions.  Arguments are matched to the
 * function's parameters by position or keyword, as in Python. */
#define MAX_ARGS 8
typedef struct Builtin Builtin;
const Builtin *builtin_find(const char *name);
Val builtin_call(Sema *S, const Builtin *b, Ast *call);
bool builtin_is_initializer(const char *name);
/* The parameters of an initializer call, checked: kind, a, b. */
bool builtin_initializer(Sema *S, Ast *call, nnrt_init_kind *kind, double *a, double *b);
/* PyTorch habits, explained as errors: a call or name with a '.' from the
 * parser (torch.relu, nn.Linear, x.sum()). */
void builtin_pytorch_hint(Ast *a);
/* Match call arguments to named parameters; false after an error. */
bool match_args(Ast *call, const char *fname, const char *const *params, int nparams,
                int nrequired, Ast **out);

/* ---- autodiff.c ---- */

/* Gradient of the objective for every param (Tensor.grad). */
void autodiff(Model *m);

/* ---- header.c: struct layout and the C header ---- */

/* Why name cannot be a struct field of the generated header (a C or C++
 * keyword, a reserved name, a macro or type of the C library, the runtime's
 * or the header's own), or NULL; c_prefix_problem the same for the model's
 * name or --prefix, which begins every C name of the model. */
const char *c_name_problem(const char *name);
const char *c_prefix_problem(const char *prefix);
void layout_model(Model *m);
const char *ctype_name(DType dt);
bool write_header(const Model *m, const char *path);

/* ---- plan.c: how each node of an entry point is evaluated and stored ---- */

typedef enum {
    ST_DEAD,        /* not needed by this entry point */
    ST_LEAF,        /* a declared tensor, in its struct */
    ST_CONST,       /* a scalar constant (or a view of one) */
    ST_VIEW,        /* a strided view of another node's storage */
    ST_INLINE,      /* elementwise, computed inside its one consumer's loop */
    ST_BUFFER,      /* computed by its own kernel into a buffer */
    ST_WINDOWS,     /* an im2col (or a transpose of one) never written out:
                     * each product that reads it as B fills the blocks it
                     * packs from the image (cg_window_fill) */
    ST_COLUMNS      /* a product of windows read only by a col2im, never
                     * written out whole: the col2im computes it a chunk of
                     * images at a time into its scratch (Slot.col_chunk) */
} Storage;

typedef enum { BASE_PARAMS, BASE_INPUTS, BASE_OUTPUTS, BASE_GRADS, BASE_STATE, BASE_WS, NBASE } Base;

/* Element (idx) lives at (char *)base + byte_off, as an element pointer,
 * plus elem_off + sum(idx[d] * stride[d]). */
typedef struct Layout {
    int base;           /* a Base, or NBASE + k: argument k of an outlined kernel */
    int64_t byte_off, elem_off;
    int64_t stride[MAX_RANK];
} Layout;

typedef struct GemmPlan GemmPlan;

typedef struct Slot {
    Storage st;
    Layout lay;         /* ST_LEAF, ST_VIEW, ST_BUFFER */
    double cval;        /* ST_CONST */
    int uses;           /* consumers in this entry point, roots included */
    int read_time;      /* the last kernel that reads it (INT32_MAX: the end) */
    size_t scratch;     /* ST_BUFFER: bytes for the kernel's own use while it runs */
    Layout scratch_lay; /* where they are (a block of their own in the workspace) */
    bool direct;        /* ST_BUFFER: the buffer is the root's destination */
    /* A matrix product whose one consumer is an elementwise node computed
     * in the product's place (relu(x @ W.T + b), mask * (g @ W),
     * g.T @ x + lambda * W): the product's kernel applies that node to each
     * tile of C as it is finished (an epilogue), and the consumer has no
     * kernel (by_epilogue) or store loop (Root.by_epilogue) of its own. */
    Node *epilogue;     /* ST_BUFFER, a matmul: the consumer, or NULL */
    bool by_epilogue;   /* computed by the epilogue of the product it reads */
    const GemmPlan *gemm;   /* ST_BUFFER, a matmul: how it is computed */
    /* ST_BUFFER, a matmul W @ windows with few rows and a short K (LeNet's
     * first convolution: 6 x 25): computed straight from the image, a row
     * of pixels at a time in registers (conv_direct below), with no gemm. */
    bool conv_direct;
    /* ST_BUFFER, a matmul dY @ windows.T, a convolution's weight gradient
     * with rows of two vectors: summed from dY's rows and the image's, in
     * registers, with no windows filled (plan.c, conv_weights). */
    bool conv_weights;
    /* ST_BUFFER, a col2im whose product is ST_COLUMNS: the images each
     * chunk of it computes and sums back while in the cache (plan.c,
     * columns_chunk); else 0. */
    int64_t col_chunk;
} Slot;

/* Explicit vectors in generated code (the direct convolution, col2im by
 * rows) are this many bytes wide, the width of AVX-512's registers; the
 * direct convolution keeps at most CONV_DIRECT_ACC of them as sums, at
 * most 2 to a row of W, and unrolls a K of at most CONV_DIRECT_K, or
 * CONV_DIRECT_K_WIDE where every copy of the code has AVX-512's registers. */
enum { WIDE_VECTOR_BYTES = 64, CONV_DIRECT_ACC = 16, CONV_DIRECT_K = 32, CONV_DIRECT_K_WIDE = 160 };

typedef enum { ENTRY_FORWARD, ENTRY_BACKWARD, ENTRY_TRAIN } EntryKind;

/* A value the entry point must leave in a struct. */
typedef struct Root {
    Node *node;
    Layout dest;
    bool direct;        /* computed in place by its kernel: no copy */
    bool by_epilogue;   /* computed by the epilogue of a product (Slot) */
    bool at_end;        /* a state: stored after every kernel, never computed there */
} Root;

typedef struct Plan {
    EntryKind kind;
    Slot *slot;                 /* by node id */
    Root *roots;
    int nroots;
    /* ENTRY_TRAIN: by tensor index, the gradient the update reads, and where
     * it was copied first when reading it in place would be unsafe (-1). */
    int64_t *snapshot;
    size_t workspace, workspace_noreuse;
    double flops;
    /* Bytes moved at the max shape, at least: each kernel writes its
     * result and reads each value it takes from memory once, as do the
     * copies of roots and the optimizer's update. */
    double bytes;
    bool wide;                  /* all the code has AVX-512's registers (plan_entry) */
} Plan;

/* wide: every copy of the code has 32 registers of WIDE_VECTOR_BYTES
 * (cg_wide_registers), which longer direct convolutions need. */
Plan *plan_entry(const Model *m, EntryKind kind, bool wide);
bool param_updated(const Tensor *t);
/* A kernel split across threads gets at least PAR_MIN_ELEMS elements (some
 * microseconds).  A reduction over the first axis of at least twice that
 * (a bias's gradient, summed over the batch) is summed in chunks of
 * reduce_chunk_rows(n) rows of it, a number fixed by the shapes, across
 * threads, each into a partial result in the node's scratch, and the
 * partials are then combined in order: the same sums at every thread
 * count.  0: the reduction is not cut.  Each partial takes
 * reduce_partial_bytes(n), a multiple of 64 bytes apart. */
enum { PAR_MIN_ELEMS = 1 << 15 };
int64_t reduce_chunk_rows(const Node *n);
/* The shape whose axis 0 the kernel of n is split along across threads
 * (codegen.c, emit_parallel_rows): an elementwise kernel's, a reduction's
 * or max mask's that keeps axis 0, col2im's image, im2col's, a reshape's
 * copy's or a direct convolution's operand; NULL when n is not split that
 * way or has too little work: split_work(n), its operations at the max
 * shape counted as elementwise ones (a reduction's operand's elements, a
 * direct convolution's outputs times K, else n's elements), under
 * 2 * PAR_MIN_ELEMS. */
const Shape *split_shape(const Plan *p, const Node *n);
double split_work(const Plan *p, const Node *n);
int64_t reduce_partial_bytes(const Node *n);
/* The rows of a chunk of the kernel of n when it is summed in chunks
 * across threads as above, a reduction or a direct weight gradient (over
 * images), and in *rows_of the shape whose axis 0 is cut; 0 if it is not. */
int64_t chunk_rows(const Plan *p, const Node *n, const Shape **rows_of);
/* Whether each group of x's elements that agree outside `axes` is small
 * and fixed (at most MAX_SMALL_GROUP elements: a pooling window), so that
 * a reduction or a first maximum over those axes takes it whole, in
 * registers, group by group (codegen.c); a larger group is folded into
 * its result (a MAXMASK's or ARGMAX's running maximum in the node's
 * scratch) element by element in x's row-major order. */
enum { MAX_SMALL_GROUP = 16 };
bool small_groups(const Shape *x, unsigned axes);
/* The axes a MAXMASK or ARGMAX finds the first maximum over. */
unsigned first_max_axes(const Node *n);
/* A reshape's axes in groups: a run of its operand's axes [in0, in1) and a
 * run of its own [out0, out1) whose extents have the same product (28 and
 * 14 x 2).  Its element idx is its operand's at the indices that each
 * group's flat index, idx over [out0, out1), has over [in0, in1).  Fills g
 * (2 * MAX_RANK at most) and returns the number of groups. */
typedef struct AxisGroup {
    int in0, in1, out0, out1;
} AxisGroup;
int reshape_groups(const Node *n, AxisGroup *g);
/* --emit=plan: each entry point's storage, kernels and workspace. */
void plan_dump(FILE *f, const Model *m, Plan *const plans[3]);
/* gemm.c: how the product n is computed (its form, what it packs), chosen
 * from the layouts the plan gave its operands (NULL: none, a constant) and
 * its result, B_filled when B is ST_WINDOWS; the scratch that needs; a
 * line for --emit=plan.  gemm_fills_b: whether that plan can fill B's
 * blocks from the image instead of reading B. */
const GemmPlan *gemm_plan(const Node *n, const Layout *a, const Layout *b, const Layout *out, bool b_filled);
bool gemm_fills_b(const GemmPlan *p);
/* The plan computing its columns a range at a time, each range on one
 * thread (cg_matmul_columns), or NULL where that cannot be. */
const GemmPlan *gemm_by_columns(const GemmPlan *p);
/* The bytes of the product's columns in a chunk of col2im n (Slot.col_chunk),
 * at the start of its scratch. */
int64_t columns_chunk_bytes(const Plan *p, const Node *n);
size_t gemm_scratch(const GemmPlan *p);
const char *gemm_describe(const GemmPlan *p);
bool layout_contiguous(const Layout *l, const Shape *s);
/* The row-major layout of a tensor of shape s at byte_off of base. */
Layout layout_of(Base base, int64_t byte_off, const Shape *s);

/* ---- codegen.c: lowering to LLVM ---- */

typedef struct Stats {
    double flops[3];            /* forward, backward, train_step */
    double bytes[3];            /* moved, at least (Plan.bytes) */
    size_t workspace[3], workspace_noreuse[3];
} Stats;

/* Lower the model and write what opt->emit asks for.  Returns false (with an
 * error printed) on failure. */
bool codegen(Model *m, const Options *opt, Stats *stats);

/* target.c: --target and --cpu checked against LLVM's registry before any
 * code is generated: NULL, or why they cannot be used (a usage error).
 * target_help prints the target's CPUs (--cpu=help); it returns the exit
 * status. */
const char *target_check(const Options *opt);
int target_help(const Options *opt);
/* From then on a fatal error of LLVM's is an error (exit 1, the outputs
 * removed), not an abort. */
void target_exit_on_fatal_errors(void);

/* nnc --gradcheck: compile the model in memory (LLVM's ORC JIT), draw
 * params and inputs (or read inputs from --gradcheck-inputs), compare
 * backward with central differences for every param and print a table.
 * Returns the exit status: 0, or 1 when a gradient is off, a param is
 * untested (unless allowed) or the check could not run. */
int gradcheck_jit(Model *m, const Options *opt);

#endif
