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

static Plan *plan_of(Model *m, EntryKind kind) {
    layout_model(m);
    return plan_entry(m, kind);
}

/* The root of output or gradient r in the plan. */
static const Root *root_of(const Plan *p, const Node *r) {
    for (int i = 0; i < p->nroots; i++)
        if (p->roots[i].node == r)
            return &p->roots[i];
    return NULL;
}

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

static Suite *suite(void) {
    Suite *s = suite_create("compiler");
    TCase *lex = tcase_create("lexer and parser");
    tcase_add_checked_fixture(lex, NULL, teardown);
    tcase_add_test(lex, test_range_is_not_a_real_number);
    tcase_add_test(lex, test_number_forms);
    tcase_add_test(lex, test_precedence_mul_over_add);
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
    tcase_add_test(plan, test_relu_is_the_epilogue_of_its_product);
    tcase_add_test(plan, test_gradient_with_l2_is_an_epilogue);
    tcase_add_test(plan, test_epilogue_reads_only_what_is_ready);
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
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
