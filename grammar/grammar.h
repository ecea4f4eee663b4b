/*
 * grammar.h: what the flex lexer and the bison parser share.
 *
 * The lexer tracks the nesting of brackets itself: a newline ends a
 * statement except inside ( ) and [ ]; inside { } it separates the
 * statements of the block, so a `for` or `fn` block spans lines.
 */
#ifndef GRAMMAR_H
#define GRAMMAR_H

#include "nnc.h"

typedef struct LexState {
    const Source *src;
    int line, col;          /* where the next token starts */
    struct Bracket { char c; Loc loc; } *brackets;   /* open brackets, innermost last */
    int depth, cap;
    int bad_line;           /* a line the lexer reported an error on */
    bool eof_sent;
} LexState;

typedef struct Parser {
    const Source *src;
    Stmt *program;
} Parser;

Loc grammar_loc(const Source *src, int line, int col, int last_line, int last_col);

#endif
