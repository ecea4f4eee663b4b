/*
 * parse.c: reading a source file and running the scanner and parser on it.
 */
#include "grammar.h"
#include "parser.h"
#include "lexer.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

Loc grammar_loc(const Source *src, int line, int col, int last_line, int last_col) {
    Loc l = {src, line, col, 1};
    if (last_line == line && last_col >= col)
        l.len = last_col - col + 1;
    return l;
}

Source *source_from_string(const char *path, const char *text, size_t len) {
    Source *s = NEW(Source);
    s->path = arena_strdup(path);
    char *t = arena_alloc(len + 1);
    memcpy(t, text, len);
    s->text = t;
    s->len = len;
    return s;
}

Source *source_read(const char *path) { return source_read_max(path, INT_MAX); }

/* The scanner takes an int length: no source is longer than INT_MAX. */
Source *source_read_max(const char *path, size_t max) {
    if (max > INT_MAX)
        max = INT_MAX;
    FILE *f = fopen(path, "rb");
    if (!f) {
        error_plain("cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        error_plain("'%s' is a directory, not a model file", path);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = arena_alloc(cap);
    for (;;) {
        if (len == cap) {
            char *nb = arena_alloc(cap * 2);
            memcpy(nb, buf, len);
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
        if (len > max) {
            fclose(f);
            error_plain("'%s' is larger than %zu bytes", path, max);
            return NULL;
        }
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        error_plain("cannot read '%s'", path);
        return NULL;
    }
    Source *s = NEW(Source);
    s->path = arena_strdup(path);
    s->text = buf;
    s->len = len;
    return s;
}

Stmt *parse_source(const Source *src) {
    LexState ls = {.src = src, .line = 1, .col = 1};
    Parser P = {.src = src};
    yyscan_t scanner;
    if (nnlex_init_extra(&ls, &scanner) != 0) {
        error_plain("cannot start the scanner");
        return NULL;
    }
    YY_BUFFER_STATE buf = nn_scan_bytes(src->text, (int)src->len, scanner);
    int rc = nnparse(scanner, &P);
    nn_delete_buffer(buf, scanner);
    nnlex_destroy(scanner);
    if (rc != 0 && diag_errors == 0)
        error_plain("%s: the parser ran out of memory (nesting too deep?)", src->path);
    return P.program;
}
