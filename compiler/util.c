/*
 * util.c: the arena every pass allocates from, diagnostics, and the set of
 * output files.
 *
 * Diagnostics print `FILE:LINE:COL: error: MESSAGE`, the source line and a
 * caret (or an underline as wide as the located token), as cc does, so that
 * editors can jump to them.  After MAX_ERRORS errors the rest are dropped.
 * Bytes that are not UTF-8, and control characters, are printed as \xNN.
 *
 * Outputs are written to temporary files beside their targets and renamed
 * into place together, only when all of them are complete (contract,
 * section 4; docs/guarantees.md).
 */
#include "nnc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- arena ---- */

typedef struct Chunk {
    struct Chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} Chunk;

static Chunk *arena;
static unsigned arena_gen;

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
    arena_gen++;
}

void *arena_grow(void *array, int n, size_t elem) {
    if (n & (n - 1))
        return array;
    void *bigger = arena_alloc(elem * (size_t)(2 * n + 1));
    return n ? memcpy(bigger, array, elem * (size_t)n) : bigger;
}

unsigned arena_generation(void) { return arena_gen; }

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

size_t utf8_char_len(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
               : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* No overlong forms, no surrogates, nothing above U+10FFFF. */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* How byte i of s[0, n) is shown: 0 inside a character already counted,
 * 1 for one column, 4 for an escape \xNN (a control character, or a byte
 * that is not part of valid UTF-8), -1 for a tab.  *seq carries the bytes
 * left of the current multibyte character. */
static int shown_as(const char *s, size_t n, size_t i, size_t *seq) {
    unsigned char c = (unsigned char)s[i];
    if (*seq) {
        (*seq)--;
        return 1;   /* columns count bytes (lexer.l), so each byte is a column */
    }
    if (c == '\t')
        return -1;
    if (c < 0x20 || c == 0x7f)
        return 4;
    if (c < 0x80)
        return 1;
    size_t k = utf8_char_len(s + i, n - i);
    if (!k)
        return 4;
    *seq = k - 1;
    return 1;
}

/* s[0, n) with every byte shown_as would escape written as \xNN; newlines
 * are kept where keep_newlines. */
static void put_clean(FILE *f, const char *s, size_t n, bool keep_newlines) {
    size_t seq = 0;
    for (size_t i = 0; i < n; i++) {
        int how = shown_as(s, n, i, &seq);
        if (how == 4 && !(keep_newlines && s[i] == '\n'))
            fprintf(f, "\\x%02x", (unsigned char)s[i]);
        else
            fputc(s[i], f);
    }
}

void fputs_clean(const char *s, FILE *f) { put_clean(f, s, strlen(s), true); }

/* Print the located line with a caret (or underline) below the spot.  Tabs
 * are kept in the padding so the caret lines up in a terminal; an escaped
 * byte is four columns wide. */
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
    if (eol > line && eol[-1] == '\r')
        eol--;
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
    fprintf(f, "  %s", from ? "..." : "");
    put_clean(f, line + from, (size_t)(to - from), false);
    fprintf(f, "%s\n  %s", to < n ? "..." : "", from ? "   " : "");
    int len = loc.len > 0 ? loc.len : 1;
    if (col + len > to)
        len = to - col > 1 ? to - col : 1;
    size_t seq = 0;
    int width = 0;
    for (int i = from; i < to && i < col + len; i++) {
        int how = shown_as(line + from, (size_t)(to - from), (size_t)(i - from), &seq);
        if (i < col) {
            for (int k = 0; k < (how < 0 ? 1 : how); k++)
                fputc(how < 0 ? '\t' : ' ', f);
        } else {
            width += how < 0 ? 1 : how;
        }
    }
    fputc('^', f);
    for (int i = 1; i < width; i++)
        fputc('~', f);
    fputc('\n', f);
}

static void vdiag(Loc loc, const char *kind, const char *fmt, va_list ap) {
    FILE *f = diag_out ? diag_out : stderr;
    if (loc.src) {
        put_clean(f, loc.src->path, strlen(loc.src->path), false);
        fprintf(f, ":%d:%d: %s: ", loc.line, loc.col, kind);
    } else {
        fprintf(f, "nnc: %s: ", kind);
    }
    /* The message quotes names, paths and strings from the input: it is
     * printed through put_clean too. */
    char small[512], *msg = small;
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(small, sizeof small, fmt, aq);
    va_end(aq);
    if (n >= (int)sizeof small && (msg = malloc((size_t)n + 1)) != NULL)
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
    if (!msg)
        msg = small;
    if (n > 0)
        put_clean(f, msg, strlen(msg), true);
    if (msg != small)
        free(msg);
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

/* ---- outputs: a set of files, renamed into place together ----
 *
 * output_begin creates, for each target, a temporary file in the target's
 * folder (O_CREAT | O_EXCL under a random name, so a file or symbolic link
 * planted there is never followed or overwritten); the writers fill it
 * through output_open/output_close or output_write; outputs_commit renames
 * every temporary onto its target once all are complete.  outputs_abort,
 * and a handler of the terminating signals, remove the temporaries.  A
 * target that exists and is not a regular file (/dev/null, a FIFO) cannot
 * have a file renamed onto it, and one that names an open descriptor ("-",
 * /dev/stdout: output_stream_fd) must not: its output goes to an anonymous
 * temporary file (tmpfile) and is copied into it at commit.  The names the
 * signal handler reads live outside the arena. */

enum { MAX_OUTPUTS = 16 };

typedef struct Output {
    char *path;         /* the target */
    char *tmp;          /* the temporary's name, or NULL when direct */
    int fd;             /* the temporary, open until commit or abort */
    bool direct;        /* copied into the target at commit */
    int stream;         /* when direct: the descriptor the target names, or -1 */
    bool open;          /* a stream from output_open is not closed yet */
    bool written;       /* complete */
} Output;

static Output outs[MAX_OUTPUTS];
static volatile sig_atomic_t nouts;     /* how many outs the handler may see */

static const int fatal_signals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGABRT};
enum { NFATAL = sizeof fatal_signals / sizeof *fatal_signals };

/* Async-signal-safe: unlink(), signal() and raise() only. */
static void on_fatal_signal(int sig) {
    for (sig_atomic_t i = 0; i < nouts; i++)
        if (outs[i].tmp)
            unlink(outs[i].tmp);
    signal(sig, SIG_DFL);
    raise(sig);     /* delivered when the handler returns: the usual death */
}

static void install_handlers(void) {
    static bool done;
    if (done)
        return;
    done = true;
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < NFATAL; i++)
        sigaddset(&sa.sa_mask, fatal_signals[i]);
    /* A signal ignored by whoever started nnc (nohup) stays ignored; one
     * handled already (a sanitizer's) keeps its handler. */
    for (int i = 0; i < NFATAL; i++)
        if (sigaction(fatal_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            sigaction(fatal_signals[i], &sa, NULL);
    /* Past a file size limit (ulimit -f), a write fails with EFBIG and is
     * reported, instead of the signal killing nnc. */
    if (sigaction(SIGXFSZ, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
        signal(SIGXFSZ, SIG_IGN);
}

static void block_signals(sigset_t *old) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < NFATAL; i++)
        sigaddset(&set, fatal_signals[i]);
    sigprocmask(SIG_BLOCK, &set, old);
}

static uint64_t random_bits(void) {
    static uint64_t counter;
    uint64_t r = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &r, sizeof r) != (ssize_t)sizeof r)
            r = 0;
        close(fd);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t z = r ^ ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
                 (++counter * 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;     /* splitmix64's finalizer */
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* The folder of path ("." for a bare name) and its last component. */
static void split_path(const char *path, char **dir, const char **base) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *dir = arena_strdup(".");
        *base = path;
    } else {
        *dir = slash == path ? arena_strdup("/") : arena_printf("%.*s", (int)(slash - path), path);
        *base = slash + 1;
    }
}

static Output *find_output_of(const char *path) {
    for (int i = 0; i < nouts; i++)
        if (strcmp(outs[i].path, path) == 0)
            return &outs[i];
    return NULL;
}

bool output_begin(const char *path) {
    if (find_output_of(path))
        return true;
    if ((int)nouts == MAX_OUTPUTS) {
        error_plain("internal error: more than %d outputs", MAX_OUTPUTS);
        return false;
    }
    char *dir;
    const char *base;
    split_path(path, &dir, &base);
    struct stat st;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
        (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        error_plain("cannot write '%s': it is a directory", path);
        return false;
    }
    Output o = {.fd = -1, .stream = output_stream_fd(path)};
    if (o.stream >= 0 || (stat(path, &st) == 0 && !S_ISREG(st.st_mode))) {
        o.direct = true;
        FILE *f = tmpfile();
        if (!f || (o.fd = dup(fileno(f))) < 0) {
            error_plain("cannot write '%s': no temporary file: %s", path, strerror(errno));
            if (f)
                fclose(f);
            return false;
        }
        fclose(f);
    } else {
        /* .NAME.XXXXXXXXXX.tmp beside the target; a long name is cut so the
         * temporary's stays within the usual 255 bytes. */
        static const char digits[] = "abcdefghijklmnopqrstuvwxyz012345";
        for (int attempt = 0; attempt < 100 && o.fd < 0; attempt++) {
            uint64_t r = random_bits();
            char suffix[11];
            for (int k = 0; k < 10; k++, r >>= 5)
                suffix[k] = digits[r & 31];
            suffix[10] = 0;
            free(o.tmp);
            size_t n = strlen(dir) + strlen(base) + 32;
            o.tmp = malloc(n);
            if (!o.tmp) {
                error_plain("out of memory");
                return false;
            }
            snprintf(o.tmp, n, "%s/.%.200s.%s.tmp", dir, base, suffix);
            o.fd = open(o.tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
            if (o.fd < 0 && errno != EEXIST)
                break;
        }
        if (o.fd < 0) {
            error_plain("cannot write '%s': cannot create a file in '%s': %s", path, dir, strerror(errno));
            free(o.tmp);
            return false;
        }
    }
    o.path = malloc(strlen(path) + 1);
    if (!o.path) {
        error_plain("out of memory");
        close(o.fd);
        if (o.tmp) {
            unlink(o.tmp);
            free(o.tmp);
        }
        return false;
    }
    strcpy(o.path, path);
    install_handlers();
    outs[nouts] = o;
    atomic_signal_fence(memory_order_seq_cst);   /* the entry before the count */
    nouts = nouts + 1;
    return true;
}

static bool write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* Several outputs may go to one device (-o /dev/null): each stream
 * appends to the same temporary. */
FILE *output_open(const char *path) {
    if (!output_begin(path))
        return NULL;
    Output *o = find_output_of(path);
    if (o->open) {
        error_plain("internal error: '%s' opened twice", path);
        return NULL;
    }
    int fd = dup(o->fd);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        error_plain("cannot write '%s': %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    o->open = true;
    o->written = false;
    return f;
}

bool output_close(FILE *f, const char *path) {
    Output *o = find_output_of(path);
    int err = 0;
    if (fflush(f) != 0 || ferror(f))
        err = errno ? errno : EIO;
    if (fclose(f) != 0 && !err)
        err = errno;
    if (o) {
        o->open = false;
        o->written = !err;
    }
    if (err)
        error_plain("cannot write '%s': %s", path, strerror(err));
    return !err;
}

bool output_write(const char *path, const void *data, size_t n) {
    if (!output_begin(path))
        return false;
    Output *o = find_output_of(path);
    errno = 0;
    bool ok = write_all(o->fd, data, n);
    if (!ok)
        error_plain("cannot write '%s': %s", path, strerror(errno ? errno : EIO));
    o->written = ok;
    return ok;
}

/* The temporary fd, from its start, into the existing file path, or into
 * the open descriptor stream (>= 0) at its offset. */
static bool copy_into(int fd, const char *path, int stream) {
    if (lseek(fd, 0, SEEK_SET) != 0)
        return false;
    int to = stream >= 0 ? dup(stream) : open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (to < 0)
        return false;
    char buf[65536];
    bool ok = true;
    for (;;) {
        ssize_t k = read(fd, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            ok = k == 0;
            break;
        }
        if (!write_all(to, buf, (size_t)k)) {
            ok = false;
            break;
        }
    }
    int err = errno;
    if (close(to) != 0 && ok) {
        ok = false;
        err = errno;
    }
    errno = err;
    return ok;
}

/* Forget every output; the temporaries are gone or renamed.  The handler
 * stops seeing them first. */
static void outputs_forget(void) {
    int n = nouts;
    nouts = 0;
    atomic_signal_fence(memory_order_seq_cst);
    for (int i = 0; i < n; i++) {
        if (outs[i].fd >= 0)
            close(outs[i].fd);
        free(outs[i].path);
        free(outs[i].tmp);
        outs[i] = (Output){.fd = -1, .stream = -1};
    }
}

void outputs_abort(void) {
    for (int i = 0; i < nouts; i++)
        if (outs[i].tmp)
            unlink(outs[i].tmp);
    outputs_forget();
}

/* Everything is checked before anything is renamed: each output complete,
 * each temporary closed without error, no target turned into a folder
 * meanwhile; then the in-place targets are written (the only step that can
 * fail for lack of room, and may wait for a FIFO's reader), then the
 * renames, with the terminating signals held off so that a signal sees all
 * of them or none. */
bool outputs_commit(void) {
    bool ok = true;
    for (int i = 0; i < nouts && ok; i++) {
        Output *o = &outs[i];
        struct stat st;
        if (o->open || !o->written) {
            error_plain("internal error: '%s' was not written", o->path);
            ok = false;
        } else if (!o->direct && close(o->fd) != 0) {
            error_plain("cannot write '%s': %s", o->path, strerror(errno));
            ok = false;
        } else if (stat(o->path, &st) == 0 && S_ISDIR(st.st_mode)) {
            error_plain("cannot write '%s': it is a directory", o->path);
            ok = false;
        }
        if (!o->direct)
            o->fd = -1;
    }
    for (int i = 0; i < nouts && ok; i++)
        if (outs[i].direct && !copy_into(outs[i].fd, outs[i].path, outs[i].stream)) {
            error_plain("cannot write '%s': %s", outs[i].path, strerror(errno));
            ok = false;
        }
    sigset_t old;
    block_signals(&old);
    for (int i = 0; i < nouts && ok; i++)
        if (!outs[i].direct && rename(outs[i].tmp, outs[i].path) != 0) {
            error_plain("cannot write '%s': %s", outs[i].path, strerror(errno));
            ok = false;
        } else if (!outs[i].direct) {
            free(outs[i].tmp);
            outs[i].tmp = NULL;
        }
    if (ok)
        outputs_forget();
    else
        outputs_abort();
    sigprocmask(SIG_SETMASK, &old, NULL);
    return ok;
}

void outputs_abort_from_handler(void) {
    for (sig_atomic_t i = 0; i < nouts; i++)
        if (outs[i].tmp)
            unlink(outs[i].tmp);
}

/* ---- paths ---- */

/* N from "/dev/fd/N" or "/proc/self/fd/N", else -1. */
static int fd_path_number(const char *p) {
    static const char *const dirs[] = {"/dev/fd/", "/proc/self/fd/"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        size_t n = strlen(dirs[i]);
        if (strncmp(p, dirs[i], n) == 0 && p[n] >= '0' && p[n] <= '9') {
            char *end;
            long v = strtol(p + n, &end, 10);
            return !*end && v <= INT_MAX ? (int)v : -1;
        }
    }
    return -1;
}

int output_stream_fd(const char *path) {
    if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0)
        return 1;
    if (strcmp(path, "/dev/stderr") == 0)
        return 2;
    int n = fd_path_number(path);
    if (n >= 0)
        return n;
    char target[64];
    ssize_t len = readlink(path, target, sizeof target - 1);
    if (len <= 0)
        return -1;
    target[len] = 0;
    return fd_path_number(target);
}

/* path with "." components and repeated slashes dropped. */
static char *lexical_key(const char *path) {
    char *out = arena_alloc(strlen(path) + 3), *q = out;
    if (*path == '/')
        *q++ = '/';
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        if (e - p == 1 && *p == '.') {
            p = e;
            continue;
        }
        if (e > p) {
            if (q > out && q[-1] != '/')
                *q++ = '/';
            memcpy(q, p, (size_t)(e - p));
            q += e - p;
        }
        p = e;
    }
    *q = 0;
    return out;
}

/* The name of path's directory entry: its folder resolved (symbolic links,
 * "..") and its last component, or the path itself tidied when the folder
 * does not exist. */
static char *entry_key(const char *path) {
    char *dir;
    const char *base;
    split_path(path, &dir, &base);
    char *real = realpath(dir, NULL);
    if (!real || !*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        free(real);
        return lexical_key(path);
    }
    char *key = arena_printf("%s/%s", strcmp(real, "/") == 0 ? "" : real, base);
    free(real);
    return key;
}

bool same_file(const char *a, const char *b) {
    int fa = output_stream_fd(a), fb = output_stream_fd(b);
    if (fa >= 0 || fb >= 0)
        return fa == fb;
    if (strcmp(entry_key(a), entry_key(b)) == 0)
        return true;
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
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
