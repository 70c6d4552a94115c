/*
 * chat.h — the chat layer: a conversation (OpenAI-style messages) to the
 * prompt text a model was trained on.
 *
 * The template comes from, in order of preference:
 *   1. model.json settings.prompt_template, Jan's style: the text with
 *      "{system_message}" and "{prompt}" replaced (e.g.
 *      "<|im_start|>system\n{system_message}<|im_end|>\n<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant");
 *   2. the GGUF's tokenizer.chat_template (Jinja, see tmpl.h), rendered with
 *      messages, tools (when given), add_generation_prompt, bos_token,
 *      eos_token and any extra variables;
 *   3. ChatML.
 * A Jinja template that cannot show a system message (it raises, or the
 * system text does not appear in its output) gets the system message
 * prepended to the first user message ("system\nuser"), as llama.cpp does.
 * Content given as a list of parts is joined into text ("\n" between text
 * parts) unless the Jinja template renders typed content itself.
 * Jan-style templates without a system message get an empty one, so the
 * prompt always starts with the text before {system_message}.
 */
#ifndef TMPL_CHAT_H
#define TMPL_CHAT_H

#include <jansson.h>
#include <stdbool.h>

#include "base/jc.h"

typedef struct chat_template_src {
    const char *prompt_template; /* model.json settings.prompt_template, or NULL/"" */
    const char *jinja;           /* GGUF tokenizer.chat_template, or NULL/"" */
    const char *bos_token;       /* text of the BOS token, or NULL ("") */
    const char *eos_token;       /* text of the EOS token, or NULL ("") */
    const json_t *extra_vars;    /* object of more template variables (chat_template_kwargs, e.g.
                                    enable_thinking), or NULL; never overrides messages/tools */
} chat_template_src;

enum chat_kind { CHAT_KIND_PROMPT_TEMPLATE, CHAT_KIND_JINJA, CHAT_KIND_CHATML };

/* A prepared chat template: parse once per model, apply per request. Immutable; thread-safe. */
typedef struct chat_tmpl chat_tmpl;

/*
 * Prepares the template chosen from src (strings are copied). Returns NULL
 * with err set when the Jinja template does not parse. Caller frees with
 * chat_tmpl_free.
 */
chat_tmpl *chat_tmpl_new(const chat_template_src *src, jc_err *err);
void chat_tmpl_free(chat_tmpl *ct);
enum chat_kind chat_tmpl_kind(const chat_tmpl *ct);
/* "prompt_template", "jinja" or "chatml". */
const char *chat_kind_name(enum chat_kind k);

/*
 * Renders messages (a JSON array of {role, content, ...}; content may be a
 * string or an array of {type:"text", text} parts, which are joined for
 * Jan-style and ChatML templates) and tools (array or NULL). Returns the
 * prompt as a new string the caller frees, or NULL with err set (a bad
 * message, or the template's own error such as raise_exception).
 */
char *chat_tmpl_apply(const chat_tmpl *ct, const json_t *messages, const json_t *tools, bool add_generation_prompt,
                      jc_err *err);

/* One-shot: chat_tmpl_new + chat_tmpl_apply + chat_tmpl_free. */
char *chat_apply(const chat_template_src *src, const json_t *messages, const json_t *tools,
                 bool add_generation_prompt, jc_err *err);

#endif
