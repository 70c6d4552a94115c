/*
 * tmpl_int.h — private header of the Jinja engine (see tmpl.h): the arena,
 * the value type, the tokens, the AST and the render context shared by
 * tmpl_value.c, tmpl_lex.c, tmpl_parse.c, tmpl_eval.c and tmpl_filters.c.
 *
 * Memory: everything a parse or a render creates lives in one arena (tarena)
 * freed at once; values point into it and are never freed one by one. The
 * arena has a byte budget, so a hostile template runs out of budget, not of
 * memory.
 *
 * Errors: parser and evaluator stop on the first error by longjmp to the
 * entry point (tmpl_parse / tmpl_render), which owns every resource (arena,
 * output buffer) and frees it there. This is the one place janc uses
 * longjmp: a tree-walking interpreter would otherwise check a return code
 * after every one of its thousands of recursive calls. Nothing between the
 * setjmp and the longjmp owns memory outside the arena.
 */
#ifndef TMPL_INT_H
#define TMPL_INT_H

#include <jansson.h>
#include <setjmp.h>

#include "base/jc.h"
#include "tmpl/tmpl.h"

/* ---- arena ---- */

typedef struct tarena_chunk tarena_chunk;
typedef struct tarena {
    tarena_chunk *head;
    size_t used;   /* bytes handed out, in all chunks */
    size_t budget; /* maximum of used */
    jmp_buf *jmp;  /* where to go when the budget is exceeded (NULL: abort) */
    jc_err *err;
} tarena;

void ta_init(tarena *a, size_t budget, jmp_buf *jmp, jc_err *err);
void ta_free(tarena *a);
/* Zeroed memory for n bytes, 16-aligned; longjmps with an error past the budget. */
void *ta_alloc(tarena *a, size_t n);
/* n elements of size each, overflow-checked. */
void *ta_array(tarena *a, size_t n, size_t size);
char *ta_strndup(tarena *a, const char *s, size_t n);

/* ---- values ---- */

enum tv_type {
    TV_UNDEF, /* jinja2's Undefined: prints "", iterates as empty, is falsy */
    TV_NONE,
    TV_BOOL,
    TV_INT,
    TV_FLOAT,
    TV_STR,
    TV_LIST,
    TV_TUPLE, /* a list that prints with () */
    TV_DICT,
    TV_NS,   /* namespace(): a dict whose items are attributes */
    TV_FUNC, /* macro, caller, builtin global or bound method */
    TV_LOOP, /* the loop variable of a for loop */
};

typedef struct tlist tlist;
typedef struct tdict tdict;
typedef struct tfunc tfunc;
typedef struct tloop tloop;

typedef struct tv {
    uint8_t t;    /* enum tv_type */
    uint8_t safe; /* TV_STR marked safe (|safe, macro output) */
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *p; /* not NUL-terminated in general */
            size_t n;
        } s;
        tlist *l;
        tdict *d;
        tfunc *fn;
        tloop *loop;
        const char *uname; /* TV_UNDEF: what was undefined (for messages), or NULL */
    };
} tv;

struct tlist {
    tv *v;
    size_t n, cap;
};

struct tdict {
    tv *k, *v;
    size_t n, cap;
};

struct tloop {
    tlist *items; /* what the loop iterates */
    size_t index0;
    int depth;
};

/* ---- tokens ---- */

enum tok_type {
    TK_EOF,
    TK_TEXT,
    TK_VAR_BEGIN,
    TK_VAR_END,
    TK_BLOCK_BEGIN,
    TK_BLOCK_END,
    TK_NAME,
    TK_STRING,
    TK_INT,
    TK_FLOAT,
    TK_OP,
};

enum tok_op {
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_TILDE,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_ASSIGN,
    OP_LPAREN, OP_RPAREN, OP_LBRACKET, OP_RBRACKET, OP_LBRACE, OP_RBRACE,
    OP_COMMA, OP_DOT, OP_COLON, OP_PIPE,
    /* not lexed; used by the AST */
    OP_IN, OP_NOTIN, OP_AND, OP_OR, OP_NOT, OP_NEG, OP_POS,
};

typedef struct ttoken {
    uint8_t type; /* enum tok_type */
    uint8_t op;   /* TK_OP: enum tok_op */
    int line, col;
    const char *s; /* TK_TEXT/TK_NAME/TK_STRING: decoded bytes in the arena */
    size_t n;
    int64_t i;
    double f;
} ttoken;

typedef struct ttokens {
    ttoken *v;
    size_t n, cap;
} ttokens;

/*
 * Lexes src (already newline-normalised) into tokens in arena a, applying
 * trim_blocks, lstrip_blocks and the -/+ whitespace modifiers. Longjmps on
 * error with "line L:C: ..." in a->err.
 */
void tmpl_lex(tarena *a, const char *src, size_t len, ttokens *out);

/* ---- AST ---- */

enum node_kind {
    /* statements */
    N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SET_BLOCK, N_MACRO, N_CALL_BLOCK, N_FILTER_BLOCK,
    N_BREAK, N_CONTINUE, N_BODY, N_DO,
    /* expressions */
    N_CONST, N_NAME, N_GETATTR, N_GETITEM, N_SLICE, N_CALL, N_FILTER, N_TEST, N_BINOP, N_UNOP,
    N_AND, N_OR, N_COMPARE, N_COND, N_LIST, N_TUPLE, N_DICT,
};

typedef struct tnode tnode;

typedef struct tnodes {
    tnode **v;
    size_t n, cap;
} tnodes;

/* Call arguments: positional then keyword. */
typedef struct targs {
    tnodes pos;
    tnodes kwval;
    const char **kwname;
    size_t *kwlen;
} targs;

struct tnode {
    uint8_t kind; /* enum node_kind */
    uint8_t op;   /* N_BINOP/N_UNOP: enum tok_op; N_TEST: negated */
    int line;
    const char *name; /* N_NAME, N_GETATTR attribute, N_FILTER/N_TEST name, N_MACRO name, N_SET_BLOCK target */
    size_t name_len;
    tv val;            /* N_CONST; N_TEXT text */
    tnode *a, *b, *c;  /* operands: object/key, if cond/else, for iter/cond, set value, slice parts */
    tnodes body;       /* N_BODY statements; N_IF then; N_FOR body; N_MACRO body; list/tuple items; dict keys */
    tnodes body2;      /* N_IF else; N_FOR else; dict values; N_COMPARE operands */
    uint8_t *ops;      /* N_COMPARE operators (enum tok_op), body2.n - 1 of them */
    targs args;        /* N_CALL/N_FILTER/N_TEST arguments; N_MACRO/N_CALL_BLOCK params (pos: N_NAME,
                          kwval: defaults aligned to params, NULL when none) */
    tnodes targets;    /* N_FOR/N_SET targets (N_NAME, or N_GETATTR for ns.attr) */
    const void *fn;    /* N_FILTER/N_TEST: resolved table entry, or NULL (unknown: runtime error) */
};

struct tmpl {
    tarena arena;
    tnode *root; /* N_BODY */
};

/* Parses the tokens into an AST in a; longjmps on error. */
tnode *tmpl_parse_tokens(tarena *a, const ttokens *toks);

/* ---- render context ---- */

typedef struct tframe tframe;
struct tframe {
    tframe *parent;
    tdict vars; /* string keys */
};

struct tfunc {
    enum { FN_MACRO, FN_CALLER, FN_BUILTIN, FN_METHOD, FN_LOOP_CYCLE } kind;
    const tnode *node; /* macro or call block */
    tframe *closure;
    tv caller;         /* FN_MACRO called from a call block */
    int builtin;       /* FN_BUILTIN: index */
    tv self;           /* FN_METHOD: the object */
    const char *name;  /* FN_METHOD: method name */
    size_t name_len;
};

typedef struct tctx {
    tarena arena;
    jmp_buf jmp;
    jc_err *err;
    jc_buf out;
    jc_buf scratch; /* stack-like scratch space: see tx_scratch_take */
    tmpl_limits lim;
    uint64_t steps;
    unsigned depth;       /* evaluation recursion */
    unsigned macro_depth; /* macro calls in progress */
    int line;
    tframe *globals;
    int64_t now;     /* strftime_now time, unix seconds */
    double deadline; /* jc_now() past which the render stops */
} tctx;

/* Stops the render: "line L: msg" into ctx->err, then longjmp. */
_Noreturn void tx_fail(tctx *x, const char *fmt, ...) JC_PRINTF(2, 3);
/* Counts one step against the limit. */
void tx_step(tctx *x);

/* values (tmpl_value.c) */
static inline tv tv_undef(const char *name) { tv v = {.t = TV_UNDEF}; v.uname = name; return v; }
static inline tv tv_none(void) { tv v = {.t = TV_NONE}; return v; }
static inline tv tv_bool(bool b) { tv v = {.t = TV_BOOL}; v.b = b; return v; }
static inline tv tv_int(int64_t i) { tv v = {.t = TV_INT}; v.i = i; return v; }
static inline tv tv_float(double f) { tv v = {.t = TV_FLOAT}; v.f = f; return v; }
static inline tv tv_strn(const char *p, size_t n) { tv v = {.t = TV_STR}; v.s.p = p; v.s.n = n; return v; }
tv tv_str_copy(tarena *a, const char *p, size_t n);
tv tv_cstr(const char *s); /* s must outlive the value (a literal) */
tv tv_list_new(tarena *a, size_t cap);
tv tv_dict_new(tarena *a, size_t cap);
void tl_push(tarena *a, tlist *l, tv v);
/* Dict access by key (Python equality: 1 == 1.0 == True). */
tv *td_get(const tdict *d, tv key);
tv *td_get_str(const tdict *d, const char *s, size_t n);
void td_set(tarena *a, tdict *d, tv key, tv val);
bool td_del(tdict *d, tv key);

bool tv_truthy(tv v);
bool tv_is_num(tv v); /* bool, int or float */
double tv_num(tv v);
bool tv_eq(tv a, tv b);
/* Python ordering: -1/0/1; longjmps (TypeError) on unorderable types. */
int tv_cmp(tctx *x, tv a, tv b);
const char *tv_type_name(tv v);
/* str(v) appended to b (jinja2 printing: undefined is ""). */
void tv_str_append(tctx *x, jc_buf *b, tv v);
/* repr(v) appended to b. */
void tv_repr_append(tctx *x, jc_buf *b, tv v);
/* str(v) as a string value (no copy for strings). */
tv tv_to_str(tctx *x, tv v);
/* The bytes written to x->scratch since offset start, as an arena string; truncates scratch back to start. */
tv tx_scratch_take(tctx *x, size_t start);
/* Appends through the context's output limit (fails the render past it). */
void tx_buf_append(tctx *x, jc_buf *b, const void *p, size_t n);
void tx_buf_puts(tctx *x, jc_buf *b, const char *s);
/* Python float repr into buf (at least 32 bytes). */
void tv_float_repr(double f, char *buf, size_t size);
/* json_t to value (strings point into j, which must outlive the render). */
tv tv_from_json(tctx *x, const json_t *j, int depth);
/* json.dumps(v, ensure_ascii, indent (NULL: none), separators, sort_keys). */
void tv_tojson(tctx *x, jc_buf *b, tv v, bool ensure_ascii, const char *indent, const char *item_sep,
               const char *key_sep, bool sort_keys);
/* UTF-8 code points in s. */
size_t tv_utf8_len(const char *p, size_t n);
/* Byte offset of code point index i (clamped to n). */
size_t tv_utf8_offset(const char *p, size_t n, size_t i);

/* filters, tests and methods (tmpl_filters.c) */
typedef struct targv {
    tv *pos;
    size_t npos;
    const char **kwname;
    size_t *kwlen;
    tv *kwval;
    size_t nkw;
} targv;

typedef tv (*tfilter_fn)(tctx *x, tv v, const targv *a);
typedef bool (*ttest_fn)(tctx *x, tv v, const targv *a);

typedef struct tfilter_def {
    const char *name;
    tfilter_fn fn;
} tfilter_def;

typedef struct ttest_def {
    const char *name;
    ttest_fn fn;
} ttest_def;

const tfilter_def *tmpl_find_filter(const char *name, size_t len);
const ttest_def *tmpl_find_test(const char *name, size_t len);
/* Calls method name of obj; *found = false when obj has no such method. */
tv tmpl_call_method(tctx *x, tv obj, const char *name, size_t len, const targv *a, bool *found);
/* True if obj has a method called name (for getattr and `is callable`). */
bool tmpl_has_method(tv obj, const char *name, size_t len);
/* Argument helpers: the i-th positional or the keyword name, else def. */
tv targ(const targv *a, size_t i, const char *kw, tv def);
/* Applies a test by name (select/reject). */
bool tmpl_apply_test(tctx *x, tv v, const char *name, size_t len, const targv *a);
/* Applies a filter by name (map). */
tv tmpl_apply_filter(tctx *x, tv v, const char *name, size_t len, const targv *a);

/* helpers shared by tmpl_filters.c and tmpl_methods.c (defined in tmpl_filters.c) */
tv tf_str_of(tctx *x, tv v);                      /* str(v) */
int64_t tf_want_int(tctx *x, tv v, const char *what); /* an int (or bool), else a TypeError naming what */
tv tf_new_list(tctx *x);
enum tcase { TCASE_UPPER, TCASE_LOWER, TCASE_CAPITALIZE, TCASE_SWAP, TCASE_TITLE_PY, TCASE_TITLE_JINJA };
/* Case mapping (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic) as a new string. */
tv tf_str_case(tctx *x, tv s, enum tcase mode);
tv tf_str_strip(tctx *x, tv s, tv chars, bool left, bool right); /* chars: None = whitespace */
const char *tf_find_sub(const char *h, size_t hn, const char *n, size_t nn);
const char *tf_rfind_sub(const char *h, size_t hn, const char *n, size_t nn);
tv tf_str_replace(tctx *x, tv s, tv old, tv new, int64_t count); /* count < 0: all */
tv tf_str_join(tctx *x, tv sep, tlist *items, tv attr);          /* attr TV_UNDEF: the items themselves */
tv tf_f_items(tctx *x, tv v, const targv *a);     /* dict -> list of (key, value) tuples */
bool tf_t_lower(tctx *x, tv v, const targv *a);
bool tf_t_upper(tctx *x, tv v, const targv *a);
bool tf_in_set(char c, tv chars);                 /* c in chars (None: Python whitespace) */

/* evaluator entry points used by filters (tmpl_eval.c) */
tv tx_getattr(tctx *x, tv obj, const char *name, size_t len);
tv tx_getitem(tctx *x, tv obj, tv key);
tv tx_call(tctx *x, tv fn, const targv *a);
/* Python's "fmt % args" (args: a value or a tuple). */
tv tx_str_percent(tctx *x, tv fmt, tv args);
/* Iterates v into a list (dict: keys; string: characters; undefined: empty). */
tlist *tx_iter(tctx *x, tv v);

#endif
