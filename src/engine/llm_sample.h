/*
 * llm_sample.h — token sampling from a row of logits: penalties over the
 * last N tokens, top-k, top-p, min-p, temperature, then a draw from a
 * seeded PRNG (xoshiro256**), in llama.cpp's order. Temperature <= 0 is
 * greedy (argmax, first index on ties). Part of the engine layer.
 *
 * A sampler holds its own scratch (sized at creation for n_vocab) and the
 * recent-token history; sampling allocates nothing. One sampler per
 * generation; not shared between threads.
 */
#ifndef LLM_SAMPLE_H
#define LLM_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct llm_sampler_params {
    float temperature;       /* <= 0: greedy */
    float top_p;             /* 1: off */
    float min_p;             /* 0: off */
    int top_k;               /* <= 0: off */
    float repeat_penalty;    /* 1: off; logit/penalty if > 0 else logit*penalty, for recent tokens */
    float presence_penalty;  /* 0: off; minus this once for a token seen in the window */
    float frequency_penalty; /* 0: off; minus this times the count in the window */
    int penalty_last_n;      /* window of accepted tokens the penalties look at; 0: off, -1: all kept (up to 4096) */
    uint64_t seed;           /* same seed, same logits -> same tokens */
} llm_sampler_params;

/* temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, no penalties (window 64), seed 0. */
llm_sampler_params llm_sampler_default_params(void);

typedef struct llm_sampler llm_sampler;

/* A sampler for n_vocab logits; NULL if n_vocab < 1. Caller frees. */
llm_sampler *llm_sampler_new(const llm_sampler_params *p, int n_vocab);
void llm_sampler_free(llm_sampler *s); /* NULL is fine */
/* Forgets the history and reseeds (a new generation with the same settings). */
void llm_sampler_reset(llm_sampler *s);

/*
 * Picks a token from logits[n_vocab] (not modified). Non-finite logits are
 * never picked unless all are. Does not record the token: call
 * llm_sampler_accept with the token actually used.
 */
int32_t llm_sampler_sample(llm_sampler *s, const float *logits);
/* Records tok in the penalty history (prompt tokens too, if wanted). */
void llm_sampler_accept(llm_sampler *s, int32_t tok);

/*
 * The probabilities the last llm_sampler_sample drew from, for tests and
 * logprobs: *n gets the candidates left after the filters, ids/probs their
 * ids and probabilities (sorted by probability, descending). Owned by s.
 */
void llm_sampler_candidates(const llm_sampler *s, const int32_t **ids, const float **probs, int *n);

#endif
