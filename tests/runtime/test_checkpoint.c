/*
 * test_checkpoint.c: nnrt_save / nnrt_load (checkpoint.c) on a hand-written
 * model (toy_model.h): round trips, every kind of mismatch and corruption
 * refused with its own code and the caller's params untouched, and saves
 * that fail without harming the file they would have replaced.
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

/* Params from seed, then a few training steps so that the state is not 0. */
static void trained(toy_params **p, toy_state **s, uint64_t seed)
{
    *p = nnrt_alloc(sizeof **p);
    *s = nnrt_alloc(sizeof **s);
    toy_inputs *in = nnrt_alloc(sizeof *in);
    toy_outputs out;
    ck_assert(*p && *s && in);
    M->init(*p, seed);
    M->set_defaults(in);
    for (int i = 0; i < 12; i++)
        in->aW[i / 4][i % 4] = 0.1 * i - 0.5;
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(M->train_step(*p, *s, in, &out, NULL), 0);
    nnrt_free(in);
}

/* Params filled with a recognizable pattern, to see that a failed load
 * leaves them alone. */
static toy_params *sentinel_params(void)
{
    toy_params *p = nnrt_alloc(sizeof *p);
    ck_assert_ptr_nonnull(p);
    memset(p, 0xA5, sizeof *p);
    return p;
}

static void assert_untouched(const toy_params *p)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i = 0;
    while (i < sizeof *p && b[i] == 0xA5)
        i++;
    ck_assert_msg(i == sizeof *p, "byte %zu of the params was written", i);
}

static void save_ok(const char *path, const nnrt_model *m, const void *p, const void *s)
{
    char err[512] = "";
    ck_assert_msg(nnrt_save_ex(path, m, p, s, err, sizeof err) == 0, "%s", err);
}

/* Load path into sentinel params; expect code and a message containing want,
 * and the params untouched. */
static void expect_refused(const char *path, const nnrt_model *m, int code, const char *want)
{
    toy_params *q = sentinel_params();
    char err[512] = "";
    ck_assert_int_eq(nnrt_load_ex(path, m, q, NULL, err, sizeof err), code);
    ck_assert_msg(strstr(err, want) != NULL, "message \"%s\" lacks \"%s\"", err, want);
    assert_untouched(q);
    nnrt_free(q);
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
    char err[256] = "";
    ck_assert_msg(nnrt_load_ex(path_of("ckpt"), M, q, t, err, sizeof err) == 0, "%s", err);
    ck_assert(memcmp(p, q, sizeof *p) == 0);
    ck_assert(memcmp(s, t, sizeof *s) == 0);
    ck_assert_int_eq(files_in_scratch(), 1);      /* no temporary left behind */
    nnrt_free(p), nnrt_free(s), nnrt_free(q), nnrt_free(t);
}
END_TEST

START_TEST(params_alone_load_from_a_file_with_state)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 2);
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
    trained(&p, &s, 3);
    ck_assert_int_eq(nnrt_save(path_of("ckpt"), M, p, NULL), 0);
    toy_params *q = nnrt_alloc(sizeof *q);
    ck_assert_int_eq(nnrt_load(path_of("ckpt"), M, q, NULL), 0);
    ck_assert(memcmp(p, q, sizeof *p) == 0);

    toy_params *r = sentinel_params();
    char err[512] = "";
    ck_assert_int_eq(nnrt_load_ex(path_of("ckpt"), M, r, s, err, sizeof err), NNRT_EMISMATCH);
    ck_assert_msg(strstr(err, "no optimizer state"), "%s", err);
    assert_untouched(r);
    nnrt_free(p), nnrt_free(s), nnrt_free(q), nnrt_free(r);
}
END_TEST

/* Params are matched by name: reordering the declarations keeps old files. */
START_TEST(params_are_matched_by_name_not_position)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 4);
    save_ok(path_of("ckpt"), M, p, NULL);
    nnrt_tensor swapped[7];
    memcpy(swapped, toy_tensors, sizeof swapped);
    swapped[3] = toy_tensors[4];
    swapped[4] = toy_tensors[3];
    nnrt_model m2 = toy_model;
    m2.tensors = swapped;
    toy_params *q = nnrt_alloc(sizeof *q);
    ck_assert_int_eq(nnrt_load(path_of("ckpt"), &m2, q, NULL), 0);
    ck_assert(memcmp(p, q, sizeof *p) == 0);
    nnrt_free(p), nnrt_free(s), nnrt_free(q);
}
END_TEST

/* The layout documented in nnrt.h. */
START_TEST(the_file_has_the_documented_layout)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 5);
    save_ok(path_of("ckpt"), M, p, s);
    size_t len;
    unsigned char *b = read_file(path_of("ckpt"), &len);
    ck_assert(memcmp(b, "NNRTCKPT", 8) == 0);
    ck_assert(b[8] == NNRT_CKPT_VERSION && b[9] == 0 && b[10] == 0 && b[11] == 0);
    ck_assert(b[12] == 1);                                  /* state present */
    uint64_t size = 0;
    for (int i = 7; i >= 0; i--)
        size = size << 8 | b[16 + i];
    ck_assert_uint_eq(size, len);
    ck_assert(b[24] == 3 && memcmp(b + 28, "toy", 3) == 0);  /* the model's name */
    uint32_t crc = (uint32_t)crc32(0, b, (uInt)(len - 4));
    ck_assert(b[len - 4] == (crc & 0xFF) && b[len - 1] == crc >> 24);
    /* the state, raw, just before the CRC */
    ck_assert(memcmp(b + len - 4 - sizeof *s, s, sizeof *s) == 0);
    /* W's data, little-endian doubles, right before b's and the state */
    size_t at = len - 4 - sizeof *s - 15 * sizeof(double);
    ck_assert(memcmp(b + at, p->W, 12 * sizeof(double)) == 0);   /* (this host is little-endian) */
    free(b);
    nnrt_free(p), nnrt_free(s);
}
END_TEST

/* ---- Mismatches ---- */

START_TEST(another_models_checkpoint_is_a_mismatch)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 6);
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
    trained(&p, &s, 7);
    save_ok(path_of("ckpt"), M, p, s);
    static const int64_t d43[2] = {4, 3}, d24[2] = {2, 4};
    nnrt_tensor t2[7];
    memcpy(t2, toy_tensors, sizeof t2);
    nnrt_model m2 = toy_model;
    m2.tensors = t2;
    t2[3].dims = d43;
    char want[256];
    snprintf(want, sizeof want, "%s: tensor W has shape [3, 4], the model expects [4, 3]", path_of("ckpt"));
    expect_refused(path_of("ckpt"), &m2, NNRT_EMISMATCH, want);
    t2[3].dims = d24;
    t2[3].size = 8 * sizeof(double);
    expect_refused(path_of("ckpt"), &m2, NNRT_EMISMATCH, "the model expects [2, 4]");
    t2[3] = toy_tensors[3];
    t2[4].rank = 0;                                         /* b a scalar */
    t2[4].size = sizeof(double);
    expect_refused(path_of("ckpt"), &m2, NNRT_EMISMATCH, "tensor b has shape [3], the model expects []");
    nnrt_free(p), nnrt_free(s);
}
END_TEST

START_TEST(a_changed_dtype_is_a_mismatch)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 8);
    save_ok(path_of("ckpt"), M, p, s);
    nnrt_tensor t2[7];
    memcpy(t2, toy_tensors, sizeof t2);
    nnrt_model m2 = toy_model;
    m2.tensors = t2;
    t2[4].dtype = NNRT_F32;
    t2[4].size = 3 * sizeof(float);
    expect_refused(path_of("ckpt"), &m2, NNRT_EMISMATCH, "tensor b has dtype f64, the model expects f32");
    nnrt_free(p), nnrt_free(s);
}
END_TEST

START_TEST(a_missing_or_extra_param_is_a_mismatch)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 9);
    save_ok(path_of("ckpt"), M, p, s);
    nnrt_tensor t2[7];
    memcpy(t2, toy_tensors, sizeof t2);
    nnrt_model m2 = toy_model;
    m2.tensors = t2;
    t2[4].name = "bias";
    expect_refused(path_of("ckpt"), &m2, NNRT_EMISMATCH, "the checkpoint has no param bias");
    t2[4].role = NNRT_INPUT;                                /* the model has W only */
    expect_refused(path_of("ckpt"), &m2, NNRT_EMISMATCH, "has a param b that the model toy has not");
    nnrt_free(p), nnrt_free(s);
}
END_TEST

START_TEST(another_state_size_is_a_mismatch)
{
    toy_params *p;
    toy_state *s;
    trained(&p, &s, 10);
    save_ok(path_of("ckpt"), M, p, s);
    nnrt_model m2 = toy_model;
    m2.state_size = 64;
    toy_params *q = sentinel_params();
    toy_state *t = nnrt_alloc(sizeof *t);
    char err[512];
    ck_assert_int_eq(nnrt_load_ex(path_of("ckpt"), &m2, q, t, err, sizeof err), NNRT_EMISMATCH);
    char want[128];
    snprintf(want, sizeof want, "optimizer state of %zu bytes, the model's has 64", sizeof(toy_state));
    ck_assert_msg(strstr(err, want), "%s", err);
    assert_untouched(q);
    nnrt_free(p), nnrt_free(s), nnrt_free(q), nnrt_free(t);
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
    b[len - 4 - sizeof *s - 20] ^= 0x01;                    /* one bit of b's data */
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
    trained(&p, &s, 15);
    save_ok(path_of("ckpt"), M, p, s);
    size_t len;
    unsigned char *b = read_file(path_of("ckpt"), &len);
    toy_params *q = sentinel_params();
    for (size_t i = 0; i < len; i++) {
        b[i] ^= 0x40;
        write_file(path_of("flip"), b, len);
        int rc = nnrt_load(path_of("flip"), M, q, NULL);
        ck_assert_msg(rc == (i < 12 ? NNRT_EFORMAT : NNRT_ECORRUPT), "byte %zu: %d", i, rc);
        b[i] ^= 0x40;
    }
    assert_untouched(q);
    free(b);
    nnrt_free(p), nnrt_free(s), nnrt_free(q);
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
    b[8] = 2;
    write_file(path_of("v2"), b, len);
    expect_refused(path_of("v2"), M, NNRT_EFORMAT, "format version 2, this runtime reads 1");
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
    m2.abi_version = 99;
    char err[256] = "";
    ck_assert_int_eq(nnrt_save_ex(path_of("x"), &m2, p, s, err, sizeof err), NNRT_EINVAL);
    ck_assert_msg(strstr(err, "ABI version 99"), "%s", err);
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
    tcase_add_test(tc, the_file_has_the_documented_layout);
    suite_add_tcase(su, tc);

    tc = tcase_create("mismatch");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_add_test(tc, another_models_checkpoint_is_a_mismatch);
    tcase_add_test(tc, a_changed_shape_is_a_mismatch_naming_both_shapes);
    tcase_add_test(tc, a_changed_dtype_is_a_mismatch);
    tcase_add_test(tc, a_missing_or_extra_param_is_a_mismatch);
    tcase_add_test(tc, another_state_size_is_a_mismatch);
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
