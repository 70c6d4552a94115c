/*
 * store.h — the models folder: an in-memory index of <data>/models/<id>/
 * folders, each described by a model.json (see docs/model-json.md).
 *
 * The store scans the folder when it opens, imports GGUF files dropped
 * straight into models/, generates a model.json for a folder that has GGUF
 * files but none, and (with store_watch_start) follows the folder live with
 * inotify: drop-in imports, hand edits of model.json, deletions. Downloads
 * (store_pull) run on their own threads and report progress here.
 *
 * Threads: every function may be called from any thread; one internal mutex
 * guards the index. JSON results are new references the caller owns
 * (json_decref); strings returned through char ** are the caller's to free().
 *
 * Errors: functions that can fail return 0 on success or a negative
 * enum store_status, and fill a caller-provided jc_err with one line that
 * names the file, field or id. store_http_status() maps a status to the HTTP
 * status the API should answer with.
 */
#ifndef STORE_H
#define STORE_H

#include <jansson.h>

#include "base/jc.h"

enum store_status {
    STORE_OK = 0,
    STORE_EINVAL = -1,   /* bad input: a malformed id, path, URL or patch (HTTP 400) */
    STORE_ENOENT = -2,   /* no such model or file (HTTP 404) */
    STORE_EEXIST = -3,   /* conflict: the id exists, a download already runs (HTTP 409) */
    STORE_EIO = -4,      /* the file system or the network failed (HTTP 500) */
    STORE_ETOOBIG = -5,  /* a file over a size limit (HTTP 413) */
};

/* The HTTP status for a store_status (200 for STORE_OK). */
int store_http_status(int rc);

/* The models folder index. */
typedef struct store store;

/*
 * Opens <data_dir>/models, creating it (and data_dir) with mode 0700 if
 * missing, scans every model folder and imports GGUF files dropped into
 * models/. NULL on error (err set). Close with store_close.
 */
store *store_open(const char *data_dir, jc_err *err);
/* Stops the watcher and any downloads (their .part files are kept), frees s. NULL is fine. */
void store_close(store *s);

/* The models folder path (<data>/models); valid until store_close. */
const char *store_models_dir(const store *s);

/*
 * Model objects as the API returns them: every model.json field with
 * defaults filled in (numbers and booleans typed), plus object:"model", id,
 * created, owned_by, state (null when the model file is not there yet,
 * "downloading", "ready", "starting", "running", "stopping", "error"), and
 * "error" (a message) when state is "error", "download" ({transferred,
 * total, percent, speed, state}) while a download runs or after it failed.
 */
json_t *store_list_json(store *s);                /* {"object":"list","data":[Model...]}, sorted by id */
json_t *store_get_json(store *s, const char *id); /* one Model, or NULL if unknown */
/* Number of models listed. */
size_t store_count(store *s);

/*
 * The main GGUF file of a model (the first shard of a split model), as an
 * absolute path the caller frees. STORE_ENOENT for an unknown id or a file
 * that is not there; STORE_EINVAL when the model is in the error state.
 */
int store_model_path(store *s, const char *id, char **gguf_path, jc_err *err);

/* How a model should be loaded, typed, defaults filled in. */
typedef struct store_settings {
    int64_t ctx_len;       /* settings.ctx_len */
    int64_t ngl;           /* settings.ngl (janc runs on the CPU: recorded, not used) */
    bool embedding;        /* settings.embedding */
    int64_t n_parallel;    /* settings.n_parallel */
    char *prompt_template; /* settings.prompt_template, or NULL (use the GGUF's template); caller frees */
    char *mmproj;          /* absolute path of the projector GGUF, or NULL; caller frees */
} store_settings;

/* How a model is called by default, typed, defaults filled in. */
typedef struct store_params {
    double temperature;
    int64_t token_limit;   /* max tokens to generate */
    int64_t top_k;
    double top_p;
    bool stream;
} store_params;

/* Fills *out; free with store_settings_free. STORE_ENOENT for an unknown id. */
int store_get_settings(store *s, const char *id, store_settings *out, jc_err *err);
void store_settings_free(store_settings *st);
int store_get_params(store *s, const char *id, store_params *out, jc_err *err);

/*
 * Sets a runtime state ("starting", "running", "stopping"), not persisted;
 * "ready" or NULL clears it. "error" with a message marks a load failure
 * (cleared by the next state change). STORE_ENOENT for an unknown id,
 * STORE_EINVAL for a state name not listed here.
 */
int store_set_state(store *s, const char *id, const char *state, const char *message);

/*
 * Merges patch ({"settings":{...},"parameters":{...}, "name", "description",
 * "metadata"...}; objects merge one level deep, other fields replace) into
 * the model's model.json and writes it atomically, keeping unknown fields
 * and key order. STORE_EINVAL for a patch that is not an object or touches
 * "id"; STORE_ENOENT for an unknown id; STORE_EIO if a model.json that
 * cannot be read would have to be overwritten (janc never overwrites one).
 */
int store_update(store *s, const char *id, const json_t *patch, jc_err *err);

/* Removes the model's folder (a symlinked file is unlinked, never its target); cancels its download. */
int store_delete(store *s, const char *id, jc_err *err);

enum store_import_mode {
    STORE_IMPORT_COPY = 0, /* default */
    STORE_IMPORT_MOVE,
    STORE_IMPORT_LINK,     /* a symlink to the absolute path of the file */
};
/* "copy", "move", "link" -> mode; -1 for anything else. */
int store_import_mode_parse(const char *s);

/*
 * Imports the GGUF file at path (from anywhere; the first shard imports the
 * whole split model) as a new model folder. The id is id_or_null (checked:
 * [A-Za-z0-9._-], 1..128 chars, not starting with '.'; an existing id is
 * STORE_EEXIST), else derived from the file name (a clash gets -2, -3...).
 * *new_id (optional) gets the id, caller frees. A file that is not a
 * complete GGUF is STORE_EINVAL and nothing is created.
 */
int store_import(store *s, const char *path, const char *id_or_null, enum store_import_mode mode,
                 char **new_id, jc_err *err);

/* Rescans the whole folder (store_open does this); 0 or a negative status. */
int store_rescan(store *s);

/*
 * Starts following the models folder with inotify on a thread of its own:
 * drop-in imports, hand-edited model.json reloaded, deleted folders dropped.
 * 0, or a negative status (err set). store_watch_stop (or store_close) ends it.
 */
int store_watch_start(store *s, jc_err *err);
void store_watch_stop(store *s);

/*
 * Downloads. url_or_id is an http(s):// or file:// URL (Hugging Face /blob/
 * links become /resolve/) or the id of a model whose file is missing (its
 * source_url is used). Creates the folder and model.json (state
 * "downloading") and starts a background download into <file>.part, resumed
 * with HTTP Range when a .part is there. *new_id (optional) gets the id.
 * STORE_EEXIST when a download for that id already runs, or the id exists and
 * is not a model waiting for its file.
 */
int store_pull(store *s, const char *url_or_id, const char *id_or_null, char **new_id, jc_err *err);
/*
 * Restarts the downloads an earlier run left unfinished: models whose
 * model.json still says "state": "downloading", whose file is missing and
 * whose <file>.part is there (they resume with Range). For `janc serve` to
 * call after store_open; returns how many were started.
 */
int store_resume_downloads(store *s);
/*
 * {"transferred","total","percent","speed","eta","state":"downloading|done|error|cancelled",
 *  "error"?} of the model's latest download, or NULL if it has none.
 */
json_t *store_download_json(store *s, const char *id);
/* Stops the download and removes its .part file. STORE_ENOENT if none runs. */
int store_download_cancel(store *s, const char *id);
/*
 * Waits up to timeout_ms for the model's download to finish. Returns 1 when
 * finished (or none is known), 0 on timeout.
 */
int store_download_wait(store *s, const char *id, int timeout_ms);

#endif
