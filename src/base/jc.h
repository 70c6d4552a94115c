/*
 * jc.h — the base layer every other layer builds on: error messages,
 * the two allocation policies, growable buffers with a maximum, logging.
 *
 * Errors: a function that can fail returns int (0 on success, -1 on error)
 * or a pointer (NULL on error) and fills a caller-provided jc_err with one
 * line that names the file, field or byte offset that was wrong.
 *
 * Allocation: jc_xmalloc and friends are for small internal allocations and
 * abort on out-of-memory. Anything sized by input (file contents, request
 * bodies, tensor data, KV cache) goes through jc_try_malloc and turns a
 * failure into a clear error.
 */
#ifndef JC_H
#define JC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define JC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define JC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define JC_MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define JC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define JC_PRINTF(f, a)
#endif

/* One error message. Zero-initialise; jc_errf overwrites. */
typedef struct jc_err {
    char msg[512];
} jc_err;

/* Sets err (if not NULL) to the formatted message; always returns -1. */
int jc_errf(jc_err *err, const char *fmt, ...) JC_PRINTF(2, 3);
/* Prefixes the existing message with "prefix: ". Returns -1. */
int jc_err_prefix(jc_err *err, const char *fmt, ...) JC_PRINTF(2, 3);

/* Aborting allocators for small internal allocations. Never return NULL. */
void *jc_xmalloc(size_t n);
void *jc_xcalloc(size_t n, size_t size);
void *jc_xrealloc(void *p, size_t n);
char *jc_xstrdup(const char *s);
char *jc_xstrndup(const char *s, size_t n);
char *jc_xasprintf(const char *fmt, ...) JC_PRINTF(1, 2);

/* Failing allocators for input-sized memory: NULL on failure, with err set. */
void *jc_try_malloc(size_t n, jc_err *err);
void *jc_try_calloc(size_t n, size_t size, jc_err *err);

/* Overflow-checked arithmetic: return false on overflow. */
static inline bool jc_add_ok(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_add_overflow(a, b, out); }
static inline bool jc_mul_ok(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_mul_overflow(a, b, out); }

/*
 * A growable byte buffer with a maximum size. data is always NUL-terminated
 * (the terminator is not counted in len). Appends past max fail with -1 and
 * leave the buffer as it was.
 */
typedef struct jc_buf {
    char *data;
    size_t len, cap, max;
} jc_buf;

void jc_buf_init(jc_buf *b, size_t max);
void jc_buf_free(jc_buf *b);
void jc_buf_reset(jc_buf *b);
int jc_buf_append(jc_buf *b, const void *p, size_t n);
int jc_buf_puts(jc_buf *b, const char *s);
int jc_buf_putc(jc_buf *b, char c);
int jc_buf_printf(jc_buf *b, const char *fmt, ...) JC_PRINTF(2, 3);
int jc_buf_vprintf(jc_buf *b, const char *fmt, va_list ap);
/* Transfers ownership of the data to the caller (never NULL); b is reset. */
char *jc_buf_steal(jc_buf *b);

/* Logging to stderr. Level from $JANC_LOG (error, warn, info, debug); default info. */
enum jc_log_level { JC_LOG_ERROR, JC_LOG_WARN, JC_LOG_INFO, JC_LOG_DEBUG };
void jc_log(enum jc_log_level lvl, const char *fmt, ...) JC_PRINTF(2, 3);
bool jc_log_enabled(enum jc_log_level lvl);
#define jc_error(...) jc_log(JC_LOG_ERROR, __VA_ARGS__)
#define jc_warn(...) jc_log(JC_LOG_WARN, __VA_ARGS__)
#define jc_info(...) jc_log(JC_LOG_INFO, __VA_ARGS__)
#define jc_debug(...) jc_log(JC_LOG_DEBUG, __VA_ARGS__)

/* Monotonic time in seconds. */
double jc_now(void);
/* The time ms milliseconds from now on clock clk (a deadline for pthread_cond_timedwait). */
struct timespec jc_deadline(clockid_t clk, long ms);

/*
 * Length of the valid UTF-8 sequence at p (n bytes left, n >= 1), or 0 if it
 * is not one: a bad lead or continuation byte, a sequence cut by n, an
 * overlong form, a surrogate or a code point past U+10FFFF.
 */
size_t jc_utf8_seq(const void *p, size_t n);

#endif
