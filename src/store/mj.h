/*
 * mj.h — model.json: the tolerant reader and the schema/defaults pass.
 * Private to src/store/ (and its tests and fuzz target).
 *
 * Reading: mj_parse accepts strict JSON and what people and Jan's own docs
 * write by hand: // and block comments, trailing commas, a missing comma
 * between members written on separate lines, and missing outer braces. A
 * pre-pass (mj_tolerate) rewrites those into JSON outside strings and keeps
 * a map of the few bytes it inserts, so an error still names the line and
 * column of the original text: "model.json:12:5: expected ',' or '}'".
 *
 * Schema: mj_model builds the Model object the API returns from what the file
 * says: every known field checked and typed ("2048" -> 2048, "true" -> true),
 * defaults filled in, unknown fields kept in their order. A wrong type or a
 * value out of range is an error naming the field (settings.ctx_len).
 */
#ifndef STORE_MJ_H
#define STORE_MJ_H

#include <jansson.h>

#include "base/jc.h"

/* model.json files larger than this are refused without being read. */
#define MJ_MAX_SIZE (1u << 20)

/* Defaults (docs/model-json.md says why). */
#define MJ_DEFAULT_CTX_LEN 2048
#define MJ_IMPORT_CTX_CAP 4096
#define MJ_DEFAULT_NGL 0
#define MJ_DEFAULT_N_PARALLEL 1
#define MJ_DEFAULT_TEMPERATURE 0.7
#define MJ_DEFAULT_TOKEN_LIMIT 2048
#define MJ_DEFAULT_TOP_K 40
#define MJ_DEFAULT_TOP_P 0.95

/*
 * Parses model.json text (len bytes, need not be NUL-terminated) into a JSON
 * object, exactly as written (no defaults). label names the file in errors.
 * NULL on error with err set to "label:LINE:COL: message".
 */
json_t *mj_parse(const char *text, size_t len, const char *label, jc_err *err);

/*
 * Reads and parses a model.json file, refusing one over MJ_MAX_SIZE bytes
 * (checked before reading, and while reading). NULL on error (err set;
 * *too_big set when the size was the reason, if too_big is not NULL).
 * *btime (optional) gets the file's creation time (else mtime), unix seconds.
 */
json_t *mj_load(const char *path, const char *label, bool *too_big, int64_t *btime, jc_err *err);

/* What the folder tells about a model that the file may not say. */
typedef struct mj_ctx {
    const char *id;           /* the folder name */
    const char *dir;          /* the folder's absolute path (for a default file:// source_url) */
    int64_t created;          /* default for "created" (file creation time) */
    const char *main_file;    /* the main GGUF file name in the folder, or NULL */
    const char *const *files; /* model file names in the folder (default assets) */
    size_t n_files;
} mj_ctx;

/*
 * The Model object for raw (a parsed model.json): a new object, defaults
 * filled in, known fields typed; "state" is left as the file says (the store
 * overrides it). NULL on a schema error (err names the field).
 */
json_t *mj_model(const json_t *raw, const mj_ctx *ctx, jc_err *err);

/*
 * Typed reads of a value as model.json may write it. Each returns false when
 * v is absent (NULL) or spells something else; strings are trimmed of
 * surrounding spaces and must spell the whole value.
 */
bool mj_as_int(const json_t *v, int64_t *out);
bool mj_as_num(const json_t *v, double *out);
bool mj_as_bool(const json_t *v, bool *out);

/*
 * The model file a model.json points at, as a file name inside the folder:
 * from "assets", "sources"[].filename, settings.llama_model_path (in that
 * order), the first that names a .gguf file that is not a projector. Only the
 * last path component is used, so a reference can never leave the folder.
 * NULL if none; caller frees.
 */
char *mj_main_file_ref(const json_t *raw);

/* The last path component of a path or file:// URL, if it is a usable file name; else NULL. Caller frees. */
char *mj_ref_basename(const char *ref);

/*
 * Merges patch into raw (in place): objects one level deep, other values
 * replace; keys keep their order, new keys go last. -1 (err set) if patch is
 * not an object or names "id".
 */
int mj_merge(json_t *raw, const json_t *patch, jc_err *err);

/* Serialises raw for writing: 2-space indent, key order kept, trailing newline. Caller frees. */
char *mj_dump(const json_t *raw);

#endif
