/*
 * util.c: the arena every pass allocates from, and diagnostics.
 *
 * Diagnostics print `FILE:LINE:COL: error: MESSAGE`, the source line and a
 * caret (or an underline as wide as the located token), as cc does, so that
 * editors can jump to them.  After MAX_ERRORS errors the rest are dropped.
 */
#include "nnc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- arena ---- */

typedef struct Chunk {
    struct Chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} Chunk;

static Chunk *arena;

void *arena_alloc(size_t size) {
    size = (size + 15) & ~(size_t)15;
    if (!arena || arena->cap - arena->used < size) {
        size_t cap = size > 65536 ? size : 65536;
        Chunk *c = malloc(sizeof(Chunk) + cap);
        if (!c) {
            fprintf(stderr, "nnc: out of memory\n");
            exit(1);
        }
        c->next = arena;
        c->used = 0;
        c->cap = cap;
        arena = c;
    }
    void *p = arena->data + arena->used;
    arena->used += size;
    memset(p, 0, size);
    return p;
}

void arena_free_all(void) {
    while (arena) {
        Chunk *next = arena->next;
        free(arena);
        arena = next;
    }
}

char *arena_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(arena_alloc(n), s, n);
}

char *arena_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *buf = arena_alloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return buf;
}

/* ---- diagnostics ---- */

int diag_errors;
bool diag_stop;
FILE *diag_out;

void diag_reset(void) {
    diag_errors = 0;
    diag_stop = false;
}

/* Print the located line with a caret (or underline) below the spot.  Tabs
 * are kept in the padding so the caret lines up in a terminal. */
static void quote_line(Loc loc) {
    const Source *src = loc.src;
    if (!src || !src->text || loc.line <= 0)
        return;
    const char *line = src->text, *end = src->text + src->len;
    for (int l = 1; l < loc.line && line < end; line++)
        if (*line == '\n')
            l++;
    const char *eol = line;
    while (eol < end && *eol != '\n')
        eol++;
    /* A very long line is shown as a window of WIDTH columns around the spot. */
    enum { WIDTH = 100 };
    int n = (int)(eol - line), col = loc.col - 1, from = 0;
    if (n > WIDTH && col > WIDTH / 2) {
        from = col - WIDTH / 2;
        if (n - from < WIDTH)
            from = n - WIDTH;
    }
    int to = from + WIDTH < n ? from + WIDTH : n;
    FILE *f = diag_out ? diag_out : stderr;
    fprintf(f, "  %s%.*s%s\n  %s", from ? "..." : "", to - from, line + from, to < n ? "..." : "",
            from ? "   " : "");
    for (int i = from; i < col && i < to; i++)
        fputc(line[i] == '\t' ? '\t' : ' ', f);
    int len = loc.len > 0 ? loc.len : 1;
    if (col + len > to)
        len = to - col > 1 ? to - col : 1;
    fputc('^', f);
    for (int i = 1; i < len; i++)
        fputc('~', f);
    fputc('\n', f);
}

static void vdiag(Loc loc, const char *kind, const char *fmt, va_list ap) {
    FILE *f = diag_out ? diag_out : stderr;
    if (loc.src)
        fprintf(f, "%s:%d:%d: %s: ", loc.src->path, loc.line, loc.col, kind);
    else
        fprintf(f, "nnc: %s: ", kind);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    quote_line(loc);
}

void error_at(Loc loc, const char *fmt, ...) {
    if (diag_stop)
        return;
    if (++diag_errors > MAX_ERRORS) {
        FILE *f = diag_out ? diag_out : stderr;
        fprintf(f, "nnc: too many errors (%d), stopping\n", MAX_ERRORS);
        diag_stop = true;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vdiag(loc, "error", fmt, ap);
    va_end(ap);
}

void warning_at(Loc loc, const char *fmt, ...) {
    if (diag_stop)
        return;
    va_list ap;
    va_start(ap, fmt);
    vdiag(loc, "warning", fmt, ap);
    va_end(ap);
}

void note_at(Loc loc, const char *fmt, ...) {
    if (diag_stop)
        return;
    va_list ap;
    va_start(ap, fmt);
    vdiag(loc, "note", fmt, ap);
    va_end(ap);
}

void error_plain(const char *fmt, ...) {
    diag_errors++;
    va_list ap;
    va_start(ap, fmt);
    vdiag((Loc){0}, "error", fmt, ap);
    va_end(ap);
}

/* ---- outputs: written under temporary names, renamed all at once ---- */

typedef struct Pending {
    const char *tmp, *path;
    struct Pending *next;
} Pending;

static Pending *pending;

const char *output_begin(const char *path) {
    Pending *p = NEW(Pending);
    p->path = path;
    p->tmp = arena_printf("%s.tmp%ld", path, (long)getpid());
    p->next = pending;
    pending = p;
    return p->tmp;
}

bool outputs_commit(void) {
    bool ok = true;
    for (Pending *p = pending; p; p = p->next)
        if (ok && rename(p->tmp, p->path) != 0) {
            error_plain("cannot write '%s': %s", p->path, strerror(errno));
            ok = false;
        }
    if (!ok)
        outputs_abort();
    pending = NULL;
    return ok;
}

void outputs_abort(void) {
    for (Pending *p = pending; p; p = p->next)
        remove(p->tmp);
    pending = NULL;
}

/* ---- --time ---- */

static double phase_seconds[NPHASES], phase_start = -1;
static Phase phase_now = PH_FRONT;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void phase_enter(Phase p) {
    double t = now_seconds();
    if (phase_start >= 0)
        phase_seconds[phase_now] += t - phase_start;
    phase_start = t;
    phase_now = p;
}

void phase_report(FILE *f) {
    static const char *const names[NPHASES] = {
        "front end (parse, check, differentiate)", "plan and lower to LLVM IR",
        "LLVM IR optimization", "machine code generation", "other outputs"};
    phase_enter(phase_now);
    double total = 0;
    for (int k = 0; k < NPHASES; k++)
        total += phase_seconds[k];
    for (int k = 0; k < NPHASES; k++)
        fprintf(f, "  %8.1f ms  %5.1f%%  %s\n", phase_seconds[k] * 1e3,
                total > 0 ? 100 * phase_seconds[k] / total : 0.0, names[k]);
    fprintf(f, "  %8.1f ms          total, from main to exit\n", total * 1e3);
}
