/*
 * text.c: text as sequences of token ids, for language models.
 *
 * Text is first normalized as the flags ask (LETTERS, then LOWER), then cut
 * into characters (UTF-8) or words; a vocabulary (nnrt_vocab) maps each
 * distinct token to an id, "<unk>" being 0.  A vocabulary is one nnrt_alloc
 * block laid out as
 *     tokens[size]   pointers into the string pool      (v->tokens == v->mem)
 *     counts[size]   uint64_t                           (v->counts)
 *     order[size]    int32_t ids sorted by their bytes, for lookups
 *     the strings, each NUL-terminated
 * Building counts tokens in a scratch hash table (FNV-1a, open addressing)
 * that is freed before returning; the ids of a text then come from binary
 * searches in order[].  nnrt_tensorset_add_windows (tensorset.c) turns the
 * ids into training examples.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"
#include "nnrt.h"

#define ALL_FLAGS (NNRT_TEXT_CHARS | NNRT_TEXT_WORDS | NNRT_TEXT_LOWER | NNRT_TEXT_LETTERS | \
                   NNRT_VOCAB_SORTED)
#define UNK "<unk>"

static int flags_ok(int flags)
{
    int cut = flags & (NNRT_TEXT_CHARS | NNRT_TEXT_WORDS);
    return (flags & ~ALL_FLAGS) == 0 && (cut == NNRT_TEXT_CHARS || cut == NNRT_TEXT_WORDS);
}

static int is_letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* ---- Normalizing and cutting ---- */

/* The text as the flags normalize it: the text itself (*scratch NULL) or a
 * copy in *scratch, which the caller frees.  *len is updated. */
static int normalize(const char *text, size_t *len, int flags, const char **out, char **scratch,
                     char *err, size_t errlen)
{
    *scratch = NULL;
    *out = text;
    const char *nul = *len ? memchr(text, 0, *len) : NULL;
    if (nul)
        return rt_fail(err, errlen, NNRT_EFORMAT, "not text: a NUL byte at offset %zu",
                       (size_t)(nul - text));
    if (!(flags & (NNRT_TEXT_LOWER | NNRT_TEXT_LETTERS)))
        return NNRT_OK;
    char *s = nnrt_alloc(*len + 1);
    if (!s)
        return rt_fail(err, errlen, NNRT_ENOMEM, "out of memory for %zu bytes of text", *len);
    size_t m = 0;
    for (size_t i = 0; i < *len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((flags & NNRT_TEXT_LETTERS) && !is_letter(c)) {
            if (i == 0 || is_letter((unsigned char)text[i - 1]))    /* a run starts */
                s[m++] = ' ';
            continue;
        }
        s[m++] = (char)((flags & NNRT_TEXT_LOWER) && c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    *len = m;
    *out = *scratch = s;
    return NNRT_OK;
}

/* Bytes of the UTF-8 character at s (n >= 1 bytes left): its sequence when
 * the lead byte and its continuation bytes are well formed, else 1. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t l = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
             : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (l == 0 || l > n)
        return 1;
    for (size_t i = 1; i < l; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 1;
    return l;
}

/* The next token of s[0..len) from *pos: 1 and its bytes [*start, *start +
 * *tlen), or 0 at the end. */
static int next_token(const char *s, size_t len, int flags, size_t *pos, size_t *start,
                      size_t *tlen)
{
    size_t i = *pos;
    if (flags & NNRT_TEXT_WORDS)
        while (i < len && is_space((unsigned char)s[i]))
            i++;
    if (i >= len) {
        *pos = len;
        return 0;
    }
    size_t j = i;
    if (flags & NNRT_TEXT_WORDS)
        while (j < len && !is_space((unsigned char)s[j]))
            j++;
    else
        j += utf8_len((const unsigned char *)s + i, len - i);
    *start = i;
    *tlen = j - i;
    *pos = j;
    return 1;
}

/* ---- Building ---- */

typedef struct entry {
    const char *p;                /* the token's bytes, in the normalized text */
    size_t len;
    uint64_t count;
} entry;

typedef struct table {
    entry *slots;                 /* p NULL: empty */
    size_t cap, used;             /* cap a power of two, used <= cap / 2 */
} table;

static uint64_t hash(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211u;
    return h;
}

static entry *slot_of(entry *slots, size_t cap, const char *p, size_t len)
{
    size_t i = (size_t)hash(p, len) & (cap - 1);
    while (slots[i].p && !(slots[i].len == len && memcmp(slots[i].p, p, len) == 0))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int count_token(table *t, const char *p, size_t len)
{
    if (2 * (t->used + 1) > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        if (cap > SIZE_MAX / sizeof(entry) / 2)
            return NNRT_ENOMEM;
        entry *grown = nnrt_alloc(cap * sizeof *grown);
        if (!grown)
            return NNRT_ENOMEM;
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].p)
                *slot_of(grown, cap, t->slots[i].p, t->slots[i].len) = t->slots[i];
        nnrt_free(t->slots);
        t->slots = grown;
        t->cap = cap;
    }
    entry *e = slot_of(t->slots, t->cap, p, len);
    if (!e->p) {
        *e = (entry){p, len, 0};
        t->used++;
    }
    e->count++;
    return NNRT_OK;
}

static int cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int by_bytes(const void *x, const void *y)
{
    const entry *a = x, *b = y;
    return cmp_bytes(a->p, a->len, b->p, b->len);
}

static int by_count(const void *x, const void *y)
{
    const entry *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return by_bytes(x, y);
}

/* The block's parts, for a vocabulary of size tokens. */
static int32_t *order_of(const nnrt_vocab *v)
{
    return (int32_t *)((char *)v->mem + (size_t)v->size * (sizeof(char *) + sizeof(uint64_t)));
}

/* The vocabulary of the kept entries (sorted as they will be numbered). */
static int make_vocab(nnrt_vocab *v, const entry *kept, size_t n_kept, uint64_t unknown,
                      int flags, char *err, size_t errlen)
{
    size_t size = n_kept + 1, pool = sizeof UNK;
    for (size_t i = 0; i < n_kept; i++)
        pool += kept[i].len + 1;
    size_t head = size * (sizeof(char *) + sizeof(uint64_t) + sizeof(int32_t));
    char *mem = pool <= SIZE_MAX - head ? nnrt_alloc(head + pool) : NULL;
    if (!mem)
        return rt_fail(err, errlen, NNRT_ENOMEM, "out of memory for a vocabulary of %zu tokens", size);
    const char **tokens = (const char **)(void *)mem;
    uint64_t *counts = (uint64_t *)(void *)(mem + size * sizeof(char *));
    char *s = mem + head;
    memcpy(s, UNK, sizeof UNK);
    tokens[0] = s;
    counts[0] = unknown;
    s += sizeof UNK;
    for (size_t i = 0; i < n_kept; i++) {
        memcpy(s, kept[i].p, kept[i].len);
        s[kept[i].len] = '\0';
        tokens[i + 1] = s;
        counts[i + 1] = kept[i].count;
        s += kept[i].len + 1;
    }
    *v = (nnrt_vocab){(int32_t)size, tokens, counts, flags & ALL_FLAGS, mem};
    /* order[]: the ids by bytes, "<unk>" among them. */
    int32_t *order = order_of(v);
    for (size_t i = 0; i < size; i++)
        order[i] = (int32_t)i;
    for (size_t i = 1; i < size; i++) {        /* insertion sort of a mostly sorted list */
        int32_t id = order[i];
        size_t j = i;
        while (j > 0 && strcmp(tokens[order[j - 1]], tokens[id]) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = id;
    }
    return NNRT_OK;
}

int nnrt_vocab_build(nnrt_vocab *v, const char *text, size_t len, int flags,
                     uint64_t min_count, char *err, size_t errlen)
{
    static const char fn[] = "nnrt_vocab_build";
    if (!v)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: v is NULL", fn);
    memset(v, 0, sizeof *v);
    if (!text && len > 0)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: text is NULL", fn);
    if (!flags_ok(flags))
        return rt_fail(err, errlen, NNRT_EINVAL,
                       "%s: flags 0x%x: exactly one of NNRT_TEXT_CHARS and NNRT_TEXT_WORDS, plus "
                       "NNRT_TEXT_LOWER, NNRT_TEXT_LETTERS, NNRT_VOCAB_SORTED", fn, (unsigned)flags);
    const char *s;
    char *scratch;
    int rc = normalize(text ? text : "", &len, flags, &s, &scratch, err, errlen);
    if (rc)
        return rc;
    table t = {NULL, 0, 0};
    entry *kept = NULL;
    uint64_t unknown = 0;
    size_t pos = 0, start, tlen, n_kept = 0;
    while (rc == NNRT_OK && next_token(s, len, flags, &pos, &start, &tlen)) {
        if (tlen == sizeof UNK - 1 && memcmp(s + start, UNK, tlen) == 0)
            unknown++;                      /* the text's own "<unk>" is id 0 */
        else
            rc = count_token(&t, s + start, tlen);
    }
    if (rc == NNRT_OK && t.used > (size_t)INT32_MAX - 1)
        rc = rt_fail(err, errlen, NNRT_EINVAL, "%s: %zu distinct tokens, more than int32 ids hold",
                     fn, t.used);
    else if (rc)
        rc = rt_fail(err, errlen, rc, "%s: out of memory counting tokens", fn);
    if (rc == NNRT_OK && !(kept = nnrt_alloc((t.used + 1) * sizeof *kept)))
        rc = rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory", fn);
    for (size_t i = 0; rc == NNRT_OK && i < t.cap; i++) {
        if (!t.slots[i].p)
            continue;
        if (t.slots[i].count >= min_count)
            kept[n_kept++] = t.slots[i];
        else
            unknown += t.slots[i].count;
    }
    if (rc == NNRT_OK) {
        qsort(kept, n_kept, sizeof *kept, (flags & NNRT_VOCAB_SORTED) ? by_bytes : by_count);
        rc = make_vocab(v, kept, n_kept, unknown, flags, err, errlen);
    }
    nnrt_free(kept);
    nnrt_free(t.slots);
    nnrt_free(scratch);
    return rc;
}

/* ---- Lookups and encoding ---- */

static int vocab_ok(const nnrt_vocab *v)
{
    return v && v->size >= 1 && v->mem && (const void *)v->tokens == v->mem && flags_ok(v->flags);
}

/* The id of the token p[0..len), 0 when absent. */
static int32_t lookup(const nnrt_vocab *v, const char *p, size_t len)
{
    const int32_t *order = order_of(v);
    size_t lo = 0, hi = (size_t)v->size;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *t = v->tokens[order[mid]];
        int c = cmp_bytes(t, strlen(t), p, len);
        if (c == 0)
            return order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int32_t nnrt_vocab_id(const nnrt_vocab *v, const char *token)
{
    return vocab_ok(v) && token ? lookup(v, token, strlen(token)) : 0;
}

int nnrt_vocab_encode(const nnrt_vocab *v, const char *text, size_t len, int32_t *ids,
                      size_t cap, size_t *n, char *err, size_t errlen)
{
    static const char fn[] = "nnrt_vocab_encode";
    if (!vocab_ok(v) || !n || (!text && len > 0) || (!ids && cap > 0))
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: %s", fn,
                       !vocab_ok(v) ? "not a built vocabulary" : "a NULL argument");
    const char *s;
    char *scratch;
    int rc = normalize(text ? text : "", &len, v->flags, &s, &scratch, err, errlen);
    if (rc)
        return rc;
    size_t pos = 0, start, tlen, count = 0;
    while (next_token(s, len, v->flags, &pos, &start, &tlen))
        count++;
    if (ids && cap < count) {
        rc = rt_fail(err, errlen, NNRT_EINVAL, "%s: the text has %zu tokens, ids room for %zu",
                     fn, count, cap);
    } else if (ids) {
        pos = 0;
        for (size_t k = 0; next_token(s, len, v->flags, &pos, &start, &tlen); k++)
            ids[k] = lookup(v, s + start, tlen);
    }
    if (rc == NNRT_OK)
        *n = count;
    nnrt_free(scratch);
    return rc;
}

void nnrt_vocab_free(nnrt_vocab *v)
{
    if (!v)
        return;
    nnrt_free(v->mem);
    memset(v, 0, sizeof *v);
}

/* ---- Files ---- */

/* The whole file, gzipped or not, into *buf (nnrt_alloc'ed, NUL after the
 * *len bytes). */
static int read_all(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        char eb[128];
        if (errno == 0)
            return rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory", path);
        return rt_fail(err, errlen, NNRT_EIO, "%s: cannot open: %s", path,
                       rt_errno_str(errno, eb, sizeof eb));
    }
    size_t cap = 1 << 16, got = 0;
    char *b = nnrt_alloc(cap + 1);
    int rc = b ? NNRT_OK : rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory", path);
    for (;;) {
        if (rc)
            break;
        if (got == cap) {
            char *bigger = cap <= (SIZE_MAX - 1) / 2 ? nnrt_alloc(2 * cap + 1) : NULL;
            if (!bigger) {
                rc = rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory for %zu bytes", path,
                             2 * cap);
                break;
            }
            memcpy(bigger, b, got);
            nnrt_free(b);
            b = bigger;
            cap *= 2;
        }
        size_t want = cap - got < (1u << 30) ? cap - got : (1u << 30);
        int r = gzread(f, b + got, (unsigned)want);
        if (r < 0 || (r == 0 && !gzeof(f))) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            char eb[128];
            if (zerr == Z_ERRNO)
                rc = rt_fail(err, errlen, NNRT_EIO, "%s: read error: %s", path,
                             rt_errno_str(errno, eb, sizeof eb));
            else
                rc = rt_fail(err, errlen, NNRT_ECORRUPT, "%s: damaged gzip data: %s", path, msg);
            break;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (rc == NNRT_OK) {
        int zerr;
        const char *msg = gzerror(f, &zerr);
        if (zerr == Z_BUF_ERROR)
            rc = rt_fail(err, errlen, NNRT_ECORRUPT, "%s: truncated: the gzip stream ends early", path);
        else if (zerr != Z_OK)
            rc = rt_fail(err, errlen, NNRT_ECORRUPT, "%s: damaged gzip data: %s", path, msg);
    }
    gzclose(f);
    if (rc) {
        nnrt_free(b);
        return rc;
    }
    b[got] = '\0';
    *buf = b;
    *len = got;
    return NNRT_OK;
}

int nnrt_text_load(const char *path, nnrt_vocab *vocab, int flags, uint64_t min_count,
                   nnrt_text *t, char *err, size_t errlen)
{
    static const char fn[] = "nnrt_text_load";
    if (t)
        memset(t, 0, sizeof *t);
    if (!path || !vocab || !t)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: a NULL argument", fn);
    int build = vocab->size == 0;
    if (!build && !vocab_ok(vocab))
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: vocab is neither zeroed nor built", fn);
    if (build && !flags_ok(flags))
        return rt_fail(err, errlen, NNRT_EINVAL,
                       "%s: flags 0x%x: exactly one of NNRT_TEXT_CHARS and NNRT_TEXT_WORDS, plus "
                       "NNRT_TEXT_LOWER, NNRT_TEXT_LETTERS, NNRT_VOCAB_SORTED", fn, (unsigned)flags);
    char *text;
    size_t len;
    int rc = read_all(path, &text, &len, err, errlen);
    if (rc)
        return rc;
    char why[256] = "";
    if (build)
        rc = nnrt_vocab_build(vocab, text, len, flags, min_count, why, sizeof why);
    size_t n = 0;
    if (rc == NNRT_OK)
        rc = nnrt_vocab_encode(vocab, text, len, NULL, 0, &n, why, sizeof why);
    if (rc == NNRT_OK && n > SIZE_MAX / sizeof(int32_t))
        rc = rt_fail(why, sizeof why, NNRT_ENOMEM, "%zu tokens", n);
    if (rc == NNRT_OK && !(t->ids = nnrt_alloc(n * sizeof(int32_t))))
        rc = rt_fail(why, sizeof why, NNRT_ENOMEM, "out of memory for %zu ids", n);
    if (rc == NNRT_OK)
        rc = nnrt_vocab_encode(vocab, text, len, t->ids, n, &n, why, sizeof why);
    nnrt_free(text);
    if (rc) {
        nnrt_text_free(t);
        if (build)
            nnrt_vocab_free(vocab);
        /* nnrt_vocab_*'s messages start with the function's name; say the file's instead */
        const char *msg = strncmp(why, "nnrt_vocab_", 11) == 0 && strchr(why, ' ')
                          ? strchr(why, ' ') + 1 : why;
        return rt_fail(err, errlen, rc, "%s: %s", path, msg);
    }
    t->n = n;
    return NNRT_OK;
}

void nnrt_text_free(nnrt_text *t)
{
    if (!t)
        return;
    nnrt_free(t->ids);
    memset(t, 0, sizeof *t);
}
