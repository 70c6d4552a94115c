/*
 * fuzz_store.c — libFuzzer target for the model.json reader: the tolerant
 * pre-pass and jansson (mj_parse), the schema/defaults pass (mj_model), the
 * model file lookup (mj_main_file_ref) and merge + dump. Any input must give
 * an object or an error message, never a crash, a leak or a hang; what is
 * dumped must parse again (a checked invariant: a failure traps).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/mj.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jc_err err = {0};
    json_t *raw = mj_parse((const char *)data, size, "model.json", &err);
    if (!raw) {
        if (!err.msg[0])
            __builtin_trap(); /* an error must say what was wrong */
        return 0;
    }
    static const char *const files[] = {"a.gguf", "mmproj-b.gguf"};
    mj_ctx ctx = {.id = "fuzz", .dir = "/tmp/fuzz", .created = 1, .main_file = "a.gguf", .files = files, .n_files = 2};
    json_t *m = mj_model(raw, &ctx, &err);
    if (m) {
        /* every default is typed after the pass */
        if (!json_is_integer(json_object_get(json_object_get(m, "settings"), "ctx_len")) ||
            !json_is_boolean(json_object_get(json_object_get(m, "parameters"), "stream")))
            __builtin_trap();
        json_decref(m);
    }
    free(mj_main_file_ref(raw));
    json_t *patch = json_pack("{s:{s:i},s:s}", "settings", "ctx_len", 1024, "name", "n");
    mj_merge(raw, patch, &err);
    json_decref(patch);
    char *text = mj_dump(raw);
    json_t *again = mj_parse(text, strlen(text), "dump", &err);
    if (!again && strlen(text) <= MJ_MAX_SIZE)
        __builtin_trap();
    json_decref(again);
    free(text);
    json_decref(raw);
    return 0;
}
