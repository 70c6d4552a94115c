/*
 * harness.h — the unit-test harness: a table of test functions, CHECK
 * macros that record a failure with file and line and go on, and a closing
 * "N passed, N failed" line. A test file defines its tests with TEST(name),
 * lists them in TESTS(...) and gets main() from TEST_MAIN().
 *
 * Tests that need ../shared/testdata call test_shared(); when it is absent
 * they say so and the program exits 77, which ctest reports as skipped.
 */
#ifndef TEST_HARNESS_H
#define TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int th_failures; /* failures in the current test */

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            th_failures++;                                                       \
        }                                                                        \
    } while (0)

#define CHECKF(cond, ...)                                                        \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
            th_failures++;                                                       \
        }                                                                        \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                       \
    do {                                                                         \
        long long _a = (long long)(a), _b = (long long)(b);                      \
        CHECKF(_a == _b, "%s = %lld, expected %lld", #a, _a, _b);                \
    } while (0)

#define CHECK_STR(a, b)                                                          \
    do {                                                                         \
        const char *_a = (a), *_b = (b);                                         \
        CHECKF(_a && _b && !strcmp(_a, _b), "%s = \"%s\", expected \"%s\"", #a,   \
               _a ? _a : "(null)", _b ? _b : "(null)");                          \
    } while (0)

/* Stops the current test when a failure makes the rest meaningless. */
#define REQUIRE(cond)                                                            \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "  %s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, #cond); \
            th_failures++;                                                       \
            return;                                                              \
        }                                                                        \
    } while (0)

#define TEST(name) static void name(void)

typedef struct th_case {
    const char *name;
    void (*fn)(void);
} th_case;

#define TESTS(...) static const th_case th_cases[] = {__VA_ARGS__}
#define T(name) {#name, name}

/* The shared test data folder, or NULL (and a visible message) when absent. */
static inline const char *test_shared(void)
{
    static char path[4096];
    const char *s = getenv("JANC_SHARED");
    snprintf(path, sizeof path, "%s/testdata", s ? s : "../shared");
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "SKIP: %s is absent; tests that need the shared test data are skipped\n", path);
        return NULL;
    }
    return path;
}

/* A fresh temporary folder for a test; caller frees the string. */
static inline char *test_tmpdir(void)
{
    char *p = strdup("/tmp/janc-test-XXXXXX");
    if (!p || !mkdtemp(p)) {
        perror("mkdtemp");
        exit(2);
    }
    return p;
}

#define TEST_MAIN()                                                              \
    int main(int argc, char **argv)                                              \
    {                                                                            \
        int passed = 0, failed = 0;                                              \
        for (size_t i = 0; i < sizeof th_cases / sizeof th_cases[0]; i++) {      \
            if (argc > 1 && strcmp(argv[1], th_cases[i].name))                   \
                continue;                                                        \
            th_failures = 0;                                                     \
            th_cases[i].fn();                                                    \
            if (th_failures) {                                                   \
                failed++;                                                        \
                fprintf(stderr, "FAIL %s\n", th_cases[i].name);                  \
            } else {                                                             \
                passed++;                                                        \
                fprintf(stderr, "ok   %s\n", th_cases[i].name);                  \
            }                                                                    \
        }                                                                        \
        printf("%d passed, %d failed\n", passed, failed);                        \
        return failed ? 1 : 0;                                                   \
    }

#endif
