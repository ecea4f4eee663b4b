/*
 * ops.h: the one table of IR ops (an X-macro, as in jq's opcode_list.h).
 *
 * OP(ID, "name", arity, KIND, gradient rule)
 *
 * KIND tells the lowering how an op is evaluated:
 *   LEAF    a declared tensor (input, param, hyper, state) or a runtime dim
 *   CONST   a scalar constant
 *   EW      elementwise over its (broadcast) operands: fusable into consumers
 *   VIEW    a re-indexing of its operand, never computed on its own
 *   REDUCE  a reduction over a set of axes (kept as size-1 dims)
 *   KERNEL  anything else, always materialized
 *
 * The gradient rule names a function in autodiff.c; leaving it out is a build
 * error, and grad_none marks an op through which no gradient flows.
 * WARNING: adding an op means an entry here, its rule in autodiff.c, its
 * evaluation in codegen.c (emit_ew or emit_kernel) and its folding in ir.c.
 */
OP(INPUT,     "input",     0, LEAF,   grad_none)
OP(PARAM,     "param",     0, LEAF,   grad_none)
OP(HYPER,     "hyper",     0, LEAF,   grad_none)
OP(STATE,     "state",     0, LEAF,   grad_none)
OP(DIM,       "dim",       0, LEAF,   grad_none)      /* i64: a runtime dim's n */
OP(SEEDSTEP,  "seedstep",  0, LEAF,   grad_none)      /* i64[2]: the state's seed and step on entry */
OP(CONST,     "const",     0, CONST,  grad_none)
/* elementwise, unary */
OP(NEG,       "neg",       1, EW,     grad_neg)
OP(EXP,       "exp",       1, EW,     grad_exp)
OP(LOG,       "log",       1, EW,     grad_log)
OP(SQRT,      "sqrt",      1, EW,     grad_sqrt)
OP(ABS,       "abs",       1, EW,     grad_abs)
OP(TANH,      "tanh",      1, EW,     grad_tanh)
OP(SIGMOID,   "sigmoid",   1, EW,     grad_sigmoid)
OP(RELU,      "relu",      1, EW,     grad_relu)
OP(SOFTPLUS,  "softplus",  1, EW,     grad_softplus)
OP(SQUARE,    "square",    1, EW,     grad_square)
OP(POWC,      "pow",       1, EW,     grad_powc)      /* value = the constant exponent */
OP(CAST,      "cast",      1, EW,     grad_cast)      /* to the node's dtype */
OP(SIGN,      "sign",      1, EW,     grad_none)      /* -1, 0, 1: abs' */
OP(STEP,      "step",      1, EW,     grad_none)      /* x > 0: relu' */
OP(SIN,       "sin",       1, EW,     grad_sin)
OP(COS,       "cos",       1, EW,     grad_cos)
OP(ERF,       "erf",       1, EW,     grad_erf)
OP(LOG1P,     "log1p",     1, EW,     grad_log1p)
OP(EXPM1,     "expm1",     1, EW,     grad_expm1)
/* elementwise, binary, with NumPy broadcasting */
OP(ADD,       "add",       2, EW,     grad_add)
OP(SUB,       "sub",       2, EW,     grad_sub)
OP(MUL,       "mul",       2, EW,     grad_mul)
OP(DIV,       "div",       2, EW,     grad_div)
OP(MAXIMUM,   "maximum",   2, EW,     grad_maximum)
OP(MINIMUM,   "minimum",   2, EW,     grad_minimum)
OP(EQ,        "eq",        2, EW,     grad_none)
OP(NE,        "ne",        2, EW,     grad_none)
OP(GT,        "gt",        2, EW,     grad_none)
OP(GE,        "ge",        2, EW,     grad_none)
/* elementwise, ternary, broadcasting: a where the condition is nonzero, else b */
OP(WHERE,     "where",     3, EW,     grad_where)
/* training mode: values that differ between forward and the training
 * entry points (modes.c) */
OP(DROPMASK,  "dropmask",  2, EW,     grad_none)      /* 0 or 1/(1-p): p = in[0], in[1] seedstep; value = site k */
OP(MODE,      "mode",      2, EW,     grad_none)      /* in[0] when training, in[1] in forward; gone before autodiff */
/* placing: x at [start, start + len) of axis attr[0] (attr[1] = start) in
 * zeros of the node's shape, evaluated elementwise over that shape, so that
 * concat's sum of placements fuses into one loop */
OP(PAD,       "pad",       1, EW,     grad_pad)
/* x reversed along the axes in attr[0] (a bit mask), evaluated elementwise */
OP(FLIP,      "flip",      1, EW,     grad_flip)
/* views */
OP(TRANSPOSE, "transpose", 1, VIEW,   grad_transpose) /* attr = perm */
OP(RESHAPE,   "reshape",   1, VIEW,   grad_reshape)
OP(INDEX,     "index",     1, VIEW,   grad_index)     /* attr[0] = i: R[i] */
OP(BROADCAST, "broadcast", 1, VIEW,   grad_broadcast)
OP(DETACH,    "detach",    1, VIEW,   grad_none)      /* identity, stops gradients */
OP(SLICE,     "slice",     1, VIEW,   grad_slice)     /* [start, start + len) of axis attr[0], attr[1] = start */
/* reductions over the axes in attr[0] (a bit mask), kept as size-1 dims */
OP(SUM,       "sum",       1, REDUCE, grad_sum)
OP(MAX,       "max",       1, REDUCE, grad_max)
OP(PROD,      "prod",      1, REDUCE, grad_prod)
/* kernels */
OP(MATMUL,    "matmul",    2, KERNEL, grad_matmul)
OP(EMBED,     "embed",     1, KERNEL, grad_embed)     /* inverse of INDEX: g at slot attr[0], 0 elsewhere */
OP(MAXMASK,   "maxmask",   1, KERNEL, grad_none)      /* 1 at the first maximum of each group (attr[0] axes) */
OP(ARGMAX,    "argmax",    1, KERNEL, grad_none)      /* attr[0] = axis; i32, axis kept as size 1 */
OP(PICK,      "pick",      2, KERNEL, grad_pick)      /* x[n, c], y i32[n] -> x[i, y[i]], shape [n] */
OP(ONEHOT,    "onehot",    1, KERNEL, grad_none)      /* y i32[n] -> [n, c] */
/* convolution and pooling windows, attr = Window (kh kw sh sw ph pw dh dw) */
OP(IM2COL,    "im2col",    1, KERNEL, grad_im2col)    /* [N,C,H,W] -> [C*kh*kw, N*OH*OW]; value: the padding */
OP(COL2IM,    "col2im",    1, KERNEL, grad_col2im)    /* its adjoint: each window summed back into [N,C,H,W] */
