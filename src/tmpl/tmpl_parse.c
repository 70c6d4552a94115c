/*
 * tmpl_parse.c — the Jinja parser: tokens to an AST (see tmpl_int.h), and
 * tmpl_parse(), the entry point of parsing.
 *
 * Expression grammar and precedence follow jinja2's parser:
 *   cond:    or ['if' or ['else' cond]]
 *   or/and/not, compare (== != < <= > >= in, not in), + -, ~, * / // %, **,
 *   unary (- +), primary with postfix (.name, [key], [a:b:c], (args)),
 *   then filters (|name(args)) and tests (is [not] name [args]).
 * Statements: if/elif/else, for (with 'if' filter and else), set (also
 * ns.attr and block form), macro, call, filter, break, continue, do,
 * generation (renders its body), raw (in the lexer).
 * Nesting is bounded so a hostile template cannot overflow the stack.
 */
#include "tmpl/tmpl_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARSE_MAX_DEPTH 200

typedef struct parser {
    tarena *a;
    const ttoken *t;
    size_t n, i;
    int depth;
    int soft; /* inside an if: unknown filters/tests become runtime errors, as in jinja2 */
} parser;

static _Noreturn void pfail(parser *P, const char *fmt, ...) JC_PRINTF(2, 3);
static _Noreturn void pfail(parser *P, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const ttoken *k = &P->t[P->i < P->n ? P->i : P->n - 1];
    jc_errf(P->a->err, "template syntax error: line %d:%d: %s", k->line, k->col, msg);
    longjmp(*P->a->jmp, 1);
}

static const ttoken *cur(parser *P)
{
    return &P->t[P->i];
}

static void next(parser *P)
{
    if (P->t[P->i].type != TK_EOF)
        P->i++;
}

static bool is_op(parser *P, int op)
{
    return cur(P)->type == TK_OP && cur(P)->op == op;
}

static bool is_name(parser *P, const char *s)
{
    const ttoken *k = cur(P);
    return k->type == TK_NAME && k->n == strlen(s) && !memcmp(k->s, s, k->n);
}

static bool is_name_at(parser *P, size_t i, const char *s)
{
    if (P->i + i >= P->n)
        return false;
    const ttoken *k = &P->t[P->i + i];
    return k->type == TK_NAME && k->n == strlen(s) && !memcmp(k->s, s, k->n);
}

static const char *tok_desc(const ttoken *k)
{
    switch (k->type) {
    case TK_EOF: return "end of template";
    case TK_TEXT: return "text";
    case TK_VAR_BEGIN: return "'{{'";
    case TK_VAR_END: return "'}}'";
    case TK_BLOCK_BEGIN: return "'{%'";
    case TK_BLOCK_END: return "'%}'";
    case TK_NAME: return "a name";
    case TK_STRING: return "a string";
    case TK_INT:
    case TK_FLOAT: return "a number";
    default: return "an operator";
    }
}

static void expect_op(parser *P, int op, const char *what)
{
    if (!is_op(P, op))
        pfail(P, "expected '%s', got %s", what, tok_desc(cur(P)));
    next(P);
}

static tnode *mk(parser *P, int kind)
{
    tnode *n = ta_alloc(P->a, sizeof *n);
    n->kind = (uint8_t)kind;
    n->line = cur(P)->line;
    return n;
}

static void push(parser *P, tnodes *l, tnode *n)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        tnode **v = ta_array(P->a, cap, sizeof *v);
        if (l->n)
            memcpy(v, l->v, l->n * sizeof *v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = n;
}

static void enter(parser *P)
{
    if (++P->depth > PARSE_MAX_DEPTH)
        pfail(P, "template nested more than %d levels deep", PARSE_MAX_DEPTH);
}

static tnode *parse_expr(parser *P);
static tnode *parse_or(parser *P);
static tnode *parse_unary(parser *P, bool with_filter);
static tnode *parse_primary(parser *P);
static tnode *parse_postfix(parser *P, tnode *n);

/* Parses call arguments after '(' up to and including ')'. */
static void parse_args(parser *P, targs *args)
{
    size_t kwcap = 0;
    expect_op(P, OP_LPAREN, "(");
    while (!is_op(P, OP_RPAREN)) {
        if (args->pos.n + args->kwval.n > 0)
            expect_op(P, OP_COMMA, ",");
        if (is_op(P, OP_RPAREN))
            break;
        if (cur(P)->type == TK_NAME && P->i + 1 < P->n && P->t[P->i + 1].type == TK_OP &&
            P->t[P->i + 1].op == OP_ASSIGN) {
            const ttoken *k = cur(P);
            next(P);
            next(P);
            if (args->kwval.n == kwcap) {
                size_t cap = kwcap ? kwcap * 2 : 4;
                const char **nn = ta_array(P->a, cap, sizeof *nn);
                size_t *nl = ta_array(P->a, cap, sizeof *nl);
                if (args->kwval.n) {
                    memcpy(nn, args->kwname, args->kwval.n * sizeof *nn);
                    memcpy(nl, args->kwlen, args->kwval.n * sizeof *nl);
                }
                args->kwname = nn;
                args->kwlen = nl;
                kwcap = cap;
            }
            args->kwname[args->kwval.n] = k->s;
            args->kwlen[args->kwval.n] = k->n;
            push(P, &args->kwval, parse_expr(P));
        } else {
            if (is_op(P, OP_MUL) || is_op(P, OP_POW))
                pfail(P, "*args and **kwargs are not supported");
            if (args->kwval.n)
                pfail(P, "positional argument after a keyword argument");
            push(P, &args->pos, parse_expr(P));
        }
    }
    next(P);
}

/* A dotted name for filters and tests (jinja2 allows "a.b"). */
static void parse_dotted_name(parser *P, tnode *n, const char *what)
{
    if (cur(P)->type != TK_NAME)
        pfail(P, "expected a %s name, got %s", what, tok_desc(cur(P)));
    n->name = cur(P)->s;
    n->name_len = cur(P)->n;
    next(P);
}

static tnode *parse_filter(parser *P, tnode *left)
{
    tnode *n = mk(P, N_FILTER);
    parse_dotted_name(P, n, "filter");
    n->a = left;
    n->fn = tmpl_find_filter(n->name, n->name_len);
    if (!n->fn && !P->soft)
        pfail(P, "no filter named '%.*s'", (int)n->name_len, n->name);
    if (is_op(P, OP_LPAREN))
        parse_args(P, &n->args);
    return n;
}

static tnode *parse_test(parser *P, tnode *left)
{
    tnode *n = mk(P, N_TEST);
    if (is_name(P, "not")) {
        n->op = 1;
        next(P);
    }
    parse_dotted_name(P, n, "test");
    n->a = left;
    n->fn = tmpl_find_test(n->name, n->name_len);
    if (!n->fn && !P->soft)
        pfail(P, "no test named '%.*s'", (int)n->name_len, n->name);
    const ttoken *k = cur(P);
    if (is_op(P, OP_LPAREN)) {
        parse_args(P, &n->args);
    } else if ((k->type == TK_NAME || k->type == TK_STRING || k->type == TK_INT || k->type == TK_FLOAT ||
                (k->type == TK_OP && (k->op == OP_LBRACKET || k->op == OP_LBRACE))) &&
               !is_name(P, "else") && !is_name(P, "or") && !is_name(P, "and") && !is_name(P, "if") &&
               !is_name(P, "is")) {
        enter(P);
        tnode *arg = parse_postfix(P, parse_primary(P));
        P->depth--;
        push(P, &n->args.pos, arg);
    }
    return n;
}

/* Filters and tests after a unary expression. */
static tnode *parse_filter_expr(parser *P, tnode *n)
{
    for (;;) {
        if (is_op(P, OP_PIPE)) {
            next(P);
            n = parse_filter(P, n);
            n = parse_postfix(P, n);
        } else if (is_name(P, "is")) {
            next(P);
            n = parse_test(P, n);
        } else
            return n;
    }
}

static tnode *parse_subscript(parser *P, tnode *obj)
{
    tnode *n = mk(P, N_GETITEM);
    n->a = obj;
    next(P); /* [ */
    tnode *parts[3] = {NULL, NULL, NULL};
    int nparts = 1;
    bool is_slice = false;
    for (;;) {
        if (is_op(P, OP_RBRACKET))
            break;
        if (is_op(P, OP_COLON)) {
            is_slice = true;
            if (nparts == 3)
                pfail(P, "too many ':' in a slice");
            nparts++;
            next(P);
            continue;
        }
        if (parts[nparts - 1])
            pfail(P, "expected ']' or ':', got %s", tok_desc(cur(P)));
        parts[nparts - 1] = parse_expr(P);
    }
    next(P);
    if (is_slice) {
        n->kind = N_SLICE;
        n->b = parts[0];
        n->c = parts[1];
        n->body2.n = 0;
        if (parts[2]) {
            push(P, &n->body2, parts[2]);
        }
    } else {
        n->b = parts[0]; /* NULL for "a[]": undefined, as llama.cpp's cases expect */
    }
    return n;
}

static tnode *parse_postfix(parser *P, tnode *n)
{
    for (;;) {
        if (is_op(P, OP_DOT)) {
            next(P);
            tnode *g = mk(P, N_GETATTR);
            g->a = n;
            if (cur(P)->type == TK_NAME) {
                g->name = cur(P)->s;
                g->name_len = cur(P)->n;
                next(P);
            } else if (cur(P)->type == TK_INT) { /* x.0: item 0 */
                g->kind = N_GETITEM;
                g->b = mk(P, N_CONST);
                g->b->val = tv_int(cur(P)->i);
                next(P);
            } else
                pfail(P, "expected an attribute name after '.', got %s", tok_desc(cur(P)));
            n = g;
        } else if (is_op(P, OP_LBRACKET)) {
            n = parse_subscript(P, n);
        } else if (is_op(P, OP_LPAREN)) {
            tnode *c = mk(P, N_CALL);
            c->a = n;
            parse_args(P, &c->args);
            n = c;
        } else
            return n;
    }
}

/* After '(' : a parenthesised expression or a tuple. */
static tnode *parse_paren(parser *P)
{
    tnode *t = mk(P, N_TUPLE);
    next(P);
    if (is_op(P, OP_RPAREN)) {
        next(P);
        return t;
    }
    tnode *first = parse_expr(P);
    if (is_op(P, OP_RPAREN)) {
        next(P);
        return first;
    }
    push(P, &t->body, first);
    while (is_op(P, OP_COMMA)) {
        next(P);
        if (is_op(P, OP_RPAREN))
            break;
        push(P, &t->body, parse_expr(P));
    }
    expect_op(P, OP_RPAREN, ")");
    return t;
}

static tnode *parse_primary(parser *P)
{
    const ttoken *k = cur(P);
    tnode *n;
    enter(P);
    switch (k->type) {
    case TK_NAME:
        n = mk(P, N_CONST);
        if ((k->n == 4 && (!memcmp(k->s, "true", 4) || !memcmp(k->s, "True", 4))))
            n->val = tv_bool(true);
        else if (k->n == 5 && (!memcmp(k->s, "false", 5) || !memcmp(k->s, "False", 5)))
            n->val = tv_bool(false);
        else if (k->n == 4 && (!memcmp(k->s, "none", 4) || !memcmp(k->s, "None", 4)))
            n->val = tv_none();
        else {
            n->kind = N_NAME;
            n->name = k->s;
            n->name_len = k->n;
        }
        next(P);
        break;
    case TK_STRING: {
        n = mk(P, N_CONST);
        /* adjacent string literals concatenate */
        size_t total = 0, j = P->i;
        while (j < P->n && P->t[j].type == TK_STRING)
            total += P->t[j++].n;
        if (j == P->i + 1) {
            n->val = tv_strn(k->s, k->n);
            next(P);
        } else {
            char *s = ta_alloc(P->a, total + 1);
            size_t o = 0;
            while (cur(P)->type == TK_STRING) {
                memcpy(s + o, cur(P)->s, cur(P)->n);
                o += cur(P)->n;
                next(P);
            }
            n->val = tv_strn(s, total);
        }
        break;
    }
    case TK_INT:
        n = mk(P, N_CONST);
        n->val = tv_int(k->i);
        next(P);
        break;
    case TK_FLOAT:
        n = mk(P, N_CONST);
        n->val = tv_float(k->f);
        next(P);
        break;
    case TK_OP:
        if (k->op == OP_LPAREN) {
            n = parse_paren(P);
            break;
        }
        if (k->op == OP_LBRACKET) {
            n = mk(P, N_LIST);
            next(P);
            while (!is_op(P, OP_RBRACKET)) {
                if (n->body.n)
                    expect_op(P, OP_COMMA, ",");
                if (is_op(P, OP_RBRACKET))
                    break;
                push(P, &n->body, parse_expr(P));
            }
            next(P);
            break;
        }
        if (k->op == OP_LBRACE) {
            n = mk(P, N_DICT);
            next(P);
            while (!is_op(P, OP_RBRACE)) {
                if (n->body.n)
                    expect_op(P, OP_COMMA, ",");
                if (is_op(P, OP_RBRACE))
                    break;
                push(P, &n->body, parse_expr(P));
                expect_op(P, OP_COLON, ":");
                push(P, &n->body2, parse_expr(P));
            }
            next(P);
            break;
        }
        /* fallthrough */
    default: pfail(P, "unexpected %s", tok_desc(k));
    }
    P->depth--;
    return n;
}

static tnode *parse_unary(parser *P, bool with_filter)
{
    tnode *n;
    enter(P);
    if (is_op(P, OP_SUB) || is_op(P, OP_ADD)) {
        n = mk(P, N_UNOP);
        n->op = is_op(P, OP_SUB) ? OP_NEG : OP_POS;
        next(P);
        n->a = parse_unary(P, false);
    } else
        n = parse_primary(P);
    n = parse_postfix(P, n);
    if (with_filter)
        n = parse_filter_expr(P, n);
    P->depth--;
    return n;
}

static tnode *binop(parser *P, int op, tnode *l, tnode *r)
{
    tnode *n = mk(P, N_BINOP);
    n->op = (uint8_t)op;
    n->a = l;
    n->b = r;
    return n;
}

static tnode *parse_pow(parser *P)
{
    tnode *l = parse_unary(P, true);
    while (is_op(P, OP_POW)) {
        next(P);
        l = binop(P, OP_POW, l, parse_unary(P, true));
    }
    return l;
}

static tnode *parse_mul(parser *P)
{
    tnode *l = parse_pow(P);
    while (is_op(P, OP_MUL) || is_op(P, OP_DIV) || is_op(P, OP_FLOORDIV) || is_op(P, OP_MOD)) {
        int op = cur(P)->op;
        next(P);
        l = binop(P, op, l, parse_pow(P));
    }
    return l;
}

static tnode *parse_concat(parser *P)
{
    tnode *l = parse_mul(P);
    while (is_op(P, OP_TILDE)) {
        next(P);
        l = binop(P, OP_TILDE, l, parse_mul(P));
    }
    return l;
}

static tnode *parse_add(parser *P)
{
    tnode *l = parse_concat(P);
    while (is_op(P, OP_ADD) || is_op(P, OP_SUB)) {
        int op = cur(P)->op;
        next(P);
        l = binop(P, op, l, parse_concat(P));
    }
    return l;
}

static tnode *parse_compare(parser *P)
{
    tnode *first = parse_add(P);
    tnode *n = NULL;
    for (;;) {
        int op;
        if (cur(P)->type == TK_OP && (cur(P)->op == OP_EQ || cur(P)->op == OP_NE || cur(P)->op == OP_LT ||
                                      cur(P)->op == OP_LE || cur(P)->op == OP_GT || cur(P)->op == OP_GE)) {
            op = cur(P)->op;
            next(P);
        } else if (is_name(P, "in")) {
            op = OP_IN;
            next(P);
        } else if (is_name(P, "not") && is_name_at(P, 1, "in")) {
            op = OP_NOTIN;
            next(P);
            next(P);
        } else
            break;
        if (!n) {
            n = mk(P, N_COMPARE);
            push(P, &n->body2, first);
        }
        size_t k = n->body2.n - 1;
        uint8_t *ops = ta_alloc(P->a, k + 1);
        if (k)
            memcpy(ops, n->ops, k);
        ops[k] = (uint8_t)op;
        n->ops = ops;
        push(P, &n->body2, parse_add(P));
    }
    return n ? n : first;
}

static tnode *parse_not(parser *P)
{
    if (is_name(P, "not")) {
        tnode *n = mk(P, N_UNOP);
        n->op = OP_NOT;
        next(P);
        enter(P);
        n->a = parse_not(P);
        P->depth--;
        return n;
    }
    return parse_compare(P);
}

static tnode *parse_and(parser *P)
{
    tnode *l = parse_not(P);
    while (is_name(P, "and")) {
        next(P);
        tnode *n = mk(P, N_AND);
        n->a = l;
        n->b = parse_not(P);
        l = n;
    }
    return l;
}

static tnode *parse_or(parser *P)
{
    tnode *l = parse_and(P);
    while (is_name(P, "or")) {
        next(P);
        tnode *n = mk(P, N_OR);
        n->a = l;
        n->b = parse_and(P);
        l = n;
    }
    return l;
}

static tnode *parse_expr(parser *P)
{
    enter(P);
    tnode *n = parse_or(P);
    while (is_name(P, "if")) {
        next(P);
        tnode *c = mk(P, N_COND);
        P->soft++;
        c->a = parse_or(P); /* condition */
        c->b = n;           /* then */
        if (is_name(P, "else")) {
            next(P);
            c->c = parse_expr(P);
        }
        P->soft--;
        n = c;
    }
    P->depth--;
    return n;
}

/* An expression or an unparenthesised tuple ("a, b"), as in {{ }} and set. */
static tnode *parse_tuple_expr(parser *P)
{
    tnode *first = parse_expr(P);
    if (!is_op(P, OP_COMMA))
        return first;
    tnode *t = mk(P, N_TUPLE);
    push(P, &t->body, first);
    while (is_op(P, OP_COMMA)) {
        next(P);
        if (cur(P)->type == TK_BLOCK_END || cur(P)->type == TK_VAR_END)
            break;
        push(P, &t->body, parse_expr(P));
    }
    return t;
}

/* Assignment targets: name, ns.attr, or "a, b" / "(a, b)". */
static void parse_targets(parser *P, tnodes *targets, bool allow_attr)
{
    bool paren = false;
    if (is_op(P, OP_LPAREN)) {
        paren = true;
        next(P);
    }
    for (;;) {
        if (cur(P)->type != TK_NAME)
            pfail(P, "expected a variable name, got %s", tok_desc(cur(P)));
        tnode *n = mk(P, N_NAME);
        n->name = cur(P)->s;
        n->name_len = cur(P)->n;
        next(P);
        if (allow_attr && is_op(P, OP_DOT)) {
            next(P);
            if (cur(P)->type != TK_NAME)
                pfail(P, "expected an attribute name, got %s", tok_desc(cur(P)));
            tnode *g = mk(P, N_GETATTR);
            g->a = n;
            g->name = cur(P)->s;
            g->name_len = cur(P)->n;
            next(P);
            n = g;
        }
        push(P, targets, n);
        if (!is_op(P, OP_COMMA))
            break;
        next(P);
    }
    if (paren)
        expect_op(P, OP_RPAREN, ")");
}

static void end_block(parser *P)
{
    if (cur(P)->type != TK_BLOCK_END)
        pfail(P, "expected '%%}', got %s", tok_desc(cur(P)));
    next(P);
}

/*
 * Parses statements into body until a block tag whose name is one of ends
 * (NULL-terminated); returns the index of the end tag found, leaving the
 * parser on that tag's name. ends NULL: until the end of the template.
 */
static int parse_body(parser *P, tnodes *body, const char *const *ends, const char *opener, int open_line);

static tnode *parse_macro_params(parser *P, tnode *n)
{
    if (!is_op(P, OP_LPAREN))
        return n;
    next(P);
    while (!is_op(P, OP_RPAREN)) {
        if (n->args.pos.n)
            expect_op(P, OP_COMMA, ",");
        if (cur(P)->type != TK_NAME)
            pfail(P, "expected a parameter name, got %s", tok_desc(cur(P)));
        tnode *p = mk(P, N_NAME);
        p->name = cur(P)->s;
        p->name_len = cur(P)->n;
        next(P);
        tnode *def = NULL;
        if (is_op(P, OP_ASSIGN)) {
            next(P);
            def = parse_expr(P);
        }
        push(P, &n->args.pos, p);
        push(P, &n->args.kwval, def);
    }
    next(P);
    return n;
}

static tnode *parse_statement(parser *P)
{
    int line = cur(P)->line;
    next(P); /* {% */
    if (cur(P)->type != TK_NAME)
        pfail(P, "expected a tag name, got %s", tok_desc(cur(P)));
    const ttoken *k = cur(P);
    tnode *n;
    enter(P);
    if (is_name(P, "if")) {
        next(P);
        n = mk(P, N_IF);
        n->line = line;
        P->soft++;
        n->a = parse_expr(P);
        end_block(P);
        static const char *const ends[] = {"elif", "else", "endif", NULL};
        int e = parse_body(P, &n->body, ends, "if", line);
        tnode *tail = n;
        while (e == 0) { /* elif: a nested if in the else branch */
            int l2 = cur(P)->line;
            next(P);
            tnode *m = mk(P, N_IF);
            m->line = l2;
            m->a = parse_expr(P);
            end_block(P);
            push(P, &tail->body2, m);
            tail = m;
            e = parse_body(P, &m->body, ends, "if", line);
        }
        if (e == 1) {
            next(P);
            end_block(P);
            static const char *const ends2[] = {"endif", NULL};
            parse_body(P, &tail->body2, ends2, "if", line);
        }
        next(P);
        end_block(P);
        P->soft--;
    } else if (is_name(P, "for")) {
        next(P);
        n = mk(P, N_FOR);
        n->line = line;
        parse_targets(P, &n->targets, false);
        if (!is_name(P, "in"))
            pfail(P, "expected 'in' in a for loop, got %s", tok_desc(cur(P)));
        next(P);
        n->a = parse_or(P); /* no conditional expression: 'if' filters the loop */
        if (is_name(P, "if")) {
            next(P);
            n->b = parse_expr(P);
        }
        if (is_name(P, "recursive"))
            pfail(P, "recursive for loops are not supported");
        end_block(P);
        static const char *const ends[] = {"else", "endfor", NULL};
        int e = parse_body(P, &n->body, ends, "for", line);
        if (e == 0) {
            next(P);
            end_block(P);
            static const char *const ends2[] = {"endfor", NULL};
            parse_body(P, &n->body2, ends2, "for", line);
        }
        next(P);
        end_block(P);
    } else if (is_name(P, "set")) {
        next(P);
        n = mk(P, N_SET);
        n->line = line;
        parse_targets(P, &n->targets, true);
        if (is_op(P, OP_ASSIGN)) {
            next(P);
            n->a = parse_tuple_expr(P);
            end_block(P);
        } else {
            if (n->targets.n != 1 || n->targets.v[0]->kind != N_NAME)
                pfail(P, "a set block assigns one name");
            n->kind = N_SET_BLOCK;
            tnode *body = mk(P, N_BODY);
            n->a = body;
            while (is_op(P, OP_PIPE)) { /* {% set x | filter %} */
                next(P);
                tnode *f = parse_filter(P, NULL);
                f->a = n->b;
                n->b = f;
            }
            end_block(P);
            static const char *const ends[] = {"endset", NULL};
            parse_body(P, &body->body, ends, "set", line);
            next(P);
            end_block(P);
        }
    } else if (is_name(P, "macro") || is_name(P, "call")) {
        bool is_call = is_name(P, "call");
        next(P);
        n = mk(P, is_call ? N_CALL_BLOCK : N_MACRO);
        n->line = line;
        if (is_call) {
            parse_macro_params(P, n);
            n->a = parse_expr(P);
            if (n->a->kind != N_CALL)
                pfail(P, "expected a macro call in a call block");
        } else {
            if (cur(P)->type != TK_NAME)
                pfail(P, "expected a macro name, got %s", tok_desc(cur(P)));
            n->name = cur(P)->s;
            n->name_len = cur(P)->n;
            next(P);
            parse_macro_params(P, n);
        }
        end_block(P);
        static const char *const mends[] = {"endmacro", NULL};
        static const char *const cends[] = {"endcall", NULL};
        parse_body(P, &n->body, is_call ? cends : mends, is_call ? "call" : "macro", line);
        next(P);
        if (!is_call && cur(P)->type == TK_NAME)
            next(P); /* {% endmacro name %} */
        end_block(P);
    } else if (is_name(P, "filter")) {
        next(P);
        n = mk(P, N_FILTER_BLOCK);
        n->line = line;
        tnode *f = parse_filter(P, NULL);
        while (is_op(P, OP_PIPE)) {
            next(P);
            tnode *g = parse_filter(P, f);
            f = g;
        }
        n->b = f;
        end_block(P);
        static const char *const ends[] = {"endfilter", NULL};
        parse_body(P, &n->body, ends, "filter", line);
        next(P);
        end_block(P);
    } else if (is_name(P, "generation")) {
        next(P);
        end_block(P);
        n = mk(P, N_BODY);
        n->line = line;
        static const char *const ends[] = {"endgeneration", NULL};
        parse_body(P, &n->body, ends, "generation", line);
        next(P);
        end_block(P);
    } else if (is_name(P, "break") || is_name(P, "continue")) {
        n = mk(P, is_name(P, "break") ? N_BREAK : N_CONTINUE);
        next(P);
        end_block(P);
    } else if (is_name(P, "do")) {
        next(P);
        n = mk(P, N_DO);
        n->line = line;
        n->a = parse_tuple_expr(P);
        end_block(P);
    } else {
        pfail(P, "unknown tag '%.*s'", (int)k->n, k->s);
    }
    P->depth--;
    return n;
}

static int parse_body(parser *P, tnodes *body, const char *const *ends, const char *opener, int open_line)
{
    for (;;) {
        const ttoken *k = cur(P);
        switch (k->type) {
        case TK_EOF:
            if (ends)
                pfail(P, "unexpected end of template: '%s' block opened on line %d is not closed", opener, open_line);
            return -1;
        case TK_TEXT: {
            tnode *n = mk(P, N_TEXT);
            n->val = tv_strn(k->s, k->n);
            push(P, body, n);
            next(P);
            break;
        }
        case TK_VAR_BEGIN: {
            next(P);
            tnode *n = mk(P, N_OUTPUT);
            n->a = parse_tuple_expr(P);
            if (cur(P)->type != TK_VAR_END)
                pfail(P, "expected '}}', got %s", tok_desc(cur(P)));
            next(P);
            push(P, body, n);
            break;
        }
        case TK_BLOCK_BEGIN: {
            if (P->i + 1 < P->n && P->t[P->i + 1].type == TK_NAME) {
                const ttoken *name = &P->t[P->i + 1];
                if (ends) {
                    for (int e = 0; ends[e]; e++)
                        if (name->n == strlen(ends[e]) && !memcmp(name->s, ends[e], name->n)) {
                            next(P); /* leave the parser on the name */
                            return e;
                        }
                }
                static const char *const closers[] = {"endif", "endfor", "endmacro", "endcall", "endset", "endfilter",
                                                      "endgeneration", "elif", "else", "endraw", NULL};
                for (int e = 0; closers[e]; e++)
                    if (name->n == strlen(closers[e]) && !memcmp(name->s, closers[e], name->n)) {
                        next(P);
                        if (ends)
                            pfail(P, "unexpected '%s' in a '%s' block opened on line %d", closers[e], opener, open_line);
                        pfail(P, "unexpected '%s'", closers[e]);
                    }
            }
            push(P, body, parse_statement(P));
            break;
        }
        default: pfail(P, "unexpected %s", tok_desc(k));
        }
    }
}

tnode *tmpl_parse_tokens(tarena *a, const ttokens *toks)
{
    parser P = {.a = a, .t = toks->v, .n = toks->n};
    tnode *root = mk(&P, N_BODY);
    parse_body(&P, &root->body, NULL, NULL, 0);
    return root;
}

tmpl *tmpl_parse(const char *src, size_t len, jc_err *err)
{
    jmp_buf jmp;
    tmpl *t = jc_xcalloc(1, sizeof *t);
    if (len > TMPL_DEFAULT_MAX_OUTPUT * 4) {
        jc_errf(err, "template is %zu bytes, more than the limit of %zu", len, TMPL_DEFAULT_MAX_OUTPUT * 4);
        free(t);
        return NULL;
    }
    ta_init(&t->arena, 256 * len + ((size_t)4 << 20), &jmp, err);
    if (setjmp(jmp)) {
        ta_free(&t->arena);
        free(t);
        return NULL;
    }
    /* jinja2 normalises newlines and drops one trailing newline (keep_trailing_newline=False) */
    char *s = ta_alloc(&t->arena, len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            s[o++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n')
                i++;
        } else
            s[o++] = src[i];
    }
    if (o > 0 && s[o - 1] == '\n')
        o--;
    ttokens toks = {0};
    tmpl_lex(&t->arena, s, o, &toks);
    t->root = tmpl_parse_tokens(&t->arena, &toks);
    t->arena.jmp = NULL; /* the jmp_buf dies with this frame */
    return t;
}

void tmpl_free(tmpl *t)
{
    if (!t)
        return;
    ta_free(&t->arena);
    free(t);
}
