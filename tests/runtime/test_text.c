/*
 * test_text.c: vocabularies and token ids (text.c): characters (UTF-8) and
 * words, the order of the ids, min_count and "<unk>", the textbook's
 * preprocessing, encoding with an existing vocabulary, and text files,
 * plain and gzipped, including the ones that must be refused.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"
#include "rt_test.h"

static void build(nnrt_vocab *v, const char *text, int flags, uint64_t min_count)
{
    char err[256] = "";
    ck_assert_int_eq(nnrt_vocab_build(v, text, strlen(text), flags, min_count, err, sizeof err), 0);
    ck_assert_str_eq(err, "");
}

/* The vocabulary's tokens, each followed by its count: "<unk>0 a5 b2 ...". */
static const char *listing(const nnrt_vocab *v)
{
    static char buf[1024];
    size_t at = 0;
    buf[0] = '\0';
    for (int32_t i = 0; i < v->size && at < sizeof buf; i++) {
        snprintf(buf + at, sizeof buf - at, "%s%s%llu", i ? " " : "", v->tokens[i],
                 (unsigned long long)v->counts[i]);
        at += strlen(buf + at);
    }
    return buf;
}

/* The ids of text under v, as "1 2 3". */
static const char *ids_of(const nnrt_vocab *v, const char *text)
{
    static char buf[1024];
    int32_t ids[256];
    size_t n = 0, at = 0;
    char err[256] = "";
    ck_assert_int_eq(nnrt_vocab_encode(v, text, strlen(text), ids, 256, &n, err, sizeof err), 0);
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < sizeof buf; i++) {
        snprintf(buf + at, sizeof buf - at, "%s%d", i ? " " : "", ids[i]);
        at += strlen(buf + at);
    }
    return buf;
}

START_TEST(a_character_vocabulary_is_ordered_by_count_then_bytes)
{
    nnrt_vocab v;
    build(&v, "abracadabra", NNRT_TEXT_CHARS, 0);
    ck_assert_int_eq(v.size, 6);
    ck_assert_str_eq(listing(&v), "<unk>0 a5 b2 r2 c1 d1");
    ck_assert_str_eq(ids_of(&v, "abracadabra"), "1 2 3 1 4 1 5 1 2 3 1");
    ck_assert_int_eq(v.flags, NNRT_TEXT_CHARS);
    nnrt_vocab_free(&v);
    ck_assert_int_eq(v.size, 0);
    ck_assert_ptr_null(v.mem);
}
END_TEST

START_TEST(a_sorted_vocabulary_is_ordered_by_bytes)
{
    nnrt_vocab v;
    build(&v, "abracadabra", NNRT_TEXT_CHARS | NNRT_VOCAB_SORTED, 0);
    ck_assert_str_eq(listing(&v), "<unk>0 a5 b2 c1 d1 r2");
    ck_assert_str_eq(ids_of(&v, "bard"), "2 1 5 4");
    nnrt_vocab_free(&v);
}
END_TEST

START_TEST(rare_tokens_go_to_unk)
{
    nnrt_vocab v;
    build(&v, "abracadabra", NNRT_TEXT_CHARS, 2);
    ck_assert_str_eq(listing(&v), "<unk>2 a5 b2 r2");
    ck_assert_str_eq(ids_of(&v, "cab"), "0 1 2");
    nnrt_vocab_free(&v);
}
END_TEST

START_TEST(characters_are_utf8_sequences_and_stray_bytes_tokens_of_their_own)
{
    nnrt_vocab v;
    /* é (2 bytes), € (3), 𝄞 (4), a stray continuation byte, a cut sequence at the end */
    build(&v, "h\xc3\xa9\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\x80\xe2\x82", NNRT_TEXT_CHARS, 0);
    ck_assert_int_eq(v.size, 8);
    ck_assert_int_eq(nnrt_vocab_id(&v, "\xc3\xa9"), 1);       /* twice: first */
    ck_assert_str_eq(v.tokens[1], "\xc3\xa9");
    ck_assert_int_ne(nnrt_vocab_id(&v, "\xe2\x82\xac"), 0);
    ck_assert_int_ne(nnrt_vocab_id(&v, "\xf0\x9d\x84\x9e"), 0);
    ck_assert_int_ne(nnrt_vocab_id(&v, "\x80"), 0);
    ck_assert_int_ne(nnrt_vocab_id(&v, "\xe2"), 0);           /* the cut sequence: 2 tokens */
    ck_assert_int_ne(nnrt_vocab_id(&v, "\x82"), 0);
    ck_assert_int_ne(nnrt_vocab_id(&v, "h"), 0);
    size_t n;
    ck_assert_int_eq(nnrt_vocab_encode(&v, "h\xc3\xa9\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\x80\xe2\x82",
                                       15, NULL, 0, &n, NULL, 0), 0);
    ck_assert_uint_eq(n, 8);
    nnrt_vocab_free(&v);
}
END_TEST

START_TEST(words_are_runs_between_whitespace)
{
    nnrt_vocab v;
    build(&v, "  the cat\tsat\n\non the mat.\r\n", NNRT_TEXT_WORDS, 0);
    ck_assert_str_eq(listing(&v), "<unk>0 the2 cat1 mat.1 on1 sat1");
    ck_assert_str_eq(ids_of(&v, "the mat sat"), "1 0 5");
    nnrt_vocab_free(&v);
}
END_TEST

START_TEST(letters_and_lower_are_the_textbooks_preprocessing)
{
    /* re.sub('[^A-Za-z]+', ' ', text).lower() gives "the time machine by h g wells " */
    const char *text = "The Time-Machine, by H. G. Wells\n\n";
    nnrt_vocab v;
    build(&v, text, NNRT_TEXT_CHARS | NNRT_TEXT_LETTERS | NNRT_TEXT_LOWER, 0);
    int32_t ids[64];
    size_t n;
    ck_assert_int_eq(nnrt_vocab_encode(&v, text, strlen(text), ids, 64, &n, NULL, 0), 0);
    char back[64] = "";
    for (size_t i = 0; i < n; i++)
        strcat(back, v.tokens[ids[i]]);
    ck_assert_str_eq(back, "the time machine by h g wells ");
    ck_assert_int_eq(nnrt_vocab_id(&v, "T"), 0);
    ck_assert_int_eq(nnrt_vocab_id(&v, " "), 1);               /* 7 spaces, the most */
    nnrt_vocab_free(&v);
    build(&v, "It's 9 o'clock. IT IS!", NNRT_TEXT_WORDS | NNRT_TEXT_LETTERS | NNRT_TEXT_LOWER, 0);
    ck_assert_str_eq(listing(&v), "<unk>0 it2 clock1 is1 o1 s1");
    nnrt_vocab_free(&v);
    build(&v, "It's", NNRT_TEXT_CHARS | NNRT_TEXT_LOWER, 0);
    ck_assert_str_eq(listing(&v), "<unk>0 '1 i1 s1 t1");
    nnrt_vocab_free(&v);
}
END_TEST

START_TEST(the_texts_own_unk_is_id_0)
{
    nnrt_vocab v;
    build(&v, "a <unk> b <unk>", NNRT_TEXT_WORDS, 0);
    ck_assert_str_eq(listing(&v), "<unk>2 a1 b1");
    ck_assert_str_eq(ids_of(&v, "b <unk> a"), "2 0 1");
    nnrt_vocab_free(&v);
}
END_TEST

START_TEST(encode_counts_and_refuses_a_buffer_too_small)
{
    nnrt_vocab v;
    build(&v, "hello world", NNRT_TEXT_CHARS, 0);
    size_t n = 0;
    char err[256] = "";
    ck_assert_int_eq(nnrt_vocab_encode(&v, "hello", 5, NULL, 0, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, 5);
    int32_t ids[4] = {-9, -9, -9, -9};
    n = 77;
    ck_assert_int_eq(nnrt_vocab_encode(&v, "hello", 5, ids, 4, &n, err, sizeof err), NNRT_EINVAL);
    ck_assert_str_eq(err, "nnrt_vocab_encode: the text has 5 tokens, ids room for 4");
    ck_assert_int_eq(ids[0], -9);
    ck_assert_uint_eq(n, 77);
    ck_assert_int_eq(nnrt_vocab_encode(&v, "", 0, ids, 4, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(nnrt_vocab_encode(&v, NULL, 0, NULL, 0, &n, err, sizeof err), 0);
    ck_assert_int_eq(nnrt_vocab_encode(&v, NULL, 3, NULL, 0, &n, err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_vocab_encode(&v, "x", 1, NULL, 0, NULL, err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_vocab_encode(&v, "x", 1, NULL, 3, &n, err, sizeof err), NNRT_EINVAL);
    nnrt_vocab empty = {0};
    ck_assert_int_eq(nnrt_vocab_encode(&empty, "x", 1, ids, 4, &n, err, sizeof err), NNRT_EINVAL);
    ck_assert_str_eq(err, "nnrt_vocab_encode: not a built vocabulary");
    ck_assert_int_eq(nnrt_vocab_encode(NULL, "x", 1, ids, 4, &n, err, sizeof err), NNRT_EINVAL);
    nnrt_vocab_free(&v);
}
END_TEST

START_TEST(nul_bytes_are_not_text)
{
    nnrt_vocab v;
    memset(&v, 0x33, sizeof v);
    char err[256] = "";
    ck_assert_int_eq(nnrt_vocab_build(&v, "ab\0cd", 5, NNRT_TEXT_CHARS, 0, err, sizeof err),
                     NNRT_EFORMAT);
    ck_assert_str_eq(err, "not text: a NUL byte at offset 2");
    ck_assert_int_eq(v.size, 0);
    ck_assert_ptr_null(v.mem);
    build(&v, "abcd", NNRT_TEXT_CHARS, 0);
    size_t n;
    ck_assert_int_eq(nnrt_vocab_encode(&v, "a\0", 2, NULL, 0, &n, err, sizeof err), NNRT_EFORMAT);
    nnrt_vocab_free(&v);
}
END_TEST

START_TEST(flags_need_exactly_one_way_to_cut)
{
    nnrt_vocab v;
    char err[256] = "";
    int bad[4] = {0, NNRT_TEXT_CHARS | NNRT_TEXT_WORDS, NNRT_TEXT_LOWER, NNRT_TEXT_CHARS | 1024};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(nnrt_vocab_build(&v, "ab", 2, bad[i], 0, err, sizeof err), NNRT_EINVAL);
        ck_assert_int_eq(v.size, 0);
    }
    ck_assert_ptr_nonnull(strstr(err, "exactly one of NNRT_TEXT_CHARS and NNRT_TEXT_WORDS"));
    ck_assert_int_eq(nnrt_vocab_build(NULL, "ab", 2, NNRT_TEXT_CHARS, 0, err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_vocab_build(&v, NULL, 2, NNRT_TEXT_CHARS, 0, err, sizeof err), NNRT_EINVAL);
}
END_TEST

START_TEST(vocab_id_looks_tokens_up)
{
    nnrt_vocab v;
    build(&v, "one two three two", NNRT_TEXT_WORDS, 0);
    ck_assert_int_eq(nnrt_vocab_id(&v, "two"), 1);
    ck_assert_int_eq(nnrt_vocab_id(&v, "one"), 2);
    ck_assert_int_eq(nnrt_vocab_id(&v, "three"), 3);
    ck_assert_int_eq(nnrt_vocab_id(&v, "<unk>"), 0);
    ck_assert_int_eq(nnrt_vocab_id(&v, "four"), 0);
    ck_assert_int_eq(nnrt_vocab_id(&v, "tw"), 0);
    ck_assert_int_eq(nnrt_vocab_id(&v, NULL), 0);
    ck_assert_int_eq(nnrt_vocab_id(NULL, "two"), 0);
    nnrt_vocab_free(&v);
    nnrt_vocab_free(&v);                        /* harmless twice */
    nnrt_vocab_free(NULL);
}
END_TEST

START_TEST(an_empty_text_has_only_unk)
{
    nnrt_vocab v;
    build(&v, "", NNRT_TEXT_WORDS, 0);
    ck_assert_int_eq(v.size, 1);
    ck_assert_str_eq(listing(&v), "<unk>0");
    nnrt_vocab_free(&v);
    build(&v, " \n\t ", NNRT_TEXT_WORDS, 0);
    ck_assert_int_eq(v.size, 1);
    nnrt_vocab_free(&v);
}
END_TEST

START_TEST(many_distinct_words_grow_the_table)
{
    size_t len = 5000 * 6;
    char *text = malloc(len + 1);
    ck_assert_ptr_nonnull(text);
    for (int i = 0; i < 5000; i++)
        snprintf(text + 6 * i, 7, "w%04d ", i);
    nnrt_vocab v;
    build(&v, text, NNRT_TEXT_WORDS | NNRT_VOCAB_SORTED, 0);
    ck_assert_int_eq(v.size, 5001);
    ck_assert_str_eq(v.tokens[1], "w0000");
    ck_assert_str_eq(v.tokens[5000], "w4999");
    ck_assert_int_eq(nnrt_vocab_id(&v, "w2718"), 2719);
    nnrt_vocab_free(&v);
    free(text);
}
END_TEST

/* ---- Files ---- */

START_TEST(text_load_builds_a_vocabulary_then_shares_it)
{
    const char *train = "the cat sat on the mat\n";
    const char *valid = "the dog sat\n";
    write_file(path_of("train.txt"), train, strlen(train));
    write_gz(path_of("valid.txt.gz"), valid, strlen(valid));
    nnrt_vocab v = {0};
    nnrt_text a, b;
    char err[512] = "";
    ck_assert_int_eq(nnrt_text_load(path_of("train.txt"), &v, NNRT_TEXT_WORDS, 0, &a, err,
                                    sizeof err), 0);
    ck_assert_str_eq(listing(&v), "<unk>0 the2 cat1 mat1 on1 sat1");
    ck_assert_uint_eq(a.n, 6);
    int32_t want_a[6] = {1, 2, 5, 4, 1, 3};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(a.ids[i], want_a[i]);
    /* the flags are the vocabulary's now: NNRT_TEXT_CHARS is ignored */
    ck_assert_int_eq(nnrt_text_load(path_of("valid.txt.gz"), &v, NNRT_TEXT_CHARS, 5, &b, err,
                                    sizeof err), 0);
    ck_assert_uint_eq(b.n, 3);
    ck_assert_int_eq(b.ids[0], 1);
    ck_assert_int_eq(b.ids[1], 0);              /* dog: unseen */
    ck_assert_int_eq(b.ids[2], 5);
    ck_assert_int_eq(v.size, 6);
    nnrt_text_free(&a);
    nnrt_text_free(&b);
    ck_assert_ptr_null(a.ids);
    nnrt_vocab_free(&v);
}
END_TEST

START_TEST(text_load_refuses_missing_damaged_and_binary_files)
{
    nnrt_vocab v = {0};
    nnrt_text t;
    char err[512] = "", want[600];
    ck_assert_int_eq(nnrt_text_load(path_of("none.txt"), &v, NNRT_TEXT_CHARS, 0, &t, err, sizeof err),
                     NNRT_EIO);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path_of("none.txt"));
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(t.n, 0);
    ck_assert_ptr_null(t.ids);

    write_file(path_of("bin.txt"), "ab\0c", 4);
    ck_assert_int_eq(nnrt_text_load(path_of("bin.txt"), &v, NNRT_TEXT_CHARS, 0, &t, err, sizeof err),
                     NNRT_EFORMAT);
    snprintf(want, sizeof want, "%s: not text: a NUL byte at offset 2", path_of("bin.txt"));
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(v.size, 0);                /* the vocabulary it was building: none */
    ck_assert_ptr_null(v.mem);

    /* a gzip stream cut in the middle */
    char text[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof text; i++) {
        x = x * 1664525u + 1013904223u;         /* letters that do not compress away */
        text[i] = (char)('a' + (x >> 24) % 26);
    }
    write_gz(path_of("cut.txt.gz"), text, sizeof text);
    size_t len;
    unsigned char *gz = read_file(path_of("cut.txt.gz"), &len);
    write_file(path_of("cut.txt.gz"), gz, len / 2);
    free(gz);
    ck_assert_int_eq(nnrt_text_load(path_of("cut.txt.gz"), &v, NNRT_TEXT_CHARS, 0, &t, err,
                                    sizeof err), NNRT_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err, "cut.txt.gz: "));
    ck_assert_ptr_null(t.ids);

    ck_assert_int_eq(nnrt_text_load(path_of("bin.txt"), &v, 0, 0, &t, err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_text_load(NULL, &v, NNRT_TEXT_CHARS, 0, &t, err, sizeof err), NNRT_EINVAL);
    ck_assert_int_eq(nnrt_text_load(path_of("bin.txt"), NULL, NNRT_TEXT_CHARS, 0, &t, err, sizeof err),
                     NNRT_EINVAL);
    ck_assert_int_eq(nnrt_text_load(path_of("bin.txt"), &v, NNRT_TEXT_CHARS, 0, NULL, err, sizeof err),
                     NNRT_EINVAL);
    nnrt_vocab junk;
    memset(&junk, 0, sizeof junk);
    junk.size = 3;                              /* neither zeroed nor built */
    ck_assert_int_eq(nnrt_text_load(path_of("bin.txt"), &junk, NNRT_TEXT_CHARS, 0, &t, err,
                                    sizeof err), NNRT_EINVAL);
}
END_TEST

START_TEST(text_load_reads_a_file_larger_than_its_first_buffer)
{
    size_t len = 200000;
    char *text = malloc(len);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; i < len; i++)
        text[i] = (char)('a' + i % 3);
    write_gz(path_of("big.txt.gz"), text, len);
    free(text);
    nnrt_vocab v = {0};
    nnrt_text t;
    ck_assert_int_eq(nnrt_text_load(path_of("big.txt.gz"), &v, NNRT_TEXT_CHARS | NNRT_VOCAB_SORTED,
                                    0, &t, NULL, 0), 0);
    ck_assert_uint_eq(t.n, len);
    ck_assert_int_eq(v.size, 4);
    ck_assert_uint_eq(v.counts[1] + v.counts[2] + v.counts[3], len);
    ck_assert_int_eq(t.ids[len - 1], 1 + (int)((len - 1) % 3));
    nnrt_text_free(&t);
    nnrt_vocab_free(&v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("vocab");
    tcase_add_test(tc, a_character_vocabulary_is_ordered_by_count_then_bytes);
    tcase_add_test(tc, a_sorted_vocabulary_is_ordered_by_bytes);
    tcase_add_test(tc, rare_tokens_go_to_unk);
    tcase_add_test(tc, characters_are_utf8_sequences_and_stray_bytes_tokens_of_their_own);
    tcase_add_test(tc, words_are_runs_between_whitespace);
    tcase_add_test(tc, letters_and_lower_are_the_textbooks_preprocessing);
    tcase_add_test(tc, the_texts_own_unk_is_id_0);
    tcase_add_test(tc, encode_counts_and_refuses_a_buffer_too_small);
    tcase_add_test(tc, nul_bytes_are_not_text);
    tcase_add_test(tc, flags_need_exactly_one_way_to_cut);
    tcase_add_test(tc, vocab_id_looks_tokens_up);
    tcase_add_test(tc, an_empty_text_has_only_unk);
    tcase_add_test(tc, many_distinct_words_grow_the_table);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
    tcase_add_test(tc, text_load_builds_a_vocabulary_then_shares_it);
    tcase_add_test(tc, text_load_refuses_missing_damaged_and_binary_files);
    tcase_add_test(tc, text_load_reads_a_file_larger_than_its_first_buffer);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
