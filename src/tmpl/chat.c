/*
 * chat.c — the chat layer (see chat.h): OpenAI-style messages to prompt text
 * with Jan's prompt_template, the model's Jinja chat template, or ChatML.
 *
 * Jan's prompt_template ("{system_message}" and "{prompt}") is applied the
 * way Jan's engine did: the text before {system_message} opens the system
 * part, the text between the markers opens each user turn, the text after
 * {prompt} opens each assistant turn (and ends the prompt when a generation
 * prompt is asked for). So a system + user conversation gives exactly the
 * template with both markers replaced.
 *
 * For Jinja templates probe renders at preparation time tell whether the
 * template shows a system message, whether it renders content given as a
 * list of typed parts, and whether it needs that form (string content does
 * not show), and whether it shows tool-call arguments only when they are
 * objects, as llama.cpp does; messages are adapted accordingly (string
 * arguments that hold a JSON object are then parsed).
 */
#include "tmpl/chat.h"

#include <stdlib.h>
#include <string.h>

#include "tmpl/tmpl.h"

#define SYS_NEEDLE "<System Needle 7f3a>"
#define USER_NEEDLE "<User Needle 7f3a>"

struct chat_tmpl {
    enum chat_kind kind;
    tmpl *jinja;
    char *sys_prefix, *user_prefix, *ai_prefix; /* Jan-style pieces */
    char *bos, *eos;
    json_t *extra; /* object or NULL */
    bool supports_system, supports_typed_content, requires_typed_content, requires_object_arguments;
};

const char *chat_kind_name(enum chat_kind k)
{
    switch (k) {
    case CHAT_KIND_PROMPT_TEMPLATE: return "prompt_template";
    case CHAT_KIND_JINJA: return "jinja";
    default: return "chatml";
    }
}

enum chat_kind chat_tmpl_kind(const chat_tmpl *ct)
{
    return ct->kind;
}

void chat_tmpl_free(chat_tmpl *ct)
{
    if (!ct)
        return;
    tmpl_free(ct->jinja);
    free(ct->sys_prefix);
    free(ct->user_prefix);
    free(ct->ai_prefix);
    free(ct->bos);
    free(ct->eos);
    json_decref(ct->extra);
    free(ct);
}

/* Splits a Jan-style template; false when it has no {prompt}. */
static bool split_prompt_template(chat_tmpl *ct, const char *t)
{
    const char *sys = strstr(t, "{system_message}");
    const char *prompt = strstr(t, "{prompt}");
    if (!prompt)
        return false;
    if (sys && sys < prompt) {
        ct->sys_prefix = jc_xstrndup(t, (size_t)(sys - t));
        const char *after = sys + strlen("{system_message}");
        ct->user_prefix = jc_xstrndup(after, (size_t)(prompt - after));
    } else {
        ct->sys_prefix = jc_xstrdup("");
        ct->user_prefix = jc_xstrndup(t, (size_t)(prompt - t));
    }
    ct->ai_prefix = jc_xstrdup(prompt + strlen("{prompt}"));
    return true;
}

/* Renders the Jinja template with the given messages; NULL on a template error. */
static char *render_jinja(const chat_tmpl *ct, json_t *messages, const json_t *tools, bool add_gen, size_t *len,
                          jc_err *err)
{
    json_t *vars = json_object();
    if (ct->extra)
        json_object_update(vars, ct->extra);
    json_object_set(vars, "messages", messages);
    if (tools && json_is_array(tools) && json_array_size(tools) > 0)
        json_object_set(vars, "tools", (json_t *)tools);
    json_object_set_new(vars, "add_generation_prompt", json_boolean(add_gen));
    /* token texts come from the model file and need not be valid UTF-8 */
    json_object_set_new(vars, "bos_token", json_stringn_nocheck(ct->bos, strlen(ct->bos)));
    json_object_set_new(vars, "eos_token", json_stringn_nocheck(ct->eos, strlen(ct->eos)));
    char *out = tmpl_render(ct->jinja, vars, NULL, len, err);
    json_decref(vars);
    return out;
}

/* Renders messages (consumed) and tells whether needle shows, and not inside a printed dict (the repr of a part). */
static bool probe(const chat_tmpl *ct, json_t *messages, const char *needle)
{
    jc_err err = {0};
    size_t len = 0;
    char *out = render_jinja(ct, messages, NULL, false, &len, &err);
    json_decref(messages);
    bool found = out && memmem(out, len, needle, strlen(needle)) != NULL && !memmem(out, len, "'type'", 6) &&
                 !memmem(out, len, "\"type\"", 6);
    free(out);
    return found;
}

static json_t *msg(const char *role, json_t *content)
{
    return json_pack("{s:s, s:o}", "role", role, "content", content);
}

/*
 * Does the template show a tool call's arguments as JSON (a key followed by
 * ':') when they are given as a JSON string (as_string) or as an object?
 */
static bool probe_args(const chat_tmpl *ct, bool as_string)
{
    json_t *args = json_pack("{s:s}", "argument_needle_7f3a", "print('Hello, World!')");
    if (as_string) {
        char *text = json_dumps(args, JSON_COMPACT);
        json_decref(args);
        args = json_string(text);
        free(text);
    }
    json_t *call = json_pack("{s:s, s:s, s:{s:s, s:o}}", "id", "call_1", "type", "function", "function", "name",
                             "ipython", "arguments", args);
    json_t *msgs = json_pack("[o, {s:s, s:s, s:[o]}]", msg("user", json_string("Hey")), "role", "assistant",
                             "content", "", "tool_calls", call);
    jc_err err = {0};
    size_t len = 0;
    char *out = render_jinja(ct, msgs, NULL, false, &len, &err);
    json_decref(msgs);
    static const char dq[] = "\"argument_needle_7f3a\":", sq[] = "'argument_needle_7f3a':";
    bool shown = out && (memmem(out, len, dq, sizeof dq - 1) || memmem(out, len, sq, sizeof sq - 1));
    free(out);
    return shown;
}

chat_tmpl *chat_tmpl_new(const chat_template_src *src, jc_err *err)
{
    chat_tmpl *ct = jc_xcalloc(1, sizeof *ct);
    ct->bos = jc_xstrdup(src && src->bos_token ? src->bos_token : "");
    ct->eos = jc_xstrdup(src && src->eos_token ? src->eos_token : "");
    if (src && src->extra_vars && json_is_object(src->extra_vars))
        ct->extra = json_deep_copy(src->extra_vars);
    ct->kind = CHAT_KIND_CHATML;
    if (src && src->prompt_template && *src->prompt_template) {
        if (split_prompt_template(ct, src->prompt_template)) {
            ct->kind = CHAT_KIND_PROMPT_TEMPLATE;
            return ct;
        }
        jc_warn("settings.prompt_template has no {prompt} marker; using the model's chat template");
    }
    if (src && src->jinja && *src->jinja) {
        ct->jinja = tmpl_parse(src->jinja, strlen(src->jinja), err);
        if (!ct->jinja) {
            jc_err_prefix(err, "chat template");
            chat_tmpl_free(ct);
            return NULL;
        }
        ct->kind = CHAT_KIND_JINJA;
        ct->supports_system = probe(ct, json_pack("[o, o]", msg("system", json_string(SYS_NEEDLE)),
                                                  msg("user", json_string("Hey"))), SYS_NEEDLE);
        ct->supports_typed_content = probe(
            ct, json_pack("[o]", msg("user", json_pack("[{s:s, s:s}]", "type", "text", "text", USER_NEEDLE))),
            USER_NEEDLE);
        ct->requires_typed_content =
            ct->supports_typed_content && !probe(ct, json_pack("[o]", msg("user", json_string(USER_NEEDLE))), USER_NEEDLE);
        bool str_args = probe_args(ct, true), obj_args = probe_args(ct, false);
        ct->requires_object_arguments = obj_args && !str_args;
    }
    return ct;
}

/*
 * The text of a message's content: a string as is, an array of parts as
 * their "text" fields joined by "\n", null/absent as "". Caller frees.
 * NULL (err set) for any other type.
 */
static char *content_text(const json_t *m, size_t idx, jc_err *err)
{
    const json_t *c = json_object_get(m, "content");
    if (!c || json_is_null(c))
        return jc_xstrdup("");
    if (json_is_string(c))
        return jc_xstrndup(json_string_value(c), json_string_length(c));
    if (!json_is_array(c)) {
        jc_errf(err, "messages[%zu].content must be a string or an array of parts", idx);
        return NULL;
    }
    jc_buf b;
    jc_buf_init(&b, SIZE_MAX / 2);
    size_t i;
    json_t *part;
    bool first = true;
    json_array_foreach(c, i, part) {
        const json_t *text = json_object_get(part, "text");
        if (!json_is_string(text))
            continue; /* images and other parts have no text */
        if (!first)
            jc_buf_putc(&b, '\n');
        jc_buf_append(&b, json_string_value(text), json_string_length(text));
        first = false;
    }
    return jc_buf_steal(&b);
}

static int check_messages(const json_t *messages, jc_err *err)
{
    if (!json_is_array(messages))
        return jc_errf(err, "messages must be an array");
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        if (!json_is_object(m))
            return jc_errf(err, "messages[%zu] must be an object", i);
        if (!json_is_string(json_object_get(m, "role")))
            return jc_errf(err, "messages[%zu].role must be a string", i);
    }
    return 0;
}

static char *apply_plain(const chat_tmpl *ct, const json_t *messages, bool add_gen, jc_err *err)
{
    jc_buf sys, turns;
    jc_buf_init(&sys, SIZE_MAX / 2);
    jc_buf_init(&turns, SIZE_MAX / 2);
    bool chatml = ct->kind == CHAT_KIND_CHATML;
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        char *text = content_text(m, i, err);
        if (!text) {
            jc_buf_free(&sys);
            jc_buf_free(&turns);
            return NULL;
        }
        if (chatml) {
            jc_buf_printf(&turns, "<|im_start|>%s\n%s<|im_end|>\n", role, text);
        } else if (!strcmp(role, "system")) {
            jc_buf_puts(&sys, text);
        } else if (!strcmp(role, "assistant")) {
            jc_buf_puts(&turns, ct->ai_prefix);
            jc_buf_puts(&turns, text);
        } else { /* user, tool and anything else: a user turn */
            jc_buf_puts(&turns, ct->user_prefix);
            jc_buf_puts(&turns, text);
        }
        free(text);
    }
    jc_buf out;
    jc_buf_init(&out, SIZE_MAX / 2);
    if (!chatml) {
        jc_buf_puts(&out, ct->sys_prefix);
        jc_buf_append(&out, sys.data ? sys.data : "", sys.len);
    }
    jc_buf_append(&out, turns.data ? turns.data : "", turns.len);
    if (add_gen)
        jc_buf_puts(&out, chatml ? "<|im_start|>assistant\n" : ct->ai_prefix);
    jc_buf_free(&sys);
    jc_buf_free(&turns);
    return jc_buf_steal(&out);
}

/* Replaces tool_calls[].function.arguments given as a JSON string by the object it holds (in a copy). */
static void parse_arguments(json_t *m)
{
    json_t *calls = json_object_get(m, "tool_calls");
    if (!json_is_array(calls))
        return;
    json_t *copy = json_deep_copy(calls);
    size_t i;
    json_t *call;
    json_array_foreach(copy, i, call) {
        json_t *fn = json_object_get(call, "function");
        json_t *args = json_object_get(fn, "arguments");
        if (!json_is_string(args))
            continue;
        json_t *obj = json_loadb(json_string_value(args), json_string_length(args), JSON_DECODE_ANY, NULL);
        if (json_is_object(obj))
            json_object_set_new(fn, "arguments", obj);
        else
            json_decref(obj);
    }
    json_object_set_new(m, "tool_calls", copy);
}

/*
 * Messages adapted to the template: system messages merged into the next
 * user message when the template cannot show them; typed content flattened
 * to text when the template wants strings. Returns a new reference.
 */
static json_t *adapt_messages(const chat_tmpl *ct, const json_t *messages, jc_err *err)
{
    json_t *out = json_array();
    char *pending = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        json_t *c = json_object_get(m, "content");
        json_t *copy = json_copy(m);
        if (!ct->supports_typed_content && c && json_is_array(c)) {
            char *text = content_text(m, i, err);
            if (!text)
                goto fail;
            json_object_set_new(copy, "content", json_string(text));
            free(text);
        } else if (ct->requires_typed_content && c && json_is_string(c)) {
            json_object_set_new(copy, "content", json_pack("[{s:s, s:O}]", "type", "text", "text", c));
        }
        if (ct->requires_object_arguments)
            parse_arguments(copy);
        if (!ct->supports_system) {
            const char *role = json_string_value(json_object_get(m, "role"));
            if (!strcmp(role, "system")) {
                char *text = content_text(copy, i, err);
                if (!text) {
                    json_decref(copy);
                    goto fail;
                }
                char *joined = pending ? jc_xasprintf("%s\n%s", pending, text) : jc_xstrdup(text);
                free(pending);
                free(text);
                pending = joined;
                json_decref(copy);
                continue;
            }
            if (pending && !strcmp(role, "user")) {
                char *text = content_text(copy, i, err);
                if (!text) {
                    json_decref(copy);
                    goto fail;
                }
                char *joined = *text ? jc_xasprintf("%s\n%s", pending, text) : jc_xstrdup(pending);
                json_object_set_new(copy, "content", json_string(joined));
                free(joined);
                free(text);
                free(pending);
                pending = NULL;
            } else if (pending) {
                json_array_append_new(out, msg("user", json_string(pending)));
                free(pending);
                pending = NULL;
            }
        }
        json_array_append_new(out, copy);
    }
    if (pending)
        json_array_append_new(out, msg("user", json_string(pending)));
    free(pending);
    return out;
fail:
    free(pending);
    json_decref(out);
    return NULL;
}

char *chat_tmpl_apply(const chat_tmpl *ct, const json_t *messages, const json_t *tools, bool add_generation_prompt,
                      jc_err *err)
{
    if (check_messages(messages, err) != 0)
        return NULL;
    if (ct->kind != CHAT_KIND_JINJA)
        return apply_plain(ct, messages, add_generation_prompt, err);
    json_t *adapted = adapt_messages(ct, messages, err);
    if (!adapted)
        return NULL;
    char *out = render_jinja(ct, adapted, tools, add_generation_prompt, NULL, err);
    json_decref(adapted);
    return out;
}

char *chat_apply(const chat_template_src *src, const json_t *messages, const json_t *tools,
                 bool add_generation_prompt, jc_err *err)
{
    chat_tmpl *ct = chat_tmpl_new(src, err);
    if (!ct)
        return NULL;
    char *out = chat_tmpl_apply(ct, messages, tools, add_generation_prompt, err);
    chat_tmpl_free(ct);
    return out;
}
