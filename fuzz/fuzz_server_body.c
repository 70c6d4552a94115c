/*
 * fuzz_server_body.c — libFuzzer target for the request bodies of every
 * endpoint that reads one, through its real handler (validation first, then
 * the store or the runner) against a sandboxed models folder
 * (fuzz_server_sandbox.h: no download ever starts, no model ever runs,
 * imports stay inside the sandbox; it also says what every reply must be).
 *
 * Input: one byte choosing the endpoint (low 4 bits, an index into
 * endpoints[] below, modulo its size; bit 4: autoload off), then the body
 * as sent. Seeds: fuzz/corpus/server_body/ (valid and invalid bodies for
 * each endpoint).
 */
#include "fuzz_server_sandbox.h"

static const struct {
    const char *method, *path;
} endpoints[] = {
    {"POST", "/v1/models"},                /* create by source_url (downloads off: 403 after validation) */
    {"POST", "/v1/models/tiny"},           /* edit model.json */
    {"PATCH", "/v1/models/named"},         /* edit model.json */
    {"POST", "/v1/models/import"},         /* import a file (confined to the sandbox) */
    {"POST", "/v1/models/tiny/start"},     /* settings overrides; the load fails at once */
    {"PUT", "/v1/models/named/start"},
    {"POST", "/v1/chat/completions"},
    {"POST", "/v1/completions"},
    {"POST", "/v1/embeddings"},
    {"POST", "/v1/models/dl/download"},    /* reads no body; downloads off */
    {"POST", "/v1/models/broken"},         /* edit a model in the error state */
    {"POST", "/v1/models/tiny/stop"},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sb_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t k = (data[0] & 15) % JC_ARRAY_LEN(endpoints);
    unsigned cfg = (data[0] & 16) ? SB_NO_AUTOLOAD : 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char cl[32];
    snprintf(cl, sizeof cl, "%zu", len);
    const sb_header h[] = {{"Host", "127.0.0.1:3000"}, {"Content-Type", "application/json"}, {"Content-Length", cl}};
    sb_request(cfg, endpoints[k].method, endpoints[k].path, h, 3, 100, body, len, len / 3);
    return 0;
}
