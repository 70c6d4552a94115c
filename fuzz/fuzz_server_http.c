/*
 * fuzz_server_http.c — libFuzzer target for whole HTTP requests into the
 * API: the request line (method and target), the headers and the body go
 * through the same request core libmicrohttpd feeds (http_req_begin / feed
 * / finish: header size, Origin and Host, API key, Content-Length,
 * Transfer-Encoding, CORS preflight, routing, percent-decoding of ids) and
 * on into every handler of the routes table, against a sandboxed models
 * folder (fuzz_server_sandbox.h, which also says what every reply must be).
 *
 * Input: one configuration byte (its low bits: SB_KEY an API key is set,
 * SB_CORS a CORS origin, SB_NO_AUTOLOAD, SB_SMALL_BODY a 64-byte body
 * limit), then the request as it would arrive on the socket:
 *   METHOD SP TARGET SP VERSION CRLF (NAME: VALUE CRLF)* CRLF BODY
 * Lines may end in LF alone; a header line without ':' is skipped; values
 * are trimmed as libmicrohttpd trims them. The body is fed in two pieces.
 * Seeds: fuzz/corpus/server_http/ (every route of src/server/api.c, good and
 * bad requests, with and without the key).
 */
#include "fuzz_server_sandbox.h"

#define MAX_HEADERS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sb_init();
    return 0;
}

/* The next line of text[*pos..len) (without its CR LF), NUL-terminated in place; NULL at the end. */
static char *next_line(char *text, size_t len, size_t *pos)
{
    if (*pos >= len)
        return NULL;
    char *s = text + *pos;
    char *nl = memchr(s, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - s) : len - *pos;
    *pos += n + (nl ? 1 : 0);
    if (n && s[n - 1] == '\r')
        n--;
    s[n] = 0;
    return s;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned cfg = data[0];
    size_t len = size - 1;
    char *text = malloc(len + 1);
    memcpy(text, data + 1, len);
    text[len] = 0;

    size_t pos = 0;
    char *line = next_line(text, len, &pos), *save = NULL;
    char *method = line ? strtok_r(line, " ", &save) : NULL;
    char *target = method ? strtok_r(NULL, " ", &save) : NULL;
    sb_header h[MAX_HEADERS];
    int n = 0;
    char *l;
    while ((l = next_line(text, len, &pos)) && *l) {
        char *colon = strchr(l, ':');
        if (!colon || n == MAX_HEADERS)
            continue;
        *colon = 0;
        h[n].name = trim(l);
        h[n].value = trim(colon + 1);
        n++;
    }
    size_t body_len = len - JC_MIN(pos, len);
    sb_request(cfg, method ? method : "", target ? target : "", h, n, pos, text + pos, body_len, body_len / 2);
    free(text);
    return 0;
}
