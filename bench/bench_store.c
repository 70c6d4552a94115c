/*
 * bench_store.c — how long store_open takes on a models folder of N model
 * folders (a tiny GGUF and the model.json import writes, in each), and how
 * long a listing takes. Reports the median of R runs. Not a test:
 *   bench_store [N=1000] [R=7]
 * The target (docs/model-json.md): 1,000 folders open in under 200 ms; a
 * listing is served from memory and reopens no GGUF file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "gguf/gguf.h"
#include "store/store.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000, reps = argc > 2 ? atoi(argv[2]) : 7;
    if (n < 1 || reps < 1 || reps > 101)
        return fprintf(stderr, "usage: bench_store [N] [R]\n"), 1;
    char tmpl[] = "/tmp/janc-bench-store-XXXXXX";
    char *data = mkdtemp(tmpl);
    if (!data)
        return perror("mkdtemp"), 1;
    jc_err err = {0};
    char *models = jc_path_join(data, "models");
    mkdir(models, 0700);

    /* one model made the way import makes it, then copied into N folders */
    gguf_writer *w = gguf_writer_new(3);
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "general.name", "bench");
    gguf_writer_set_u32(w, "llama.context_length", 2048);
    float x[64] = {0};
    int64_t ne[1] = {64};
    gguf_writer_add_tensor(w, "w", 0, 1, ne, x, sizeof x, &err);
    char *seed = jc_path_join(models, "seed.gguf");
    if (gguf_writer_write(w, seed, &err))
        return fprintf(stderr, "%s\n", err.msg), 1;
    gguf_writer_free(w);
    store *s = store_open(data, &err); /* imports seed.gguf into models/seed/ */
    if (!s)
        return fprintf(stderr, "%s\n", err.msg), 1;
    store_close(s);
    char *mjp = jc_xasprintf("%s/seed/model.json", models), *gp = jc_xasprintf("%s/seed/seed.gguf", models);
    size_t mlen, glen;
    char *mj = jc_read_file(mjp, 1 << 20, &mlen, &err), *gg = jc_read_file(gp, 1 << 20, &glen, &err);
    if (!mj || !gg)
        return fprintf(stderr, "%s\n", err.msg), 1;
    for (int i = 1; i < n; i++) {
        char *dir = jc_xasprintf("%s/model-%05d", models, i);
        mkdir(dir, 0755);
        char *a = jc_xasprintf("%s/model.json", dir), *b = jc_xasprintf("%s/seed.gguf", dir);
        if (jc_write_atomic(a, mj, mlen, 0644, &err) || jc_write_atomic(b, gg, glen, 0644, &err))
            return fprintf(stderr, "%s\n", err.msg), 1;
        free(a);
        free(b);
        free(dir);
    }

    double *t_open = calloc((size_t)reps, sizeof *t_open), *t_list = calloc((size_t)reps, sizeof *t_list);
    size_t count = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = jc_now();
        s = store_open(data, &err);
        double t1 = jc_now();
        if (!s)
            return fprintf(stderr, "%s\n", err.msg), 1;
        json_t *l = store_list_json(s);
        double t2 = jc_now();
        count = json_array_size(json_object_get(l, "data"));
        json_decref(l);
        store_close(s);
        t_open[r] = t1 - t0;
        t_list[r] = t2 - t1;
    }
    qsort(t_open, (size_t)reps, sizeof *t_open, cmp_d);
    qsort(t_list, (size_t)reps, sizeof *t_list, cmp_d);
    printf("store_open: %d folders, %zu models listed, median %.1f ms (min %.1f, max %.1f) over %d runs\n", n, count,
           t_open[reps / 2] * 1e3, t_open[0] * 1e3, t_open[reps - 1] * 1e3, reps);
    printf("store_list_json: median %.2f ms\n", t_list[reps / 2] * 1e3);
    char *cmd = jc_xasprintf("rm -rf '%s'", data);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", data);
    free(cmd);
    free(t_open);
    free(t_list);
    free(mj);
    free(gg);
    free(mjp);
    free(gp);
    free(seed);
    free(models);
    return 0;
}
