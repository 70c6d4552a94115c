/*
 * q_file.h — quantizing a whole GGUF model file (what `janc quantize` runs).
 *
 * The output types follow llama.cpp's quantizer (llama_tensor_get_type in
 * src/llama-quant.cpp): a file type ("mix") such as Q4_K_M has a default
 * tensor type (Q4_K) and per-tensor exceptions (output.weight in Q6_K,
 * attn_v/ffn_down in Q6_K in some layers, ...); 1-D tensors and norms keep
 * their type; a tensor whose row length is not a multiple of the block
 * falls back to a compatible type. Metadata is copied, with
 * general.file_type set to llama.cpp's LLAMA_FTYPE value of the mix.
 */
#ifndef QUANT_Q_FILE_H
#define QUANT_Q_FILE_H

#include "base/jc.h"

#include <stdint.h>

/* A file type janc can write: its name, LLAMA_FTYPE value and default tensor type. */
typedef struct q_ftype {
    const char *name;   /* "Q4_K_M" */
    uint32_t ftype;     /* LLAMA_FTYPE_MOSTLY_Q4_K_M = 15 */
    uint32_t type;      /* GGML_TYPE_Q4_K */
} q_ftype;

/* The file type named name (case-insensitive; "Q4_K" means Q4_K_M as in llama.cpp), or NULL. */
const q_ftype *q_ftype_find(const char *name);
/* The names janc accepts, comma-separated, for messages (a constant string). */
const char *q_ftype_names(void);

typedef struct q_file_stats {
    uint64_t n_tensors, n_converted, n_fallback;
    uint64_t bytes_in, bytes_out; /* tensor data */
} q_file_stats;

/*
 * Reads the GGUF model in_path and writes out_path (atomically) with its
 * tensors converted to the file type ft, using n_threads threads (<= 0:
 * all CPUs). Input tensors may be of any type janc can dequantize; a
 * tensor that needs converting from another type is an error naming it.
 * st (may be NULL) receives counts. Returns 0, or -1 with err set.
 */
int q_quantize_file(const char *in_path, const char *out_path, const q_ftype *ft, int n_threads, q_file_stats *st,
                    jc_err *err);

#endif
