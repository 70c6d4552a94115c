/*
 * llm_decode.c — contexts and the forward pass (see llm.h).
 *
 * KV cache layout, per layer: K[seq][pos][n_head_kv * head_dim] and
 * V[seq][pos][n_head_kv * head_dim_v], f16 (default) or f32; a token's
 * cache row is addressed by its sequence and position, so sequences never
 * see each other and a rewind is just a shorter length.
 *
 * One micro-batch of T tokens runs as: embedding rows (q_dequant_row) ->
 * per layer { RMSNorm -> Q,K,V (one threaded dispatch, biases) -> rope ->
 * store K,V -> attention per (token, head), parallel -> output projection
 * + residual -> RMSNorm -> gate,up (one dispatch) -> SwiGLU -> down +
 * residual } -> final RMSNorm of the rows that want logits -> output matrix.
 * Matrix products quantize their input rows once (q_act_quantize) and call
 * q_gemm over row chunks handed to the pool's threads. All buffers are
 * sized at context creation; the loop allocates nothing.
 */
#include "engine/llm_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/pool.h"
#include "engine/llm_ops.h"
#include "quant/quant.h"

enum { MAX_SEQ = 4096, MAX_BATCH = 1 << 16, MAX_CTX_POS = 1 << 22 };
/* Default multiply-adds below which a step runs on the calling thread alone. */
enum { SERIAL_WORK = 1 << 17 };
/*
 * Bytes of weights per chunk of a one-token matrix product, at most about
 * (each chunk is a stream the prefetcher restarts: 1 MiB gave 2-7% more tg
 * than 256 KiB in 8 of 9 interleaved runs over four files; 128 KiB was worse).
 */
enum { DECODE_CHUNK = 1 << 20 };
/*
 * Bytes of the next product's weights the idle worker reads ahead during
 * the serial work between one-token products (matmul): half of a Zen 4
 * core's L2. Against none, tg was higher in 8 of 8 interleaved pairs
 * (median +1.2%, up to +7%); 1 MiB was no better than 512 KiB.
 */
enum { READ_AHEAD = 512 << 10 };
/* Keys per attention chunk (a multiple of 16, see llm_ops.attn_qk); bytes of scores per thread, at most. */
enum { ATTN_KC = 64, ATTN_SCORES_MAX = 16 << 20 };

struct llm_ctx {
    llm_model *m;
    llm_hparams hp;
    llm_ops ops;
    jc_pool *pool;
    int nth, n_ctx, n_seq, n_batch, n_ubatch;
    bool kv_f32, embeddings;
    int64_t serial_below;       /* see llm_ctx_params.serial_below; 0 = never serial */
    int kvd_k, kvd_v;           /* n_head_kv * head_dim, n_head_kv * head_dim_v */
    size_t kv_elem;             /* 2 or 4 bytes */
    uint8_t *kv_k, *kv_v;       /* [n_layer][n_seq][n_ctx][kvd] */
    int *seq_len;               /* [n_seq] */
    int *seq_first;             /* [n_seq] scratch for validation: first pos in batch, or -1 */
    int *seq_last;              /* [n_seq] scratch: last pos in batch */
    /* micro-batch scratch, U = n_ubatch rows each */
    float *x, *xn, *q, *k, *v, *att, *fa, *fb;
    float *rope;                /* [U][n_rot]: cos, sin pairs */
    uint8_t *aq;                /* quantized activation rows */
    size_t aq_row_max;          /* bytes of the widest activation row */
    float *scores;              /* [nth][attn_tq * group size][n_ctx rounded up to ATTN_KC] */
    float *attn_row;            /* [nth][(ATTN_KC + 1) * max(head_dim, head_dim_v)]: a converted K/V chunk, a row */
    const float **attn_q;       /* [nth][attn_tq * group size]: the query rows of a block */
    float **attn_o;             /* [nth][attn_tq * group size]: their output rows */
    int attn_tq;                /* most query tokens per attention block */
    int attn_split;             /* parts per KV head's query group (this micro-batch) */
    int *ab_t0;                 /* [n_ubatch + 1]: first token of each attention block (this micro-batch) */
    int ab_n;                   /* attention blocks in this micro-batch */
    /* the current micro-batch */
    int ub_n;
    const int32_t *ub_pos, *ub_seq;
    int layer;
    /* outputs */
    float *logits;              /* [logits_cap][n_vocab] */
    int logits_cap;
    int *out_row;               /* [n_batch]: logits row of batch entry, or -1 */
    int *ub_out;                /* [n_ubatch]: token index in the ubatch of each output row */
    int32_t *seq0;              /* [n_ubatch] zeros: the sequences of a batch without seq */
    /* pooled embeddings */
    float *emb_sum, *emb_first, *emb_last, *emb_out;
    int *emb_count;
};

llm_ctx_params llm_ctx_default_params(void)
{
    return (llm_ctx_params){.n_ctx = 0, .n_seq = 1, .n_threads = 0, .n_batch = 512, .n_ubatch = 512};
}

/* The biggest activation row any matrix of the model needs, in bytes. */
static size_t act_row_max(const llm_model *m)
{
    size_t mx = q_act_row_bytes(m->output.type, m->output.ne0);
    for (int il = 0; il < m->hp.n_layer; il++) {
        const llm_layer *ly = &m->layers[il];
        const llm_w *ws[] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->wgate, &ly->wup, &ly->wdown};
        for (size_t i = 0; i < JC_ARRAY_LEN(ws); i++)
            mx = JC_MAX(mx, q_act_row_bytes(ws[i]->type, ws[i]->ne0));
    }
    return mx;
}

/* Allocates count*size bytes with the failing allocator, overflow-checked; adds to *total. */
static void *ctx_alloc(uint64_t count, uint64_t size, const char *what, uint64_t *total, jc_err *err)
{
    uint64_t n, phys = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    if (!jc_mul_ok(count, size, &n) || !jc_add_ok(n, *total, &n) || n > phys) {
        jc_errf(err, "%s would need more memory than this machine has (%llu x %llu bytes, %.1f GiB in all)", what,
                (unsigned long long)count, (unsigned long long)size,
                ((double)count * (double)size + (double)*total) / (1 << 30));
        return NULL;
    }
    n = count * size;
    void *p = jc_try_calloc((size_t)n, 1, err);
    if (!p) {
        jc_err_prefix(err, "%s", what);
        return NULL;
    }
    *total += n;
    return p;
}

llm_ctx *llm_ctx_new(llm_model *m, const llm_ctx_params *p, jc_err *err)
{
    llm_ctx_params d = llm_ctx_default_params();
    if (!p)
        p = &d;
    llm_ctx *c = jc_xcalloc(1, sizeof *c);
    c->m = m;
    c->hp = m->hp;
    const llm_hparams *hp = &c->hp;
    c->n_ctx = p->n_ctx > 0 ? p->n_ctx : JC_MIN(hp->n_ctx_train, 4096);
    c->n_seq = p->n_seq > 0 ? p->n_seq : 1;
    c->n_batch = p->n_batch > 0 ? p->n_batch : 512;
    c->n_ubatch = p->n_ubatch > 0 ? JC_MIN(p->n_ubatch, c->n_batch) : JC_MIN(512, c->n_batch);
    c->kv_f32 = p->kv_f32;
    c->embeddings = p->embeddings;
    c->serial_below = p->serial_below == 0 ? SERIAL_WORK : p->serial_below < 0 ? 0 : p->serial_below;
    if (c->n_ctx > MAX_CTX_POS || c->n_seq > MAX_SEQ || c->n_batch > MAX_BATCH) {
        jc_errf(err, "context of %d positions x %d sequences, batch %d, is beyond the limits (%d, %d, %d)", c->n_ctx,
                c->n_seq, c->n_batch, MAX_CTX_POS, MAX_SEQ, MAX_BATCH);
        goto fail;
    }
    llm_ops_init(&c->ops);
    c->pool = jc_pool_new(p->n_threads > 0 ? p->n_threads : jc_cpu_count_physical(), err);
    if (!c->pool)
        goto fail;
    c->nth = jc_pool_n_threads(c->pool);
    c->kvd_k = hp->n_head_kv * hp->head_dim;
    c->kvd_v = hp->n_head_kv * hp->head_dim_v;
    c->kv_elem = c->kv_f32 ? 4 : 2;
    uint64_t total = 0, rows = (uint64_t)hp->n_layer * (uint64_t)c->n_seq * (uint64_t)c->n_ctx;
    if (!(c->kv_k = ctx_alloc(rows, (uint64_t)c->kvd_k * c->kv_elem, "KV cache (K)", &total, err)) ||
        !(c->kv_v = ctx_alloc(rows, (uint64_t)c->kvd_v * c->kv_elem, "KV cache (V)", &total, err)))
        goto fail;
    c->seq_len = jc_xcalloc((size_t)c->n_seq, sizeof(int));
    c->seq_first = jc_xcalloc((size_t)c->n_seq, sizeof(int));
    c->seq_last = jc_xcalloc((size_t)c->n_seq, sizeof(int));
    uint64_t U = (uint64_t)c->n_ubatch, E = (uint64_t)hp->n_embd;
    uint64_t qd = (uint64_t)hp->n_head * hp->head_dim, od = (uint64_t)hp->n_head * hp->head_dim_v;
    c->aq_row_max = act_row_max(m);
    /* attention blocks of up to 8 query tokens, fewer where their score rows would pass ATTN_SCORES_MAX */
    const uint64_t scores_row = ((uint64_t)c->n_ctx + ATTN_KC - 1) / ATTN_KC * ATTN_KC;
    const uint64_t group_bytes = (uint64_t)(hp->n_head / hp->n_head_kv) * scores_row * 4;
    c->attn_tq = (int)JC_MAX(1, JC_MIN(8, ATTN_SCORES_MAX / group_bytes));
    if (!(c->x = ctx_alloc(U, E * 4, "scratch", &total, err)) || !(c->xn = ctx_alloc(U, E * 4, "scratch", &total, err)) ||
        !(c->q = ctx_alloc(U, qd * 4, "scratch", &total, err)) ||
        !(c->k = ctx_alloc(U, (uint64_t)c->kvd_k * 4, "scratch", &total, err)) ||
        !(c->v = ctx_alloc(U, (uint64_t)c->kvd_v * 4, "scratch", &total, err)) ||
        !(c->att = ctx_alloc(U, od * 4, "scratch", &total, err)) ||
        !(c->fa = ctx_alloc(U, (uint64_t)hp->n_ff_max * 4, "scratch", &total, err)) ||
        !(c->fb = ctx_alloc(U, (uint64_t)hp->n_ff_max * 4, "scratch", &total, err)) ||
        !(c->rope = ctx_alloc(U, (uint64_t)hp->n_rot * 4, "scratch", &total, err)) ||
        !(c->aq = ctx_alloc(U, c->aq_row_max + 64, "scratch", &total, err)) ||
        !(c->scores = ctx_alloc((uint64_t)c->nth * (uint64_t)c->attn_tq * (uint64_t)(hp->n_head / hp->n_head_kv),
                                scores_row * 4, "attention scores", &total, err)) ||
        !(c->attn_row = ctx_alloc((uint64_t)c->nth,
                                  (uint64_t)(ATTN_KC + 1) * (uint64_t)JC_MAX(hp->head_dim, hp->head_dim_v) * 4, "scratch",
                                  &total, err)) ||
        !(c->attn_q = ctx_alloc((uint64_t)c->nth * c->attn_tq * (hp->n_head / hp->n_head_kv), sizeof(float *), "scratch",
                                &total, err)) ||
        !(c->attn_o = ctx_alloc((uint64_t)c->nth * c->attn_tq * (hp->n_head / hp->n_head_kv), sizeof(float *), "scratch",
                                &total, err)))
        goto fail;
    c->ab_t0 = jc_xcalloc((size_t)c->n_ubatch + 1, sizeof(int));
    c->out_row = jc_xcalloc((size_t)c->n_batch, sizeof(int));
    c->ub_out = jc_xcalloc((size_t)c->n_ubatch, sizeof(int));
    c->seq0 = jc_xcalloc((size_t)c->n_ubatch, sizeof(int32_t));
    c->logits_cap = JC_MIN(c->n_seq, c->n_batch);
    if (!(c->logits = ctx_alloc((uint64_t)c->logits_cap, (uint64_t)hp->n_vocab * 4, "logits", &total, err)))
        goto fail;
    if (c->embeddings) {
        if (!(c->emb_sum = ctx_alloc((uint64_t)c->n_seq, E * 4, "embeddings", &total, err)) ||
            !(c->emb_first = ctx_alloc((uint64_t)c->n_seq, E * 4, "embeddings", &total, err)) ||
            !(c->emb_last = ctx_alloc((uint64_t)c->n_seq, E * 4, "embeddings", &total, err)) ||
            !(c->emb_out = ctx_alloc(1, E * 4, "embeddings", &total, err)))
            goto fail;
        c->emb_count = jc_xcalloc((size_t)c->n_seq, sizeof(int));
    }
    jc_debug("llm_ctx: n_ctx %d, n_seq %d, ubatch %d, threads %d, %.1f MiB", c->n_ctx, c->n_seq, c->n_ubatch, c->nth,
             (double)total / (1 << 20));
    return c;
fail:
    llm_ctx_free(c);
    return NULL;
}

void llm_ctx_free(llm_ctx *c)
{
    if (!c)
        return;
    jc_pool_free(c->pool);
    void *bufs[] = {c->kv_k, c->kv_v, c->seq_len, c->seq_first, c->seq_last, c->x, c->xn, c->q, c->k, c->v, c->att,
                    c->fa, c->fb, c->rope, c->aq, c->scores, c->attn_row, (void *)c->attn_q, c->attn_o, c->ab_t0, c->logits, c->out_row, c->ub_out, c->seq0,
                    c->emb_sum, c->emb_first, c->emb_last, c->emb_out, c->emb_count};
    for (size_t i = 0; i < JC_ARRAY_LEN(bufs); i++)
        free(bufs[i]);
    free(c);
}

int llm_ctx_n_ctx(const llm_ctx *c) { return c->n_ctx; }
int llm_ctx_n_seq(const llm_ctx *c) { return c->n_seq; }
int llm_ctx_n_batch(const llm_ctx *c) { return c->n_batch; }
const llm_model *llm_ctx_model(const llm_ctx *c) { return c->m; }

int llm_seq_len(const llm_ctx *c, int seq)
{
    return seq >= 0 && seq < c->n_seq ? c->seq_len[seq] : 0;
}

void llm_seq_truncate(llm_ctx *c, int seq, int n)
{
    if (seq < 0 || seq >= c->n_seq || n < 0)
        return;
    if (n < c->seq_len[seq])
        c->seq_len[seq] = n;
}

void llm_seq_clear(llm_ctx *c, int seq)
{
    if (seq < 0 || seq >= c->n_seq)
        return;
    c->seq_len[seq] = 0;
    if (c->embeddings)
        c->emb_count[seq] = 0;
}

/* jc_pool_for, or fn on the calling thread alone when work (multiply-adds) is below the threshold. */
static void par_for(llm_ctx *c, int64_t n, int64_t grain, int64_t work, jc_pool_range_fn fn, void *arg)
{
    if (work < c->serial_below)
        fn(arg, 0, n, 0);
    else
        jc_pool_for(c->pool, n, grain, fn, arg);
}

/* ---- matrix products ---- */

typedef struct mm_item {
    const llm_w *w;
    float *out;        /* out[t*out_stride + r] */
    size_t out_stride;
    const float *bias; /* [rows] or NULL */
    int64_t grain, chunks;
} mm_item;

typedef struct mm_job {
    mm_item *items;
    int n_items;
    const uint8_t *xq;
    size_t act_rb;
    int64_t ntok;
    /* quantization step */
    const float *x;
    size_t x_stride;
    uint32_t wtype;
    int64_t n_in;
} mm_job;

static void mm_range(void *arg, int64_t i0, int64_t i1, int ith)
{
    (void)ith;
    mm_job *j = arg;
    for (int64_t ci = i0; ci < i1; ci++) {
        int64_t c = ci;
        int k = 0;
        while (c >= j->items[k].chunks) {
            c -= j->items[k].chunks;
            k++;
        }
        const mm_item *it = &j->items[k];
        int64_t r0 = c * it->grain, r1 = JC_MIN(r0 + it->grain, it->w->ne1);
        q_gemm(it->w->type, it->w->data + (size_t)r0 * it->w->row_bytes, it->w->row_bytes, r1 - r0, it->w->ne0, j->xq,
               j->act_rb, j->ntok, it->out + r0, it->out_stride);
        if (it->bias)
            for (int64_t t = 0; t < j->ntok; t++) {
                float *o = it->out + (size_t)t * it->out_stride;
                for (int64_t r = r0; r < r1; r++)
                    o[r] += it->bias[r];
            }
    }
}

static void quant_range(void *arg, int64_t i0, int64_t i1, int ith)
{
    (void)ith;
    mm_job *j = arg;
    for (int64_t t = i0; t < i1; t++)
        q_act_quantize(j->wtype, j->x + (size_t)t * j->x_stride, (uint8_t *)j->xq + (size_t)t * j->act_rb, j->n_in);
}

/*
 * Rows per chunk of a product with w. One token: a chunk per thread (half
 * a matrix), capped at about DECODE_CHUNK bytes of weights so the threads
 * finish together (the output matrix would be 8 chunks of megabytes); with
 * 1 MiB chunks, halves gave more tg than quarters in 12 of 14 interleaved
 * runs (with 256 KiB, quarters did). More tokens: 8 chunks per thread.
 */
static int64_t mm_grain(const llm_ctx *c, const llm_w *w, int64_t ntok)
{
    const int64_t per = ntok == 1 ? 1 : 8;
    int64_t g = (w->ne1 + c->nth * per - 1) / (c->nth * per);
    if (ntok == 1)
        g = JC_MIN(g, (DECODE_CHUNK + (int64_t)w->row_bytes - 1) / (int64_t)w->row_bytes);
    g = JC_MAX(g, 16);
    return (g + 15) / 16 * 16;
}

/*
 * out_k = W_k x for the items (all with the same input width), x: ntok rows
 * x_stride floats apart. Items whose weights share an activation format run
 * in one threaded dispatch after one quantization of x. next: the weights
 * of the product that follows (or NULL): for one token, the pool's idle
 * worker reads ahead the chunk it will likely take of them (the second:
 * the caller claims the first) while the caller does the serial work in
 * between (norms, quantization, rope), when memory would otherwise idle.
 */
static void matmul(llm_ctx *c, const float *x, size_t x_stride, int64_t ntok, mm_item *items, int n_items,
                   const llm_w *next)
{
    int i = 0;
    while (i < n_items) {
        uint32_t at = q_act_type(items[i].w->type);
        int j = i + 1;
        while (j < n_items && q_act_type(items[j].w->type) == at)
            j++;
        mm_job job = {.items = items + i, .n_items = j - i, .xq = c->aq, .ntok = ntok, .x = x, .x_stride = x_stride,
                      .wtype = items[i].w->type, .n_in = items[i].w->ne0};
        job.act_rb = q_act_row_bytes(job.wtype, job.n_in);
        par_for(c, ntok, 4, ntok * job.n_in * 4, quant_range, &job);
        int64_t total = 0;
        for (int k = i; k < j; k++) {
            items[k].grain = mm_grain(c, items[k].w, ntok);
            items[k].chunks = (items[k].w->ne1 + items[k].grain - 1) / items[k].grain;
            total += items[k].chunks;
        }
        /* a product too small to pay for waking the threads runs on the caller */
        int64_t work = 0;
        for (int k = i; k < j; k++)
            work += items[k].w->ne1 * items[k].w->ne0 * ntok;
        if (work < c->serial_below)
            mm_range(&job, 0, total, 0);
        else
            jc_pool_for(c->pool, total, 1, mm_range, &job);
        i = j;
    }
    if (ntok == 1 && c->nth > 1 && next) {
        const int64_t g = mm_grain(c, next, 1);
        if (g < next->ne1) {
            const size_t left = (size_t)(next->ne1 - g) * next->row_bytes;
            jc_pool_hint(c->pool, next->data + (size_t)g * next->row_bytes, JC_MIN(left, (size_t)READ_AHEAD));
        }
    }
}

/* ---- attention ---- */

static inline void *kv_row(const llm_ctx *c, uint8_t *base, int kvd, int layer, int seq, int pos)
{
    size_t row = ((size_t)layer * (size_t)c->n_seq + (size_t)seq) * (size_t)c->n_ctx + (size_t)pos;
    return base + row * (size_t)kvd * c->kv_elem;
}

/* Converts rows p0 .. p0+kc of one KV head from the cache into f32; zero rows up to kcp. */
static void kv_chunk(const llm_ctx *c, float *dst, const uint8_t *base, size_t stride, int p0, int kc, int kcp, int dim)
{
    for (int j = 0; j < kc; j++) {
        const uint8_t *src = base + (size_t)(p0 + j) * stride;
        if (c->kv_f32)
            memcpy(dst + (size_t)j * dim, src, (size_t)dim * 4);
        else
            c->ops.to_f32(dst + (size_t)j * dim, (const uint16_t *)src, dim);
    }
    memset(dst + (size_t)kc * dim, 0, (size_t)(kcp - kc) * (size_t)dim * 4);
}

/*
 * Attention work item it = (block of query tokens, KV head kvh, part): the
 * block is up to attn_tq consecutive tokens of one sequence (c->ab_t0), and
 * the query heads h = kvh*grp + part*gsz .. + gsz share that KV head, so
 * each K and V row is converted from f16 once for all of the block's
 * queries, and the products are small matrix products on chunks of
 * ATTN_KC keys (llm_ops.attn_qk/attn_pv). Each query's scores cover the
 * keys up to its own position (causal); the rest of its row is zeroed
 * after the softmax. c->attn_split parts per KV head keep the threads busy
 * when there are few items (one token, few KV heads).
 */
static void attn_range(void *arg, int64_t i0, int64_t i1, int ith)
{
    llm_ctx *c = arg;
    const llm_hparams *hp = &c->hp;
    const int H = hp->n_head, Hkv = hp->n_head_kv, hd = hp->head_dim, hdv = hp->head_dim_v;
    const int grp = H / Hkv, split = c->attn_split, gsz = grp / split;
    const float scale = 1.0f / sqrtf((float)hd);
    const int lds = (c->n_ctx + ATTN_KC - 1) / ATTN_KC * ATTN_KC;
    float *sc = c->scores + (size_t)ith * (size_t)c->attn_tq * (size_t)grp * (size_t)lds; /* [nq][lds] */
    float *chunk = c->attn_row + (size_t)ith * (ATTN_KC + 1) * (size_t)JC_MAX(hd, hdv);
    const size_t kstride = (size_t)c->kvd_k * c->kv_elem, vstride = (size_t)c->kvd_v * c->kv_elem;
    const float **qp = c->attn_q + (size_t)ith * (size_t)c->attn_tq * (size_t)grp;
    float **op = c->attn_o + (size_t)ith * (size_t)c->attn_tq * (size_t)grp;
    for (int64_t it = i0; it < i1; it++) {
        int blk = (int)(it / (Hkv * split)), rem = (int)(it % (Hkv * split)), kvh = rem / split, part = rem % split;
        int h0 = kvh * grp + part * gsz, t0 = c->ab_t0[blk], t1 = c->ab_t0[blk + 1], seq = c->ub_seq[t0];
        int n = 0, nq = 0;
        for (int t = t0; t < t1; t++) {
            n = JC_MAX(n, c->ub_pos[t] + 1);
            for (int g = 0; g < gsz; g++, nq++) {
                qp[nq] = c->q + (size_t)t * H * hd + (size_t)(h0 + g) * hd;
                op[nq] = c->att + (size_t)t * H * hdv + (size_t)(h0 + g) * hdv;
            }
        }
        const uint8_t *kb = (const uint8_t *)kv_row(c, c->kv_k, c->kvd_k, c->layer, seq, 0) + (size_t)kvh * hd * c->kv_elem;
        const uint8_t *vb = (const uint8_t *)kv_row(c, c->kv_v, c->kvd_v, c->layer, seq, 0) + (size_t)kvh * hdv * c->kv_elem;
        /* scores: the keys of each chunk converted and transposed (chunk[d*kcp + j]) */
        for (int p0 = 0; p0 < n; p0 += ATTN_KC) {
            const int kc = JC_MIN(ATTN_KC, n - p0), kcp = (kc + 15) / 16 * 16;
            float *kt = chunk + (size_t)ATTN_KC * hd; /* a row at a time, past the transposed chunk */
            for (int j = 0; j < kcp; j++) {
                if (j < kc) {
                    const uint8_t *src = kb + (size_t)(p0 + j) * kstride;
                    if (c->kv_f32)
                        memcpy(kt, src, (size_t)hd * 4);
                    else
                        c->ops.to_f32(kt, (const uint16_t *)src, hd);
                }
                for (int d = 0; d < hd; d++)
                    chunk[(size_t)d * kcp + j] = j < kc ? kt[d] : 0.0f;
            }
            c->ops.attn_qk(sc + p0, lds, qp, nq, chunk, kcp, hd, scale);
        }
        /* each query's softmax over the keys up to its position; weights of later keys 0 */
        const int n16 = (n + 15) / 16 * 16;
        for (int i = 0; i < nq; i++) {
            float *s = sc + (size_t)i * lds;
            const int ni = c->ub_pos[t0 + i / gsz] + 1;
            c->ops.softmax(s, ni);
            memset(s + ni, 0, (size_t)(n16 - ni) * sizeof(float));
            memset(op[i], 0, (size_t)hdv * sizeof(float));
        }
        for (int p0 = 0; p0 < n; p0 += ATTN_KC) {
            const int kc = JC_MIN(ATTN_KC, n - p0), kcp = (kc + 15) / 16 * 16;
            kv_chunk(c, chunk, vb, vstride, p0, kc, kcp, hdv);
            c->ops.attn_pv(op, sc + p0, lds, nq, chunk, kcp, hdv);
        }
    }
}

/* ---- rope ---- */

/* cos/sin of every rotated pair for each token of the micro-batch (ggml's recurrence). */
static void rope_tables(llm_ctx *c)
{
    const llm_hparams *hp = &c->hp;
    const float theta_scale = powf(hp->rope_base, -2.0f / (float)hp->n_rot);
    for (int t = 0; t < c->ub_n; t++) {
        float *cs = c->rope + (size_t)t * hp->n_rot;
        float theta = (float)c->ub_pos[t];
        for (int i = 0; i < hp->n_rot / 2; i++) {
            float th = theta;
            if (c->m->rope_ff)
                th /= c->m->rope_ff[i];
            th *= hp->rope_freq_scale;
            cs[2 * i] = cosf(th);
            cs[2 * i + 1] = sinf(th);
            theta *= theta_scale;
        }
    }
}

static void rope_apply(const llm_ctx *c, float *v, int n_heads, const float *cs)
{
    const llm_hparams *hp = &c->hp;
    const int hd = hp->head_dim, half = hp->n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * hd;
        if (hp->rope_type == LLM_ROPE_NEOX) {
            for (int i = 0; i < half; i++) {
                float x0 = x[i], x1 = x[i + half], co = cs[2 * i], si = cs[2 * i + 1];
                x[i] = x0 * co - x1 * si;
                x[i + half] = x0 * si + x1 * co;
            }
        } else {
            for (int i = 0; i < half; i++) {
                float x0 = x[2 * i], x1 = x[2 * i + 1], co = cs[2 * i], si = cs[2 * i + 1];
                x[2 * i] = x0 * co - x1 * si;
                x[2 * i + 1] = x0 * si + x1 * co;
            }
        }
    }
}

/* rope on Q and K, then K and V into the cache, for tokens [i0, i1). */
static void rope_store_range(void *arg, int64_t i0, int64_t i1, int ith)
{
    (void)ith;
    llm_ctx *c = arg;
    const llm_hparams *hp = &c->hp;
    for (int64_t t = i0; t < i1; t++) {
        const float *cs = c->rope + (size_t)t * hp->n_rot;
        float *qt = c->q + (size_t)t * hp->n_head * hp->head_dim;
        float *kt = c->k + (size_t)t * c->kvd_k, *vt = c->v + (size_t)t * c->kvd_v;
        rope_apply(c, qt, hp->n_head, cs);
        rope_apply(c, kt, hp->n_head_kv, cs);
        void *kd = kv_row(c, c->kv_k, c->kvd_k, c->layer, c->ub_seq[t], c->ub_pos[t]);
        void *vd = kv_row(c, c->kv_v, c->kvd_v, c->layer, c->ub_seq[t], c->ub_pos[t]);
        if (c->kv_f32) {
            memcpy(kd, kt, (size_t)c->kvd_k * 4);
            memcpy(vd, vt, (size_t)c->kvd_v * 4);
        } else {
            c->ops.to_f16(kd, kt, c->kvd_k);
            c->ops.to_f16(vd, vt, c->kvd_v);
        }
    }
}

/* ---- element-wise steps ---- */

typedef struct norm_job {
    llm_ctx *c;
    float *out;
    const float *in;
    const float *w;
    const int *rows; /* gather: out row i = norm(in row rows[i]); NULL: identity */
} norm_job;

static void norm_range(void *arg, int64_t i0, int64_t i1, int ith)
{
    (void)ith;
    norm_job *j = arg;
    int E = j->c->hp.n_embd;
    for (int64_t i = i0; i < i1; i++) {
        int64_t src = j->rows ? j->rows[i] : i;
        llm_rmsnorm(j->out + (size_t)i * E, j->in + (size_t)src * E, j->w, E, j->c->hp.eps);
    }
}

static void rmsnorm_rows(llm_ctx *c, float *out, const float *in, const float *w, int n, const int *rows)
{
    norm_job j = {c, out, in, w, rows};
    par_for(c, n, 8, (int64_t)n * c->hp.n_embd * 4, norm_range, &j);
}

typedef struct ffn_job {
    llm_ctx *c;
    int n_ff;
} ffn_job;

static void swiglu_range(void *arg, int64_t i0, int64_t i1, int ith)
{
    (void)ith;
    ffn_job *j = arg;
    for (int64_t t = i0; t < i1; t++)
        j->c->ops.swiglu(j->c->fa + (size_t)t * j->n_ff, j->c->fb + (size_t)t * j->n_ff, j->n_ff);
}

static void add_rows(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

/* ---- one micro-batch ---- */

static int ubatch(llm_ctx *c, const int32_t *tok, const int32_t *pos, const int32_t *seq, const int *out_row, int T,
                  jc_err *err)
{
    llm_model *m = c->m;
    const llm_hparams *hp = &c->hp;
    const int E = hp->n_embd, qd = hp->n_head * hp->head_dim, od = hp->n_head * hp->head_dim_v;
    c->ub_n = T;
    c->ub_pos = pos;
    c->ub_seq = seq;
    for (int t = 0; t < T; t++)
        if (q_dequant_row(m->tok_embd.type, m->tok_embd.data + (size_t)tok[t] * m->tok_embd.row_bytes,
                          c->x + (size_t)t * E, E))
            return jc_errf(err, "token_embd.weight: cannot read row %d", tok[t]);
    rope_tables(c);
    /* attention blocks: runs of up to attn_tq consecutive tokens of one sequence */
    c->ab_n = 0;
    for (int t = 0; t < T;) {
        int e = t + 1;
        while (e < T && e - t < c->attn_tq && seq[e] == seq[t])
            e++;
        c->ab_t0[c->ab_n++] = t;
        t = e;
    }
    c->ab_t0[c->ab_n] = T;
    /* split each KV head's query group until there are a few items per thread */
    const int grp = hp->n_head / hp->n_head_kv;
    c->attn_split = 1;
    while (c->attn_split < grp && (int64_t)c->ab_n * hp->n_head_kv * c->attn_split < 4 * c->nth &&
           grp % (c->attn_split * 2) == 0)
        c->attn_split *= 2;
    for (int il = 0; il < hp->n_layer; il++) {
        const llm_layer *ly = &m->layers[il];
        c->layer = il;
        rmsnorm_rows(c, c->xn, c->x, ly->attn_norm, T, NULL);
        mm_item qkv[3] = {
            {.w = &ly->wq, .out = c->q, .out_stride = (size_t)qd, .bias = ly->bq},
            {.w = &ly->wk, .out = c->k, .out_stride = (size_t)c->kvd_k, .bias = ly->bk},
            {.w = &ly->wv, .out = c->v, .out_stride = (size_t)c->kvd_v, .bias = ly->bv},
        };
        matmul(c, c->xn, (size_t)E, T, qkv, 3, &ly->wo);
        par_for(c, T, 4, (int64_t)T * (qd + 2 * c->kvd_k + c->kvd_v), rope_store_range, c);
        int64_t n_items = (int64_t)c->ab_n * hp->n_head_kv * c->attn_split;
        if ((int64_t)T * hp->n_head * (pos[T - 1] + 1) * (hp->head_dim + hp->head_dim_v) < c->serial_below)
            attn_range(c, 0, n_items, 0);
        else
            jc_pool_for(c->pool, n_items, 1, attn_range, c);
        mm_item o = {.w = &ly->wo, .out = c->xn, .out_stride = (size_t)E, .bias = ly->bo};
        matmul(c, c->att, (size_t)od, T, &o, 1, &ly->wgate);
        add_rows(c->x, c->xn, (size_t)T * E);
        rmsnorm_rows(c, c->xn, c->x, ly->ffn_norm, T, NULL);
        mm_item gu[2] = {
            {.w = &ly->wgate, .out = c->fa, .out_stride = (size_t)ly->n_ff},
            {.w = &ly->wup, .out = c->fb, .out_stride = (size_t)ly->n_ff},
        };
        matmul(c, c->xn, (size_t)E, T, gu, 2, &ly->wdown);
        ffn_job fj = {c, ly->n_ff};
        par_for(c, T, 4, (int64_t)T * ly->n_ff * 16, swiglu_range, &fj);
        mm_item dn = {.w = &ly->wdown, .out = c->xn, .out_stride = (size_t)E};
        matmul(c, c->fa, (size_t)ly->n_ff, T, &dn, 1,
               il + 1 < hp->n_layer ? &m->layers[il + 1].wq : &m->output);
        add_rows(c->x, c->xn, (size_t)T * E);
    }
    /* pooled embeddings: every token's normalised hidden state */
    if (c->embeddings) {
        rmsnorm_rows(c, c->xn, c->x, m->output_norm, T, NULL);
        for (int t = 0; t < T; t++) {
            int s = seq[t];
            const float *h = c->xn + (size_t)t * E;
            float *sum = c->emb_sum + (size_t)s * E;
            if (c->emb_count[s] == 0) {
                memcpy(c->emb_first + (size_t)s * E, h, (size_t)E * 4);
                memset(sum, 0, (size_t)E * 4);
            }
            add_rows(sum, h, (size_t)E);
            memcpy(c->emb_last + (size_t)s * E, h, (size_t)E * 4);
            c->emb_count[s]++;
        }
    }
    /* logits of the rows that want them, into their rows of c->logits */
    int n_out = 0, first_row = -1;
    for (int t = 0; t < T; t++)
        if (out_row[t] >= 0) {
            if (first_row < 0)
                first_row = out_row[t];
            c->ub_out[n_out++] = t;
        }
    if (n_out) {
        rmsnorm_rows(c, c->xn, c->x, m->output_norm, n_out, c->ub_out);
        mm_item lo = {.w = &m->output, .out = c->logits + (size_t)first_row * hp->n_vocab,
                      .out_stride = (size_t)hp->n_vocab};
        matmul(c, c->xn, (size_t)E, n_out, &lo, 1, &m->layers[0].wq);
    }
    return 0;
}

int llm_decode(llm_ctx *c, const llm_batch *b, jc_err *err)
{
    const llm_hparams *hp = &c->hp;
    if (!b || b->n < 1 || !b->tokens || !b->pos)
        return jc_errf(err, "llm_decode: empty batch");
    if (b->n > c->n_batch)
        return jc_errf(err, "llm_decode: batch of %d tokens is larger than n_batch %d", b->n, c->n_batch);
    for (int s = 0; s < c->n_seq; s++)
        c->seq_first[s] = -1;
    int n_out = 0;
    for (int i = 0; i < b->n; i++) {
        int32_t tok = b->tokens[i], pos = b->pos[i], s = b->seq ? b->seq[i] : 0;
        if (tok < 0 || tok >= hp->n_vocab)
            return jc_errf(err, "batch entry %d: token id %d is out of range [0, %d)", i, tok, hp->n_vocab);
        if (s < 0 || s >= c->n_seq)
            return jc_errf(err, "batch entry %d: sequence %d is out of range [0, %d)", i, s, c->n_seq);
        if (pos < 0 || pos >= c->n_ctx)
            return jc_errf(err, "batch entry %d: position %d is outside the context of %d tokens", i, pos, c->n_ctx);
        if (c->seq_first[s] < 0) {
            if (pos > c->seq_len[s])
                return jc_errf(err, "batch entry %d: position %d leaves a gap after sequence %d's %d tokens", i, pos,
                               s, c->seq_len[s]);
            c->seq_first[s] = pos;
        } else if (pos != c->seq_last[s] + 1) {
            return jc_errf(err, "batch entry %d: position %d does not follow position %d of sequence %d", i, pos,
                           c->seq_last[s], s);
        }
        c->seq_last[s] = pos;
        bool want = b->want_logits ? b->want_logits[i] : i == b->n - 1;
        c->out_row[i] = want ? n_out++ : -1;
    }
    if (n_out > c->logits_cap) {
        float *nl = jc_try_calloc((size_t)n_out, (size_t)hp->n_vocab * sizeof(float), err);
        if (!nl)
            return jc_err_prefix(err, "logits for %d rows", n_out);
        free(c->logits);
        c->logits = nl;
        c->logits_cap = n_out;
    }
    /* the output rows of a micro-batch are consecutive, so ubatch writes them in place */
    for (int i0 = 0; i0 < b->n; i0 += c->n_ubatch) {
        int T = JC_MIN(c->n_ubatch, b->n - i0);
        const int32_t *seq = b->seq ? b->seq + i0 : c->seq0;
        if (ubatch(c, b->tokens + i0, b->pos + i0, seq, c->out_row + i0, T, err))
            return -1;
    }
    for (int s = 0; s < c->n_seq; s++)
        if (c->seq_first[s] >= 0)
            c->seq_len[s] = c->seq_last[s] + 1;
    c->ub_n = 0;
    return 0;
}

const float *llm_logits(const llm_ctx *c, int i)
{
    if (i < 0 || i >= c->n_batch || c->out_row[i] < 0 || c->out_row[i] >= c->logits_cap)
        return NULL;
    return c->logits + (size_t)c->out_row[i] * c->hp.n_vocab;
}

const float *llm_embedding(llm_ctx *c, int seq, jc_err *err)
{
    if (!c->embeddings) {
        jc_errf(err, "this context was made without embeddings");
        return NULL;
    }
    if (seq < 0 || seq >= c->n_seq || c->emb_count[seq] == 0) {
        jc_errf(err, "sequence %d has no tokens to pool", seq);
        return NULL;
    }
    const int E = c->hp.n_embd;
    const float *src;
    float div = 1.0f;
    switch (c->hp.pooling) {
    case LLM_POOL_CLS:
        src = c->emb_first + (size_t)seq * E;
        break;
    case LLM_POOL_LAST:
        src = c->emb_last + (size_t)seq * E;
        break;
    default:
        src = c->emb_sum + (size_t)seq * E;
        div = (float)c->emb_count[seq];
        break;
    }
    double ss = 0;
    for (int i = 0; i < E; i++) {
        c->emb_out[i] = src[i] / div;
        ss += (double)c->emb_out[i] * c->emb_out[i];
    }
    float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
    for (int i = 0; i < E; i++)
        c->emb_out[i] *= inv;
    return c->emb_out;
}
