/*
 * parser.y: the grammar of the .nn language (contract, section 1).
 *
 * A pure, reentrant LALR(1) parser with locations.  Actions build the AST
 * (nnc.h) and nothing else: names, shapes and types are sema.c's job.  A
 * syntax error skips to the end of its statement, so several are reported
 * in one run.
 */
%define api.pure full
%define api.prefix {nn}
%define parse.error detailed
%locations
%expect 0
%param {yyscan_t scanner}
%parse-param {Parser *P}

%code requires {
#include "grammar.h"
typedef void *yyscan_t;
typedef struct { Stmt *head, *tail; } SList;
typedef struct { Ast *head, *tail; } AList;
}

%code {
#include <string.h>
int nnlex(NNSTYPE *lval, NNLTYPE *lloc, yyscan_t scanner);
LexState *nnget_extra(yyscan_t scanner);
static void nnerror(NNLTYPE *l, yyscan_t scanner, Parser *P, const char *msg);
#define LOC(l) grammar_loc(P->src, (l).first_line, (l).first_column, (l).last_line, (l).last_column)
/* Deep nesting is an error, not a stack overflow in the passes after us. */
#define YYMAXDEPTH 3000
#define YYSTR_(x) #x
#define YYSTR(x) YYSTR_(x)

static Ast *mk(AstKind k, Loc loc) {
    Ast *a = NEW(Ast);
    a->kind = k;
    a->loc = loc;
    return a;
}
static Ast *bin(BinOp op, Ast *l, Ast *r, Loc oploc) {
    Ast *a = mk(A_BIN, oploc);
    a->op = op;
    a->lhs = l;
    a->rhs = r;
    return a;
}
static Stmt *st(StmtKind k, Loc loc) {
    Stmt *s = NEW(Stmt);
    s->kind = k;
    s->loc = loc;
    return s;
}
static Stmt *named(StmtKind k, Loc loc, const char *name, Loc nameloc) {
    Stmt *s = st(k, loc);
    s->name = name;
    s->nameloc = nameloc;
    return s;
}
/* `WORD NAME ...` where WORD must be the contextual keyword `want`. */
static Stmt *contextual(StmtKind k, const char *want, const char *word, Loc loc, const char *name, Loc nameloc) {
    if (strcmp(word, want) != 0)
        error_at(loc, "'%s %s' does not start a statement (did you mean '%s %s'?)", word, name, want, name);
    return named(k, loc, name, nameloc);
}
/* PyTorch's modules: `torch.relu(x)`, `F.softmax(o, dim = 1)`, `nn.Linear(...)`
 * parse as calls of a dotted name that sema explains (builtins.c). */
static bool is_module(const Ast *a) {
    static const char *const modules[] = {"torch", "nn", "F", "functional", "init", "optim",
                                          "np", "numpy", "math"};
    if (a->kind != A_NAME)
        return false;
    if (strchr(a->name, '.'))
        return true;
    for (size_t i = 0; i < sizeof modules / sizeof *modules; i++)
        if (strcmp(a->name, modules[i]) == 0)
            return true;
    return false;
}
/* recv.name(args): a module's function ("torch.relu"), or a method call
 * (".sum", with the receiver), which the language does not have. */
static Ast *dotted_call(Ast *recv, const char *name, Loc loc, Ast *args) {
    Ast *a = mk(A_CALL, loc);
    a->args = args;
    if (is_module(recv)) {
        a->name = arena_printf("%s.%s", recv->name, name);
    } else {
        a->name = arena_printf(".%s", name);
        a->lhs = recv;
    }
    return a;
}
static Ast *slice(Loc loc, Ast *from, Ast *to) {
    Ast *a = mk(A_SLICE, loc);
    a->lhs = from;
    a->rhs = to;
    return a;
}
/* x[i] is A_INDEX with rhs i; several items or a slice keep the list. */
static Ast *index_of(Ast *x, Ast *items, Loc loc) {
    Ast *a = mk(A_INDEX, loc);
    a->lhs = x;
    if (!items->next && items->kind != A_SLICE)
        a->rhs = items;
    else
        a->args = items;
    return a;
}
static AList alist(Ast *a) { return (AList){a, a}; }
static AList aappend(AList l, Ast *a) {
    if (!l.head)
        return alist(a);
    l.tail->next = a;
    l.tail = a;
    return l;
}
static SList sappend(SList l, Stmt *s) {
    if (!s)
        return l;
    if (!l.head)
        return (SList){s, s};
    l.tail->next = s;
    l.tail = s;
    return l;
}
}

%union {
    Ast *ast;
    Stmt *stmt;
    TypeAst *type;
    char *str;
    SList slist;
    AList alist;
    DType dtype;
}

%token <ast> NUM "number"
%token <str> IDENT "identifier"
%token MODEL "model" CONST "const" INPUT "input" PARAM "param" HYPER "hyper"
%token OUTPUT "output" MINIMIZE "minimize" OPTIMIZER "optimizer" FN "fn"
%token RETURN "return" FOR "for" IN "in" F32 "f32" F64 "f64" I32 "i32" IMPORT "import"
%token <str> STRING "string"
%token NEWLINE "end of line" EQ "==" NE "!=" LE "<=" GE ">=" POW "**" DOTDOT ".."

%type <ast> expr postfix primary arg item
%type <alist> args arglist exprlist names params items
%type <stmt> stmt block_last
%type <slist> stmts block
%type <type> type
%type <dtype> dtype

%left EQ NE '<' '>' LE GE
%left '+' '-'
%left '*' '/' '@'
%precedence NEG
%right POW

%%

program:
    stmts                       { P->program = $1.head; }
    ;

stmts:
    %empty                      { $$ = (SList){0}; }
  | stmts terminator            { $$ = $1; }
  | stmts stmt terminator       { $$ = sappend($1, $2); }
  | stmts error terminator      { $$ = $1; yyerrok; }
  ;

terminator: NEWLINE | ';' ;

block:
    '{' stmts block_last '}'    { $$ = sappend($2, $3); }
  ;

block_last:
    %empty                      { $$ = NULL; }
  | stmt                        { $$ = $1; }
  ;

stmt:
    MODEL IDENT                 { $$ = named(S_MODEL, LOC(@1), $2, LOC(@2)); }
  | CONST IDENT '=' expr        { $$ = named(S_CONST, LOC(@1), $2, LOC(@2)); $$->expr = $4; }
  | INPUT IDENT ':' type        { $$ = named(S_INPUT, LOC(@1), $2, LOC(@2)); $$->type = $4; }
  | PARAM IDENT ':' type        { $$ = named(S_PARAM, LOC(@1), $2, LOC(@2)); $$->type = $4; }
  | PARAM IDENT ':' type '=' expr
                                { $$ = named(S_PARAM, LOC(@1), $2, LOC(@2)); $$->type = $4; $$->expr = $6; }
  | HYPER IDENT ':' type        { $$ = named(S_HYPER, LOC(@1), $2, LOC(@2)); $$->type = $4; }
  | HYPER IDENT ':' type '=' expr
                                { $$ = named(S_HYPER, LOC(@1), $2, LOC(@2)); $$->type = $4; $$->expr = $6; }
  | IDENT '=' expr              { $$ = named(S_ASSIGN, LOC(@1), $1, LOC(@1)); $$->expr = $3; }
    /* dim and state are keywords only here, as a statement's first word
     * followed by a name (contract, 5.8 Words): elsewhere they are names. */
  | IDENT IDENT LE expr         { $$ = contextual(S_DIM, "dim", $1, LOC(@1), $2, LOC(@2)); $$->expr = $4; }
  | IDENT IDENT ':' type        { $$ = contextual(S_STATE, "state", $1, LOC(@1), $2, LOC(@2)); $$->type = $4; }
  | IDENT IDENT ':' type '=' expr
                                { $$ = contextual(S_STATE, "state", $1, LOC(@1), $2, LOC(@2)); $$->type = $4; $$->expr = $6; }
  | OUTPUT names                { $$ = st(S_OUTPUT, LOC(@1)); $$->args = $2.head; }
  | MINIMIZE IDENT              { $$ = named(S_MINIMIZE, LOC(@1), $2, LOC(@2)); }
  | OPTIMIZER IDENT '(' arglist ')'
                                { $$ = named(S_OPTIMIZER, LOC(@1), $2, LOC(@2)); $$->args = $4.head; }
  | FN IDENT '(' params ')' '=' expr
                                { $$ = named(S_FN, LOC(@1), $2, LOC(@2)); $$->args = $4.head; $$->expr = $7; }
  | FN IDENT '(' params ')' block
                                { $$ = named(S_FN, LOC(@1), $2, LOC(@2)); $$->args = $4.head; $$->body = $6.head; $$->endloc = LOC(@6); }
  | FOR IDENT IN expr DOTDOT expr block
                                { $$ = named(S_FOR, LOC(@1), $2, LOC(@2)); $$->expr = $4; $$->expr2 = $6; $$->body = $7.head; }
  | RETURN expr                 { $$ = st(S_RETURN, LOC(@1)); $$->expr = $2; }
  | IMPORT STRING               { $$ = named(S_IMPORT, LOC(@1), $2, LOC(@2)); }
  ;

type:
    dtype                       { $$ = NEW(TypeAst); $$->dtype = $1; $$->loc = LOC(@1); }
  | dtype '[' exprlist ']'      { $$ = NEW(TypeAst); $$->dtype = $1; $$->dims = $3.head; $$->loc = LOC(@1); }
  ;

dtype: F32 { $$ = DT_F32; } | F64 { $$ = DT_F64; } | I32 { $$ = DT_I32; } ;

names:
    IDENT                       { Ast *a = mk(A_NAME, LOC(@1)); a->name = $1; $$ = alist(a); }
  | names ',' IDENT             { Ast *a = mk(A_NAME, LOC(@3)); a->name = $3; $$ = aappend($1, a); }
  ;

params:
    %empty                      { $$ = (AList){0}; }
  | names                       { $$ = $1; }
  ;

expr:
    expr EQ expr                { $$ = bin(B_EQ, $1, $3, LOC(@2)); }
  | expr NE expr                { $$ = bin(B_NE, $1, $3, LOC(@2)); }
  | expr '<' expr               { $$ = bin(B_LT, $1, $3, LOC(@2)); }
  | expr LE expr                { $$ = bin(B_LE, $1, $3, LOC(@2)); }
  | expr '>' expr               { $$ = bin(B_GT, $1, $3, LOC(@2)); }
  | expr GE expr                { $$ = bin(B_GE, $1, $3, LOC(@2)); }
  | expr '+' expr               { $$ = bin(B_ADD, $1, $3, LOC(@2)); }
  | expr '-' expr               { $$ = bin(B_SUB, $1, $3, LOC(@2)); }
  | expr '*' expr               { $$ = bin(B_MUL, $1, $3, LOC(@2)); }
  | expr '/' expr               { $$ = bin(B_DIV, $1, $3, LOC(@2)); }
  | expr '@' expr               { $$ = bin(B_MATMUL, $1, $3, LOC(@2)); }
  | expr POW expr               { $$ = bin(B_POW, $1, $3, LOC(@2)); }
  | '-' expr %prec NEG          { $$ = mk(A_NEG, LOC(@1)); $$->lhs = $2; }
  | postfix                     { $$ = $1; }
  ;

postfix:
    primary                     { $$ = $1; }
  | postfix '.' IDENT           {
                                  if (strcmp($3, "T") != 0 && is_module($1)) {
                                      $$ = mk(A_NAME, LOC(@3));   /* torch.pi: sema explains */
                                      $$->name = arena_printf("%s.%s", $1->name, $3);
                                  } else {
                                      $$ = mk(A_TRANSPOSE, LOC(@3));
                                      $$->lhs = $1;
                                      if (strcmp($3, "T") != 0)
                                          error_at(LOC(@3), "unknown attribute '.%s' (only '.T', the transpose, exists)", $3);
                                  }
                                }
  | postfix '.' IDENT '(' arglist ')'
                                { $$ = dotted_call($1, $3, LOC(@3), $5.head); }
  | postfix '[' items ']'       { $$ = index_of($1, $3.head, LOC(@2)); }
  ;

    /* Slices parse so that sema can say what to write instead. */
items:
    item                        { $$ = alist($1); }
  | items ',' item              { $$ = aappend($1, $3); }
  ;

item:
    expr                        { $$ = $1; }
  | ':'                         { $$ = slice(LOC(@1), NULL, NULL); }
  | expr ':'                    { $$ = slice(LOC(@2), $1, NULL); }
  | ':' expr                    { $$ = slice(LOC(@1), NULL, $2); }
  | expr ':' expr               { $$ = slice(LOC(@2), $1, $3); }
  ;

primary:
    NUM                         { $$ = $1; }
  | IDENT                       { $$ = mk(A_NAME, LOC(@1)); $$->name = $1; }
  | IDENT '(' arglist ')'       { $$ = mk(A_CALL, LOC(@1)); $$->name = $1; $$->args = $3.head; }
  | '(' expr ')'                { $$ = $2; }
  | '(' expr ',' exprlist ')'   {   /* a Python tuple: sema says to write a list */
                                  $$ = mk(A_LIST, LOC(@1));
                                  $2->next = $4.head;
                                  $$->args = $2;
                                  $$->paren = true;
                                }
  | '[' exprlist ']'            { $$ = mk(A_LIST, LOC(@1)); $$->args = $2.head; }
  | STRING                      { $$ = mk(A_STR, LOC(@1)); $$->name = $1; }
  ;

arglist:
    %empty                      { $$ = (AList){0}; }
  | args                        { $$ = $1; }
  ;

args:
    arg                         { $$ = alist($1); }
  | args ',' arg                { $$ = aappend($1, $3); }
  ;

arg:
    expr                        { $$ = $1; }
  | IDENT '=' expr              { $$ = $3; $$->kw = $1; $$->kwloc = LOC(@1); }
  ;

exprlist:
    expr                        { $$ = alist($1); }
  | exprlist ',' expr           { $$ = aappend($1, $3); }
  ;

%%

static void nnerror(NNLTYPE *l, yyscan_t scanner, Parser *P, const char *msg) {
    LexState *ls = nnget_extra(scanner);
    /* A stray character was reported already; what the parser makes of
     * the rest of its line is noise. */
    if (ls->bad_line == l->first_line)
        return;
    /* Bison says "syntax error, unexpected X, expecting Y": keep the useful part. */
    if (strncmp(msg, "syntax error, ", 14) == 0)
        msg += 14;
    if (strcmp(msg, "memory exhausted") == 0)
        msg = "nested too deeply for the parser (more than " YYSTR(YYMAXDEPTH) " levels)";
    error_at(LOC(*l), "%s", msg);
    if (ls->depth > 0 && strstr(msg, "unexpected end of file")) {
        struct Bracket *b = &ls->brackets[ls->depth - 1];
        note_at(b->loc, "'%c' opened here is not closed", b->c);
    }
}
