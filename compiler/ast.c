/* ast.c: constructors for the syntax tree the parser builds. */
#include "dlc.h"
#include "parser.h"

NodeList *nodelist_new(Ctx *ctx) { return xalloc(ctx, sizeof(NodeList)); }

void nodelist_push(Ctx *ctx, NodeList *l, Node *n) { vec_push(ctx, l, n); }

Node *node_new(Ctx *ctx, NodeKind kind, Loc loc) {
    Node *n = xalloc(ctx, sizeof(Node));
    n->kind = kind;
    n->loc = loc;
    return n;
}

Node *node_ident(Ctx *ctx, char *name, Loc loc) {
    Node *n = node_new(ctx, N_IDENT, loc);
    n->name = name;
    return n;
}

Node *node_binary(Ctx *ctx, NodeKind kind, int op, Node *a, Node *b, Loc loc) {
    Node *n = node_new(ctx, kind, span(a->loc, b->loc));
    (void)loc;
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

Node *node_unary(Ctx *ctx, int op, Node *a, Loc loc) {
    Node *n = node_new(ctx, N_UNARY, span(loc, a->loc));
    n->op = op;
    n->a = a;
    return n;
}

const char *token_spelling(int op) {
    switch (op) {
    case PIPE:
        return "|>";
    case OR:
        return "or";
    case AND:
        return "and";
    case NOT:
        return "not";
    case EQ:
        return "==";
    case NE:
        return "!=";
    case LE:
        return "<=";
    case GE:
        return ">=";
    case POW:
        return "**";
    case '<':
        return "<";
    case '>':
        return ">";
    case '+':
        return "+";
    case '-':
        return "-";
    case '*':
        return "*";
    case '/':
        return "/";
    case '@':
        return "@";
    default:
        return "?";
    }
}
