/*
 * tmpl_lex.c — the Jinja lexer: template source to tokens (see tmpl_int.h).
 *
 * Text between tags becomes TK_TEXT; {{ ... }} becomes TK_VAR_BEGIN, the
 * expression's tokens, TK_VAR_END; {% ... %} likewise with TK_BLOCK_*.
 * Comments and {% raw %} are resolved here. Whitespace control follows
 * jinja2's lexer with trim_blocks and lstrip_blocks on:
 *   - "{%-", "{{-", "{#-" strip all whitespace before the tag;
 *   - "-%}", "-}}", "-#}" strip all whitespace after it;
 *   - trim_blocks: one newline after a block or comment tag is removed
 *     (not after "+%}");
 *   - lstrip_blocks: spaces and tabs from the start of a line up to a block
 *     or comment tag are removed (not for "{%+" and not for "{{").
 * String literals are decoded with Python's escapes (\n, \t, \xHH, \uXXXX, ...).
 */
#include "tmpl/tmpl_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lexer {
    tarena *a;
    const char *src;
    size_t n, pos;
    int line;
    size_t line_start; /* offset of the current line's first byte */
    ttokens *out;
} lexer;

static _Noreturn void lex_fail(lexer *L, const char *fmt, const char *arg)
{
    char msg[300];
    snprintf(msg, sizeof msg, fmt, arg);
    jc_errf(L->a->err, "template syntax error: line %d:%d: %s", L->line, (int)(L->pos - L->line_start) + 1, msg);
    longjmp(*L->a->jmp, 1);
}

/* Moves pos to to, counting lines. */
static void advance(lexer *L, size_t to)
{
    for (size_t i = L->pos; i < to; i++)
        if (L->src[i] == '\n') {
            L->line++;
            L->line_start = i + 1;
        }
    L->pos = to;
}

static ttoken *emit(lexer *L, int type)
{
    ttokens *t = L->out;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        ttoken *v = ta_array(L->a, cap, sizeof *v);
        if (t->n)
            memcpy(v, t->v, t->n * sizeof *v);
        t->v = v;
        t->cap = cap;
    }
    ttoken *k = &t->v[t->n++];
    memset(k, 0, sizeof *k);
    k->type = (uint8_t)type;
    k->line = L->line;
    k->col = (int)(L->pos - L->line_start) + 1;
    return k;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/*
 * Emits the text [start, end) that precedes a tag, stripped as the tag's
 * modifier (mod) and kind ask. line_starting: the previous tag ended a line.
 */
static void emit_text(lexer *L, size_t start, size_t end, char mod, bool lstrip_ok, bool line_starting)
{
    if (mod == '-') {
        while (end > start && is_ws(L->src[end - 1]))
            end--;
    } else if (mod != '+' && lstrip_ok) {
        size_t l = end;
        while (l > start && L->src[l - 1] != '\n')
            l--;
        bool at_line_start = (l > start) || line_starting; /* a newline in the text, or the text starts a line */
        bool only_ws = true;
        for (size_t i = l; i < end; i++)
            if (L->src[i] != ' ' && L->src[i] != '\t')
                only_ws = false;
        if (at_line_start && only_ws)
            end = l;
    }
    if (end > start) {
        ttoken *k = emit(L, TK_TEXT);
        k->s = L->src + start;
        k->n = end - start;
    }
}

/* After a tag's closing delimiter at pos: applies "-" (all whitespace) or trim_blocks (one newline). */
static void after_tag(lexer *L, char endmod, bool trim)
{
    size_t p = L->pos;
    if (endmod == '-') {
        while (p < L->n && is_ws(L->src[p]))
            p++;
    } else if (endmod != '+' && trim && p < L->n && L->src[p] == '\n') {
        p++;
    }
    advance(L, p);
}

static void put_utf8(char *out, size_t *o, uint32_t cp)
{
    if (cp < 0x80)
        out[(*o)++] = (char)cp;
    else if (cp < 0x800) {
        out[(*o)++] = (char)(0xC0 | (cp >> 6));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xE0 | (cp >> 12));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*o)++] = (char)(0xF0 | (cp >> 18));
        out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads n hex digits at s; -1 if they are not all hex. */
static long read_hex(const char *s, size_t avail, int n)
{
    if (avail < (size_t)n)
        return -1;
    long v = 0;
    for (int i = 0; i < n; i++) {
        int h = hexval(s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Lexes a string literal at pos (opening quote); fills token k. */
static void lex_string(lexer *L, ttoken *k)
{
    char q = L->src[L->pos];
    size_t i = L->pos + 1;
    size_t end = i;
    while (end < L->n && L->src[end] != q) {
        if (L->src[end] == '\\')
            end++;
        end++;
    }
    if (end >= L->n)
        lex_fail(L, "unterminated string literal%s", "");
    /* decoded output is never longer than the source */
    char *out = ta_alloc(L->a, end - i + 1);
    size_t o = 0;
    while (i < end) {
        char c = L->src[i];
        if (c != '\\') {
            out[o++] = c;
            i++;
            continue;
        }
        char e = L->src[i + 1];
        i += 2;
        long cp = -1;
        switch (e) {
        case 'n': out[o++] = '\n'; break;
        case 't': out[o++] = '\t'; break;
        case 'r': out[o++] = '\r'; break;
        case '\\': out[o++] = '\\'; break;
        case '\'': out[o++] = '\''; break;
        case '"': out[o++] = '"'; break;
        case 'a': out[o++] = '\a'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'v': out[o++] = '\v'; break;
        case '\n': break; /* line continuation */
        case 'x':
            cp = read_hex(L->src + i, end - i, 2);
            if (cp < 0)
                lex_fail(L, "bad \\x escape in string literal%s", "");
            i += 2;
            break;
        case 'u':
            cp = read_hex(L->src + i, end - i, 4);
            if (cp < 0)
                lex_fail(L, "bad \\u escape in string literal%s", "");
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && end - i >= 6 && L->src[i] == '\\' && L->src[i + 1] == 'u') {
                long lo = read_hex(L->src + i + 2, end - i - 2, 4);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            break;
        case 'U':
            cp = read_hex(L->src + i, end - i, 8);
            if (cp < 0 || cp > 0x10FFFF)
                lex_fail(L, "bad \\U escape in string literal%s", "");
            i += 8;
            break;
        default:
            if (e >= '0' && e <= '7') {
                cp = e - '0';
                for (int d = 0; d < 2 && i < end && L->src[i] >= '0' && L->src[i] <= '7'; d++)
                    cp = cp * 8 + (L->src[i++] - '0');
            } else { /* unknown escape: kept as written */
                out[o++] = '\\';
                out[o++] = e;
            }
        }
        if (cp >= 0) {
            if (cp >= 0xD800 && cp < 0xE000)
                cp = 0xFFFD;
            put_utf8(out, &o, (uint32_t)cp);
        }
    }
    k->type = TK_STRING;
    k->s = out;
    k->n = o;
    advance(L, end + 1);
}

/* Appends c to a number's text; a literal longer than the buffer is an error. */
static void num_put(lexer *L, char *buf, size_t *b, size_t cap, char c)
{
    if (*b + 1 >= cap)
        lex_fail(L, "number literal too long%s", "");
    buf[(*b)++] = c;
}

static void lex_number(lexer *L, ttoken *k)
{
    size_t i = L->pos;
    char buf[128];
    size_t b = 0;
    bool is_float = false;
    while (i < L->n && (isdigit((unsigned char)L->src[i]) || L->src[i] == '_')) {
        if (L->src[i] != '_')
            num_put(L, buf, &b, sizeof buf, L->src[i]);
        i++;
    }
    if (i + 1 < L->n && L->src[i] == '.' && isdigit((unsigned char)L->src[i + 1])) {
        is_float = true;
        num_put(L, buf, &b, sizeof buf, '.');
        i++;
        while (i < L->n && (isdigit((unsigned char)L->src[i]) || L->src[i] == '_')) {
            if (L->src[i] != '_')
                num_put(L, buf, &b, sizeof buf, L->src[i]);
            i++;
        }
    }
    if (i < L->n && (L->src[i] == 'e' || L->src[i] == 'E')) {
        size_t j = i + 1;
        if (j < L->n && (L->src[j] == '+' || L->src[j] == '-'))
            j++;
        if (j < L->n && isdigit((unsigned char)L->src[j])) {
            is_float = true;
            num_put(L, buf, &b, sizeof buf, 'e');
            for (size_t m = i + 1; m < j; m++)
                num_put(L, buf, &b, sizeof buf, L->src[m]);
            i = j;
            while (i < L->n && isdigit((unsigned char)L->src[i]))
                num_put(L, buf, &b, sizeof buf, L->src[i++]);
        }
    }
    buf[b] = 0;
    if (is_float) {
        k->type = TK_FLOAT;
        k->f = strtod(buf, NULL);
    } else {
        char *endp;
        errno = 0;
        long long v = strtoll(buf, &endp, 10);
        if (errno)
            lex_fail(L, "integer literal %s is too large", buf);
        k->type = TK_INT;
        k->i = v;
    }
    advance(L, i);
}

static const struct {
    const char *s;
    uint8_t op;
} ops[] = {
    {"//", OP_FLOORDIV}, {"**", OP_POW}, {"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE},
    {"+", OP_ADD}, {"-", OP_SUB}, {"*", OP_MUL}, {"/", OP_DIV}, {"%", OP_MOD}, {"~", OP_TILDE},
    {"<", OP_LT}, {">", OP_GT}, {"=", OP_ASSIGN}, {"(", OP_LPAREN}, {")", OP_RPAREN},
    {"[", OP_LBRACKET}, {"]", OP_RBRACKET}, {"{", OP_LBRACE}, {"}", OP_RBRACE}, {",", OP_COMMA},
    {".", OP_DOT}, {":", OP_COLON}, {"|", OP_PIPE},
};

/*
 * Lexes the inside of a tag starting at pos until its closing delimiter
 * ("}}" for variables, "%}" for blocks) at bracket depth 0. Returns the end
 * modifier ('-', '+' or 0) and leaves pos after the delimiter.
 */
static char lex_tag(lexer *L, char close)
{
    int depth = 0;
    int open_line = L->line;
    for (;;) {
        while (L->pos < L->n && is_ws(L->src[L->pos]))
            advance(L, L->pos + 1);
        if (L->pos >= L->n) {
            char msg[64];
            snprintf(msg, sizeof msg, "%d", open_line);
            lex_fail(L, close == '}' ? "unexpected end of template: '{{' opened on line %s is not closed"
                                     : "unexpected end of template: '{%%' opened on line %s is not closed",
                     msg);
        }
        const char *s = L->src + L->pos;
        size_t left = L->n - L->pos;
        if (depth == 0) {
            if (left >= 2 && s[0] == close && s[1] == '}') {
                advance(L, L->pos + 2);
                return 0;
            }
            if (left >= 3 && (s[0] == '-' || s[0] == '+') && s[1] == close && s[2] == '}') {
                advance(L, L->pos + 3);
                return s[0];
            }
        }
        ttoken *k = emit(L, TK_OP);
        char c = s[0];
        if (isalpha((unsigned char)c) || c == '_') {
            size_t i = L->pos;
            while (i < L->n && (isalnum((unsigned char)L->src[i]) || L->src[i] == '_'))
                i++;
            k->type = TK_NAME;
            k->s = s;
            k->n = i - L->pos;
            advance(L, i);
            continue;
        }
        if (isdigit((unsigned char)c)) {
            lex_number(L, k);
            continue;
        }
        if (c == '\'' || c == '"') {
            lex_string(L, k);
            continue;
        }
        bool found = false;
        for (size_t i = 0; i < JC_ARRAY_LEN(ops); i++) {
            size_t len = strlen(ops[i].s);
            if (left >= len && !memcmp(s, ops[i].s, len)) {
                k->op = ops[i].op;
                if (k->op == OP_LPAREN || k->op == OP_LBRACKET || k->op == OP_LBRACE)
                    depth++;
                else if ((k->op == OP_RPAREN || k->op == OP_RBRACKET || k->op == OP_RBRACE) && depth > 0)
                    depth--;
                advance(L, L->pos + len);
                found = true;
                break;
            }
        }
        if (!found) {
            char ch[8];
            snprintf(ch, sizeof ch, "%c", c);
            lex_fail(L, (unsigned char)c >= 0x20 && (unsigned char)c < 0x7f ? "unexpected character '%s'"
                                                                             : "unexpected byte in a tag%s",
                     (unsigned char)c >= 0x20 && (unsigned char)c < 0x7f ? ch : "");
        }
    }
}

/* If a "{% raw %}" tag starts at p (after "{%" and its modifier), returns the offset after "%}", else 0. */
static size_t match_word_tag(const lexer *L, size_t p, const char *word, char *endmod)
{
    while (p < L->n && is_ws(L->src[p]))
        p++;
    size_t w = strlen(word);
    if (L->n - p < w || memcmp(L->src + p, word, w))
        return 0;
    p += w;
    if (p < L->n && (isalnum((unsigned char)L->src[p]) || L->src[p] == '_'))
        return 0;
    while (p < L->n && is_ws(L->src[p]))
        p++;
    *endmod = 0;
    if (p < L->n && (L->src[p] == '-' || L->src[p] == '+'))
        *endmod = L->src[p++];
    if (L->n - p >= 2 && L->src[p] == '%' && L->src[p + 1] == '}')
        return p + 2;
    return 0;
}

void tmpl_lex(tarena *a, const char *src, size_t len, ttokens *out)
{
    lexer L = {.a = a, .src = src, .n = len, .line = 1, .out = out};
    bool line_starting = true;
    while (L.pos < L.n) {
        /* find the next tag */
        size_t t = L.pos;
        const char *hit = NULL;
        while (t + 1 < L.n) {
            hit = memchr(L.src + t, '{', L.n - t - 1);
            if (!hit)
                break;
            t = (size_t)(hit - L.src);
            char c = L.src[t + 1];
            if (c == '{' || c == '%' || c == '#')
                break;
            t++;
            hit = NULL;
        }
        if (!hit || t + 1 >= L.n) {
            emit_text(&L, L.pos, L.n, 0, false, line_starting);
            advance(&L, L.n);
            break;
        }
        char kind = L.src[t + 1];
        char mod = (t + 2 < L.n && (L.src[t + 2] == '-' || L.src[t + 2] == '+')) ? L.src[t + 2] : 0;
        size_t text_start = L.pos;
        emit_text(&L, text_start, t, mod, kind != '{', line_starting);
        advance(&L, t);
        size_t body = t + 2 + (mod ? 1 : 0);

        if (kind == '#') {
            const char *e = NULL;
            for (size_t p = body; p + 1 < L.n; p++)
                if (L.src[p] == '#' && L.src[p + 1] == '}') {
                    e = L.src + p;
                    break;
                }
            if (!e)
                lex_fail(&L, "unclosed comment%s", "");
            size_t endpos = (size_t)(e - L.src);
            char endmod = (endpos > body && (L.src[endpos - 1] == '-' || L.src[endpos - 1] == '+')) ? L.src[endpos - 1] : 0;
            advance(&L, endpos + 2);
            after_tag(&L, endmod, true);
            line_starting = L.pos > 0 && L.src[L.pos - 1] == '\n';
            continue;
        }
        char rawmod;
        size_t after_raw = kind == '%' ? match_word_tag(&L, body, "raw", &rawmod) : 0;
        if (after_raw && rawmod == '+')
            after_raw = 0; /* jinja2 has no "raw +%}": it is an unknown tag */
        if (after_raw) {
            advance(&L, after_raw);
            if (rawmod == '-')
                after_tag(&L, '-', false);
            /* find {% endraw %} */
            size_t p = L.pos, end_tag = 0, after_end = 0;
            char endmod = 0, emod = 0;
            for (; p + 1 < L.n; p++) {
                if (L.src[p] != '{' || L.src[p + 1] != '%')
                    continue;
                emod = (p + 2 < L.n && (L.src[p + 2] == '-' || L.src[p + 2] == '+')) ? L.src[p + 2] : 0;
                after_end = match_word_tag(&L, p + 2 + (emod ? 1 : 0), "endraw", &endmod);
                if (after_end) {
                    end_tag = p;
                    break;
                }
            }
            if (!after_end)
                lex_fail(&L, "missing {%% endraw %%}%s", "");
            emit_text(&L, L.pos, end_tag, emod, true, false);
            advance(&L, after_end);
            after_tag(&L, endmod, true);
            line_starting = L.pos > 0 && L.src[L.pos - 1] == '\n';
            continue;
        }
        emit(&L, kind == '{' ? TK_VAR_BEGIN : TK_BLOCK_BEGIN);
        advance(&L, body);
        char endmod = lex_tag(&L, kind == '{' ? '}' : '%');
        emit(&L, kind == '{' ? TK_VAR_END : TK_BLOCK_END);
        after_tag(&L, endmod, kind == '%');
        line_starting = L.pos > 0 && L.src[L.pos - 1] == '\n';
    }
    emit(&L, TK_EOF);
}
