/* parser.y: the .dlm grammar, producing the AST declared in dlc.h.
 *
 * Pure and reentrant: all state lives in the Parser passed to dlmparse(). Syntax errors are reported through
 * the diagnostics of dlc.h with their location, and error productions resynchronise at the end of the
 * statement, so one run reports every syntax error of a file. */

%require "3.8"
%define api.pure full
%define api.prefix {dlm}
%define parse.error custom
%define parse.lac full
%locations
%expect 0

%code requires {
#include <stdbool.h>
#include <stdint.h>
typedef void *yyscan_t;
struct Parser;
}

%param {yyscan_t scanner}
%parse-param {struct Parser *ps}

%code provides {
int dlmlex(DLMSTYPE *lval, DLMLTYPE *lloc, yyscan_t scanner);
void dlmerror(DLMLTYPE *loc, yyscan_t scanner, struct Parser *ps, const char *msg);
}

%code {
#include "dlc.h"
static Loc parse_loc(struct Parser *ps, const DLMLTYPE *l) {
    return parse_loc_raw(ps->src, l->first_line, l->first_column, l->last_line, l->last_column);
}
#define L(loc) parse_loc(ps, &(loc))
}

%union {
    struct { double v; int64_t i; bool is_int; } num;
    char *str;
    struct Node *node;
    struct NodeList *list;
    int tok;
}

%token <num> NUMBER "number"
%token <str> IDENT "name" STRING "string"
%token INPUT "'input'" OUTPUT "'output'" PARAM "'param'" CONST "'const'" STATE "'state'" BLOCK "'block'" RETURN "'return'"
%token FOR "'for'" IN "'in'" WHILE "'while'" IF "'if'" ELSE "'else'" INIT "'init'" TRAIN "'train'"
%token BATCH "'batch'" AS "'as'" AND "'and'" OR "'or'" NOT "'not'" TRUE "'true'" FALSE "'false'" SELF "'self'"
%token NEWLINE "end of line" PIPE "'|>'" POW "'**'" EQ "'=='" NE "'!='" LE "'<='" GE "'>='" UPDATE "':='"
%token ADD_ASSIGN "'+='" SUB_ASSIGN "'-='" MUL_ASSIGN "'*='" DIV_ASSIGN "'/='"

%type <node> toplevel stmt block_def train_def if_stmt expr primary postfix arg for_target subscript opt_expr
%type <list> stmts params args opt_args exprs ident_list subscripts
%type <tok> compound_op
%type <str> keyword

%left PIPE
%left OR
%left AND
%precedence NOT
%nonassoc EQ NE '<' LE '>' GE
%left '+' '-'
%left '*' '/' '@'
%precedence UMINUS
%right POW

%%

file:
      %empty
    | file toplevel             { if ($2) nodelist_push(ps->ctx, &ps->program->items, $2); }
    | file NEWLINE
    | file error NEWLINE        { yyerrok; ps->lexer->skip_to = -1; ps->lexer->depth = 0; }
    ;

toplevel:
      stmt NEWLINE              { $$ = $1; }
    | block_def NEWLINE         { $$ = $1; }
    | train_def NEWLINE         { $$ = $1; }
    ;

block_def:
      BLOCK IDENT '(' params ')' '{' stmts '}' {
          $$ = node_new(ps->ctx, N_BLOCKDEF, L(@2));
          $$->name = $2;
          $$->params = *$4;
          $$->body = *$7;
      }
    ;

train_def:
      TRAIN '{' stmts '}' {
          $$ = node_new(ps->ctx, N_TRAIN, L(@1));
          $$->body = *$3;
      }
    ;

params:
      %empty                    { $$ = nodelist_new(ps->ctx); }
    | ident_list                { $$ = $1; }
    ;

ident_list:
      IDENT {
          $$ = nodelist_new(ps->ctx);
          nodelist_push(ps->ctx, $$, node_ident(ps->ctx, $1, L(@1)));
      }
    | ident_list ',' IDENT      { $$ = $1; nodelist_push(ps->ctx, $$, node_ident(ps->ctx, $3, L(@3))); }
    ;

stmts:
      %empty                    { $$ = nodelist_new(ps->ctx); }
    | stmts stmt NEWLINE        { $$ = $1; nodelist_push(ps->ctx, $$, $2); }
    | stmts NEWLINE             { $$ = $1; }
    | stmts error NEWLINE       { $$ = $1; yyerrok; ps->lexer->skip_to = -1; ps->lexer->depth = 0; }
    ;

stmt:
      INPUT IDENT ':' IDENT '[' exprs ']' {
          $$ = node_new(ps->ctx, N_INPUT, L(@2));
          $$->name = $2;
          $$->dtype_name = $4;
          $$->dtype_loc = L(@4);
          $$->args = *$6;
      }
    | INPUT IDENT ':' IDENT '[' ']' {
          $$ = node_new(ps->ctx, N_INPUT, L(@2));
          $$->name = $2;
          $$->dtype_name = $4;
          $$->dtype_loc = L(@4);
      }
    | OUTPUT IDENT              { $$ = node_new(ps->ctx, N_OUTPUT, L(@2)); $$->name = $2; }
    | OUTPUT IDENT '=' expr     { $$ = node_new(ps->ctx, N_OUTPUT, L(@2)); $$->name = $2; $$->a = $4; }
    | PARAM IDENT ':' expr '=' expr {
          $$ = node_new(ps->ctx, N_PARAM, L(@2)); $$->name = $2; $$->a = $4; $$->b = $6;
      }
    | CONST IDENT ':' expr '=' expr {
          $$ = node_new(ps->ctx, N_CONST, L(@2)); $$->name = $2; $$->a = $4; $$->b = $6;
      }
    | STATE IDENT ':' expr '=' expr {
          $$ = node_new(ps->ctx, N_STATE, L(@2)); $$->name = $2; $$->a = $4; $$->b = $6;
      }
    | IDENT UPDATE expr         { $$ = node_new(ps->ctx, N_UPDATE, L(@1)); $$->name = $1; $$->a = $3; }
    | INIT STRING '=' expr      { $$ = node_new(ps->ctx, N_INIT, L(@2)); $$->name = $2; $$->a = $4; }
    | IDENT '=' expr            { $$ = node_new(ps->ctx, N_ASSIGN, L(@1)); $$->name = $1; $$->a = $3; }
    | IDENT compound_op expr {
          /* x += e is x = x + e */
          $$ = node_new(ps->ctx, N_ASSIGN, L(@1));
          $$->name = $1;
          $$->a = node_binary(ps->ctx, N_BINARY, $2, node_ident(ps->ctx, $1, L(@1)), $3, L(@2));
      }
    | IDENT '[' subscripts ']' compound_op expr {
          /* X[i] += e is X[i] = X[i] + e */
          $$ = node_new(ps->ctx, N_ASSIGN, L(@1));
          $$->name = $1;
          Node *part = node_new(ps->ctx, N_INDEX, span(L(@1), L(@4)));
          part->a = node_ident(ps->ctx, $1, L(@1));
          part->args = *$3;
          $$->a = node_binary(ps->ctx, N_BINARY, $5, part, $6, L(@5));
          $$->args = *$3;
          $$->loc = span(L(@1), L(@4));
      }
    | IDENT '[' subscripts ']' '=' expr {
          /* X[i, a:b] = e rebinds X to a new tensor: X with those elements replaced by e (elab's index.c) */
          $$ = node_new(ps->ctx, N_ASSIGN, L(@1));
          $$->name = $1;
          $$->a = $6;
          $$->args = *$3;
          $$->loc = span(L(@1), L(@4));
      }
    | BATCH '=' expr {
          $$ = node_new(ps->ctx, N_ASSIGN, L(@1));
          $$->name = xstrdup(ps->ctx, "batch");
          $$->a = $3;
      }
    | FOR for_target IN expr '{' stmts '}' {
          $$ = node_new(ps->ctx, N_FOR, L(@1)); $$->a = $2; $$->b = $4; $$->body = *$6;
      }
    | WHILE expr IDENT expr '{' stmts '}' {
          $$ = node_new(ps->ctx, N_WHILE, L(@1)); $$->a = $2; $$->b = $4; $$->body = *$6;
          if (strcmp($3, "max") != 0)
              parse_error(ps, L(@3), "expected 'max' and an iteration bound after the loop condition, found '%s'", $3);
      }
    | WHILE expr '{' stmts '}' {
          $$ = node_new(ps->ctx, N_WHILE, L(@1)); $$->a = $2; $$->body = *$4;
          parse_error(ps, L(@3), "expected 'max' and an iteration bound after the loop condition, found '{': "
                                 "while cond max 100 { ... }");
      }
    | keyword '=' expr {
          $$ = node_new(ps->ctx, N_ASSIGN, L(@1)); $$->name = $1; $$->a = $3;
          parse_error(ps, L(@1), "'%s' is a keyword and cannot name a value; choose another name, such as '%s_'", $1, $1);
      }
    | if_stmt                   { $$ = $1; }
    | RETURN expr               { $$ = node_new(ps->ctx, N_RETURN, L(@1)); $$->a = $2; }
    ;

if_stmt:
      IF expr '{' stmts '}'     { $$ = node_new(ps->ctx, N_IF, L(@1)); $$->a = $2; $$->body = *$4; }
    | IF expr '{' stmts '}' ELSE '{' stmts '}' {
          $$ = node_new(ps->ctx, N_IF, L(@1)); $$->a = $2; $$->body = *$4; $$->orelse = *$8;
      }
    | IF expr '{' stmts '}' ELSE if_stmt {
          $$ = node_new(ps->ctx, N_IF, L(@1)); $$->a = $2; $$->body = *$4; nodelist_push(ps->ctx, &$$->orelse, $7);
      }
    ;

/* the keywords a statement `keyword = value` may have meant as a name */
keyword:
      INPUT                     { $$ = "input"; }
    | OUTPUT                    { $$ = "output"; }
    | CONST                     { $$ = "const"; }
    | BLOCK                     { $$ = "block"; }
    | RETURN                    { $$ = "return"; }
    | FOR                       { $$ = "for"; }
    | IN                        { $$ = "in"; }
    | WHILE                     { $$ = "while"; }
    | IF                        { $$ = "if"; }
    | INIT                      { $$ = "init"; }
    | TRAIN                     { $$ = "train"; }
    | AS                        { $$ = "as"; }
    | AND                       { $$ = "and"; }
    | OR                        { $$ = "or"; }
    | NOT                       { $$ = "not"; }
    | TRUE                      { $$ = "true"; }
    | FALSE                     { $$ = "false"; }
    | SELF                      { $$ = "self"; }
    ;

compound_op:
      ADD_ASSIGN                { $$ = '+'; }
    | SUB_ASSIGN                { $$ = '-'; }
    | MUL_ASSIGN                { $$ = '*'; }
    | DIV_ASSIGN                { $$ = '/'; }
    ;

for_target:
      IDENT                     { $$ = node_ident(ps->ctx, $1, L(@1)); }
    | '(' ident_list ')'        { $$ = node_new(ps->ctx, N_TUPLE, L(@1)); $$->args = *$2; }
    ;

expr:
      postfix                   { $$ = $1; }
    | expr PIPE expr            { $$ = node_binary(ps->ctx, N_PIPE, PIPE, $1, $3, L(@2)); }
    | expr OR expr              { $$ = node_binary(ps->ctx, N_BINARY, OR, $1, $3, L(@2)); }
    | expr AND expr             { $$ = node_binary(ps->ctx, N_BINARY, AND, $1, $3, L(@2)); }
    | NOT expr                  { $$ = node_unary(ps->ctx, NOT, $2, L(@1)); }
    | expr EQ expr              { $$ = node_binary(ps->ctx, N_BINARY, EQ, $1, $3, L(@2)); }
    | expr NE expr              { $$ = node_binary(ps->ctx, N_BINARY, NE, $1, $3, L(@2)); }
    | expr '<' expr             { $$ = node_binary(ps->ctx, N_BINARY, '<', $1, $3, L(@2)); }
    | expr LE expr              { $$ = node_binary(ps->ctx, N_BINARY, LE, $1, $3, L(@2)); }
    | expr '>' expr             { $$ = node_binary(ps->ctx, N_BINARY, '>', $1, $3, L(@2)); }
    | expr GE expr              { $$ = node_binary(ps->ctx, N_BINARY, GE, $1, $3, L(@2)); }
    | expr '+' expr             { $$ = node_binary(ps->ctx, N_BINARY, '+', $1, $3, L(@2)); }
    | expr '-' expr             { $$ = node_binary(ps->ctx, N_BINARY, '-', $1, $3, L(@2)); }
    | expr '*' expr             { $$ = node_binary(ps->ctx, N_BINARY, '*', $1, $3, L(@2)); }
    | expr '/' expr             { $$ = node_binary(ps->ctx, N_BINARY, '/', $1, $3, L(@2)); }
    | expr '@' expr             { $$ = node_binary(ps->ctx, N_BINARY, '@', $1, $3, L(@2)); }
    | expr POW expr             { $$ = node_binary(ps->ctx, N_BINARY, POW, $1, $3, L(@2)); }
    | '-' expr %prec UMINUS     { $$ = node_unary(ps->ctx, '-', $2, L(@1)); }
    ;

postfix:
      primary                   { $$ = $1; }
    | postfix '(' opt_args ')'  {
          $$ = node_new(ps->ctx, N_CALL, L(@1)); $$->a = $1; $$->args = *$3; $$->loc = span(L(@1), L(@4));
      }
    | postfix '[' subscripts ']' {
          $$ = node_new(ps->ctx, N_INDEX, span($1->loc, L(@4))); $$->a = $1; $$->args = *$3;
      }
    | postfix '.' IDENT         { $$ = node_new(ps->ctx, N_ATTR, L(@3)); $$->a = $1; $$->name = $3; }
    | postfix AS IDENT          {
          $$ = $1;
          if ($1->kind != N_CALL && $1->kind != N_IDENT)
              parse_error(ps, L(@2), "only a layer call can be named with 'as'");
          else
              $1->label = $3, $1->label_loc = L(@3);
      }
    ;

primary:
      NUMBER                    { $$ = node_new(ps->ctx, N_NUMBER, L(@1)); $$->num = $1.v; $$->inum = $1.i; $$->is_int = $1.is_int; }
    | STRING                    { $$ = node_new(ps->ctx, N_STRING, L(@1)); $$->name = $1; }
    | TRUE                      { $$ = node_new(ps->ctx, N_BOOL, L(@1)); $$->num = 1; }
    | FALSE                     { $$ = node_new(ps->ctx, N_BOOL, L(@1)); $$->num = 0; }
    | SELF                      { $$ = node_new(ps->ctx, N_SELF, L(@1)); }
    | BATCH                     { $$ = node_new(ps->ctx, N_BATCH, L(@1)); }
    | IDENT                     { $$ = node_ident(ps->ctx, $1, L(@1)); }
    | PARAM                     { $$ = node_ident(ps->ctx, xstrdup(ps->ctx, "param"), L(@1)); }
    | '(' expr ')'              { $$ = $2; }
    | '(' expr ',' ')'          { $$ = node_new(ps->ctx, N_TUPLE, L(@1)); nodelist_push(ps->ctx, &$$->args, $2); }
    | '(' expr ',' exprs ')'    {
          $$ = node_new(ps->ctx, N_TUPLE, L(@1)); nodelist_push(ps->ctx, &$$->args, $2);
          for (int i = 0; i < $4->n; i++)
              nodelist_push(ps->ctx, &$$->args, $4->v[i]);
      }
    | '[' ']'                   { $$ = node_new(ps->ctx, N_LIST, L(@1)); }
    | '[' exprs ']'             { $$ = node_new(ps->ctx, N_LIST, L(@1)); $$->args = *$2; }
    ;

/* X[i], X[a:b], X[a:b:s, i]: each subscript an expression or a slice (N_SLICE: a, b, c = start, stop, step,
 * each NULL when left out) */
subscripts:
      subscript                 { $$ = nodelist_new(ps->ctx); nodelist_push(ps->ctx, $$, $1); }
    | subscripts ',' subscript  { $$ = $1; nodelist_push(ps->ctx, $$, $3); }
    ;

subscript:
      expr                      { $$ = $1; }
    | opt_expr ':' opt_expr {
          $$ = node_new(ps->ctx, N_SLICE, $1 ? span($1->loc, L(@2)) : L(@2)); $$->a = $1; $$->b = $3;
          if ($3) $$->loc = span($$->loc, $3->loc);
      }
    | opt_expr ':' opt_expr ':' opt_expr {
          $$ = node_new(ps->ctx, N_SLICE, $1 ? span($1->loc, L(@4)) : span(L(@2), L(@4)));
          $$->a = $1; $$->b = $3;
          if ($5) { nodelist_push(ps->ctx, &$$->args, $5); $$->loc = span($$->loc, $5->loc); }
      }
    ;

opt_expr:
      %empty                    { $$ = NULL; }
    | expr                      { $$ = $1; }
    ;

exprs:
      expr                      { $$ = nodelist_new(ps->ctx); nodelist_push(ps->ctx, $$, $1); }
    | exprs ',' expr            { $$ = $1; nodelist_push(ps->ctx, $$, $3); }
    ;

opt_args:
      %empty                    { $$ = nodelist_new(ps->ctx); }
    | args                      { $$ = $1; }
    | args ','                  { $$ = $1; }
    ;

args:
      arg                       { $$ = nodelist_new(ps->ctx); nodelist_push(ps->ctx, $$, $1); }
    | args ',' arg              { $$ = $1; nodelist_push(ps->ctx, $$, $3); }
    ;

arg:
      expr                      { $$ = $1; }
    | IDENT '=' expr            { $$ = node_new(ps->ctx, N_KWARG, L(@1)); $$->name = $1; $$->a = $3; }
    | TRAIN '=' expr {
          $$ = node_new(ps->ctx, N_KWARG, L(@1));
          $$->name = xstrdup(ps->ctx, "train");
          $$->a = $3;
      }
    ;

%%

void dlmerror(DLMLTYPE *loc, yyscan_t scanner, struct Parser *ps, const char *msg) {
    (void)scanner;
    /* bison's stack is full: say what in the file does it */
    if (strcmp(msg, "memory exhausted") == 0)
        msg = "expressions or statements nest too deeply here for the parser (about 10000 levels)";
    parse_error(ps, parse_loc(ps, loc), "%s", msg);
}

/* "syntax error, unexpected X, expecting Y". The tokens that may continue an expression are summed up as "an
 * operator" and those that may start one as "an expression", so the message names what the statement needed
 * ("expecting '=' or an operator") where bison's own says nothing past four alternatives. */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, struct Parser *ps) {
    (void)scanner;
    /* an unclosed bracket would hide every later line end from the parser: recover at the end of the line
     * the statement began on, past any braces opened since (parse.c) */
    Lexer *lx = ps->lexer;
    int open = lx->depth;
    lx->depth = 0;
    lx->skip_to = lx->prev_stmt_braces;
    yysymbol_kind_t exp[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
    bool want[YYNTOKENS] = {false};
    for (int i = 0; i < n; i++)
        want[exp[i]] = true;
    const yysymbol_kind_t starts[] = {YYSYMBOL_NUMBER, YYSYMBOL_IDENT, YYSYMBOL_STRING, YYSYMBOL_TRUE,
        YYSYMBOL_FALSE, YYSYMBOL_SELF, YYSYMBOL_BATCH, YYSYMBOL_PARAM, YYSYMBOL_NOT, YYTRANSLATE('-'),
        YYTRANSLATE('('), YYTRANSLATE('['), YYSYMBOL_TRAIN /* train= as an argument name */};
    const yysymbol_kind_t ops[] = {YYSYMBOL_PIPE, YYSYMBOL_OR, YYSYMBOL_AND, YYSYMBOL_EQ, YYSYMBOL_NE,
        YYSYMBOL_LE, YYSYMBOL_GE, YYSYMBOL_POW, YYSYMBOL_AS, YYTRANSLATE('<'), YYTRANSLATE('>'),
        YYTRANSLATE('+'), YYTRANSLATE('-'), YYTRANSLATE('*'), YYTRANSLATE('/'), YYTRANSLATE('@'),
        YYTRANSLATE('('), YYTRANSLATE('['), YYTRANSLATE('.')};
    /* after a statement's name, '=' stands for the compound assignments and a subscript assignment too */
    if (want[YYTRANSLATE('=')] && want[YYSYMBOL_ADD_ASSIGN]) {
        want[YYSYMBOL_ADD_ASSIGN] = want[YYSYMBOL_SUB_ASSIGN] = false;
        want[YYSYMBOL_MUL_ASSIGN] = want[YYSYMBOL_DIV_ASSIGN] = want[YYTRANSLATE('[')] = false;
    }
    bool expr = want[YYSYMBOL_NUMBER], op = want[YYTRANSLATE('+')];
    for (size_t i = 0; expr && i < sizeof starts / sizeof starts[0]; i++)
        want[starts[i]] = false;
    for (size_t i = 0; op && i < sizeof ops / sizeof ops[0]; i++)
        want[ops[i]] = false;
    const char *list[YYNTOKENS + 2];
    int k = 0;
    for (int i = 0; i < YYNTOKENS; i++)
        if (want[i] && i != YYSYMBOL_YYerror && i != YYSYMBOL_YYUNDEF)
            list[k++] = yysymbol_name((yysymbol_kind_t)i);
    if (expr)
        list[k++] = "an expression";
    if (op)
        list[k++] = "an operator";
    char *msg = xsprintf(ps->ctx, "syntax error, unexpected %s", yysymbol_name(yypcontext_token(ctx)));
    if (k > 0 && k <= 5)
        for (int i = 0; i < k; i++)
            msg = xsprintf(ps->ctx, "%s%s%s", msg, i == 0 ? ", expecting " : i == k - 1 ? " or " : ", ", list[i]);
    parse_error(ps, parse_loc(ps, yypcontext_location(ctx)), "%s", msg);
    /* a bracket still open is the likely cause when the parser wanted it closed */
    if (open > 0 && open <= MAX_OPEN) {
        OpenBracket *b = &lx->open[open - 1];
        int close = b->tok == '(' ? ')' : ']';
        if (want[YYTRANSLATE(close)])
            note_at(parse_loc_raw(ps->src, b->line, b->col, b->line, b->col), "the '%c' opened here is not closed",
                    (char)b->tok);
    }
    return 0;
}
