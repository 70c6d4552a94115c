/*
 * quant.h — tensor block formats and the math kernels the engine multiplies
 * with. Public API of the quant layer.
 *
 * Weight types janc runs: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
 * Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS (ggml ids from gguf/gtype.h;
 * the byte layouts are in quant/qblock.h and are bit-exact to ggml's).
 *
 * How a matrix product runs: the engine quantizes each activation row once
 * with q_act_quantize() into the activation format of the weight type
 * (q_act_type(): F32 rows for float weights, Q8_0 rows for the 32-element
 * block types, Q8_K rows for the 256-element K-quants and IQ4_XS), then calls
 * q_gemm() on ranges of weight rows (one range per thread).
 *
 * Kernels: scalar reference, AVX2+FMA and AVX-512 (F/BW/VL/VNNI) paths,
 * chosen once per process from cpuid, or by $JANC_CPU=scalar|avx2|avx512.
 * All functions here are thread-safe; q_set_path is meant for tests.
 */
#ifndef QUANT_H
#define QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf/gtype.h"

/* True if janc can run tensors of this ggml type (dequant + dot). */
bool q_type_supported(uint32_t type);

/* Elements per block of a supported type (1 for F32/F16/BF16), 0 if unsupported. */
int64_t q_block_elems(uint32_t type);
/* Bytes of one row of n elements of type; 0 if unsupported or n is not a multiple of the block. */
size_t q_row_bytes(uint32_t type, int64_t n);

/*
 * Scalar reference dequantization of n elements (n a multiple of the block
 * size) of a supported type, bit-exact to ggml's dequantize_row_*. Also
 * handles the activation formats Q8_1 and Q8_K. Returns 0, or -1 for an
 * unsupported type or a bad n (dst untouched).
 */
int q_dequant_row(uint32_t type, const void *src, float *dst, int64_t n);

/*
 * Reference quantization of n floats into blocks of type (n a multiple of
 * the block size), with ggml's reference scale choices (round-to-nearest;
 * K-quants with the make_qx/qkx2 searches). Non-finite inputs are treated
 * as 0. Returns 0, or -1 for an unsupported type or bad n.
 */
int q_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

/* The activation format a weight type multiplies with (GGML_TYPE_F32, _Q8_0 or _Q8_K). */
uint32_t q_act_type(uint32_t wtype);
/*
 * Bytes of one activation row of n elements for weight type wtype (0 if
 * unsupported). A Q8_0 activation row is n/32 Q8_0 blocks followed by each
 * block's scale as a float and the sum of its levels (negated) as an int32
 * (the AVX-512 prompt kernels' offset and min terms read these).
 */
size_t q_act_row_bytes(uint32_t wtype, int64_t n);
/* Quantizes one activation row x[n] into the activation format of wtype (xq: q_act_row_bytes). */
void q_act_quantize(uint32_t wtype, const float *x, void *xq, int64_t n);

/*
 * out[t*out_stride + r] = dot(row r of W, activation row t), r < rows,
 * t < ntok. W rows are w_row_bytes apart; activation rows (made by
 * q_act_quantize) are act_row_bytes apart. The engine threads over row
 * ranges (passing W offset by the first row and a smaller rows). Uses the
 * fastest path for this CPU. Allocates nothing. n must be a multiple of
 * the type's block (q_row_bytes(wtype, n) != 0); otherwise, or for an
 * unsupported type, nothing is written.
 */
void q_gemm(uint32_t wtype, const void *W, size_t w_row_bytes, int64_t rows, int64_t n,
            const void *xq, size_t act_row_bytes, int64_t ntok, float *out, size_t out_stride);

/*
 * The CPU path. Chosen at first use from cpuid (AVX-512 with BW/VL/VNNI/VBMI,
 * else AVX2+FMA+F16C, else scalar); $JANC_CPU=scalar|avx2|avx512 forces one
 * (falling back when the CPU lacks it). This is the one process-wide mutable
 * choice in the layer.
 */
enum q_path { Q_PATH_SCALAR, Q_PATH_AVX2, Q_PATH_AVX512, Q_PATH_COUNT };
enum q_path q_get_path(void);
/* True if this CPU can run path p. */
bool q_path_available(enum q_path p);
/* Forces path p; false (and no change) if the CPU lacks it. */
bool q_set_path(enum q_path p);
const char *q_path_name(enum q_path p);

/* fp16 / bf16 conversions (round-to-nearest-even, like ggml). */
float q_f16_to_f32(uint16_t h);
uint16_t q_f32_to_f16(float f);
float q_bf16_to_f32(uint16_t h);
uint16_t q_f32_to_bf16(float f);

#endif
