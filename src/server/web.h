/*
 * web.h — the built-in web page that `janc serve` shows at "/".
 *
 * The page's files (web/index.html, web/app.js, web/style.css) are compiled
 * into the program: scripts/embed_web.py turns them into the table in
 * web_assets.c, which is committed; tests/e2e_web_embed.sh fails when that
 * file is older than web/. Nothing is read from disk at run time.
 */
#ifndef JC_WEB_H
#define JC_WEB_H

#include <stddef.h>

/*
 * The built-in page's file for a URL path ("/" and "/index.html" give
 * index.html, "/app.js", "/style.css"), or NULL for any other path. A query
 * string ("?v=1") is ignored. On success *len is the byte length and
 * *content_type a MIME type with charset. The data is static: never free it.
 */
const char *web_asset(const char *path, size_t *len, const char **content_type);

/* One embedded file; the table is generated into web_assets.c. */
typedef struct web_file {
    const char *name;         /* "index.html" */
    const char *content_type; /* "text/html; charset=utf-8" */
    const char *data;         /* the file's bytes, NUL-terminated */
    size_t len;               /* without the terminator */
} web_file;

extern const web_file web_files[];
extern const size_t web_files_count;

#endif
