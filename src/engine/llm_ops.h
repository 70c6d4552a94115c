/*
 * llm_ops.h — the small vector kernels of the forward pass that are not
 * matrix products (those are quant's q_gemm): f32 dot product and axpy,
 * f32 <-> f16 rows (the KV cache), RMSNorm, SiLU-gated product, softmax. A table of function pointers is filled once per
 * context: AVX2+FMA+F16C when quant's CPU path is AVX2 or AVX-512 (so
 * $JANC_CPU=scalar forces portable C here too). Private to the engine layer.
 */
#ifndef LLM_OPS_H
#define LLM_OPS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct llm_ops {
    float (*dot_f32)(const float *a, const float *b, int n);
    void (*axpy_f32)(float *y, float a, const float *x, int n); /* y += a*x */
    void (*to_f16)(uint16_t *dst, const float *src, int n);
    void (*to_f32)(float *dst, const uint16_t *src, int n);
    void (*softmax)(float *x, int n);               /* as llm_softmax */
    void (*swiglu)(float *a, const float *b, int n); /* as llm_swiglu */
    /* Attention on a chunk of kc keys (kc a multiple of 16) for nq query rows q[i] of hd floats:
       S[i*lds + j] = scale * dot(q[i], key j), the keys transposed: Kt[d*kc + j]. */
    void (*attn_qk)(float *S, int lds, const float *const *q, int nq, const float *Kt, int kc, int hd, float scale);
    /* o[i][0..hdv) += sum over j < kc of P[i*ldp + j] * V[j*hdv ..], for i < nq. */
    void (*attn_pv)(float *const *o, const float *P, int ldp, int nq, const float *V, int kc, int hdv);
    bool simd;
} llm_ops;

/* Fills o with the fastest kernels this CPU runs. */
void llm_ops_init(llm_ops *o);

/* out = x / rms(x) * w (sum of squares in double, like ggml); out may equal x. */
void llm_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
/* a[i] = silu(a[i]) * b[i]. */
void llm_swiglu(float *a, const float *b, int n);
/* In place: x = exp(x - max) / sum, over n >= 1 values. */
void llm_softmax(float *x, int n);

#endif
