/*
 * test_compiler.c: unit tests of the compiler's passes (Check).
 *
 * Each test compiles a few lines of source in memory through the same
 * functions main.c calls and pins one behaviour: how the lexer splits, how
 * the parser groups, what sema accepts and how it reports, what the graph
 * constructors fold, and the shape of the derivative autodiff builds.
 * Numerical correctness of generated code is tested end to end (tests/e2e).
 */
#include "nnc.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "run_suite.h"

static char *diag_text;
static size_t diag_len;

static void capture_diagnostics(void) {
    diag_reset();
    if (diag_out)
        fclose(diag_out);
    free(diag_text);
    diag_text = NULL;
    diag_out = open_memstream(&diag_text, &diag_len);
}

/* The diagnostics printed since capture_diagnostics(). */
static const char *diagnostics(void) {
    fflush(diag_out);
    return diag_text ? diag_text : "";
}

static void teardown(void) {
    if (diag_out) {
        fclose(diag_out);
        diag_out = NULL;
    }
    free(diag_text);
    diag_text = NULL;
    arena_free_all();
}

static Stmt *parse(const char *text) {
    capture_diagnostics();
    return parse_source(source_from_string("t.nn", text, strlen(text)));
}

static Model *elaborate_with(const char *text, Define *defs, int ndefs) {
    Stmt *prog = parse(text);
    if (diag_errors)
        return NULL;
    Options opt = {.input = "t.nn", .defines = defs, .ndefines = ndefs, .opt_level = 2};
    Source *src = source_from_string("t.nn", text, strlen(text));
    Model *m = sema_model(prog, src, &opt);
    if (!diag_errors)
        autodiff(m);
    return m;
}

static Model *elaborate(const char *text) { return elaborate_with(text, NULL, 0); }

static Tensor *tensor(Model *m, const char *name, nnrt_role role) {
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].role == role && strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    return NULL;
}

/* The IR of one value, as --emit=ir prints it. */
static char *dump(Model *m, Node *n) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *name = "r";
    ir_dump(f, m->g, &n, &name, 1);
    fclose(f);
    char *s = arena_strdup(buf);
    free(buf);
    return s;
}

/* ---- lexer and parser ---- */

START_TEST(test_range_is_not_a_real_number) {
    Stmt *s = parse("for i in 0..10 { }\n");
    ck_assert_int_eq(diag_errors, 0);
    ck_assert_int_eq(s->kind, S_FOR);
    ck_assert(s->expr->is_int && s->expr->num == 0);
    ck_assert(s->expr2->is_int && s->expr2->num == 10);
}
END_TEST

START_TEST(test_number_forms) {
    Stmt *s = parse("a = .5\nb = 2.\nc = 1e-4\nd = 7\n");
    ck_assert_int_eq(diag_errors, 0);
    ck_assert(s->expr->num == 0.5 && !s->expr->is_int);
    ck_assert(s->next->expr->num == 2.0 && !s->next->expr->is_int);
    ck_assert(s->next->next->expr->num == 1e-4);
    ck_assert(s->next->next->next->expr->is_int);
}
END_TEST

START_TEST(test_precedence_mul_over_add) {
    Stmt *s = parse("r = a + b * c\n");
    Ast *e = s->expr;
    ck_assert_int_eq(e->op, B_ADD);
    ck_assert_int_eq(e->rhs->op, B_MUL);
}
END_TEST

START_TEST(test_comparisons_bind_loosest) {
    /* a < b + c is a < (b + c), and a < b == c is (a < b) == c. */
    Ast *e = parse("r = a < b + c\n")->expr;
    ck_assert_int_eq(e->op, B_LT);
    ck_assert_int_eq(e->rhs->op, B_ADD);
    e = parse("r = a < b == c\n")->expr;
    ck_assert_int_eq(e->op, B_EQ);
    ck_assert_int_eq(e->lhs->op, B_LT);
}
END_TEST

START_TEST(test_unary_minus_below_power) {
    Ast *e = parse("r = -x ** 2\n")->expr;
    ck_assert_int_eq(e->kind, A_NEG);
    ck_assert_int_eq(e->lhs->kind, A_BIN);
    ck_assert_int_eq(e->lhs->op, B_POW);
}
END_TEST

START_TEST(test_power_is_right_associative) {
    Ast *e = parse("r = a ** b ** c\n")->expr;
    ck_assert_int_eq(e->op, B_POW);
    ck_assert_int_eq(e->rhs->op, B_POW);
}
END_TEST

START_TEST(test_comparison_binds_loosest) {
    Ast *e = parse("r = a + b == c\n")->expr;
    ck_assert_int_eq(e->op, B_EQ);
    ck_assert_int_eq(e->lhs->op, B_ADD);
}
END_TEST

START_TEST(test_postfix_transpose_and_index) {
    Ast *e = parse("r = x @ W.T[0]\n")->expr;
    ck_assert_int_eq(e->op, B_MATMUL);
    ck_assert_int_eq(e->rhs->kind, A_INDEX);
    ck_assert_int_eq(e->rhs->lhs->kind, A_TRANSPOSE);
}
END_TEST

START_TEST(test_newline_inside_parens_continues) {
    Stmt *s = parse("r = f(a,\n  b)\nq = 1\n");
    ck_assert_int_eq(diag_errors, 0);
    ck_assert_int_eq(s->expr->kind, A_CALL);
    ck_assert_ptr_nonnull(s->next);
    ck_assert_ptr_null(s->next->next);
}
END_TEST

START_TEST(test_block_statements_split_on_newlines) {
    Stmt *s = parse("fn f(a) {\n  b = a * 2\n  return b\n}\n");
    ck_assert_int_eq(diag_errors, 0);
    ck_assert_int_eq(s->kind, S_FN);
    ck_assert_int_eq(s->body->kind, S_ASSIGN);
    ck_assert_int_eq(s->body->next->kind, S_RETURN);
}
END_TEST

START_TEST(test_semicolons_separate_statements) {
    Stmt *s = parse("a = 1; b = 2\n");
    ck_assert_int_eq(diag_errors, 0);
    ck_assert_ptr_nonnull(s->next);
}
END_TEST

START_TEST(test_keyword_arguments) {
    Ast *e = parse("r = sum(x, axis = 1, keepdims = true)\n")->expr;
    ck_assert_ptr_null(e->args->kw);
    ck_assert_str_eq(e->args->next->kw, "axis");
    ck_assert_str_eq(e->args->next->next->kw, "keepdims");
    ck_assert(e->args->next->next->num == 1);
}
END_TEST

START_TEST(test_syntax_errors_recover_per_statement) {
    parse("a = (1 +\nb = 2 +\nc = 3\n)\n");
    ck_assert_int_ge(diag_errors, 1);
    parse("a = 1 +\nb = * 2\nc = 3\n");
    ck_assert_int_eq(diag_errors, 2);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "t.nn:1:8: error:"));
    ck_assert_ptr_nonnull(strstr(diagnostics(), "t.nn:2:5: error:"));
}
END_TEST

START_TEST(test_stray_byte_is_located) {
    parse("a = 1 $ 2\n");
    ck_assert_int_ge(diag_errors, 1);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "t.nn:1:7: error: unexpected character '$'"));
    ck_assert_ptr_nonnull(strstr(diagnostics(), "  a = 1 $ 2\n        ^\n"));
}
END_TEST

START_TEST(test_nul_byte_is_an_error) {
    capture_diagnostics();
    parse_source(source_from_string("t.nn", "a = 1\0\n", 7));
    ck_assert_ptr_nonnull(strstr(diagnostics(), "stray NUL byte"));
}
END_TEST

/* ---- sema ---- */

static const char *mlp_src =
    "const batch = 4\nconst d = 3\nconst h = 2\n"
    "input x : f32[batch, d]\ninput y : i32[batch]\n"
    "param W1 : f32[h, d]\nparam W2 : f32[2, h]\n"
    "hyper lr : f32 = 0.5\n"
    "o = relu(x @ W1.T) @ W2.T\n"
    "J = mean(cross_entropy(o, y))\n"
    "output o\nminimize J\noptimizer sgd(lr = lr)\n";

START_TEST(test_tensor_table_in_declaration_order) {
    Model *m = elaborate(mlp_src);
    ck_assert_int_eq(diag_errors, 0);
    ck_assert_int_eq(m->ntensors, 7);
    const char *names[] = {"x", "y", "W1", "W2", "lr", "o", "J"};
    for (int i = 0; i < 7; i++)
        ck_assert_str_eq(m->tensors[i].name, names[i]);
    ck_assert_int_eq(m->tensors[6].role, NNRT_OUTPUT);
    ck_assert_str_eq(m->tensors[m->objective].name, "J");
}
END_TEST

START_TEST(test_define_overrides_const) {
    Define d = {"batch", 16, false};
    Model *m = elaborate_with(mlp_src, &d, 1);
    ck_assert_int_eq(diag_errors, 0);
    ck_assert(d.used);
    ck_assert_int_eq(tensor(m, "x", NNRT_INPUT)->shape.d[0], 16);
    ck_assert_int_eq(tensor(m, "o", NNRT_OUTPUT)->shape.d[0], 16);
}
END_TEST

START_TEST(test_unknown_define_is_an_error) {
    Define d = {"bacth", 16, false};
    elaborate_with(mlp_src, &d, 1);
    ck_assert_int_eq(diag_errors, 1);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "-D bacth"));
}
END_TEST

START_TEST(test_default_model_name_is_the_stem) {
    Model *m = elaborate("param w : f32[2]\n");
    ck_assert_str_eq(m->name, "t");
    m = elaborate("model my_net\nparam w : f32[2]\n");
    ck_assert_str_eq(m->name, "my_net");
}
END_TEST

START_TEST(test_broadcast_shapes) {
    Model *m = elaborate("input a : f32[4, 1, 3]\ninput b : f32[5, 1]\nr = a + b\noutput r\n");
    ck_assert_int_eq(diag_errors, 0);
    Tensor *r = tensor(m, "r", NNRT_OUTPUT);
    ck_assert_int_eq(r->shape.rank, 3);
    ck_assert_int_eq(r->shape.d[0], 4);
    ck_assert_int_eq(r->shape.d[1], 5);
    ck_assert_int_eq(r->shape.d[2], 3);
}
END_TEST

START_TEST(test_incompatible_shapes_name_both) {
    elaborate("input a : f32[4, 3]\ninput b : f32[2]\nr = a * b\noutput r\n");
    ck_assert_int_eq(diag_errors, 1);
    ck_assert_ptr_nonnull(strstr(diagnostics(),
        "t.nn:3:7: error: '*' of f32[4, 3] and f32[2]: shapes do not broadcast"));
}
END_TEST

START_TEST(test_matmul_inner_dimensions) {
    elaborate("input a : f32[2, 3]\ninput b : f32[4, 5]\nr = a @ b\noutput r\n");
    ck_assert_ptr_nonnull(strstr(diagnostics(),
        "matmul of f32[2, 3] and f32[4, 5]: inner dimensions 3 and 4 differ"));
}
END_TEST

START_TEST(test_objective_must_be_scalar) {
    elaborate("param w : f32[3]\nJ = w * 2\nminimize J\n");
    ck_assert_int_eq(diag_errors, 1);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "the objective must be a float scalar; 'J' is f32[3]"));
}
END_TEST

START_TEST(test_unknown_name_suggests) {
    elaborate("param weight : f32[3]\nJ = sum(wieght)\nminimize J\n");
    ck_assert_ptr_nonnull(strstr(diagnostics(), "unknown name 'wieght'; did you mean 'weight'?"));
}
END_TEST

START_TEST(test_errors_do_not_cascade) {
    elaborate("param w : f32[3]\na = nope * 2\nb = a + 1\nc = b * b\nJ = sum(c)\nminimize J\n");
    ck_assert_int_eq(diag_errors, 1);
}
END_TEST

START_TEST(test_optimizer_needs_objective) {
    elaborate("param w : f32[3]\noptimizer sgd(lr = 0.1)\n");
    ck_assert_ptr_nonnull(strstr(diagnostics(), "an optimizer needs an objective"));
}
END_TEST

START_TEST(test_function_inlining_and_loops) {
    Model *m = elaborate("input R : f32[3, 2, 2]\nparam M : f32[2, 2]\n"
                         "fn step(a, b) = a @ b\n"
                         "P = M\nfor t in 0..3 { P = step(P, R[t]) }\n"
                         "J = sum(P)\nminimize J\n");
    ck_assert_int_eq(diag_errors, 0);
    Tensor *j = tensor(m, "J", NNRT_OUTPUT);
    int matmuls = 0;
    for (int i = 0; i <= j->node->id; i++)
        matmuls += m->g->nodes[i]->op == OP_MATMUL;
    ck_assert_int_eq(matmuls, 3);
}
END_TEST

START_TEST(test_recursion_is_an_error) {
    elaborate("fn f(a) = f(a)\nparam w : f32[2]\nJ = sum(f(w))\nminimize J\n");
    ck_assert_int_ge(diag_errors, 1);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "recursive"));
}
END_TEST

START_TEST(test_initializers) {
    Model *m = elaborate("param a : f32[3, 4] = xavier_uniform(gain = 2)\nparam b : f32[4]\n"
                         "param c : f32[4, 4]\nparam e : f32[2] = normal(0, 0.01)\n");
    ck_assert_int_eq(diag_errors, 0);
    ck_assert_int_eq(tensor(m, "a", NNRT_PARAM)->init, NNRT_INIT_XAVIER_UNIFORM);
    ck_assert(tensor(m, "a", NNRT_PARAM)->init_a == 2);
    ck_assert_int_eq(tensor(m, "b", NNRT_PARAM)->init, NNRT_INIT_DEFAULT);
    ck_assert_int_eq(tensor(m, "e", NNRT_PARAM)->init, NNRT_INIT_NORMAL);
    ck_assert(tensor(m, "e", NNRT_PARAM)->init_b == 0.01);
}
END_TEST

START_TEST(test_dtype_f64_flag) {
    Stmt *prog = parse("param w : f32[2]\nJ = sum(w * w)\nminimize J\n");
    Options opt = {.input = "t.nn", .force_f64 = true};
    Model *m = sema_model(prog, source_from_string("t.nn", "", 0), &opt);
    ck_assert_int_eq(tensor(m, "w", NNRT_PARAM)->dt, DT_F64);
    ck_assert_int_eq(tensor(m, "J", NNRT_OUTPUT)->dt, DT_F64);
}
END_TEST

/* ---- the graph constructors ---- */

START_TEST(test_cse_shares_repeated_computation) {
    Model *m = elaborate("input x : f32[3]\na = exp(x) * 2\nb = exp(x) * 2\noutput a, b\n");
    ck_assert_ptr_eq(tensor(m, "a", NNRT_OUTPUT)->node, tensor(m, "b", NNRT_OUTPUT)->node);
}
END_TEST

START_TEST(test_identities_fold) {
    Model *m = elaborate("input x : f32[2, 3]\na = x * 1 + 0\nb = x.T.T\nc = 2 * 3 + x * 0 + 1 - 1\noutput a, b\n");
    ck_assert_ptr_eq(tensor(m, "a", NNRT_OUTPUT)->node, tensor(m, "x", NNRT_INPUT)->node);
    ck_assert_ptr_eq(tensor(m, "b", NNRT_OUTPUT)->node, tensor(m, "x", NNRT_INPUT)->node);
}
END_TEST

START_TEST(test_constants_fold) {
    Graph *g = graph_new();
    Node *n = ir_binary(g, OP_MUL, ir_const(g, DT_F32, 3), ir_const(g, DT_F32, 4));
    ck_assert_int_eq(n->op, OP_CONST);
    ck_assert(n->value == 12);
}
END_TEST

START_TEST(test_where_of_a_constant_condition_folds) {
    Graph *g = graph_new();
    Shape s = {.rank = 1, .d = {3}};
    Node *a = ir_leaf(g, OP_INPUT, DT_F32, s, 0, "a", (Loc){0});
    Node *b = ir_leaf(g, OP_INPUT, DT_F32, s, 1, "b", (Loc){0});
    ck_assert_ptr_eq(ir_where(g, ir_const(g, DT_F32, 2), a, b), a);
    ck_assert_ptr_eq(ir_where(g, ir_const(g, DT_F32, 0), a, b), b);
    ck_assert_int_eq(ir_where(g, a, a, b)->op, OP_WHERE);
}
END_TEST

START_TEST(test_constants_spread_over_the_hash_table) {
    /* 1, 2, 3 ... differ only in their top bits: they once all shared one
     * chain, which made a loop using its counter quadratic. */
    Graph *g = graph_new();
    for (int i = 1; i <= 1000; i++)
        ir_const(g, DT_F64, i);
    int longest = 0;
    for (int b = 0; b < g->tcap; b++) {
        int len = 0;
        for (Node *n = g->table[b]; n; n = n->hnext)
            len++;
        longest = len > longest ? len : longest;
    }
    ck_assert_int_le(longest, 8);
}
END_TEST

/* ---- autodiff ---- */

START_TEST(test_gradient_of_linear_term_is_the_input) {
    Model *m = elaborate("input x : f32[3]\nparam w : f32[3]\nJ = sum(w * x)\nminimize J\n");
    Tensor *w = tensor(m, "w", NNRT_PARAM);
    ck_assert_ptr_eq(w->grad, tensor(m, "x", NNRT_INPUT)->node);
}
END_TEST

START_TEST(test_uses_accumulate) {
    /* J = sum(w * w): the two uses of w add up to 2w. */
    Model *m = elaborate("param w : f32[3]\nJ = sum(w * w)\nminimize J\n");
    Node *g = tensor(m, "w", NNRT_PARAM)->grad;
    ck_assert_int_eq(g->op, OP_MUL);
    ck_assert_ptr_nonnull(strstr(dump(m, g), "const 2"));
}
END_TEST

START_TEST(test_no_gradient_for_inputs) {
    Model *m = elaborate(mlp_src);
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].role != NNRT_PARAM)
            ck_assert_ptr_null(m->tensors[i].grad);
    ck_assert_ptr_nonnull(tensor(m, "W1", NNRT_PARAM)->grad);
}
END_TEST

START_TEST(test_matmul_rule_reads_like_the_textbook) {
    /* dJ/dW = g^T x for J = sum(x @ W.T): a product, not a transposed one. */
    Model *m = elaborate("input x : f32[4, 3]\nparam W : f32[2, 3]\nJ = sum(x @ W.T)\nminimize J\n");
    char *d = dump(m, tensor(m, "W", NNRT_PARAM)->grad);
    ck_assert_ptr_nonnull(strstr(d, "matmul"));
    ck_assert_ptr_nonnull(strstr(d, ": f32[2, 3]\n  r <-"));
}
END_TEST

START_TEST(test_param_unused_gets_zero_gradient) {
    Model *m = elaborate("param w : f32[3]\nparam unused : f32[2]\nJ = sum(w)\nminimize J\n");
    ck_assert(ir_is_const(tensor(m, "unused", NNRT_PARAM)->grad, 0));
}
END_TEST

START_TEST(test_no_objective_gives_zero_gradients) {
    /* Found by the fuzzer: backward needs a gradient for every param. */
    Model *m = elaborate("param w : f32[2]\n");
    ck_assert_int_eq(diag_errors, 0);
    ck_assert(ir_is_const(tensor(m, "w", NNRT_PARAM)->grad, 0));
}
END_TEST

START_TEST(test_nondifferentiable_path_warns) {
    elaborate("input y : i32[4]\nparam w : f32[4, 3]\nJ = mean(argmax(w, axis = 1) == y)\nminimize J\n");
    ck_assert_int_eq(diag_errors, 0);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "warning: the objective depends on 'w' only through"));
}
END_TEST

/* ---- plan ---- */

/* Planned as for any x86-64 (no --cpu): not all code has AVX-512's registers. */
static Plan *plan_of(Model *m, EntryKind kind) {
    layout_model(m);
    return plan_entry(m, kind, false);
}

/* The root of output or gradient r in the plan. */
static const Root *root_of(const Plan *p, const Node *r) {
    for (int i = 0; i < p->nroots; i++)
        if (p->roots[i].node == r)
            return &p->roots[i];
    return NULL;
}

START_TEST(test_bytes_moved_count_each_value_once_a_kernel) {
    /* y = x * w + x, one fused kernel: x and w read once each (x twice in
     * the expression), y written: 3 * 1000 floats.  The sum over y reads
     * y and writes one float.  y, read by the sum, is copied to its output
     * (read and written), and so is s. */
    Model *m = elaborate("input x : f32[1000]\nparam w : f32[1000]\ny = x * w + x\ns = sum(y)\n"
                         "output y\noutput s\n");
    Plan *p = plan_of(m, ENTRY_FORWARD);
    ck_assert(p->bytes == 3 * 4000 + (4000 + 4) + 2 * 4000 + 2 * 4);
}
END_TEST

START_TEST(test_relu_is_the_epilogue_of_its_product) {
    Model *m = elaborate("input x : f32[8, 3]\nparam W : f32[5, 3]\nparam b : f32[5]\n"
                         "h = relu(x @ W.T + b)\nJ = sum(h @ W)\noutput J\n");
    Plan *p = plan_of(m, ENTRY_FORWARD);
    int products = 0;
    for (int i = 0; i < m->g->n; i++) {
        Node *x = m->g->nodes[i];
        if (x->op != OP_MATMUL || x->in[1]->op != OP_TRANSPOSE)
            continue;
        products++;
        Node *e = p->slot[i].epilogue;
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(e->op, OP_RELU);
        ck_assert(p->slot[e->id].by_epilogue);
    }
    ck_assert_int_eq(products, 1);
}
END_TEST

START_TEST(test_gradient_with_l2_is_an_epilogue) {
    /* dJ/dW1 = g.T @ x + lambda * W1: the sum is the product's epilogue,
     * and the gradient has no store loop of its own. */
    Model *m = elaborate("input x : f32[4, 3]\nparam W1 : f32[2, 3]\n"
                         "J = sum(relu(x @ W1.T)) + 0.5 * sum(W1 * W1)\nminimize J\n");
    Plan *p = plan_of(m, ENTRY_BACKWARD);
    const Root *r = root_of(p, tensor(m, "W1", NNRT_PARAM)->grad);
    ck_assert_ptr_nonnull(r);
    ck_assert(r->by_epilogue);
}
END_TEST

/* How many products of forward are direct convolutions, planned for wide
 * registers or not. */
static int direct_convolutions(const char *src, bool wide) {
    Model *m = elaborate(src);
    layout_model(m);
    Plan *p = plan_entry(m, ENTRY_FORWARD, wide);
    int n = 0;
    for (int i = 0; i < m->g->n; i++)
        n += p->slot[i].conv_direct;
    return n;
}

START_TEST(test_direct_convolution_k_bound) {
    /* 16 rows of 10 pixels: K = 6*5*5 = 150 is direct only where all the
     * code has AVX-512's registers; K = 1*5*5 = 25 either way; K = 7*5*5 =
     * 175 neither way. */
    static const char *const src[] = {
        "input x : f32[2, 6, 14, 14]\nparam w : f32[16, 6, 5, 5]\ny = conv2d(x, w)\noutput y\n",
        "input x : f32[2, 1, 14, 14]\nparam w : f32[16, 1, 5, 5]\ny = conv2d(x, w)\noutput y\n",
        "input x : f32[2, 7, 14, 14]\nparam w : f32[16, 7, 5, 5]\ny = conv2d(x, w)\noutput y\n"};
    ck_assert_int_eq(direct_convolutions(src[0], false), 0);
    ck_assert_int_eq(direct_convolutions(src[0], true), 1);
    ck_assert_int_eq(direct_convolutions(src[1], false), 1);
    ck_assert_int_eq(direct_convolutions(src[1], true), 1);
    ck_assert_int_eq(direct_convolutions(src[2], false), 0);
    ck_assert_int_eq(direct_convolutions(src[2], true), 0);
}
END_TEST

START_TEST(test_epilogue_reads_only_what_is_ready) {
    /* P = a * exp(b) reads b, computed after a: it cannot run as a's
     * epilogue, and is stored by a loop of its own. */
    Model *m = elaborate("input x : f32[4, 3]\nparam W : f32[2, 3]\nparam V : f32[2, 3]\n"
                         "a = x @ W.T\nb = x @ V.T\nP = a * exp(b)\noutput P\n");
    Plan *p = plan_of(m, ENTRY_FORWARD);
    for (int i = 0; i < m->g->n; i++)
        ck_assert_ptr_null(p->slot[i].epilogue);
    const Root *r = root_of(p, tensor(m, "P", NNRT_OUTPUT)->node);
    ck_assert_ptr_nonnull(r);
    ck_assert(!r->by_epilogue);
}
END_TEST


/* ---- runtime dims, state, optimizers (version 2) ---- */

START_TEST(test_runtime_axis_flows_through_ops) {
    Model *m = elaborate("dim batch <= 64\ninput x : f32[batch, 3]\nparam W : f32[5, 3]\n"
                         "z = x @ W.T\nr = transpose(z)\noutput z, r\n");
    ck_assert_int_eq(diag_errors, 0);
    Tensor *z = tensor(m, "z", NNRT_OUTPUT), *r = tensor(m, "r", NNRT_OUTPUT);
    ck_assert_int_eq(z->shape.d[0], 64);
    ck_assert_int_eq(z->shape.dyn[0], 1);
    ck_assert_int_eq(z->shape.dyn[1], 0);
    ck_assert_int_eq(r->shape.dyn[0], 0);
    ck_assert_int_eq(r->shape.dyn[1], 1);
    ck_assert_str_eq(shape_str(z->dt, &z->shape), "f32[batch, 5]");
}
END_TEST

START_TEST(test_runtime_axis_broadcasts_only_with_itself_or_one) {
    Shape a = {2, {8, 3}, {1, 0}}, one = {2, {1, 3}, {0, 0}}, fixed = {2, {8, 3}, {0, 0}}, other = {2, {8, 3}, {2, 0}};
    Shape r;
    ck_assert(shape_broadcast(&a, &one, &r));
    ck_assert_int_eq(r.dyn[0], 1);
    ck_assert(shape_broadcast(&a, &a, &r));
    ck_assert(!shape_broadcast(&a, &fixed, &r));
    ck_assert(!shape_broadcast(&a, &other, &r));
}
END_TEST

START_TEST(test_mean_divides_by_the_runtime_extent) {
    Model *m = elaborate("dim batch <= 64\ninput x : f32[batch, 3]\nr = mean(x)\noutput r\n");
    ck_assert_int_eq(diag_errors, 0);
    const char *ir = dump(m, tensor(m, "r", NNRT_OUTPUT)->node);
    ck_assert_ptr_nonnull(strstr(ir, "= dim batch : i64"));
    ck_assert_ptr_nonnull(strstr(ir, "= const 3 : f32"));
    ck_assert_ptr_null(strstr(ir, "= const 192"));
}
END_TEST

START_TEST(test_reshape_keeps_runtime_axes_whole) {
    elaborate("dim batch <= 8\ninput x : f32[batch, 4, 5]\ny = reshape(x, [batch, -1])\noutput y\n");
    ck_assert_int_eq(diag_errors, 0);
    teardown();
    elaborate("dim batch <= 8\ninput x : f32[batch, 4, 5]\ny = reshape(x, [4, batch, 5])\noutput y\n");
    ck_assert_int_eq(diag_errors, 1);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "each runtime axis must stay whole and in order"));
}
END_TEST

START_TEST(test_dim_where_an_integer_is_needed) {
    elaborate("dim batch <= 8\ninput x : f32[batch]\nconst c = batch\n");
    ck_assert_ptr_nonnull(strstr(diagnostics(), "a const must be a compile-time integer; 'batch' is a runtime dim"));
}
END_TEST

START_TEST(test_define_sets_a_dims_max) {
    Define d = {"batch", 32, false};
    Model *m = elaborate_with("dim batch <= 8\ninput x : f32[batch]\n", &d, 1);
    ck_assert_int_eq(diag_errors, 0);
    ck_assert_int_eq(tensor(m, "x", NNRT_INPUT)->shape.d[0], 32);
    ck_assert_double_eq(tensor(m, "batch", NNRT_DIM)->default_value, 32);
}
END_TEST

START_TEST(test_dim_and_state_are_names_elsewhere) {
    Model *m = elaborate("const dim = 3\ninput state : f32[dim]\nstep = state * 2\noutput step\n");
    ck_assert_int_eq(diag_errors, 0);
    ck_assert_ptr_nonnull(tensor(m, "state", NNRT_INPUT));
}
END_TEST

START_TEST(test_state_struct_layout) {
    Model *m = elaborate("param W : f32[3, 5]\nparam b : f32[3]\nstate r : f64[3] = ones()\n"
                         "input x : f32[5]\nJ = sum(W @ reshape(x, [5, 1])) + sum(b)\nminimize J\n"
                         "optimizer sgd(lr = 0.1, momentum = 0.9)\n");
    ck_assert_int_eq(diag_errors, 0);
    layout_model(m);
    Tensor *r = tensor(m, "r", NNRT_STATE), *W = tensor(m, "W", NNRT_PARAM), *b = tensor(m, "b", NNRT_PARAM);
    ck_assert_int_eq(r->offset, 64);           /* after seed and step */
    ck_assert_int_eq(r->init, NNRT_INIT_ONES);
    ck_assert_int_eq(m->nbuffers, 1);
    ck_assert_int_eq(W->buf_offset[0], 128);   /* then each param's buffer */
    ck_assert_int_eq(b->buf_offset[0], 192);
    ck_assert_int_eq(m->state_size, 256);
}
END_TEST

START_TEST(test_sgd_without_momentum_keeps_no_buffer) {
    Model *m = elaborate("param W : f32[3]\nhyper mom : f32 = 0\nJ = sum(W * W)\nminimize J\n"
                         "optimizer sgd(lr = 0.1)\n");
    ck_assert_int_eq(m->nbuffers, 0);
    teardown();
    /* A hyper may be nonzero at run time: the buffer stays. */
    m = elaborate("param W : f32[3]\nhyper mom : f32 = 0\nJ = sum(W * W)\nminimize J\n"
                  "optimizer sgd(lr = 0.1, momentum = mom)\n");
    ck_assert_int_eq(m->nbuffers, 1);
}
END_TEST

START_TEST(test_optimizer_numbers_keep_double_precision) {
    Model *m = elaborate("param W : f64[3]\nJ = sum(maximum(W, 0.1))\nminimize J\noptimizer sgd(lr = 0.1)\n");
    ck_assert_int_eq(diag_errors, 0);
    ck_assert(m->optarg[optim_arg(m->optim, "lr")]->value == 0.1);
    const char *ir = dump(m, tensor(m, "J", NNRT_OUTPUT)->node);
    ck_assert_ptr_nonnull(strstr(ir, "const 0.1 : f64"));
}
END_TEST

/* ---- bounded work and front-end checks (issue 21) ---- */

static Model *elaborate_opt(const char *text, Options *opt) {
    Stmt *prog = parse(text);
    if (diag_errors)
        return NULL;
    opt->input = "t.nn";
    opt->opt_level = 2;
    Model *m = sema_model(prog, source_from_string("t.nn", text, strlen(text)), opt);
    if (!diag_errors)
        autodiff(m);
    return m;
}

/* How many times needle occurs in the diagnostics. */
static int diagnostics_count(const char *needle) {
    int n = 0;
    for (const char *p = diagnostics(); (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static Node *output_node(Model *m, const char *name) {
    Tensor *t = tensor(m, name, NNRT_OUTPUT);
    ck_assert_ptr_nonnull(t);
    return t->node;
}

START_TEST(test_function_sees_names_as_they_were_defined) {
    Model *m = elaborate("k = 1\nfn f(a) = a * k\nk = 2\ninput x : f32[2]\ny = f(x)\noutput y\n");
    ck_assert_int_eq(diag_errors, 0);
    ck_assert_ptr_eq(output_node(m, "y"), tensor(m, "x", NNRT_INPUT)->node);   /* x * 1 */
}
END_TEST

START_TEST(test_function_defined_in_a_loop_keeps_its_iteration) {
    /* Iteration 2 calls the f of iteration 1, which must see i = 1 although
     * i has moved on: a binding a closure holds is never overwritten. */
    Model *m = elaborate("input x : f32[2]\nfn f(a) = a * 1\ny = x\n"
                         "for i in 1..3 {\n  y = y + f(x)\n  fn f(a) = a * i\n}\noutput y\n");
    ck_assert_int_eq(diag_errors, 0);
    Node *y = output_node(m, "y"), *x = tensor(m, "x", NNRT_INPUT)->node;
    ck_assert_int_eq(y->op, OP_ADD);   /* (x + x) + x * 1, not (x + x) + x * 2 */
    ck_assert(y->in[0] == x || y->in[1] == x);
}
END_TEST

START_TEST(test_rebinding_in_a_loop_and_shadowing_in_a_call) {
    Model *m = elaborate("input x : f32[2]\nh = x\nfn g(h) = h * 2\n"
                         "for i in 0..1000 { h = h * 1 }\ny = g(x) + h\noutput y\n");
    ck_assert_int_eq(diag_errors, 0);
    Node *y = output_node(m, "y");   /* x * 2 + x */
    ck_assert_int_eq(y->op, OP_ADD);
    ck_assert(y->in[0]->op == OP_MUL || y->in[1]->op == OP_MUL);
}
END_TEST

START_TEST(test_duplicate_parameter_is_an_error) {
    elaborate("fn f(a, b, a) = a * b\ninput x : f32[2]\ny = f(x, x, x)\noutput y\n");
    ck_assert_int_eq(diag_errors, 1);   /* and no follow-on error at the call */
    ck_assert_ptr_nonnull(strstr(diagnostics(), "t.nn:1:12: error: function 'f' has two parameters named 'a'"));
}
END_TEST

START_TEST(test_budget_stops_nested_loops_at_the_outer_one) {
    Options opt = {.max_work = 5000};
    elaborate_opt("input x : f32[2]\nfor i in 0..100 {\n  for j in 0..1000 { }\n}\noutput x\n", &opt);
    ck_assert_int_eq(diag_errors, 1);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "t.nn:2:1: error: expanding this loop of 100 iterations takes "
                                                "more than 5000 steps of compile-time work"));
    ck_assert_ptr_nonnull(strstr(diagnostics(), "t.nn:3:3: note: the limit was reached in this loop of 1000 "
                                                "iterations, nested 2 deep"));
    ck_assert_ptr_nonnull(strstr(diagnostics(), "--max-work"));
}
END_TEST

START_TEST(test_budget_stops_doubling_calls) {
    char src[4096];
    int n = snprintf(src, sizeof src, "fn g0(x) = x\n");
    for (int i = 1; i < 40; i++)
        n += snprintf(src + n, sizeof src - (size_t)n, "fn g%d(x) = g%d(g%d(x))\n", i, i - 1, i - 1);
    snprintf(src + n, sizeof src - (size_t)n, "input x : f32[2]\ny = g39(x)\noutput y\n");
    elaborate(src);
    ck_assert_int_eq(diag_errors, 1);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "t.nn:42:5: error: expanding this call of 'g39' takes more than "
                                                "10000000 steps"));
}
END_TEST

START_TEST(test_budget_can_be_raised) {
    const char *src = "input x : f32[2]\nfor i in 0..100 {\n  for j in 0..100 { }\n}\noutput x\n";
    Options small = {.max_work = 5000}, large = {.max_work = 50000};
    elaborate_opt(src, &small);
    ck_assert_int_eq(diag_errors, 1);
    elaborate_opt(src, &large);
    ck_assert_int_eq(diag_errors, 0);
}
END_TEST

START_TEST(test_loop_without_budget_error_is_not_limited_in_iterations) {
    /* The old fixed cap of 100,000 iterations is the budget's job now. */
    elaborate("input x : f32[2]\nfor i in 0..200000 { }\noutput x\n");
    ck_assert_int_eq(diag_errors, 0);
}
END_TEST

START_TEST(test_import_of_a_device_is_located) {
    elaborate("import \"/dev/zero\"\ninput x : f32[2]\noutput x\n");
    ck_assert_int_eq(diag_errors, 1);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "t.nn:1:8: error: cannot import '/dev/zero': not a regular file"));
}
END_TEST

/* A temporary folder with file name holding text; returns the file's path. */
static const char *temp_file(const char *name, const char *text) {
    char tmpl[] = "/tmp/nnc_unit_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    const char *path = arena_printf("%s/%s", tmpl, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void remove_temp(const char *path) {
    unlink(path);
    char *dir = arena_strdup(path);
    *strrchr(dir, '/') = 0;
    rmdir(dir);
}

START_TEST(test_import_too_large_for_the_budget_is_not_read) {
    /* A sparse file of 4 GB: refused from its size, before any read. */
    const char *path = temp_file("huge.nn", "");
    ck_assert_int_eq(truncate(path, (off_t)4 << 30), 0);
    const char *src = arena_printf("import \"%s\"\ninput x : f32[2]\noutput x\n", path);
    elaborate(src);
    remove_temp(path);
    ck_assert_int_eq(diag_errors, 1);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "(4294967296 bytes) takes more than the"));
    ck_assert_ptr_nonnull(strstr(diagnostics(), "--max-work"));
}
END_TEST

START_TEST(test_self_import_is_one_error) {
    const char *text = "import \"self.nn\"\nfn f(x) = x\ninput x : f32[2]\ny = f(x)\noutput y\n";
    const char *path = temp_file("self.nn", text);
    capture_diagnostics();
    Source *src = source_read(path);
    Stmt *prog = parse_source(src);
    Options opt = {.input = path, .opt_level = 2};
    sema_model(prog, src, &opt);
    remove_temp(path);
    ck_assert_int_eq(diag_errors, 1);
    ck_assert_int_eq(diagnostics_count("error"), 1);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "self.nn' imports itself"));
}
END_TEST

START_TEST(test_intermediate_size_is_checked_before_it_wraps) {
    elaborate("input a : f32[100000, 1, 1]\ninput b : f32[1, 100000, 1]\ninput c : f32[1, 1, 100000]\n"
              "s = a + b + c\noutput s\n");
    ck_assert_int_eq(diag_errors, 1);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "t.nn:4:7: error: this value would be f32[100000, 100000, 1]: "
                                                "more than 2147483648 elements"));
}
END_TEST

START_TEST(test_reshape_dims_do_not_wrap) {
    /* 2^32 * 2^32 * 2^31... wraps to 0 mod 2^64: the product saturates instead. */
    elaborate("input x : f32[2147483648]\nr = reshape(x, [2147483648, 2147483648, 2147483648, 2147483648])\n"
              "output r\n");
    ck_assert_int_eq(diag_errors, 1);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "more than 9223372036854775807 elements"));
}
END_TEST

START_TEST(test_number_out_of_f32_range) {
    elaborate("input x : f32[2]\nhyper big : f32 = 1e39\ny = x * 1e39\nz = x ** 1e39\n"
              "param w : f32[2] = constant(1e39)\nJ = sum(y + z + w)\nminimize J\noptimizer sgd(lr = 1e39)\n");
    ck_assert_int_eq(diagnostics_count("is out of the range of f32"), 5);
    ck_assert_ptr_nonnull(strstr(diagnostics(), "t.nn:2:19: error: 1e+39 is out of the range of f32"));
    ck_assert_ptr_nonnull(strstr(diagnostics(), "t.nn:8:20: error: 1e+39 is out of the range of f32"));
}
END_TEST

START_TEST(test_number_in_f64_range) {
    const char *src = "input x : f32[2]\ny = x * 1e39\noutput y\n";
    Options opt = {.force_f64 = true};
    elaborate_opt(src, &opt);
    ck_assert_int_eq(diag_errors, 0);
    elaborate("input x : f64[2]\ny = x * 1e39 + 3.4e38\noutput y\n");
    ck_assert_int_eq(diag_errors, 0);
}
END_TEST

/* The generator of bench/run.sh's compile measurement, in C: blocks of
 * const, fn, call, assignment and loop. */
static char *generated_model(int statements) {
    size_t cap = (size_t)statements * 64 + 256, n = 0;
    char *s = arena_alloc(cap);
    n += (size_t)snprintf(s + n, cap - n, "input x : f32[4]\nparam w : f32[4]\nh0 = x * w\n");
    int i = 1;
    for (int k = 3; k + 5 <= statements - 2; k += 5, i++)
        n += (size_t)snprintf(s + n, cap - n,
                              "const k%d = %d\nfn g%d(a) = a * k%d + x\nt%d = g%d(h%d)\n"
                              "h%d = tanh(t%d) * 0.5 + t%d\nfor j in 0..2 { u%d = h%d * j }\n",
                              i, i % 7 + 1, i, i, i, i, i - 1, i, i, i, i, i);
    snprintf(s + n, cap - n, "J = sum(h%d)\nminimize J\noptimizer sgd(lr = 0.01)\n", i - 1);
    return s;
}

START_TEST(test_big_generated_model_elaborates_and_plans) {
    Model *m = elaborate(generated_model(50000));
    ck_assert_int_eq(diag_errors, 0);
    Plan *p = plan_of(m, ENTRY_BACKWARD);
    ck_assert(p->workspace > 0);
    ck_assert(!ir_is_const(tensor(m, "w", NNRT_PARAM)->grad, 0));
}
END_TEST

START_TEST(test_many_buffers_never_share_bytes_while_alive) {
    /* Beyond PLACE_LARGEST_FIRST_MAX blocks the plan places them in program
     * order: two buffers whose bytes overlap must not be alive at once
     * (the first may die where the second is written, in its place). */
    Model *m = elaborate("input x : f32[4, 3]\nparam w : f32[3]\nh = x\n"
                         "for i in 0..3000 { h = tanh(h * w) + x }\nJ = mean(h * h)\nminimize J\n");
    ck_assert_int_eq(diag_errors, 0);
    Plan *p = plan_of(m, ENTRY_BACKWARD);
    int n = m->g->n, nb = 0;
    int *ids = NEWA(int, n);
    for (int i = 0; i < n; i++)
        if (p->slot[i].st == ST_BUFFER && !p->slot[i].direct && p->slot[i].lay.base == BASE_WS)
            ids[nb++] = i;
    ck_assert_int_gt(nb, 4096);
    for (int a = 0; a < nb; a++)
        for (int b = a + 1; b < nb; b++) {
            const Slot *x = &p->slot[ids[a]], *y = &p->slot[ids[b]];
            int64_t xs = x->lay.byte_off, xe = xs + (int64_t)(shape_numel(&m->g->nodes[ids[a]]->shape) * 4);
            int64_t ys = y->lay.byte_off, ye = ys + (int64_t)(shape_numel(&m->g->nodes[ids[b]]->shape) * 4);
            if (xs < ye && ys < xe && x->read_time > ids[b])
                ck_abort_msg("%%%d and %%%d share bytes while both alive", ids[a], ids[b]);
        }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("compiler");
    TCase *lex = tcase_create("lexer and parser");
    tcase_add_checked_fixture(lex, NULL, teardown);
    tcase_add_test(lex, test_range_is_not_a_real_number);
    tcase_add_test(lex, test_number_forms);
    tcase_add_test(lex, test_precedence_mul_over_add);
    tcase_add_test(lex, test_comparisons_bind_loosest);
    tcase_add_test(lex, test_unary_minus_below_power);
    tcase_add_test(lex, test_power_is_right_associative);
    tcase_add_test(lex, test_comparison_binds_loosest);
    tcase_add_test(lex, test_postfix_transpose_and_index);
    tcase_add_test(lex, test_newline_inside_parens_continues);
    tcase_add_test(lex, test_block_statements_split_on_newlines);
    tcase_add_test(lex, test_semicolons_separate_statements);
    tcase_add_test(lex, test_keyword_arguments);
    tcase_add_test(lex, test_syntax_errors_recover_per_statement);
    tcase_add_test(lex, test_stray_byte_is_located);
    tcase_add_test(lex, test_nul_byte_is_an_error);
    suite_add_tcase(s, lex);
    TCase *sema = tcase_create("sema");
    tcase_add_checked_fixture(sema, NULL, teardown);
    tcase_add_test(sema, test_tensor_table_in_declaration_order);
    tcase_add_test(sema, test_define_overrides_const);
    tcase_add_test(sema, test_unknown_define_is_an_error);
    tcase_add_test(sema, test_default_model_name_is_the_stem);
    tcase_add_test(sema, test_broadcast_shapes);
    tcase_add_test(sema, test_incompatible_shapes_name_both);
    tcase_add_test(sema, test_matmul_inner_dimensions);
    tcase_add_test(sema, test_objective_must_be_scalar);
    tcase_add_test(sema, test_unknown_name_suggests);
    tcase_add_test(sema, test_errors_do_not_cascade);
    tcase_add_test(sema, test_optimizer_needs_objective);
    tcase_add_test(sema, test_function_inlining_and_loops);
    tcase_add_test(sema, test_recursion_is_an_error);
    tcase_add_test(sema, test_initializers);
    tcase_add_test(sema, test_dtype_f64_flag);
    suite_add_tcase(s, sema);
    TCase *ir = tcase_create("graph");
    tcase_add_checked_fixture(ir, NULL, teardown);
    tcase_add_test(ir, test_cse_shares_repeated_computation);
    tcase_add_test(ir, test_identities_fold);
    tcase_add_test(ir, test_constants_fold);
    tcase_add_test(ir, test_where_of_a_constant_condition_folds);
    tcase_add_test(ir, test_constants_spread_over_the_hash_table);
    suite_add_tcase(s, ir);
    TCase *ad = tcase_create("autodiff");
    tcase_add_checked_fixture(ad, NULL, teardown);
    tcase_add_test(ad, test_gradient_of_linear_term_is_the_input);
    tcase_add_test(ad, test_uses_accumulate);
    tcase_add_test(ad, test_no_gradient_for_inputs);
    tcase_add_test(ad, test_matmul_rule_reads_like_the_textbook);
    tcase_add_test(ad, test_param_unused_gets_zero_gradient);
    tcase_add_test(ad, test_nondifferentiable_path_warns);
    tcase_add_test(ad, test_no_objective_gives_zero_gradients);
    suite_add_tcase(s, ad);
    TCase *plan = tcase_create("plan");
    tcase_add_checked_fixture(plan, NULL, teardown);
    tcase_add_test(plan, test_bytes_moved_count_each_value_once_a_kernel);
    tcase_add_test(plan, test_relu_is_the_epilogue_of_its_product);
    tcase_add_test(plan, test_gradient_with_l2_is_an_epilogue);
    tcase_add_test(plan, test_epilogue_reads_only_what_is_ready);
    tcase_add_test(plan, test_direct_convolution_k_bound);
    suite_add_tcase(s, plan);
    TCase *v2 = tcase_create("version 2");
    tcase_add_checked_fixture(v2, NULL, teardown);
    tcase_add_test(v2, test_runtime_axis_flows_through_ops);
    tcase_add_test(v2, test_runtime_axis_broadcasts_only_with_itself_or_one);
    tcase_add_test(v2, test_mean_divides_by_the_runtime_extent);
    tcase_add_test(v2, test_reshape_keeps_runtime_axes_whole);
    tcase_add_test(v2, test_dim_where_an_integer_is_needed);
    tcase_add_test(v2, test_define_sets_a_dims_max);
    tcase_add_test(v2, test_dim_and_state_are_names_elsewhere);
    tcase_add_test(v2, test_state_struct_layout);
    tcase_add_test(v2, test_sgd_without_momentum_keeps_no_buffer);
    tcase_add_test(v2, test_optimizer_numbers_keep_double_precision);
    suite_add_tcase(s, v2);
    TCase *bw = tcase_create("bounded work and front-end checks");
    tcase_add_checked_fixture(bw, NULL, teardown);
    tcase_set_timeout(bw, 60);
    tcase_add_test(bw, test_function_sees_names_as_they_were_defined);
    tcase_add_test(bw, test_function_defined_in_a_loop_keeps_its_iteration);
    tcase_add_test(bw, test_rebinding_in_a_loop_and_shadowing_in_a_call);
    tcase_add_test(bw, test_duplicate_parameter_is_an_error);
    tcase_add_test(bw, test_budget_stops_nested_loops_at_the_outer_one);
    tcase_add_test(bw, test_budget_stops_doubling_calls);
    tcase_add_test(bw, test_budget_can_be_raised);
    tcase_add_test(bw, test_loop_without_budget_error_is_not_limited_in_iterations);
    tcase_add_test(bw, test_import_of_a_device_is_located);
    tcase_add_test(bw, test_import_too_large_for_the_budget_is_not_read);
    tcase_add_test(bw, test_self_import_is_one_error);
    tcase_add_test(bw, test_intermediate_size_is_checked_before_it_wraps);
    tcase_add_test(bw, test_reshape_dims_do_not_wrap);
    tcase_add_test(bw, test_number_out_of_f32_range);
    tcase_add_test(bw, test_number_in_f64_range);
    tcase_add_test(bw, test_big_generated_model_elaborates_and_plans);
    tcase_add_test(bw, test_many_buffers_never_share_bytes_while_alive);
    suite_add_tcase(s, bw);
    return s;
}

int main(void) {
    return run_suite(suite());
}
