/*
 * test_store_dl.c — downloads (store_dl.c) against tests/helpers/dl_server.py
 * on 127.0.0.1: a plain download checked by its ETag sha256, redirects and
 * Hugging Face's X-Linked-ETag, a dropped connection resumed with Range, a
 * .part left by an earlier run resumed, a server that ignores Range, bodies
 * shorter or longer than declared, a wrong hash, 403/404, a second pull of
 * the same id, cancel, pull by id, file:// URLs, /blob/ -> /resolve/, a
 * write error (a file size limit standing in for a full disk), cancel and
 * stop while a large .part is being hashed. And the dlsink under them
 * (dlsink.c): the hash and the file match what was written, across
 * flushes, a restart, a resumed file, and a write that fails.
 * Skipped (77) when python3 is not there.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "harness.h"
#include "helpers/store_fixtures.h"
#include "store/dlsink.h"
#include "store/store.h"
#include "store/store_int.h"

static char *g_data, *g_models, *g_files; /* per-process fixture folders */
static int g_port;
static pid_t g_server = -1;
static char *g_bytes; /* the fixture GGUF's bytes */
static size_t g_size;

static const char *jstr(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

/* Starts dl_server.py serving g_files; false if it cannot. */
static bool start_server(void)
{
    const char *src = getenv("JANC_SRC");
    char *script = src ? jc_xasprintf("%s/tests/helpers/dl_server.py", src) : NULL;
    if (!script) {
        /* __FILE__ is tests/test_store_dl.c as cmake passes it (absolute) */
        char *f = jc_xstrdup(__FILE__);
        char *slash = strrchr(f, '/');
        if (slash)
            *slash = 0;
        script = jc_xasprintf("%s/helpers/dl_server.py", f);
        free(f);
    }
    if (access(script, R_OK) != 0 || system("python3 -c 'import http.server' 2>/dev/null") != 0) {
        free(script);
        return false;
    }
    int fds[2];
    if (pipe(fds) < 0)
        return false;
    g_server = fork();
    if (g_server == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (!getenv("DL_SERVER_LOG")) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 2);
        }
        execlp("python3", "python3", script, g_files, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    free(script);
    char buf[32] = {0};
    ssize_t n = 0, k;
    while (n < (ssize_t)sizeof buf - 1 && (k = read(fds[0], buf + n, 1)) == 1 && buf[n] != '\n')
        n++;
    close(fds[0]);
    g_port = atoi(buf);
    return g_port > 0;
}

static void stop_server(void)
{
    if (g_server > 0) {
        kill(g_server, SIGTERM);
        waitpid(g_server, NULL, 0);
        g_server = -1;
    }
}

static char *url_for(const char *mode, const char *name)
{
    return jc_xasprintf("http://127.0.0.1:%d/%s/%s", g_port, mode, name);
}

/* Pulls url as id and waits for the end; returns the final download JSON (caller decrefs). */
static json_t *pull_wait(store *s, const char *url, const char *id, int *rc)
{
    jc_err err = {0};
    char *nid = NULL;
    *rc = store_pull(s, url, id, &nid, &err);
    if (*rc) {
        fprintf(stderr, "  pull %s: %s\n", url, err.msg);
        return NULL;
    }
    CHECK(store_download_wait(s, nid, 20000) == 1);
    json_t *d = store_download_json(s, nid);
    free(nid);
    return d;
}

static bool same_as_fixture(const char *path)
{
    size_t n = 0;
    jc_err err = {0};
    char *b = jc_read_file(path, 1 << 24, &n, &err);
    bool same = b && n == g_size && !memcmp(b, g_bytes, n);
    free(b);
    return same;
}

static char *sha_hex(const char *p, size_t n)
{
    unsigned char d[32];
    unsigned l;
    EVP_Digest(p, n, d, &l, EVP_sha256(), NULL);
    char *h = jc_xmalloc(65);
    for (int i = 0; i < 32; i++)
        snprintf(h + 2 * i, 3, "%02x", d[i]);
    return h;
}

/* A plain download: ETag sha256 checked, model.json filled in as import does, no .part left. */
TEST(download_ok)
{
    jc_err err = {0};
    store *s = store_open(g_data, &err);
    REQUIRE(s);
    char *u = url_for("ok", "tiny.gguf");
    int rc;
    json_t *d = pull_wait(s, u, NULL, &rc);
    REQUIRE(d);
    CHECK_STR(jstr(d, "state", NULL), "done");
    json_decref(d);
    json_t *m = store_get_json(s, "tiny");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "ready");
    CHECK_STR(jstr(m, "source_url", NULL), u);
    CHECK_STR(jstr(m, "metadata", "architecture"), "llama");
    char *h = sha_hex(g_bytes, g_size);
    CHECK_STR(jstr(m, "metadata", "sha256"), h);
    free(h);
    CHECK(json_object_get(m, "download") == NULL);
    json_decref(m);
    char *f = jc_xasprintf("%s/tiny/tiny.gguf", g_models), *part = jc_xasprintf("%s.part", f);
    CHECK(same_as_fixture(f));
    CHECK(!fx_exists(part));
    /* a second pull of an id that has its file is a conflict */
    CHECK(store_pull(s, u, NULL, NULL, &err) == STORE_EEXIST);
    CHECK(store_delete(s, "tiny", &err) == 0);
    store_close(s);
    free(f);
    free(part);
    free(u);
}

/* Redirects are followed; Hugging Face's X-Linked-ETag on the redirect is the hash checked. */
TEST(download_redirects)
{
    jc_err err = {0};
    store *s = store_open(g_data, &err);
    REQUIRE(s);
    int rc;
    char *u = url_for("redirect", "tiny.gguf");
    json_t *d = pull_wait(s, u, "r1", &rc);
    CHECK(d && !strcmp(jstr(d, "state", NULL), "done"));
    json_decref(d);
    free(u);
    u = url_for("linked", "tiny.gguf");
    d = pull_wait(s, u, "r2", &rc);
    CHECK(d && !strcmp(jstr(d, "state", NULL), "done"));
    json_decref(d);
    free(u);
    char *f = jc_xasprintf("%s/r2/tiny.gguf", g_models);
    CHECK(same_as_fixture(f));
    free(f);
    store_delete(s, "r1", &err);
    store_delete(s, "r2", &err);
    store_close(s);
}

/* A connection dropped mid-body is resumed with Range (the server only completes Range requests). */
TEST(download_resumes_after_drop)
{
    jc_err err = {0};
    store *s = store_open(g_data, &err);
    REQUIRE(s);
    int rc;
    char *u = url_for("drop", "tiny.gguf");
    json_t *d = pull_wait(s, u, "dropped", &rc);
    CHECKF(d && !strcmp(jstr(d, "state", NULL), "done"), "%s", d ? jstr(d, "error", NULL) : "no download");
    json_decref(d);
    char *f = jc_xasprintf("%s/dropped/tiny.gguf", g_models);
    CHECK(same_as_fixture(f));
    free(f);
    store_delete(s, "dropped", &err);
    store_close(s);
    free(u);
}

/* Writes models/<id>/model.json and a .part holding `prefix` bytes (as an interrupted run leaves). */
static void leave_partial(const char *id, const char *url, const char *prefix, size_t n)
{
    char *dir = jc_xasprintf("%s/%s", g_models, id);
    mkdir(dir, 0755);
    char *mj = jc_xasprintf("%s/model.json", dir);
    char *text = jc_xasprintf("{\"source_url\": \"%s\", \"assets\": [\"tiny.gguf\"]}", url);
    fx_write(mj, text);
    char *part = jc_xasprintf("%s/tiny.gguf.part", dir);
    FILE *f = fopen(part, "wb");
    fwrite(prefix, 1, n, f);
    fclose(f);
    free(dir);
    free(mj);
    free(text);
    free(part);
}

/* After a restart, `pull ID` resumes the .part with Range; a server ignoring Range restarts from zero. */
TEST(download_resume_after_restart)
{
    char *u = url_for("drop", "tiny.gguf"); /* completes only a Range request */
    leave_partial("again", u, g_bytes, g_size / 3);
    jc_err err = {0};
    store *s = store_open(g_data, &err);
    REQUIRE(s);
    json_t *m = store_get_json(s, "again");
    REQUIRE(m);
    CHECK(json_is_null(json_object_get(m, "state"))); /* not downloaded, not running after a restart */
    json_decref(m);
    int rc;
    json_t *d = pull_wait(s, "again", NULL, &rc);
    CHECKF(d && !strcmp(jstr(d, "state", NULL), "done"), "%s", d ? jstr(d, "error", NULL) : "no download");
    json_decref(d);
    char *f = jc_xasprintf("%s/again/tiny.gguf", g_models);
    CHECK(same_as_fixture(f));
    free(f);
    free(u);
    /* garbage in the .part and a server that ignores Range: starts again from zero */
    u = url_for("norange", "tiny.gguf");
    leave_partial("zero", u, "garbage garbage garbage", 23);
    store_rescan(s);
    d = pull_wait(s, "zero", NULL, &rc);
    CHECKF(d && !strcmp(jstr(d, "state", NULL), "done"), "%s", d ? jstr(d, "error", NULL) : "no download");
    json_decref(d);
    f = jc_xasprintf("%s/zero/tiny.gguf", g_models);
    CHECK(same_as_fixture(f));
    free(f);
    free(u);
    store_delete(s, "again", &err);
    store_delete(s, "zero", &err);
    store_close(s);
}

/* Faults: short and long bodies, a wrong hash, 403 and 404 end in the error state with a message. */
TEST(download_faults)
{
    jc_err err = {0};
    store *s = store_open(g_data, &err);
    REQUIRE(s);
    struct {
        const char *mode, *id, *needle;
        bool part_kept;
    } cases[] = {
        {"short", "f-short", "partial file is kept", true},
        {"long", "f-long", "not a complete GGUF", false},
        {"badetag", "f-badetag", "SHA-256 mismatch", false},
        {"403", "f-403", "HTTP 403", false},
        {"404", "f-404", "HTTP 404", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *u = url_for(cases[i].mode, "tiny.gguf");
        int rc;
        json_t *d = pull_wait(s, u, cases[i].id, &rc);
        REQUIRE(d);
        CHECKF(!strcmp(jstr(d, "state", NULL), "error"), "%s: %s", cases[i].mode, jstr(d, "state", NULL));
        const char *e = jstr(d, "error", NULL);
        CHECKF(e && strstr(e, cases[i].needle), "%s: %s", cases[i].mode, e ? e : "(none)");
        json_decref(d);
        json_t *m = store_get_json(s, cases[i].id);
        REQUIRE(m);
        CHECKF(!strcmp(jstr(m, "state", NULL), "error"), "%s", cases[i].mode);
        CHECK(json_object_get(m, "download") != NULL);
        json_decref(m);
        char *part = jc_xasprintf("%s/%s/tiny.gguf.part", g_models, cases[i].id);
        char *file = jc_xasprintf("%s/%s/tiny.gguf", g_models, cases[i].id);
        CHECKF(fx_exists(part) == cases[i].part_kept, "%s: .part", cases[i].mode);
        CHECK(!fx_exists(file));
        free(part);
        free(file);
        free(u);
        CHECK(store_delete(s, cases[i].id, &err) == 0);
    }
    store_close(s);
}

/* A second pull of an id being downloaded is a conflict; cancel stops it and removes the .part. */
TEST(download_conflict_and_cancel)
{
    jc_err err = {0};
    store *s = store_open(g_data, &err);
    REQUIRE(s);
    char *u = url_for("slow", "tiny.gguf");
    char *id = NULL;
    REQUIRE(store_pull(s, u, "slowpoke", &id, &err) == 0);
    CHECK(store_pull(s, u, "slowpoke", NULL, &err) == STORE_EEXIST);
    CHECK(store_pull(s, "slowpoke", NULL, NULL, &err) == STORE_EEXIST);
    fx_sleep_ms(300);
    json_t *m = store_get_json(s, "slowpoke");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "downloading");
    json_t *dl = json_object_get(m, "download");
    CHECK(dl && json_integer_value(json_object_get(dl, "transferred")) > 0);
    CHECK(dl && json_integer_value(json_object_get(dl, "total")) == (json_int_t)g_size);
    json_decref(m);
    CHECK(store_download_cancel(s, "slowpoke") == 0);
    char *part = jc_xasprintf("%s/slowpoke/tiny.gguf.part", g_models);
    CHECK(!fx_exists(part));
    m = store_get_json(s, "slowpoke");
    CHECK(m && json_is_null(json_object_get(m, "state")));
    json_decref(m);
    CHECK(store_download_cancel(s, "slowpoke") == STORE_ENOENT);
    /* rm during a download stops it and removes the folder */
    REQUIRE(store_pull(s, "slowpoke", NULL, NULL, &err) == 0);
    fx_sleep_ms(200);
    CHECK(store_delete(s, "slowpoke", &err) == 0);
    char *dir = jc_xasprintf("%s/slowpoke", g_models);
    CHECK(!fx_exists(dir));
    free(dir);
    free(part);
    free(id);
    free(u);
    store_close(s);
}

/* Bad input: schemes other than http/https/file, bad ids, unknown ids; file:// works. */
TEST(download_inputs)
{
    jc_err err = {0};
    store *s = store_open(g_data, &err);
    REQUIRE(s);
    CHECK(store_pull(s, "ftp://127.0.0.1/x.gguf", NULL, NULL, &err) == STORE_EINVAL);
    CHECK(store_pull(s, "http://127.0.0.1/x.gguf", "../x", NULL, &err) == STORE_EINVAL);
    CHECK(store_pull(s, "no-such-model", NULL, NULL, &err) == STORE_ENOENT);
    CHECK(store_pull(s, "", NULL, NULL, &err) == STORE_EINVAL);
    char *src = jc_xasprintf("file://%s/tiny.gguf", g_files);
    int rc;
    json_t *d = pull_wait(s, src, "fromfile", &rc);
    CHECK(d && !strcmp(jstr(d, "state", NULL), "done"));
    json_decref(d);
    free(src);
    store_delete(s, "fromfile", &err);
    char *n = store_url_normalize("https://huggingface.co/TheBloke/x-GGUF/blob/main/x.Q4_K_M.gguf");
    CHECK_STR(n, "https://huggingface.co/TheBloke/x-GGUF/resolve/main/x.Q4_K_M.gguf");
    free(n);
    n = store_url_normalize("https://example.com/blob/x.gguf");
    CHECK_STR(n, "https://example.com/blob/x.gguf");
    free(n);
    CHECK(store_url_normalize("http://a b") == NULL);
    store_close(s);
}

/* metadata.sha256 in model.json is checked (here it is wrong, and the server sends no ETag). */
TEST(download_checks_metadata_sha)
{
    char *u = url_for("plain", "tiny.gguf");
    char *dir = jc_xasprintf("%s/hashed", g_models);
    mkdir(dir, 0755);
    char *mj = jc_xasprintf("%s/model.json", dir);
    char *text = jc_xasprintf("{\"source_url\": \"%s\", \"metadata\": {\"sha256\": \"%064d\"}}", u, 0);
    fx_write(mj, text);
    jc_err err = {0};
    store *s = store_open(g_data, &err);
    REQUIRE(s);
    int rc;
    json_t *d = pull_wait(s, "hashed", NULL, &rc);
    REQUIRE(d);
    CHECK_STR(jstr(d, "state", NULL), "error");
    CHECKF(jstr(d, "error", NULL) && strstr(jstr(d, "error", NULL), "SHA-256 mismatch"), "%s", jstr(d, "error", NULL));
    json_decref(d);
    CHECK(store_delete(s, "hashed", &err) == 0);
    store_close(s);
    free(u);
    free(dir);
    free(mj);
    free(text);
}

/* store_resume_downloads restarts what an earlier run left: model.json says downloading, a .part is there. */
TEST(download_resumed_at_start)
{
    char *u = url_for("drop", "tiny.gguf"); /* completes only a Range request */
    leave_partial("unfinished", u, g_bytes, g_size / 2);
    char *mj = jc_xasprintf("%s/unfinished/model.json", g_models);
    char *text = jc_xasprintf("{\"source_url\": \"%s\", \"state\": \"downloading\", \"assets\": [\"tiny.gguf\"]}", u);
    fx_write(mj, text);
    jc_err err = {0};
    store *s = store_open(g_data, &err);
    REQUIRE(s);
    CHECK_EQ_INT(store_resume_downloads(s), 1);
    CHECK(store_download_wait(s, "unfinished", 20000) == 1);
    json_t *m = store_get_json(s, "unfinished");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "ready");
    json_decref(m);
    CHECK_EQ_INT(store_resume_downloads(s), 0); /* nothing left to resume */
    char *f = jc_xasprintf("%s/unfinished/tiny.gguf", g_models);
    CHECK(same_as_fixture(f));
    CHECK(store_delete(s, "unfinished", &err) == 0);
    store_close(s);
    free(f);
    free(u);
    free(mj);
    free(text);
}

/* ---- the dlsink ------------------------------------------------------------------------ */

/* n bytes of a fixed pseudo-random pattern (caller frees). */
static char *pattern(size_t n, uint32_t seed)
{
    char *p = jc_xmalloc(n);
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (char)x;
    }
    return p;
}

/* Writes p through k in pieces of uneven sizes (as libcurl hands them over, and larger); 0 or -1. */
static int sink_feed(dlsink *k, const char *p, size_t n)
{
    static const size_t sizes[] = {16384, 1, 70001, 3u << 20, 4096, 999999, 16384};
    jc_err err = {0};
    for (size_t off = 0, i = 0; off < n; i++) {
        size_t m = JC_MIN(sizes[i % JC_ARRAY_LEN(sizes)], n - off);
        if (dlsink_write(k, p + off, m, &err)) {
            fprintf(stderr, "  dlsink_write: %s\n", err.msg);
            return -1;
        }
        off += m;
    }
    return 0;
}

/* Flushes k, waits for its hash and checks it, its size and the file against p. */
static void sink_check(dlsink *k, const char *path, const char *p, size_t n)
{
    jc_err err = {0};
    REQUIRE(dlsink_flush(k, &err) == 0);
    CHECK_EQ_INT(dlsink_size(k), n);
    int h;
    while ((h = dlsink_wait_hashed(k, 100, &err)) == 0)
        ;
    REQUIRE(h == 1);
    unsigned char got[32], want[32];
    unsigned len;
    REQUIRE(dlsink_digest(k, got, &err) == 0);
    EVP_Digest(p, n, want, &len, EVP_sha256(), NULL);
    CHECK(!memcmp(got, want, 32));
    CHECK(dlsink_sync(k, &err) == 0);
    size_t fn = 0;
    char *f = jc_read_file(path, 64u << 20, &fn, &err);
    CHECK(f && fn == n && !memcmp(f, p, n));
    free(f);
}

/*
 * 21 MiB and a bit (past the writeback steps) in uneven pieces, with a
 * flush in the middle as at the end of an attempt; then a restart drops
 * what was written and the hash starts again.
 */
TEST(sink_hashes_what_it_writes)
{
    size_t n = (21u << 20) + 12345;
    char *p = pattern(n, 7), *junk = pattern(5u << 20, 9);
    char *path = jc_path_join(g_data, "sink.bin");
    jc_err err = {0};
    dlsink *k = dlsink_open(path, &err);
    REQUIRE(k);
    CHECK_EQ_INT(dlsink_size(k), 0);
    CHECK(sink_feed(k, p, n / 3) == 0);
    CHECK(dlsink_flush(k, &err) == 0);
    CHECK(sink_feed(k, p + n / 3, n - n / 3) == 0);
    sink_check(k, path, p, n);
    dlsink_close(k);

    k = dlsink_open(path, &err); /* a resume of all of it */
    REQUIRE(k);
    CHECK_EQ_INT(dlsink_size(k), n);
    int h;
    while ((h = dlsink_wait_hashed(k, 100, &err)) == 0)
        ;
    CHECK(h == 1);
    CHECK(sink_feed(k, junk, 5u << 20) == 0); /* then a server that ignores Range */
    CHECK(dlsink_restart(k, &err) == 0);
    CHECK_EQ_INT(dlsink_size(k), 0);
    CHECK(sink_feed(k, p, n) == 0);
    sink_check(k, path, p, n);
    dlsink_close(k);
    unlink(path);
    free(path);
    free(p);
    free(junk);
}

/* A digest asked for while bytes are still unhashed (written, not flushed) is an error, not a wrong hash. */
TEST(sink_digest_too_early)
{
    char *p = pattern(1000, 3);
    char *path = jc_path_join(g_data, "sink-early.bin");
    jc_err err = {0};
    dlsink *k = dlsink_open(path, &err);
    REQUIRE(k);
    CHECK(sink_feed(k, p, 1000) == 0);
    unsigned char got[32];
    CHECK(dlsink_digest(k, got, &err) == -1);
    CHECKF(strstr(err.msg, "before every byte was hashed") && strstr(err.msg, "sink-early.bin"), "%s",
           err.msg);
    dlsink_close(k);
    unlink(path);
    free(path);
    free(p);
}

/* A file that holds the first part already: its bytes are hashed first, the rest appended. */
TEST(sink_resumes_a_partial_file)
{
    size_t n = (9u << 20) + 77, have = (3u << 20) + 5;
    char *p = pattern(n, 11);
    char *path = jc_path_join(g_data, "sink-resume.bin");
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    fwrite(p, 1, have, f);
    fclose(f);
    jc_err err = {0};
    dlsink *k = dlsink_open(path, &err);
    REQUIRE(k);
    CHECK_EQ_INT(dlsink_size(k), have);
    int h;
    while ((h = dlsink_wait_hashed(k, 100, &err)) == 0)
        ;
    CHECK(h == 1);
    CHECK(sink_feed(k, p + have, n - have) == 0);
    sink_check(k, path, p, n);
    dlsink_close(k);
    unlink(path);
    free(path);
    free(p);
}

/* Sets the soft limit on file sizes (RLIMIT_FSIZE; SIGXFSZ ignored): a write past it fails with EFBIG. */
static void limit_file_size(rlim_t n)
{
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = n == RLIM_INFINITY ? rl.rlim_max : n;
    setrlimit(RLIMIT_FSIZE, &rl);
}

/* A write that fails midway (EFBIG here, ENOSPC on a full disk): -1 with errno, the bytes written stay. */
TEST(sink_write_error)
{
    size_t n = 5u << 20, limit = (3u << 20) + 100;
    char *p = pattern(n, 13);
    char *path = jc_path_join(g_data, "sink-full.bin");
    jc_err err = {0};
    dlsink *k = dlsink_open(path, &err);
    REQUIRE(k);
    signal(SIGXFSZ, SIG_IGN);
    limit_file_size(limit);
    int rc = dlsink_write(k, p, n, &err);
    int e = errno;
    limit_file_size(RLIM_INFINITY);
    CHECK(rc == -1);
    CHECK_EQ_INT(e, EFBIG);
    CHECKF(strstr(err.msg, "sink-full.bin") && strstr(err.msg, strerror(EFBIG)), "%s", err.msg);
    CHECK_EQ_INT(dlsink_size(k), limit);
    dlsink_close(k); /* joins the hasher, which has blocks in hand or not */
    struct stat st;
    CHECK(stat(path, &st) == 0 && (size_t)st.st_size == limit);
    unlink(path);
    free(path);
    free(p);
}

/* A download that cannot write (a file size limit here, a full disk alike) fails naming errno; .part kept. */
TEST(download_write_error)
{
    jc_err err = {0};
    store *s = store_open(g_data, &err);
    REQUIRE(s);
    char *u = url_for("ok", "tiny.gguf");
    signal(SIGXFSZ, SIG_IGN);
    limit_file_size(g_size / 3);
    int rc;
    json_t *d = pull_wait(s, u, "toolarge", &rc);
    limit_file_size(RLIM_INFINITY);
    REQUIRE(d);
    CHECK_STR(jstr(d, "state", NULL), "error");
    const char *e = jstr(d, "error", NULL);
    CHECKF(e && strstr(e, "tiny.gguf.part") && strstr(e, strerror(EFBIG)), "%s", e ? e : "(none)");
    json_decref(d);
    char *part = jc_xasprintf("%s/toolarge/tiny.gguf.part", g_models);
    struct stat st;
    CHECK(stat(part, &st) == 0 && (size_t)st.st_size == g_size / 3);
    CHECK(store_delete(s, "toolarge", &err) == 0);
    store_close(s);
    free(part);
    free(u);
}

/*
 * A resumed .part is hashed before the transfer goes on; cancel during
 * that (4 GiB here, sparse: seconds of hashing) stops it at once and removes
 * the .part; stopping (store_close) keeps it.
 */
TEST(download_cancel_while_hashing)
{
    char *u = url_for("slow", "tiny.gguf");
    char *part = jc_xasprintf("%s/hashing/tiny.gguf.part", g_models);
    off_t big = (off_t)4 << 30;
    mkdir(g_models, 0755); /* when this test runs alone */
    leave_partial("hashing", u, g_bytes, 64);
    REQUIRE(truncate(part, big) == 0);
    jc_err err = {0};
    store *s = store_open(g_data, &err);
    REQUIRE(s);
    REQUIRE(store_pull(s, "hashing", NULL, NULL, &err) == 0);
    fx_sleep_ms(50);
    double t = jc_now();
    CHECK(store_download_cancel(s, "hashing") == 0);
    CHECKF(jc_now() - t < 2.0, "cancel took %.1f s", jc_now() - t);
    CHECK(!fx_exists(part));
    json_t *m = store_get_json(s, "hashing");
    CHECK(m && json_is_null(json_object_get(m, "state")));
    json_decref(m);
    store_close(s);

    leave_partial("hashing", u, g_bytes, 64);
    REQUIRE(truncate(part, big) == 0);
    s = store_open(g_data, &err);
    REQUIRE(s);
    REQUIRE(store_pull(s, "hashing", NULL, NULL, &err) == 0);
    fx_sleep_ms(50);
    t = jc_now();
    store_close(s); /* stops the download; the .part stays for the next pull */
    CHECKF(jc_now() - t < 2.0, "stop took %.1f s", jc_now() - t);
    struct stat st;
    CHECK(stat(part, &st) == 0 && st.st_size == big);
    s = store_open(g_data, &err);
    REQUIRE(s);
    CHECK(store_delete(s, "hashing", &err) == 0);
    store_close(s);
    free(part);
    free(u);
}

static void setup(void)
{
    g_data = test_tmpdir();
    g_models = jc_path_join(g_data, "models");
    g_files = jc_path_join(g_data, "files");
    mkdir(g_files, 0755);
    char *f = jc_path_join(g_files, "tiny.gguf");
    /* ~200 KiB so the slow mode takes seconds and a half body is a real cut */
    if (fx_gguf_ex(f, "llama", "Tiny DL", 1024, 50000, 0, 0, 0) != 0)
        exit(2);
    jc_err err = {0};
    g_bytes = jc_read_file(f, 1 << 24, &g_size, &err);
    free(f);
}

int main(int argc, char **argv)
{
    /* the test server is on loopback: a proxy from the environment must not be asked */
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    setup();
    if (!start_server()) {
        fprintf(stderr, "SKIP: python3 or tests/helpers/dl_server.py is not available\n");
        fx_rm_rf(g_data);
        return 77;
    }
    static const th_case cases[] = {T(download_ok),
                                    T(download_redirects),
                                    T(download_resumes_after_drop),
                                    T(download_resume_after_restart),
                                    T(download_faults),
                                    T(download_conflict_and_cancel),
                                    T(download_inputs),
                                    T(download_checks_metadata_sha),
                                    T(download_resumed_at_start),
                                    T(sink_hashes_what_it_writes),
                                    T(sink_digest_too_early),
                                    T(sink_resumes_a_partial_file),
                                    T(sink_write_error),
                                    T(download_write_error),
                                    T(download_cancel_while_hashing)};
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name))
            continue;
        th_failures = 0;
        cases[i].fn();
        if (th_failures) {
            failed++;
            fprintf(stderr, "FAIL %s\n", cases[i].name);
        } else {
            passed++;
            fprintf(stderr, "ok   %s\n", cases[i].name);
        }
    }
    stop_server();
    fx_rm_rf(g_data);
    free(g_data);
    free(g_models);
    free(g_files);
    free(g_bytes);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
