/*
 * test_base.c — the base layer: buffers keep their maximum, atomic writes
 * replace whole files, bounded reads refuse large files.
 */
#include "base/fs.h"
#include "base/jc.h"
#include "harness.h"

TEST(buf_respects_max)
{
    jc_buf b;
    jc_buf_init(&b, 8);
    CHECK(jc_buf_puts(&b, "12345") == 0);
    CHECK(jc_buf_puts(&b, "6789") == -1); /* would make 9 > 8 */
    CHECK_EQ_INT(b.len, 5);
    CHECK_STR(b.data, "12345");
    CHECK(jc_buf_printf(&b, "%d", 678) == 0);
    CHECK_STR(b.data, "12345678");
    CHECK(jc_buf_putc(&b, 'x') == -1);
    jc_buf_free(&b);
}

TEST(atomic_write_and_bounded_read)
{
    char *dir = test_tmpdir();
    char *path = jc_path_join(dir, "f.json");
    jc_err err = {0};
    CHECK(jc_write_atomic(path, "old", 3, 0644, &err) == 0);
    CHECK(jc_write_atomic(path, "newer", 5, 0644, &err) == 0);
    size_t len = 0;
    char *s = jc_read_file(path, 100, &len, &err);
    REQUIRE(s);
    CHECK_STR(s, "newer");
    CHECK_EQ_INT(len, 5);
    free(s);
    CHECK(jc_read_file(path, 4, &len, &err) == NULL);
    CHECKF(strstr(err.msg, "more than") != NULL, "message: %s", err.msg);
    /* a write into a folder that does not exist fails and leaves nothing */
    char *bad = jc_path_join(dir, "nope/f.json");
    CHECK(jc_write_atomic(bad, "x", 1, 0644, &err) == -1);
    free(bad);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

TEST(mkdir_p_nested)
{
    char *dir = test_tmpdir();
    char *deep = jc_path_join(dir, "a/b/c");
    jc_err err = {0};
    CHECK(jc_mkdir_p(deep, 0700, &err) == 0);
    CHECK(access(deep, F_OK) == 0);
    CHECK(jc_mkdir_p(deep, 0700, &err) == 0); /* exists: fine */
    free(deep);
    free(dir);
}

/* Proves: jc_utf8_seq takes 1-4 byte sequences and refuses cut, overlong, surrogate and out-of-range ones. */
TEST(utf8_seq)
{
    CHECK_EQ_INT(jc_utf8_seq("a", 1), 1);
    CHECK_EQ_INT(jc_utf8_seq("\xc3\xa9", 2), 2);          /* e acute */
    CHECK_EQ_INT(jc_utf8_seq("\xe2\x82\xac", 3), 3);      /* euro sign */
    CHECK_EQ_INT(jc_utf8_seq("\xf0\x9f\x98\x80", 4), 4); /* U+1F600 */
    CHECK_EQ_INT(jc_utf8_seq("\xe2\x82\xac", 2), 0);      /* cut by n */
    CHECK_EQ_INT(jc_utf8_seq("\xc0\xaf", 2), 0);          /* overlong '/' */
    CHECK_EQ_INT(jc_utf8_seq("\xe0\x80\xaf", 3), 0);      /* overlong, 3 bytes */
    CHECK_EQ_INT(jc_utf8_seq("\xed\xa0\x80", 3), 0);      /* surrogate U+D800 */
    CHECK_EQ_INT(jc_utf8_seq("\xf4\x90\x80\x80", 4), 0); /* past U+10FFFF */
    CHECK_EQ_INT(jc_utf8_seq("\x80", 1), 0);              /* lone continuation byte */
    CHECK_EQ_INT(jc_utf8_seq("\xc3(", 2), 0);             /* bad continuation */
}

TESTS(T(buf_respects_max), T(atomic_write_and_bounded_read), T(mkdir_p_nested), T(utf8_seq));
TEST_MAIN()
