/*
 * web.c — looks up the built-in page's files (see web.h) by URL path.
 * The bytes themselves live in the generated web_assets.c.
 */
#include "server/web.h"

#include <string.h>

const char *web_asset(const char *path, size_t *len, const char **content_type)
{
    if (!path || path[0] != '/')
        return NULL;
    const char *name = path + 1;
    size_t n = strcspn(name, "?#");
    if (n == 0) {
        name = "index.html";
        n = strlen(name);
    }
    for (size_t i = 0; i < web_files_count; i++) {
        const web_file *f = &web_files[i];
        if (strlen(f->name) == n && memcmp(f->name, name, n) == 0) {
            if (len)
                *len = f->len;
            if (content_type)
                *content_type = f->content_type;
            return f->data;
        }
    }
    return NULL;
}
