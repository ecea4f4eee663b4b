/*
 * test_checkpoint.c: nnrt_save / nnrt_load (checkpoint.c) on a hand-written
 * model (toy_model.h) of both ABI versions: round trips of params, state
 * tensors and optimizer buffers, files of one version read by a model of
 * the other, every kind of mismatch and corruption refused with its own
 * code and the caller's params and state untouched, and saves that fail
 * without harming the file they would have replaced.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <zlib.h>

#include "nnrt.h"
#include "rt_test.h"

#define TOY toy
#define TOY_T double
#define TOY_DT NNRT_F64
#include "toy_model.h"

static const nnrt_model *M = &toy_model;
#define M1 ((const nnrt_model *)(const void *)&toy_model_v1)   /* version 1, passed as the runtime takes it */
#define ME (&toy_model_eval)

static void fill_inputs(toy_inputs *in, const nnrt_model *m)
{
    if (m == M1)
        toy_model_v1.set_defaults(in);
    else
        m->set_defaults(in);
    for (int i = 0; i < 12; i++)
        in->aW[i / 4][i % 4] = 0.1 * i - 0.5;
}

/* Params and state from seed, then a few training steps so that the
 * state (step, r, the momentum buffers) is not what init made. */
static void trained(toy_params **p, toy_state **s, uint64_t seed)
{
    *p = nnrt_alloc(sizeof **p);
    *s = nnrt_alloc(sizeof **s);
    toy_inputs *in = nnrt_alloc(sizeof *in);
    toy_outputs out;
    ck_assert(*p && *s && in);
    M->init(*p, *s, seed);
    fill_inputs(in, M);
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(M->train_step(*p, *s, in, &out, NULL), 0);
    ck_assert_uint_eq((*s)->step, 3);
    ck_assert((*s)->r[0] == 4 && (*s)->W_momentum_buffer[1][2] != 0);
    nnrt_free(in);
}

/* The same for the version-1 model, whose state is its momentum buffers. */
static void trained_v1(toy_params **p, toy_state_v1 **s, uint64_t seed)
{
    *p = nnrt_alloc(sizeof **p);
    *s = nnrt_alloc(sizeof **s);
    toy_inputs *in = nnrt_alloc(sizeof *in);
    toy_outputs out;
    ck_assert(*p && *s && in);
    toy_model_v1.init(*p, seed);
    fill_inputs(in, M1);
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(toy_model_v1.train_step(*p, *s, in, &out, NULL), 0);
    nnrt_free(in);
}

/* Memory filled with a recognizable pattern, to see that a failed load
 * leaves it alone. */
static void *sentinel(size_t size)
{
    void *p = nnrt_alloc(size);
    ck_assert_ptr_nonnull(p);
    memset(p, 0xA5, size);
    return p;
}

static toy_params *sentinel_params(void)
{
    return sentinel(sizeof(toy_params));
}

static void assert_untouched_bytes(const void *p, size_t size, const char *what)
{
    const unsigned char *b = p;
    size_t i = 0;
    while (i < size && b[i] == 0xA5)
        i++;
    ck_assert_msg(i == size, "byte %zu of the %s was written", i, what);
}

static void assert_untouched(const toy_params *p)
{
    assert_untouched_bytes(p, sizeof *p, "params");
}

static void save_ok(const char *path, const nnrt_model *m, const void *p, const void *s)
{
    char err[512] = "";
    ck_assert_msg(nnrt_save_ex(path, m, p, s, err, sizeof err) == 0, "%s", err);
}

static void load_ok(const char *path, const nnrt_model *m, void *p, void *s)
{
    char err[512] = "";
    ck_assert_msg(nnrt_load_ex(path, m, p, s, err, sizeof err) == 0, "%s", err);
}

/* Load path into sentinel params (and a sentinel state of state_size bytes
 * unless it is 0); expect code and a message containing want, and both
 * untouched. */
static void expect_refused_with(const char *path, const nnrt_model *m, size_t state_size, int code,
                                const char *want)
{
    toy_params *q = sentinel_params();
    void *t = state_size ? sentinel(state_size) : NULL;
    char err[512] = "";
    ck_assert_msg(nnrt_load_ex(path, m, q, t, err, sizeof err) == code, "not %d: %s", code, err);
    ck_assert_msg(strstr(err, want) != NULL, "message \"%s\" lacks \"%s\"", err, want);
    assert_untouched(q);
    if (t)
        assert_untouched_bytes(t, state_size, "state");
    nnrt_free(q);
    nnrt_free(t);
}

static void expect_refused(const char *path, const nnrt_model *m, int code, const char *want)
{
    expect_refused_with(path, m, 0, code, want);
}

/* A copy of the version-2 descriptor with its own tensor table, to edit. */
typedef struct edited {
    nnrt_tensor t[TOY_N_TENSORS];
    nnrt_model m;
} edited;

static void edit(edited *e, const nnrt_model *from)
{
    memcpy(e->t, toy_tensors, sizeof e->t);
    e->m = *from;
    e->m.tensors = e->t;
}

/* ---- Round trips ---- */

START_TEST(round_trip_restores_params_and_state_exactly)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 1);
    save_ok(path_of("ckpt"), M, p, s);
    toy_params *q = nnrt_alloc(sizeof *q);
    toy_state *t = nnrt_alloc(sizeof *t);
    load_ok(path_of("ckpt"), M, q, t);
    ck_assert(memcmp(p, q, sizeof *p) == 0);
    ck_assert(memcmp(s, t, sizeof *s) == 0);     /* seed, step, r and both buffers */
    ck_assert_uint_eq(t->seed, 1);
    ck_assert_int_eq(files_in_scratch(), 1);      /* no temporary left behind */
    nnrt_free(p), nnrt_free(s), nnrt_free(q), nnrt_free(t);
}
END_TEST

/* Training resumed from a checkpoint goes exactly as if never stopped. */
START_TEST(training_resumes_where_it_stopped)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 2);
    save_ok(path_of("ckpt"), M, p, s);
    toy_params *q = nnrt_alloc(sizeof *q);
    toy_state *t = nnrt_alloc(sizeof *t);
    load_ok(path_of("ckpt"), M, q, t);
    toy_inputs *in = nnrt_alloc(sizeof *in);
    toy_outputs o1, o2;
    fill_inputs(in, M);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(M->train_step(p, s, in, &o1, NULL), 0);
        ck_assert_int_eq(M->train_step(q, t, in, &o2, NULL), 0);
    }
    ck_assert(memcmp(p, q, sizeof *p) == 0 && memcmp(s, t, sizeof *s) == 0);
    nnrt_free(p), nnrt_free(s), nnrt_free(q), nnrt_free(t), nnrt_free(in);
}
END_TEST

START_TEST(params_alone_load_from_a_file_with_state)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 3);
    ck_assert_int_eq(nnrt_save(path_of("ckpt"), M, p, s), 0);
    toy_params *q = nnrt_alloc(sizeof *q);
    ck_assert_int_eq(nnrt_load(path_of("ckpt"), M, q, NULL), 0);
    ck_assert(memcmp(p, q, sizeof *p) == 0);
    nnrt_free(p), nnrt_free(s), nnrt_free(q);
}
END_TEST

START_TEST(a_file_without_state_loads_params_but_not_state)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 4);
    ck_assert_int_eq(nnrt_save(path_of("ckpt"), M, p, NULL), 0);
    toy_params *q = nnrt_alloc(sizeof *q);
    ck_assert_int_eq(nnrt_load(path_of("ckpt"), M, q, NULL), 0);
    ck_assert(memcmp(p, q, sizeof *p) == 0);
    expect_refused_with(path_of("ckpt"), M, sizeof(toy_state), NNRT_EMISMATCH,
                        "the checkpoint has no state (seed, step");
    nnrt_free(p), nnrt_free(s), nnrt_free(q);
}
END_TEST

/* Tensors are matched by name: reordering the declarations keeps old files. */
START_TEST(params_are_matched_by_name_not_position)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 5);
    save_ok(path_of("ckpt"), M, p, s);
    edited e;
    edit(&e, M);
    e.t[TOY_W] = toy_tensors[TOY_B];
    e.t[TOY_B] = toy_tensors[TOY_W];
    toy_params *q = nnrt_alloc(sizeof *q);
    ck_assert_int_eq(nnrt_load(path_of("ckpt"), &e.m, q, NULL), 0);
    ck_assert(memcmp(p, q, sizeof *p) == 0);
    nnrt_free(p), nnrt_free(s), nnrt_free(q);
}
END_TEST

static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t le64(const unsigned char *b)
{
    return le32(b) | (uint64_t)le32(b + 4) << 32;
}

/* Format 2, as documented in nnrt.h. */
START_TEST(the_file_has_the_documented_layout)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 6);
    save_ok(path_of("ckpt"), M, p, s);
    size_t len;
    unsigned char *b = read_file(path_of("ckpt"), &len);
    ck_assert(memcmp(b, "NNRTCKPT", 8) == 0);
    ck_assert_uint_eq(le32(b + 8), 2);
    ck_assert_uint_eq(NNRT_CKPT_VERSION, 2);
    ck_assert_uint_eq(le32(b + 12), 1);                    /* state present */
    ck_assert_uint_eq(le64(b + 16), len);
    ck_assert(le32(b + 24) == 3 && memcmp(b + 28, "toy", 3) == 0);  /* the model's name */
    ck_assert_uint_eq(le32(b + 31), 5);                    /* rows */
    static const struct { uint32_t kind; const char *name; uint32_t rank; uint64_t bytes; } rows[] = {
        {1, "W", 2, 96}, {1, "b", 1, 24}, {2, "r", 1, 24},
        {3, "W.momentum_buffer", 2, 96}, {3, "b.momentum_buffer", 1, 24}};
    size_t at = 35;
    for (int k = 0; k < 5; k++) {
        ck_assert_uint_eq(le32(b + at), rows[k].kind);
        uint32_t n = le32(b + at + 4);
        ck_assert_msg(n == strlen(rows[k].name) && memcmp(b + at + 8, rows[k].name, n) == 0, "row %d", k);
        at += 8 + n;
        ck_assert_uint_eq(le32(b + at), NNRT_F64);
        ck_assert_uint_eq(le32(b + at + 4), rows[k].rank);
        ck_assert_uint_eq(le64(b + at + 8), 3);              /* the first dim */
        at += 8 + 8 * rows[k].rank;
        ck_assert_uint_eq(le64(b + at), rows[k].bytes);
        at += 8;
    }
    ck_assert_uint_eq(le64(b + at), 6);                    /* seed */
    ck_assert_uint_eq(le64(b + at + 8), 3);                /* step */
    at += 16;
    /* the data, little-endian doubles (this host is little-endian) */
    ck_assert(memcmp(b + at, p->W, 96) == 0 && memcmp(b + at + 96, p->b, 24) == 0);
    ck_assert(memcmp(b + at + 120, s->r, 24) == 0);
    ck_assert(memcmp(b + at + 144, s->W_momentum_buffer, 96) == 0);
    ck_assert(memcmp(b + at + 240, s->b_momentum_buffer, 24) == 0);
    ck_assert_uint_eq(at + 264 + 4, len);
    uint32_t crc = (uint32_t)crc32(0, b, (uInt)(len - 4));
    ck_assert_uint_eq(le32(b + len - 4), crc);
    free(b);
    nnrt_free(p), nnrt_free(s);
}
END_TEST

/* ---- Version 1: its descriptors and files ---- */

/* A version-1 model writes format 1, which earlier runtimes read: the
 * state's raw bytes just before the CRC, W's data before b's and the state. */
START_TEST(a_version_1_model_writes_and_reads_format_1)
{
    toy_params *p;
    toy_state_v1 *s;
    trained_v1(&p, &s, 7);
    save_ok(path_of("ckpt"), M1, p, s);
    size_t len;
    unsigned char *b = read_file(path_of("ckpt"), &len);
    ck_assert(memcmp(b, "NNRTCKPT", 8) == 0);
    ck_assert(le32(b + 8) == 1 && le32(b + 12) == 1 && le64(b + 16) == len);
    ck_assert(memcmp(b + len - 4 - sizeof *s, s, sizeof *s) == 0);
    size_t at = len - 4 - sizeof *s - 15 * sizeof(double);
    ck_assert(memcmp(b + at, p->W, 12 * sizeof(double)) == 0);
    free(b);
    toy_params *q = nnrt_alloc(sizeof *q);
    toy_state_v1 *t = nnrt_alloc(sizeof *t);
    load_ok(path_of("ckpt"), M1, q, t);
    ck_assert(memcmp(p, q, sizeof *p) == 0 && memcmp(s, t, sizeof *s) == 0);
    nnrt_free(p), nnrt_free(s), nnrt_free(q), nnrt_free(t);
}
END_TEST

START_TEST(a_version_1_model_refuses_a_state_of_another_size_or_none)
{
    toy_params *p;
    toy_state_v1 *s;
    trained_v1(&p, &s, 8);
    save_ok(path_of("ckpt"), M1, p, s);
    nnrt_model_v1 m2 = toy_model_v1;
    m2.state_size = 64;
    char want[128];
    snprintf(want, sizeof want, "optimizer state of %zu bytes, the model's has 64", sizeof(toy_state_v1));
    expect_refused_with(path_of("ckpt"), (const nnrt_model *)(const void *)&m2, 64, NNRT_EMISMATCH, want);
    save_ok(path_of("bare"), M1, p, NULL);
    expect_refused_with(path_of("bare"), M1, sizeof *s, NNRT_EMISMATCH, "no optimizer state");
    nnrt_free(p), nnrt_free(s);
}
END_TEST

/* Both ways between the versions, the params always load; a state only
 * where it can be read for what it is. */
START_TEST(a_version_1_model_reads_the_params_of_a_format_2_file)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 9);
    save_ok(path_of("ckpt"), M, p, s);
    toy_params *q = nnrt_alloc(sizeof *q);
    load_ok(path_of("ckpt"), M1, q, NULL);
    ck_assert(memcmp(p, q, sizeof *p) == 0);
    expect_refused_with(path_of("ckpt"), M1, sizeof(toy_state_v1), NNRT_EMISMATCH,
                        "a version-1 model cannot read");
    nnrt_free(p), nnrt_free(s), nnrt_free(q);
}
END_TEST

/* The rule chosen for a format-1 file and a version-2 state: it has no
 * seed, step or named tensors, so a model with state tensors or buffers is
 * refused (its state would otherwise be silently stale), while params alone
 * (state NULL) always load. */
START_TEST(a_format_1_file_cannot_fill_a_version_2_state)
{
    toy_params *p;
    toy_state_v1 *s;
    trained_v1(&p, &s, 10);
    save_ok(path_of("ckpt"), M1, p, s);
    expect_refused_with(path_of("ckpt"), M, sizeof(toy_state), NNRT_EMISMATCH,
                        "written by version 1 of the format, which has no seed/step/state");
    expect_refused_with(path_of("ckpt"), ME, sizeof(toy_state_eval), NNRT_EMISMATCH,
                        "has 1 state tensors and 0 buffers");
    toy_params *q = nnrt_alloc(sizeof *q);
    load_ok(path_of("ckpt"), M, q, NULL);
    ck_assert(memcmp(p, q, sizeof *p) == 0);
    nnrt_free(p), nnrt_free(s), nnrt_free(q);
}
END_TEST

/* ... while a version-2 model with only seed and step (no state tensor,
 * no optimizer) loads the params and keeps its state as it is. */
START_TEST(a_format_1_file_loads_into_a_model_with_only_seed_and_step)
{
    toy_params *p;
    toy_state_v1 *s;
    trained_v1(&p, &s, 11);
    save_ok(path_of("ckpt"), M1, p, s);
    nnrt_tensor t[TOY_N_TENSORS - 1];
    memcpy(t, toy_tensors, TOY_R * sizeof t[0]);
    memcpy(t + TOY_R, toy_tensors + TOY_R + 1, (TOY_N_TENSORS - TOY_R - 1) * sizeof t[0]);
    nnrt_model plain = toy_model_eval;
    plain.tensors = t;
    plain.n_tensors = TOY_N_TENSORS - 1;
    plain.state_size = 64;
    toy_params *q = nnrt_alloc(sizeof *q);
    unsigned char *st = sentinel(64);
    load_ok(path_of("ckpt"), &plain, q, st);
    ck_assert(memcmp(p, q, sizeof *p) == 0);
    assert_untouched_bytes(st, 64, "state");
    nnrt_free(p), nnrt_free(s), nnrt_free(q), nnrt_free(st);
}
END_TEST

/* ---- States and optimizer buffers ---- */

/* What an evaluation build is for: the running statistics of a training
 * run, without its optimizer buffers. */
START_TEST(an_evaluation_build_reads_a_training_checkpoints_states)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 12);
    save_ok(path_of("ckpt"), M, p, s);
    toy_params *q = nnrt_alloc(sizeof *q);
    toy_state_eval *t = nnrt_alloc(sizeof *t);
    load_ok(path_of("ckpt"), ME, q, t);
    ck_assert(memcmp(p, q, sizeof *p) == 0);
    ck_assert(t->seed == 12 && t->step == 3);
    ck_assert(memcmp(t->r, s->r, sizeof t->r) == 0);
    /* and its own checkpoint, with no buffers, cannot resume training */
    save_ok(path_of("eval"), ME, q, t);
    expect_refused_with(path_of("eval"), M, sizeof *s, NNRT_EMISMATCH,
                        "the checkpoint has no optimizer buffer W.momentum_buffer");
    load_ok(path_of("eval"), M, q, NULL);
    nnrt_free(p), nnrt_free(s), nnrt_free(q), nnrt_free(t);
}
END_TEST

START_TEST(a_missing_or_extra_state_tensor_is_a_mismatch)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 13);
    save_ok(path_of("ckpt"), M, p, s);
    edited e;
    edit(&e, M);
    e.t[TOY_R].name = "running_mean";
    expect_refused_with(path_of("ckpt"), &e.m, sizeof *s, NNRT_EMISMATCH,
                        "the checkpoint has no state tensor running_mean");
    /* without r, the buffers start at 64: a state of 64 + 192 bytes */
    edit(&e, M);
    e.t[TOY_R].role = NNRT_INPUT;
    e.t[TOY_R].offset = 0;
    e.m.state_size = 256;
    expect_refused_with(path_of("ckpt"), &e.m, 256, NNRT_EMISMATCH,
                        "the checkpoint has a state tensor r that the model toy has not");
    /* with state NULL, params alone: the state tensors do not matter */
    toy_params *q = nnrt_alloc(sizeof *q);
    load_ok(path_of("ckpt"), &e.m, q, NULL);
    ck_assert(memcmp(p, q, sizeof *p) == 0);
    nnrt_free(p), nnrt_free(s), nnrt_free(q);
}
END_TEST

START_TEST(a_state_tensor_of_another_shape_or_dtype_is_a_mismatch)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 14);
    save_ok(path_of("ckpt"), M, p, s);
    static const int64_t d2[1] = {2};
    edited e;
    edit(&e, M);
    e.t[TOY_R].dims = d2;
    e.t[TOY_R].size = 2 * sizeof(double);
    expect_refused_with(path_of("ckpt"), &e.m, sizeof *s, NNRT_EMISMATCH,
                        "state tensor r has shape [3], the model expects [2]");
    edit(&e, M);
    e.t[TOY_R].dtype = NNRT_F32;
    e.t[TOY_R].size = 3 * sizeof(float);
    expect_refused_with(path_of("ckpt"), &e.m, sizeof *s, NNRT_EMISMATCH,
                        "state tensor r has dtype f64, the model expects f32");
    nnrt_free(p), nnrt_free(s);
}
END_TEST

/* The buffers per param come from state_size (the rule in docs/runtime.md):
 * 128 + 2 * 192 bytes is adam's exp_avg and exp_avg_sq. */
START_TEST(buffers_of_another_optimizer_are_a_mismatch)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 15);
    save_ok(path_of("ckpt"), M, p, s);
    nnrt_model adam = toy_model;
    adam.state_size = 128 + 2 * 192;
    expect_refused_with(path_of("ckpt"), &adam, adam.state_size, NNRT_EMISMATCH,
                        "the checkpoint has no optimizer buffer W.exp_avg");
    /* and back: a file with adam's buffers, into sgd's */
    unsigned char *big = nnrt_alloc(adam.state_size);
    memcpy(big, s, sizeof *s);
    save_ok(path_of("adam"), &adam, p, big);
    expect_refused_with(path_of("adam"), M, sizeof *s, NNRT_EMISMATCH,
                        "the checkpoint has no optimizer buffer W.momentum_buffer");
    /* an amsgrad file (3 buffers) into adam (2): one buffer too many */
    nnrt_model ams = toy_model;
    ams.state_size = 128 + 3 * 192;
    unsigned char *bigger = nnrt_alloc(ams.state_size);
    save_ok(path_of("ams"), &ams, p, bigger);
    expect_refused_with(path_of("ams"), &adam, adam.state_size, NNRT_EMISMATCH,
                        "an optimizer buffer W.max_exp_avg_sq that the model toy has not");
    unsigned char *into = nnrt_alloc(ams.state_size);
    load_ok(path_of("ams"), &ams, p, into);
    ck_assert(memcmp(into, bigger, ams.state_size) == 0);
    nnrt_free(p), nnrt_free(s), nnrt_free(big), nnrt_free(bigger), nnrt_free(into);
}
END_TEST

/* state_size that is not whole buffers, or more than 3 per param, is a
 * malformed descriptor; so is a version-2 state without seed and step. */
START_TEST(a_state_size_that_is_not_whole_buffers_is_invalid)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 16);
    static const size_t bad[] = {128 + 192 + 64, 128 + 4 * 192, 0, 8};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        nnrt_model m2 = toy_model;
        m2.state_size = bad[k];
        char err[512] = "";
        ck_assert_int_eq(nnrt_save_ex(path_of("x"), &m2, p, NULL, err, sizeof err), NNRT_EINVAL);
        ck_assert_msg(strstr(err, k < 2 ? "are not 1, 2 or 3 optimizer buffers" : "less than its seed and step"),
                      "%zu: %s", bad[k], err);
        ck_assert_int_eq(nnrt_load(path_of("x"), &m2, p, NULL), NNRT_EINVAL);
    }
    /* padding under 64 bytes is fine */
    edited e;
    edit(&e, M);
    e.t[TOY_R].role = NNRT_INPUT;
    e.t[TOY_R].offset = 0;
    e.m.state_size = 64;
    save_ok(path_of("x"), &e.m, p, s);
    ck_assert_int_eq(files_in_scratch(), 1);
    nnrt_free(p), nnrt_free(s);
}
END_TEST

/* ---- Mismatches ---- */

START_TEST(another_models_checkpoint_is_a_mismatch)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 17);
    save_ok(path_of("ckpt"), M, p, s);
    nnrt_model m2 = toy_model;
    m2.name = "mlp";
    expect_refused(path_of("ckpt"), &m2, NNRT_EMISMATCH, "a checkpoint of model toy, not of mlp");
    nnrt_free(p), nnrt_free(s);
}
END_TEST

START_TEST(a_changed_shape_is_a_mismatch_naming_both_shapes)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 18);
    save_ok(path_of("ckpt"), M, p, s);
    static const int64_t d43[2] = {4, 3}, d24[2] = {2, 4};
    edited e;
    edit(&e, M);
    e.t[TOY_W].dims = d43;
    char want[256];
    snprintf(want, sizeof want, "%s: tensor W has shape [3, 4], the model expects [4, 3]", path_of("ckpt"));
    expect_refused(path_of("ckpt"), &e.m, NNRT_EMISMATCH, want);
    expect_refused_with(path_of("ckpt"), &e.m, sizeof *s, NNRT_EMISMATCH, want);
    e.t[TOY_W].dims = d24;
    e.t[TOY_W].size = 8 * sizeof(double);
    e.m.state_size = 128 + 64 + 64;                        /* W's buffer is smaller too */
    expect_refused(path_of("ckpt"), &e.m, NNRT_EMISMATCH, "the model expects [2, 4]");
    edit(&e, M);
    e.t[TOY_B].rank = 0;                                   /* b a scalar */
    e.t[TOY_B].size = sizeof(double);
    expect_refused(path_of("ckpt"), &e.m, NNRT_EMISMATCH, "tensor b has shape [3], the model expects []");
    nnrt_free(p), nnrt_free(s);
}
END_TEST

START_TEST(a_changed_dtype_is_a_mismatch)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 19);
    save_ok(path_of("ckpt"), M, p, s);
    edited e;
    edit(&e, M);
    e.t[TOY_B].dtype = NNRT_F32;
    e.t[TOY_B].size = 3 * sizeof(float);
    expect_refused(path_of("ckpt"), &e.m, NNRT_EMISMATCH, "tensor b has dtype f64, the model expects f32");
    nnrt_free(p), nnrt_free(s);
}
END_TEST

START_TEST(a_missing_or_extra_param_is_a_mismatch)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 20);
    save_ok(path_of("ckpt"), M, p, s);
    edited e;
    edit(&e, M);
    e.t[TOY_B].name = "bias";
    expect_refused(path_of("ckpt"), &e.m, NNRT_EMISMATCH, "the checkpoint has no param bias");
    /* the model has W only (and so W's buffer alone: 128 + 128 bytes of state) */
    e.t[TOY_B].role = NNRT_INPUT;
    e.t[TOY_B].offset = 0;
    e.m.state_size = 256;
    expect_refused(path_of("ckpt"), &e.m, NNRT_EMISMATCH, "has a param b that the model toy has not");
    nnrt_free(p), nnrt_free(s);
}
END_TEST

/* ---- Damaged files ---- */

START_TEST(a_truncated_file_is_corrupt)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 11);
    save_ok(path_of("ckpt"), M, p, s);
    size_t len;
    unsigned char *b = read_file(path_of("ckpt"), &len);
    size_t cuts[] = {len - 1, len - 4, len / 2, 40, 23, 12};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_file(path_of("cut"), b, cuts[i]);
        expect_refused(path_of("cut"), M, NNRT_ECORRUPT, "truncated");
    }
    write_file(path_of("cut"), b, 5);                       /* part of the magic */
    expect_refused(path_of("cut"), M, NNRT_ECORRUPT, "truncated");
    free(b);
    nnrt_free(p), nnrt_free(s);
}
END_TEST

START_TEST(trailing_bytes_are_corrupt)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 12);
    save_ok(path_of("ckpt"), M, p, s);
    size_t len;
    unsigned char *b = read_file(path_of("ckpt"), &len);
    b = realloc(b, len + 1);
    b[len] = 0;
    write_file(path_of("long"), b, len + 1);
    expect_refused(path_of("long"), M, NNRT_ECORRUPT, "trailing bytes");
    free(b);
    nnrt_free(p), nnrt_free(s);
}
END_TEST

START_TEST(a_flipped_byte_in_the_payload_is_caught_by_the_crc)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 13);
    save_ok(path_of("ckpt"), M, p, s);
    size_t len;
    unsigned char *b = read_file(path_of("ckpt"), &len);
    b[len - 160] ^= 0x01;                                   /* one bit of b's data */
    write_file(path_of("flip"), b, len);
    expect_refused(path_of("flip"), M, NNRT_ECORRUPT, "checksum mismatch");
    free(b);
    nnrt_free(p), nnrt_free(s);
}
END_TEST

START_TEST(a_flipped_byte_in_the_header_is_caught_by_the_crc)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 14);
    save_ok(path_of("ckpt"), M, p, s);
    size_t len;
    unsigned char *b = read_file(path_of("ckpt"), &len);
    b[29] ^= 0x20;                                          /* "toy" -> "tOy" */
    write_file(path_of("flip"), b, len);
    expect_refused(path_of("flip"), M, NNRT_ECORRUPT, "checksum mismatch");
    free(b);
    nnrt_free(p), nnrt_free(s);
}
END_TEST

/* Every single-byte change anywhere is refused: the magic and version as a
 * format error, anything else as corruption. */
START_TEST(every_single_byte_corruption_is_refused)
{
    toy_params *p;
    toy_state *s;
    toy_state_v1 *s1;
    trained(&p, &s, 15);
    save_ok(path_of("ckpt2"), M, p, s);
    nnrt_free(p);
    trained_v1(&p, &s1, 15);
    save_ok(path_of("ckpt1"), M1, p, s1);
    toy_params *q = sentinel_params();
    void *t = sentinel(sizeof *s);
    for (int format = 1; format <= 2; format++) {
        const nnrt_model *m = format == 1 ? M1 : M;
        size_t len;
        unsigned char *b = read_file(path_of(format == 1 ? "ckpt1" : "ckpt2"), &len);
        for (size_t i = 0; i < len; i++) {
            b[i] ^= 0x40;
            write_file(path_of("flip"), b, len);
            int rc = nnrt_load(path_of("flip"), m, q, t);
            ck_assert_msg(rc == (i < 12 ? NNRT_EFORMAT : NNRT_ECORRUPT), "format %d, byte %zu: %d",
                          format, i, rc);
            b[i] ^= 0x40;
        }
        free(b);
    }
    assert_untouched(q);
    assert_untouched_bytes(t, sizeof *s, "state");
    nnrt_free(p), nnrt_free(s), nnrt_free(s1), nnrt_free(q), nnrt_free(t);
}
END_TEST

START_TEST(other_files_are_not_checkpoints)
{
    write_file(path_of("text"), "hello, world\n", 13);
    expect_refused(path_of("text"), M, NNRT_EFORMAT, "not a checkpoint");
    write_file(path_of("empty"), "", 0);
    expect_refused(path_of("empty"), M, NNRT_EFORMAT, "empty");
    expect_refused(path_of("missing"), M, NNRT_EIO, "cannot open");
    expect_refused(scratch, M, NNRT_EIO, "read error");    /* a directory */
}
END_TEST

START_TEST(a_newer_format_version_is_refused)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 16);
    save_ok(path_of("ckpt"), M, p, s);
    size_t len;
    unsigned char *b = read_file(path_of("ckpt"), &len);
    b[8] = 3;
    write_file(path_of("v3"), b, len);
    expect_refused(path_of("v3"), M, NNRT_EFORMAT, "format version 3, this runtime reads 1 and 2");
    free(b);
    nnrt_free(p), nnrt_free(s);
}
END_TEST

/* ---- Saving ---- */

START_TEST(save_replaces_an_existing_file)
{
    toy_params *p, *p2;
    toy_state *s, *s2;
    trained(&p, &s, 17);
    trained(&p2, &s2, 18);
    save_ok(path_of("ckpt"), M, p, s);
    save_ok(path_of("ckpt"), M, p2, s2);
    toy_params *q = nnrt_alloc(sizeof *q);
    ck_assert_int_eq(nnrt_load(path_of("ckpt"), M, q, NULL), 0);
    ck_assert(memcmp(p2, q, sizeof *q) == 0);
    ck_assert_int_eq(files_in_scratch(), 1);
    nnrt_free(p), nnrt_free(s), nnrt_free(p2), nnrt_free(s2), nnrt_free(q);
}
END_TEST

START_TEST(save_into_a_missing_directory_fails_cleanly)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 19);
    char err[512] = "";
    ck_assert_int_eq(nnrt_save_ex(path_of("no/such/dir/ckpt"), M, p, s, err, sizeof err), NNRT_EIO);
    ck_assert_msg(strstr(err, "no/such/dir/ckpt") && strstr(err, "No such file"), "%s", err);
    ck_assert_int_eq(files_in_scratch(), 0);
    nnrt_free(p), nnrt_free(s);
}
END_TEST

/* A write that fails half-way (the file size limit stands in for a full
 * disk) leaves the old checkpoint as it was and no temporary behind. */
START_TEST(a_failed_save_leaves_the_existing_file_intact)
{
    toy_params *p, *p2;
    toy_state *s, *s2;
    trained(&p, &s, 20);
    trained(&p2, &s2, 21);
    save_ok(path_of("ckpt"), M, p, s);
    size_t len;
    unsigned char *before = read_file(path_of("ckpt"), &len);

    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = len / 2;
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    char err[512] = "";
    int rc = nnrt_save_ex(path_of("ckpt"), M, p2, s2, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, oldsig);

    ck_assert_int_eq(rc, NNRT_EIO);
    ck_assert_msg(strstr(err, "cannot write"), "%s", err);
    size_t len2;
    unsigned char *after = read_file(path_of("ckpt"), &len2);
    ck_assert(len2 == len && memcmp(before, after, len) == 0);
    ck_assert_int_eq(files_in_scratch(), 1);
    free(before), free(after);
    nnrt_free(p), nnrt_free(s), nnrt_free(p2), nnrt_free(s2);
}
END_TEST

/* Like fopen(path, "w"): 0666 less the umask, not mkstemp's 0600. */
START_TEST(a_saved_file_gets_the_usual_permissions)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 22);
    mode_t old = umask(022);
    save_ok(path_of("ckpt"), M, p, s);
    umask(old);
    struct stat st;
    ck_assert_int_eq(stat(path_of("ckpt"), &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0644);
    nnrt_free(p), nnrt_free(s);
}
END_TEST

/* Saves from several threads to one path, with loads in between: every load
 * sees one whole checkpoint or another, never a mixture or a partial file. */
typedef struct saver {
    const char *path;
    toy_params *p;
    toy_state *s;
    int rc;
} saver;

static void *save_repeatedly(void *arg)
{
    saver *w = arg;
    for (int i = 0; i < 20 && w->rc == 0; i++)
        w->rc = nnrt_save(w->path, M, w->p, w->s);
    return NULL;
}

START_TEST(concurrent_saves_to_one_path_always_leave_a_whole_file)
{
    enum { N = 4 };
    saver w[N];
    pthread_t th[N];
    const char *path = path_of("ckpt");
    for (int k = 0; k < N; k++) {
        w[k] = (saver){path, NULL, NULL, 0};
        trained(&w[k].p, &w[k].s, 100 + (uint64_t)k);
    }
    save_ok(path, M, w[0].p, w[0].s);
    for (int k = 0; k < N; k++)
        ck_assert_int_eq(pthread_create(&th[k], NULL, save_repeatedly, &w[k]), 0);
    toy_params *q = nnrt_alloc(sizeof *q);
    int loads = 0, bad = 0, unknown = 0;
    for (int i = 0; i < 200; i++, loads++) {
        bad += nnrt_load(path, M, q, NULL) != 0;
        int known = 0;
        for (int k = 0; k < N; k++)
            known |= memcmp(q, w[k].p, sizeof *q) == 0;
        unknown += !known;
    }
    for (int k = 0; k < N; k++) {
        pthread_join(th[k], NULL);
        ck_assert_int_eq(w[k].rc, 0);
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(unknown, 0);
    ck_assert_int_eq(files_in_scratch(), 1);
    for (int k = 0; k < N; k++)
        nnrt_free(w[k].p), nnrt_free(w[k].s);
    nnrt_free(q);
}
END_TEST

START_TEST(invalid_arguments_are_refused)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 23);
    ck_assert_int_eq(nnrt_save(NULL, M, p, s), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_save(path_of("x"), NULL, p, s), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_save(path_of("x"), M, NULL, s), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_load(path_of("x"), M, NULL, s), NNRT_EINVAL);
    nnrt_model m2 = toy_model;
    char err[256] = "";
    static const int versions[] = {3, 0, 99};
    for (int k = 0; k < 3; k++) {
        m2.abi_version = versions[k];
        char want[64];
        snprintf(want, sizeof want, "ABI version %d; this runtime reads versions 1 and 2", versions[k]);
        ck_assert_int_eq(nnrt_save_ex(path_of("x"), &m2, p, s, err, sizeof err), NNRT_EINVAL);
        ck_assert_msg(strstr(err, want), "%s", err);
        ck_assert_int_eq(nnrt_load_ex(path_of("x"), &m2, p, s, err, sizeof err), NNRT_EINVAL);
        ck_assert_msg(strstr(err, want), "%s", err);
    }
    m2 = toy_model;
    m2.params_size = 128;                                   /* b (at 128) lies outside */
    ck_assert_int_eq(nnrt_save_ex(path_of("x"), &m2, p, s, err, sizeof err), NNRT_EINVAL);
    ck_assert_msg(strstr(err, "param b"), "%s", err);
    ck_assert_int_eq(files_in_scratch(), 0);
    nnrt_free(p), nnrt_free(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("checkpoint");
    TCase *tc = tcase_create("round trip");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_add_test(tc, round_trip_restores_params_and_state_exactly);
    tcase_add_test(tc, params_alone_load_from_a_file_with_state);
    tcase_add_test(tc, a_file_without_state_loads_params_but_not_state);
    tcase_add_test(tc, params_are_matched_by_name_not_position);
    tcase_add_test(tc, training_resumes_where_it_stopped);
    tcase_add_test(tc, the_file_has_the_documented_layout);
    suite_add_tcase(su, tc);

    tc = tcase_create("version 1");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_add_test(tc, a_version_1_model_writes_and_reads_format_1);
    tcase_add_test(tc, a_version_1_model_refuses_a_state_of_another_size_or_none);
    tcase_add_test(tc, a_version_1_model_reads_the_params_of_a_format_2_file);
    tcase_add_test(tc, a_format_1_file_cannot_fill_a_version_2_state);
    tcase_add_test(tc, a_format_1_file_loads_into_a_model_with_only_seed_and_step);
    suite_add_tcase(su, tc);

    tc = tcase_create("state");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_add_test(tc, an_evaluation_build_reads_a_training_checkpoints_states);
    tcase_add_test(tc, a_missing_or_extra_state_tensor_is_a_mismatch);
    tcase_add_test(tc, a_state_tensor_of_another_shape_or_dtype_is_a_mismatch);
    tcase_add_test(tc, buffers_of_another_optimizer_are_a_mismatch);
    tcase_add_test(tc, a_state_size_that_is_not_whole_buffers_is_invalid);
    suite_add_tcase(su, tc);

    tc = tcase_create("mismatch");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_add_test(tc, another_models_checkpoint_is_a_mismatch);
    tcase_add_test(tc, a_changed_shape_is_a_mismatch_naming_both_shapes);
    tcase_add_test(tc, a_changed_dtype_is_a_mismatch);
    tcase_add_test(tc, a_missing_or_extra_param_is_a_mismatch);
    suite_add_tcase(su, tc);

    tc = tcase_create("damage");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_truncated_file_is_corrupt);
    tcase_add_test(tc, trailing_bytes_are_corrupt);
    tcase_add_test(tc, a_flipped_byte_in_the_payload_is_caught_by_the_crc);
    tcase_add_test(tc, a_flipped_byte_in_the_header_is_caught_by_the_crc);
    tcase_add_test(tc, every_single_byte_corruption_is_refused);
    tcase_add_test(tc, other_files_are_not_checkpoints);
    tcase_add_test(tc, a_newer_format_version_is_refused);
    suite_add_tcase(su, tc);

    tc = tcase_create("save");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_add_test(tc, save_replaces_an_existing_file);
    tcase_add_test(tc, save_into_a_missing_directory_fails_cleanly);
    tcase_add_test(tc, a_failed_save_leaves_the_existing_file_intact);
    tcase_add_test(tc, a_saved_file_gets_the_usual_permissions);
    tcase_add_test(tc, concurrent_saves_to_one_path_always_leave_a_whole_file);
    tcase_add_test(tc, invalid_arguments_are_refused);
    suite_add_tcase(su, tc);

    return run_suite(su);
}
