/*
 * http_json.h — a fast compact JSON writer for the server's replies (the
 * same output as json_dumps(JSON_COMPACT), keys in insertion order, reals in
 * their shortest exact form). Part of the HTTP layer.
 */
#ifndef HTTP_JSON_H
#define HTTP_JSON_H

#include <jansson.h>

#include "base/jc.h"

/* Appends v to b. Returns 0, or -1 when b reaches its maximum or v nests deeper than jansson parses. */
int http_json_write(jc_buf *b, const json_t *v);
/* v as a new NUL-terminated string the caller frees (*len optional); NULL on failure. */
char *http_json_dump(const json_t *v, size_t *len);

#endif
