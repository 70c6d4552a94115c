/*
 * test_store.c — the models folder index (store.c, store_import.c,
 * store_watch.c) on tiny GGUF files made with janc's writer in a temporary
 * data folder: defaults, runtime states, unreadable model.json, drop-in
 * import with -2/-3 clashes, non-GGUF and incomplete files, generated
 * model.json, split shards, projectors, import modes, hostile ids and
 * paths, symlinks, a 100 MB model.json, updates that keep the file's shape,
 * deletion, and the live watcher.
 */
#include <sys/stat.h>

#include "harness.h"
#include "helpers/store_fixtures.h"
#include "store/mj.h"
#include "store/store.h"
#include "store/store_int.h"

static const char *jstr(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_string_value(v);
}

static json_int_t jint(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_integer_value(v);
}

/* A data folder with models/ made; returns the data folder (free it). */
static char *fresh_data(char **models)
{
    char *d = test_tmpdir();
    *models = jc_path_join(d, "models");
    mkdir(*models, 0700);
    return d;
}

static bool state_is(store *s, const char *id, const char *state);

static char *pathf(const char *a, const char *b, const char *c)
{
    return c ? jc_xasprintf("%s/%s/%s", a, b, c) : jc_xasprintf("%s/%s", a, b);
}

/* store_open creates <data>/models with mode 0700. */
TEST(open_creates_folder)
{
    char *d = test_tmpdir();
    char *data = jc_path_join(d, "sub/jan");
    jc_err err = {0};
    store *s = store_open(data, &err);
    REQUIRE(s);
    char *models = jc_path_join(data, "models");
    struct stat st;
    CHECK(stat(models, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    CHECK_EQ_INT(store_count(s), 0);
    json_t *l = store_list_json(s);
    CHECK_STR(jstr(l, "object", NULL), "list");
    CHECK_EQ_INT(json_array_size(json_object_get(l, "data")), 0);
    json_decref(l);
    store_close(s);
    CHECK(store_open("", &err) == NULL);
    free(models);
    free(data);
    fx_rm_rf(d);
    free(d);
}

/* A folder whose model.json is only {"source_url"} lists with every default, and a stored
   "running" state reads as ready after a restart. */
TEST(minimal_folder_and_states)
{
    char *models, *d = fresh_data(&models);
    char *dir = pathf(models, "tiny", NULL);
    mkdir(dir, 0755);
    char *g = pathf(dir, "tiny.gguf", NULL), *mj = pathf(dir, "model.json", NULL);
    REQUIRE(fx_gguf(g, "llama", "Tiny", 512) == 0);
    REQUIRE(fx_write(mj, "{\"source_url\": \"https://example.com/tiny.gguf\", \"state\": \"running\"}") == 0);
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    json_t *m = store_get_json(s, "tiny");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "ready");
    CHECK_STR(jstr(m, "name", NULL), "tiny");
    CHECK_STR(jstr(m, "owned_by", NULL), "you");
    CHECK(jint(m, "created", NULL) > 1600000000);
    /* ctx_len default: 2048 capped by the trained context read from the GGUF */
    CHECK_EQ_INT(jint(m, "settings", "ctx_len"), 512);
    CHECK_STR(jstr(m, "metadata", "architecture"), "llama");
    CHECK_STR(jstr(m, "metadata", "quantization"), "F32");
    CHECK_STR(jstr(m, "metadata", "bos_token"), "<s>");
    CHECK_STR(jstr(m, "metadata", "eos_token"), "</s>");
    json_decref(m);
    /* the file itself was not rewritten */
    char *text = fx_read(mj);
    CHECK(text && !strstr(text, "metadata"));
    free(text);
    char *p = NULL;
    CHECK(store_model_path(s, "tiny", &p, &err) == 0);
    CHECK_STR(p, g);
    free(p);
    CHECK(store_model_path(s, "nope", &p, &err) == STORE_ENOENT);
    /* runtime states */
    CHECK(store_set_state(s, "tiny", "running", NULL) == 0);
    m = store_get_json(s, "tiny");
    CHECK_STR(jstr(m, "state", NULL), "running");
    json_decref(m);
    CHECK(store_set_state(s, "tiny", "bogus", NULL) == STORE_EINVAL);
    CHECK(store_set_state(s, "nope", "running", NULL) == STORE_ENOENT);
    CHECK(store_set_state(s, "tiny", "error", "out of memory") == 0);
    m = store_get_json(s, "tiny");
    CHECK_STR(jstr(m, "state", NULL), "error");
    CHECK_STR(jstr(m, "error", NULL), "out of memory");
    json_decref(m);
    CHECK(store_set_state(s, "tiny", NULL, NULL) == 0);
    store_settings st;
    CHECK(store_get_settings(s, "tiny", &st, &err) == 0);
    CHECK_EQ_INT(st.ctx_len, 512);
    CHECK_EQ_INT(st.n_parallel, 1);
    CHECK(st.mmproj == NULL);
    store_settings_free(&st);
    store_params pa;
    CHECK(store_get_params(s, "tiny", &pa, &err) == 0);
    CHECK(pa.stream && pa.top_k == 40 && pa.token_limit == 2048);
    store_close(s);
    free(g);
    free(mj);
    free(dir);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* A model.json that cannot be read: state error with line:col, never overwritten, never updated. */
TEST(bad_model_json_is_error_state)
{
    char *models, *d = fresh_data(&models);
    char *dir = pathf(models, "broken", NULL);
    mkdir(dir, 0755);
    char *mj = pathf(dir, "model.json", NULL);
    const char *bad = "{\n  \"source_url\": \"x\"\n  \"settings\": {\"ctx_len\": 5\n";
    REQUIRE(fx_write(mj, bad) == 0);
    char *dir2 = pathf(models, "wrongtype", NULL);
    mkdir(dir2, 0755);
    char *mj2 = pathf(dir2, "model.json", NULL);
    REQUIRE(fx_write(mj2, "{\"source_url\": \"x\", \"settings\": {\"ctx_len\": \"big\"}}") == 0);
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    json_t *m = store_get_json(s, "broken");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "error");
    CHECKF(jstr(m, "error", NULL) && strstr(jstr(m, "error", NULL), "broken/model.json:4:1:"), "%s",
           jstr(m, "error", NULL));
    json_decref(m);
    m = store_get_json(s, "wrongtype");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "error");
    CHECKF(strstr(jstr(m, "error", NULL), "settings.ctx_len") != NULL, "%s", jstr(m, "error", NULL));
    json_decref(m);
    json_t *patch = json_pack("{s:{s:i}}", "settings", "ctx_len", 100);
    CHECK(store_update(s, "broken", patch, &err) == STORE_EIO);
    json_decref(patch);
    char *p = NULL;
    CHECK(store_model_path(s, "broken", &p, &err) == STORE_EINVAL);
    store_close(s);
    char *after = fx_read(mj);
    CHECK_STR(after, bad);
    free(after);
    free(mj);
    free(mj2);
    free(dir);
    free(dir2);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* GGUFs dropped in models/ move into their own folders; names map to ids; clashes get -2, -3. */
TEST(drop_in_import_and_clashes)
{
    char *models, *d = fresh_data(&models);
    char *a = pathf(models, "My Model Q4.gguf", NULL);
    REQUIRE(fx_gguf(a, "llama", "Pretty Name", 8192) == 0);
    /* two folders already hold the ids my-model-q4 and my-model-q4-2 */
    char *f1 = pathf(models, "my-model-q4", NULL), *f2 = pathf(models, "my-model-q4-2", NULL);
    mkdir(f1, 0755);
    mkdir(f2, 0755);
    char *j1 = pathf(f1, "model.json", NULL), *j2 = pathf(f2, "model.json", NULL);
    fx_write(j1, "{\"source_url\":\"x\"}");
    fx_write(j2, "{\"source_url\":\"x\"}");
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    CHECK(!fx_exists(a));
    char *moved = pathf(models, "my-model-q4-3", "My Model Q4.gguf");
    CHECK(fx_exists(moved));
    json_t *m = store_get_json(s, "my-model-q4-3");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "ready");
    CHECK_STR(jstr(m, "name", NULL), "Pretty Name");
    CHECK_STR(jstr(m, "format", NULL), "ggufv3");
    CHECK_EQ_INT(jint(m, "settings", "ctx_len"), MJ_IMPORT_CTX_CAP); /* 8192 capped */
    CHECK_EQ_INT(jint(m, "metadata", "context_length"), 8192);
    CHECK_EQ_INT(jint(m, "metadata", "parameters"), 64);
    CHECK(json_is_false(json_object_get(json_object_get(m, "metadata"), "has_chat_template")));
    CHECK(strncmp(jstr(m, "source_url", NULL), "file:///", 8) == 0);
    CHECK_STR(json_string_value(json_array_get(json_object_get(m, "assets"), 0)), "My Model Q4.gguf");
    json_decref(m);
    /* the generated model.json is on disk, with the id */
    char *gen = pathf(models, "my-model-q4-3", "model.json");
    char *text = fx_read(gen);
    CHECK(text && strstr(text, "\"id\": \"my-model-q4-3\""));
    free(text);
    store_close(s);
    free(gen);
    free(moved);
    free(a);
    free(f1);
    free(f2);
    free(j1);
    free(j2);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* A .gguf that is not a GGUF, or is cut short, stays where it is, untouched, listed as error;
   once complete it imports. */
TEST(non_gguf_and_incomplete_left_alone)
{
    char *models, *d = fresh_data(&models);
    char *junk = pathf(models, "junk.gguf", NULL);
    fx_write(junk, "this is not a gguf file at all");
    /* a GGUF still being copied: the first half of a real one */
    char *full = pathf(d, "full.gguf", NULL);
    REQUIRE(fx_gguf_ex(full, "llama", "Big", 0, 4096, 0, 0, 0) == 0);
    char *bytes = fx_read(full);
    struct stat st;
    stat(full, &st);
    char *partial = pathf(models, "growing.gguf", NULL);
    FILE *f = fopen(partial, "wb");
    fwrite(bytes, 1, (size_t)st.st_size / 2, f);
    fclose(f);
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    char *text = fx_read(junk);
    CHECK_STR(text, "this is not a gguf file at all");
    free(text);
    json_t *m = store_get_json(s, "junk");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "error");
    CHECK(strstr(jstr(m, "error", NULL), "junk.gguf") != NULL);
    json_decref(m);
    CHECK(fx_exists(partial));
    m = store_get_json(s, "growing");
    CHECK(m && !strcmp(jstr(m, "state", NULL), "error"));
    json_decref(m);
    /* the copy finishes and the watcher (here: a rescan) sees it complete */
    f = fopen(partial, "wb");
    fwrite(bytes, 1, (size_t)st.st_size, f);
    fclose(f);
    CHECK(store_rescan(s) == 0);
    CHECK(!fx_exists(partial));
    m = store_get_json(s, "growing");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "ready");
    json_decref(m);
    /* deleting the junk entry removes the file */
    CHECK(store_delete(s, "junk", &err) == 0);
    CHECK(!fx_exists(junk));
    store_close(s);
    free(bytes);
    free(junk);
    free(full);
    free(partial);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* A folder with GGUFs and no model.json gets one in place; a projector becomes settings.mmproj. */
TEST(folder_without_model_json_and_mmproj)
{
    char *models, *d = fresh_data(&models);
    char *dir = pathf(models, "llava", NULL);
    mkdir(dir, 0755);
    char *g = pathf(dir, "llava-q4.gguf", NULL), *pj = pathf(dir, "mmproj-model-f16.gguf", NULL);
    REQUIRE(fx_gguf(g, "llama", "LLaVA", 4096) == 0);
    REQUIRE(fx_gguf(pj, "clip", "proj", 0) == 0);
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    CHECK_EQ_INT(store_count(s), 1);
    json_t *m = store_get_json(s, "llava");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "ready");
    CHECK_STR(jstr(m, "settings", "mmproj"), "mmproj-model-f16.gguf");
    CHECK_EQ_INT(json_array_size(json_object_get(m, "assets")), 2);
    json_decref(m);
    char *mj = pathf(dir, "model.json", NULL);
    CHECK(fx_exists(mj));
    store_settings st;
    CHECK(store_get_settings(s, "llava", &st, &err) == 0);
    CHECK_STR(st.mmproj, pj);
    store_settings_free(&st);
    char *p = NULL;
    CHECK(store_model_path(s, "llava", &p, &err) == 0);
    CHECK_STR(p, g);
    free(p);
    /* a projector dropped into models/ is not a model of its own */
    char *loose = pathf(models, "mmproj-other.gguf", NULL);
    fx_gguf(loose, "clip", "p", 0);
    store_rescan(s);
    CHECK(fx_exists(loose));
    CHECK(store_get_json(s, "mmproj-other") == NULL);
    store_close(s);
    free(loose);
    free(mj);
    free(g);
    free(pj);
    free(dir);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* Split shards dropped in models/ form one model with one id. */
TEST(split_shards_one_model)
{
    char *models, *d = fresh_data(&models);
    char names[3][128];
    for (int i = 0; i < 3; i++) {
        snprintf(names[i], sizeof names[i], "%s/Big-Model-%05d-of-00003.gguf", models, i + 1);
        REQUIRE(fx_gguf_ex(names[i], "llama", "Big", 2048, 32, i, 3, 3) == 0);
    }
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    CHECK_EQ_INT(store_count(s), 1);
    json_t *m = store_get_json(s, "big-model");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "ready");
    CHECK_EQ_INT(json_array_size(json_object_get(m, "assets")), 3);
    CHECK_EQ_INT(jint(m, "metadata", "shards"), 3);
    CHECK_EQ_INT(jint(m, "metadata", "parameters"), 96);
    json_decref(m);
    for (int i = 0; i < 3; i++)
        CHECK(!fx_exists(names[i]));
    char *p = NULL;
    CHECK(store_model_path(s, "big-model", &p, &err) == 0);
    CHECK(p && strstr(p, "big-model/Big-Model-00001-of-00003.gguf"));
    free(p);
    /* imported from elsewhere by its first shard, linked: all three shards come along */
    char ext[3][160];
    for (int i = 0; i < 3; i++) {
        snprintf(ext[i], sizeof ext[i], "%s/Ext-%05d-of-00003.gguf", d, i + 1);
        REQUIRE(fx_gguf_ex(ext[i], "llama", "Ext", 2048, 16, i, 3, 3) == 0);
    }
    char *nid = NULL;
    CHECK(store_import(s, ext[1], NULL, STORE_IMPORT_LINK, NULL, &err) == STORE_EINVAL); /* not the first */
    CHECK(store_import(s, ext[0], NULL, STORE_IMPORT_LINK, &nid, &err) == 0);
    CHECK_STR(nid, "ext");
    free(nid);
    for (int i = 0; i < 3; i++) {
        char *lp = jc_xasprintf("%s/ext/Ext-%05d-of-00003.gguf", models, i + 1);
        struct stat lst;
        CHECK(lstat(lp, &lst) == 0 && S_ISLNK(lst.st_mode));
        free(lp);
    }
    store_close(s);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* import: copy (default), move, link; ids checked; a given id that exists is a conflict. */
TEST(import_modes_and_ids)
{
    char *models, *d = fresh_data(&models);
    char *src = pathf(d, "Source.gguf", NULL);
    REQUIRE(fx_gguf(src, "llama", NULL, 0) == 0);
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    char *id = NULL;
    CHECK(store_import(s, src, NULL, STORE_IMPORT_COPY, &id, &err) == 0);
    CHECK_STR(id, "source");
    free(id);
    CHECK(fx_exists(src));
    json_t *m = store_get_json(s, "source");
    CHECK(m && !strcmp(jstr(m, "name", NULL), "Source")); /* no general.name: the file name */
    json_decref(m);
    /* same file again: derived id gets -2; a given id that exists is a conflict */
    CHECK(store_import(s, src, NULL, STORE_IMPORT_COPY, &id, &err) == 0);
    CHECK_STR(id, "source-2");
    free(id);
    CHECK(store_import(s, src, "source", STORE_IMPORT_COPY, NULL, &err) == STORE_EEXIST);
    /* hostile ids */
    const char *bad[] = {"../evil", "a/b", "/abs", "..", ".hidden", "", "sp ace", "x\ny"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(store_import(s, src, bad[i], STORE_IMPORT_COPY, NULL, &err) == STORE_EINVAL, "%s", bad[i]);
    char *evil = pathf(d, "evil", NULL);
    CHECK(!fx_exists(evil));
    free(evil);
    /* link: a symlink to the absolute path */
    CHECK(store_import(s, src, "linked", STORE_IMPORT_LINK, NULL, &err) == 0);
    char *ln = pathf(models, "linked", "Source.gguf");
    struct stat st;
    CHECK(lstat(ln, &st) == 0 && S_ISLNK(st.st_mode));
    m = store_get_json(s, "linked");
    CHECK(m && !strcmp(jstr(m, "state", NULL), "ready"));
    json_decref(m);
    /* rm removes the link, never the target */
    CHECK(store_delete(s, "linked", &err) == 0);
    CHECK(!fx_exists(ln) && fx_exists(src));
    CHECK(store_delete(s, "linked", &err) == STORE_ENOENT);
    CHECK(store_delete(s, "../..", &err) == STORE_ENOENT);
    /* move */
    CHECK(store_import(s, src, "moved", STORE_IMPORT_MOVE, NULL, &err) == 0);
    CHECK(!fx_exists(src));
    /* not a GGUF, missing, a folder */
    char *txt = pathf(d, "notes.gguf", NULL);
    fx_write(txt, "hello");
    CHECK(store_import(s, txt, NULL, STORE_IMPORT_MOVE, NULL, &err) == STORE_EINVAL);
    CHECK(fx_exists(txt)); /* a failed move leaves the file where it was */
    CHECK(store_import(s, "/nonexistent/x.gguf", NULL, STORE_IMPORT_COPY, NULL, &err) == STORE_ENOENT);
    CHECK(store_import(s, d, NULL, STORE_IMPORT_COPY, NULL, &err) == STORE_EINVAL);
    CHECK(store_import_mode_parse("link") == STORE_IMPORT_LINK && store_import_mode_parse("x") == -1);
    /* no staging folders are left behind */
    char *cmd = jc_xasprintf("ls -A '%s' | grep -c '^\\.import' >/dev/null", models);
    CHECK(system(cmd) != 0);
    free(cmd);
    store_close(s);
    free(ln);
    free(txt);
    free(src);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* A file replaced between the look that judged it complete and the move/copy is caught by the
   second look at what landed: nothing is imported and a moved file goes back. */
TEST(replaced_while_importing)
{
    char *models, *d = fresh_data(&models);
    char *first = pathf(d, "first.gguf", NULL), *swapped = pathf(models, "swapped.gguf", NULL);
    REQUIRE(fx_gguf_ex(first, "llama", "A", 0, 64, 0, 0, 0) == 0);
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    store_ginfo seen;
    REQUIRE(store_ginfo_read(first, &seen, &err) == 0);
    /* what is at the path now is another (bigger) GGUF */
    REQUIRE(fx_gguf_ex(swapped, "llama", "B", 0, 128, 0, 0, 0) == 0);
    enum store_import_mode modes[] = {STORE_IMPORT_MOVE, STORE_IMPORT_COPY};
    for (int i = 0; i < 2; i++) {
        CHECK(store_import_seen(s, swapped, &seen, NULL, modes[i], NULL, &err) == STORE_EINVAL);
        CHECKF(strstr(err.msg, "changed while being imported") != NULL, "%s", err.msg);
        CHECK(fx_exists(swapped)); /* the move was undone */
        CHECK(store_get_json(s, "swapped") == NULL);
    }
    char *cmd = jc_xasprintf("test -z \"$(ls -A '%s' | grep -v '^swapped.gguf$')\"", models);
    CHECK(system(cmd) == 0); /* no folder, no staging left */
    free(cmd);
    store_ginfo_free(&seen);
    store_close(s);
    free(first);
    free(swapped);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* Symlinks: a loop and a dangling link are not model files; a linked folder's rm removes the link only. */
TEST(symlinks_hostile)
{
    char *models, *d = fresh_data(&models);
    char *dir = pathf(models, "loopy", NULL);
    mkdir(dir, 0755);
    char *l1 = pathf(dir, "a.gguf", NULL), *l2 = pathf(dir, "b.gguf", NULL);
    CHECK(symlink(l2, l1) == 0 && symlink(l1, l2) == 0);
    char *dang = pathf(models, "dangling.gguf", NULL);
    CHECK(symlink("/nonexistent/file.gguf", dang) == 0);
    /* a model folder that is a symlink to a folder outside the data folder */
    char *outside = pathf(d, "outside", NULL);
    mkdir(outside, 0755);
    char *og = pathf(outside, "o.gguf", NULL);
    fx_gguf(og, "llama", "O", 0);
    char *lf = pathf(models, "linkdir", NULL);
    CHECK(symlink(outside, lf) == 0);
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    CHECK(store_get_json(s, "loopy") == NULL); /* nothing usable in it */
    json_t *m = store_get_json(s, "linkdir");
    CHECK(m && !strcmp(jstr(m, "state", NULL), "ready"));
    json_decref(m);
    CHECK(store_delete(s, "linkdir", &err) == 0);
    CHECK(!fx_exists(lf) && fx_exists(og)); /* the link went, the folder outside stayed */
    CHECK(fx_exists(dang));
    store_close(s);
    free(l1);
    free(l2);
    free(dir);
    free(dang);
    free(outside);
    free(og);
    free(lf);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* A 100 MB model.json is refused by its size without being read. */
TEST(huge_model_json_refused)
{
    char *models, *d = fresh_data(&models);
    char *dir = pathf(models, "huge", NULL);
    mkdir(dir, 0755);
    char *mj = pathf(dir, "model.json", NULL);
    int fd = open(mj, O_WRONLY | O_CREAT, 0644);
    REQUIRE(fd >= 0);
    CHECK(ftruncate(fd, 100 << 20) == 0); /* sparse: costs no disk */
    close(fd);
    jc_err err = {0};
    double t0 = jc_now();
    store *s = store_open(d, &err);
    REQUIRE(s);
    CHECK(jc_now() - t0 < 1.0);
    json_t *m = store_get_json(s, "huge");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "error");
    CHECKF(strstr(jstr(m, "error", NULL), "more than") != NULL, "%s", jstr(m, "error", NULL));
    json_decref(m);
    store_close(s);
    free(mj);
    free(dir);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* A model.json that is a folder or a FIFO is an error state, and the scan does not block on the FIFO. */
TEST(model_json_not_a_file)
{
    char *models, *d = fresh_data(&models);
    char *a = pathf(models, "dirjson", NULL), *b = pathf(models, "fifojson", NULL);
    mkdir(a, 0755);
    mkdir(b, 0755);
    char *ma = pathf(a, "model.json", NULL), *mb = pathf(b, "model.json", NULL);
    mkdir(ma, 0755);
    CHECK(mkfifo(mb, 0644) == 0);
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    CHECK(state_is(s, "dirjson", "error"));
    CHECK(state_is(s, "fifojson", "error"));
    store_close(s);
    free(a);
    free(b);
    free(ma);
    free(mb);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* An unreadable model.json is an error state (skipped when running as root, who reads anything). */
TEST(unreadable_model_json)
{
    if (geteuid() == 0) {
        fprintf(stderr, "  (running as root: permissions cannot make a file unreadable; see model_json_not_a_file)\n");
        return;
    }
    char *models, *d = fresh_data(&models);
    char *dir = pathf(models, "secret", NULL);
    mkdir(dir, 0755);
    char *mj = pathf(dir, "model.json", NULL);
    fx_write(mj, "{\"source_url\":\"x\"}");
    chmod(mj, 0);
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    json_t *m = store_get_json(s, "secret");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "error");
    CHECK(strstr(jstr(m, "error", NULL), "Permission denied") != NULL);
    json_decref(m);
    store_close(s);
    chmod(mj, 0644);
    free(mj);
    free(dir);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* store_update merges, keeps unknown fields and order, writes atomically, refuses bad values. */
TEST(update_keeps_shape)
{
    char *models, *d = fresh_data(&models);
    char *dir = pathf(models, "m", NULL);
    mkdir(dir, 0755);
    char *mj = pathf(dir, "model.json", NULL);
    fx_write(mj, "{\"zz_custom\": {\"keep\": 1}, \"source_url\": \"https://x/m.gguf\", // comment\n"
                 " \"settings\": {\"ctx_len\": \"1024\", \"llama_model_path\": \"m.gguf\"}, \"engine\": \"nitro\",}");
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    json_t *m = store_get_json(s, "m");
    REQUIRE(m);
    CHECK(json_is_null(json_object_get(m, "state"))); /* its file is not there yet */
    json_decref(m);
    json_t *patch = json_pack("{s:{s:i},s:{s:f}}", "settings", "ctx_len", 4096, "parameters", "temperature", 0.2);
    CHECK(store_update(s, "m", patch, &err) == 0);
    json_decref(patch);
    char *text = fx_read(mj);
    REQUIRE(text);
    const char *a = strstr(text, "zz_custom"), *b = strstr(text, "source_url"), *c = strstr(text, "llama_model_path"),
               *e = strstr(text, "engine"), *p = strstr(text, "parameters");
    CHECKF(a && b && c && e && p && a < b && b < c && c < e && e < p, "%s", text);
    CHECK(strstr(text, "\"ctx_len\": 4096") != NULL);
    free(text);
    m = store_get_json(s, "m");
    CHECK_EQ_INT(jint(m, "settings", "ctx_len"), 4096);
    json_decref(m);
    patch = json_pack("{s:{s:s}}", "settings", "ctx_len", "huge");
    CHECK(store_update(s, "m", patch, &err) == STORE_EINVAL);
    json_decref(patch);
    patch = json_pack("{s:s}", "id", "x");
    CHECK(store_update(s, "m", patch, &err) == STORE_EINVAL);
    CHECK(store_update(s, "none", patch, &err) == STORE_ENOENT);
    json_decref(patch);
    store_close(s);
    free(mj);
    free(dir);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* A Jan folder as Jan wrote it: sources[] + llama_model_path, string values. */
TEST(jan_folder_as_is)
{
    char *models, *d = fresh_data(&models);
    char *dir = pathf(models, "tinyllama-1.1b", NULL);
    mkdir(dir, 0755);
    char *g = pathf(dir, "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf", NULL);
    fx_gguf(g, "llama", "TinyLlama", 2048);
    char *other = pathf(dir, "zzz-unrelated.gguf", NULL);
    fx_gguf_ex(other, "llama", "Other", 0, 4096, 0, 0, 0); /* larger, but not the one named */
    char *mj = pathf(dir, "model.json", NULL);
    fx_write(mj, "{\"sources\": [{\"filename\": \"tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf\", \"url\": "
                 "\"https://huggingface.co/x/resolve/main/tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf\"}],"
                 "\"id\": \"tinyllama-1.1b\", \"object\": \"model\", \"name\": \"TinyLlama Chat 1.1B Q4\", \"version\": \"1.0\","
                 "\"format\": \"gguf\", \"settings\": {\"ctx_len\": \"4096\", \"prompt_template\": \"<|user|>\\n{prompt}\","
                 "\"llama_model_path\": \"tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf\"}, \"parameters\": {\"temperature\": \"0.7\","
                 "\"max_tokens\": 1024, \"stream\": \"true\", \"stop\": []}, \"engine\": \"nitro\"}");
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    json_t *m = store_get_json(s, "tinyllama-1.1b");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "ready");
    CHECK_EQ_INT(jint(m, "settings", "ctx_len"), 4096);
    CHECK_EQ_INT(jint(m, "parameters", "token_limit"), 1024);
    json_decref(m);
    char *p = NULL;
    CHECK(store_model_path(s, "tinyllama-1.1b", &p, &err) == 0);
    CHECK_STR(p, g);
    free(p);
    store_settings st;
    CHECK(store_get_settings(s, "tinyllama-1.1b", &st, &err) == 0);
    CHECK_STR(st.prompt_template, "<|user|>\n{prompt}");
    store_settings_free(&st);
    store_close(s);
    free(g);
    free(other);
    free(mj);
    free(dir);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* Polls cond for up to 5 s. */
#define WAIT_FOR(cond)                                                                                   \
    do {                                                                                                 \
        for (int _i = 0; _i < 250 && !(cond); _i++)                                                      \
            fx_sleep_ms(20);                                                                             \
    } while (0)

static bool has_model(store *s, const char *id)
{
    json_t *m = store_get_json(s, id);
    json_decref(m);
    return m != NULL;
}

static bool state_is(store *s, const char *id, const char *state)
{
    json_t *m = store_get_json(s, id);
    bool ok = m && jstr(m, "state", NULL) && !strcmp(jstr(m, "state", NULL), state);
    json_decref(m);
    return ok;
}

/* Shards arriving out of order: the model imports when the last missing shard completes. */
TEST(split_shards_arrive_late)
{
    char *models, *d = fresh_data(&models);
    char names[3][160];
    for (int i = 0; i < 3; i++) {
        snprintf(names[i], sizeof names[i], "%s/Late-%05d-of-00003.gguf", models, i + 1);
        REQUIRE(fx_gguf_ex(names[i], "llama", "Late", 2048, 32, i, 3, 3) == 0);
    }
    /* shard 2 is still being copied */
    char *bytes = fx_read(names[1]);
    struct stat st;
    stat(names[1], &st);
    FILE *f = fopen(names[1], "wb");
    fwrite(bytes, 1, (size_t)st.st_size / 2, f);
    fclose(f);
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    CHECK(fx_exists(names[0]) && fx_exists(names[1]));
    CHECK(state_is(s, "late", "error"));
    f = fopen(names[1], "wb");
    fwrite(bytes, 1, (size_t)st.st_size, f);
    fclose(f);
    /* what the watcher does when shard 2 is closed */
    store_drop_in(s, "Late-00002-of-00003.gguf");
    CHECK(state_is(s, "late", "ready"));
    for (int i = 0; i < 3; i++)
        CHECK(!fx_exists(names[i]));
    store_close(s);
    free(bytes);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* A model.json that is a symlink (here to a file outside the data folder) is not read. */
TEST(model_json_symlink_refused)
{
    char *models, *d = fresh_data(&models);
    char *dir = pathf(models, "sneaky", NULL);
    mkdir(dir, 0755);
    char *target = pathf(d, "secret.txt", NULL);
    fx_write(target, "{\"source_url\": \"x\", \"name\": \"secret\"}");
    char *mj = pathf(dir, "model.json", NULL);
    CHECK(symlink(target, mj) == 0);
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    json_t *m = store_get_json(s, "sneaky");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "error");
    CHECKF(strstr(jstr(m, "error", NULL), "symlink") != NULL, "%s", jstr(m, "error", NULL));
    json_decref(m);
    store_close(s);
    free(dir);
    free(target);
    free(mj);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* Listing is served from memory: a GGUF spoiled after the scan does not change the listing
   (it is not reopened); a rescan notices the change (its size and mtime key the cache) and
   a model file that was read and is not a GGUF puts the model in the error state. */
TEST(listing_from_memory)
{
    char *models, *d = fresh_data(&models);
    char *dir = pathf(models, "mem", NULL);
    mkdir(dir, 0755);
    char *g = pathf(dir, "mem.gguf", NULL), *mj = pathf(dir, "model.json", NULL);
    REQUIRE(fx_gguf(g, "llama", "Mem", 512) == 0);
    fx_write(mj, "{\"source_url\": \"x\"}"); /* no metadata: the GGUF facts come from the file */
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    CHECK(state_is(s, "mem", "ready"));
    fx_write(g, "garbage now");
    for (int i = 0; i < 3; i++) {
        json_t *l = store_list_json(s);
        json_t *m = json_array_get(json_object_get(l, "data"), 0);
        CHECK(m && jstr(m, "metadata", "quantization") && !strcmp(jstr(m, "metadata", "quantization"), "F32"));
        json_decref(l);
    }
    store_rescan(s);
    json_t *m = store_get_json(s, "mem");
    REQUIRE(m);
    CHECK_STR(jstr(m, "state", NULL), "error"); /* reread: the garbage is not a GGUF */
    CHECK(strstr(jstr(m, "error", NULL), "mem/mem.gguf") != NULL);
    json_decref(m);
    store_close(s);
    free(g);
    free(mj);
    free(dir);
    fx_rm_rf(d);
    free(d);
    free(models);
}

/* The watcher: a file dropped in is imported once complete, a hand edit reloads, a removed folder goes. */
TEST(watch_live)
{
    char *models, *d = fresh_data(&models);
    jc_err err = {0};
    store *s = store_open(d, &err);
    REQUIRE(s);
    REQUIRE(store_watch_start(s, &err) == 0);
    fx_sleep_ms(100);
    /* written in place, in two steps: not imported until closed complete */
    char *full = pathf(d, "w.gguf", NULL);
    REQUIRE(fx_gguf_ex(full, "llama", "W", 1024, 2048, 0, 0, 0) == 0);
    char *bytes = fx_read(full);
    struct stat st;
    stat(full, &st);
    char *dropped = pathf(models, "Watched.gguf", NULL);
    FILE *f = fopen(dropped, "wb");
    fwrite(bytes, 1, (size_t)st.st_size / 3, f);
    fflush(f);
    fx_sleep_ms(200);
    CHECK(fx_exists(dropped));
    CHECK(!has_model(s, "watched") || state_is(s, "watched", "error") == false);
    fwrite(bytes + st.st_size / 3, 1, (size_t)(st.st_size - st.st_size / 3), f);
    fclose(f);
    WAIT_FOR(state_is(s, "watched", "ready"));
    CHECK(state_is(s, "watched", "ready"));
    CHECK(!fx_exists(dropped));
    /* moved in whole */
    char *mv = pathf(models, "moved-in.gguf", NULL);
    CHECK(rename(full, mv) == 0);
    WAIT_FOR(state_is(s, "moved-in", "ready"));
    CHECK(state_is(s, "moved-in", "ready"));
    /* a hand edit of model.json is reloaded */
    char *mj = pathf(models, "watched", "model.json");
    fx_write(mj, "{\"source_url\": \"x\", \"name\": \"Edited\", \"assets\": [\"Watched.gguf\"]}");
    json_t *m = NULL;
    for (int i = 0; i < 250; i++) {
        m = store_get_json(s, "watched");
        if (m && jstr(m, "name", NULL) && !strcmp(jstr(m, "name", NULL), "Edited"))
            break;
        json_decref(m);
        m = NULL;
        fx_sleep_ms(20);
    }
    CHECK(m != NULL);
    json_decref(m);
    /* broken by hand: error state; fixed: back */
    fx_write(mj, "{\"source_url\": ");
    WAIT_FOR(state_is(s, "watched", "error"));
    CHECK(state_is(s, "watched", "error"));
    fx_write(mj, "{\"source_url\": \"x\"}");
    WAIT_FOR(state_is(s, "watched", "ready"));
    CHECK(state_is(s, "watched", "ready"));
    /* a folder removed by hand leaves the list */
    char *dir = pathf(models, "moved-in", NULL);
    fx_rm_rf(dir);
    WAIT_FOR(!has_model(s, "moved-in"));
    CHECK(!has_model(s, "moved-in"));
    /* a new folder with a model.json appears */
    char *nd = pathf(models, "newdir", NULL);
    mkdir(nd, 0755);
    char *nmj = pathf(nd, "model.json", NULL);
    fx_write(nmj, "{\"source_url\": \"https://example.com/a.gguf\"}");
    WAIT_FOR(has_model(s, "newdir"));
    CHECK(has_model(s, "newdir"));
    /* a GGUF copied into a new folder of its own: model.json generated once it is closed */
    char *inc = pathf(models, "incoming", NULL);
    mkdir(inc, 0755);
    fx_sleep_ms(100);
    char *incg = pathf(inc, "in.gguf", NULL), *incmj = pathf(inc, "model.json", NULL);
    f = fopen(incg, "wb");
    fwrite(bytes, 1, (size_t)st.st_size / 2, f);
    fflush(f);
    fx_sleep_ms(150);
    CHECK(!fx_exists(incmj));
    fwrite(bytes + st.st_size / 2, 1, (size_t)(st.st_size - st.st_size / 2), f);
    fclose(f);
    WAIT_FOR(state_is(s, "incoming", "ready"));
    CHECK(state_is(s, "incoming", "ready"));
    CHECK(fx_exists(incmj));
    free(inc);
    free(incg);
    free(incmj);
    store_watch_stop(s);
    store_close(s);
    free(bytes);
    free(full);
    free(dropped);
    free(mv);
    free(mj);
    free(dir);
    free(nd);
    free(nmj);
    fx_rm_rf(d);
    free(d);
    free(models);
}

TESTS(T(open_creates_folder), T(minimal_folder_and_states), T(bad_model_json_is_error_state),
      T(drop_in_import_and_clashes), T(non_gguf_and_incomplete_left_alone), T(folder_without_model_json_and_mmproj),
      T(split_shards_one_model), T(import_modes_and_ids), T(replaced_while_importing), T(symlinks_hostile), T(huge_model_json_refused),
      T(model_json_not_a_file), T(unreadable_model_json), T(update_keeps_shape), T(jan_folder_as_is), T(split_shards_arrive_late), T(model_json_symlink_refused),
      T(listing_from_memory), T(watch_live));
TEST_MAIN()
