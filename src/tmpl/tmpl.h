/*
 * tmpl.h — the Jinja template engine used for chat templates.
 *
 * Implements the part of Jinja2 (3.1) that chat templates use, with the
 * semantics of Hugging Face transformers' chat-template environment:
 * trim_blocks and lstrip_blocks on, loop controls (break/continue), tojson
 * with ensure_ascii=False, raise_exception(msg), strftime_now(fmt) (UTC, from
 * $SOURCE_DATE_EPOCH when set), {% generation %} blocks rendering their body.
 * docs/templates.md lists what is supported and the known differences.
 *
 * Pipeline: tmpl_lex.c (source -> tokens) -> tmpl_parse.c (tokens -> AST) ->
 * tmpl_eval.c (tree-walking evaluator over tmpl_value.c's values) with the
 * filters, tests and methods of tmpl_filters.c. A parsed template is
 * immutable and may be rendered by several threads at once.
 *
 * Templates are untrusted input: rendering is bounded in output size, in
 * evaluation steps (loop iterations, calls), in nesting depth, in memory and
 * in time; every error names the template line (and column for syntax errors).
 */
#ifndef TMPL_H
#define TMPL_H

#include <jansson.h>

#include "base/jc.h"

/* Bounds on one render. Zero fields take the defaults below. */
typedef struct tmpl_limits {
    size_t max_output;  /* bytes of output; default TMPL_DEFAULT_MAX_OUTPUT */
    uint64_t max_steps; /* loop iterations + macro calls (range() longer than this is refused); default
                           TMPL_DEFAULT_MAX_STEPS */
    unsigned max_depth; /* nesting of macro calls; default TMPL_DEFAULT_MAX_DEPTH (evaluation recursion has
                           its own fixed bound) */
    double max_seconds; /* wall-clock time of one render (checked at every step); default TMPL_DEFAULT_MAX_SECONDS */
} tmpl_limits;

#define TMPL_DEFAULT_MAX_OUTPUT ((size_t)4 << 20)
#define TMPL_DEFAULT_MAX_STEPS ((uint64_t)1000000)
#define TMPL_DEFAULT_MAX_DEPTH 100u
#define TMPL_DEFAULT_MAX_SECONDS 10.0

typedef struct tmpl tmpl;

/*
 * Parses a template of len bytes (need not be NUL-terminated). Returns a new
 * template the caller frees with tmpl_free, or NULL with err naming
 * "line L:C" and what was wrong.
 */
tmpl *tmpl_parse(const char *src, size_t len, jc_err *err);

/* Frees a template; NULL is fine. */
void tmpl_free(tmpl *t);

/*
 * Renders t with the global variables of the JSON object vars (NULL: none).
 * vars is not modified. lim may be NULL (defaults). Returns the output as a
 * new NUL-terminated string the caller frees (*out_len, if not NULL, gets its
 * length; the output may contain NUL bytes only if the template printed
 * them), or NULL with err set ("line L: message"); raise_exception(msg) gives
 * an error whose message contains msg.
 */
char *tmpl_render(const tmpl *t, const json_t *vars, const tmpl_limits *lim, size_t *out_len, jc_err *err);

/* Convenience: parse + render + free. Same ownership as tmpl_render. */
char *tmpl_render_src(const char *src, size_t len, const json_t *vars, const tmpl_limits *lim, size_t *out_len,
                      jc_err *err);

#endif
