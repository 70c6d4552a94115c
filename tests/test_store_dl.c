/*
 * test_store_dl.c — downloads (store_dl.c) against tests/helpers/dl_server.py
 * on 127.0.0.1: a plain download checked by its ETag sha256, redirects and
 * Hugging Face's X-Linked-ETag, a dropped connection resumed with Range, a
 * .part left by an earlier run resumed, a server that ignores Range, bodies
 * shorter or longer than declared, a wrong hash, 403/404, a second pull of
 * the same id, cancel, pull by id, file:// URLs, /blob/ -> /resolve/.
 * Skipped (77) when python3 is not there.
 */
#include <openssl/evp.h>
#include <signal.h>
#include <sys/wait.h>

#include "harness.h"
#include "helpers/store_fixtures.h"
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
    static const th_case cases[] = {T(download_ok),        T(download_redirects),
                                    T(download_resumes_after_drop), T(download_resume_after_restart),
                                    T(download_faults),    T(download_conflict_and_cancel),
                                    T(download_inputs), T(download_checks_metadata_sha),
                                    T(download_resumed_at_start)};
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
