/*
 * gtype.h — the ggml tensor type ids that GGUF files use, with their names,
 * block sizes and bytes per block. Every id ever assigned is known by name,
 * so `janc inspect` can name types the engine cannot run. The kernels for
 * the types janc runs live in src/quant/, indexed by the same ids.
 *
 * The names are ggml's own (GGML_TYPE_*) because that is how everyone in
 * this field reads them; the values are fixed by the file format.
 */
#ifndef GGUF_GTYPE_H
#define GGUF_GTYPE_H

#include <stdbool.h>
#include <stdint.h>

enum ggml_type {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    /* 4, 5: Q4_2, Q4_3, removed before GGUF existed */
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_Q8_K = 15,
    GGML_TYPE_IQ2_XXS = 16,
    GGML_TYPE_IQ2_XS = 17,
    GGML_TYPE_IQ3_XXS = 18,
    GGML_TYPE_IQ1_S = 19,
    GGML_TYPE_IQ4_NL = 20,
    GGML_TYPE_IQ3_S = 21,
    GGML_TYPE_IQ2_S = 22,
    GGML_TYPE_IQ4_XS = 23,
    GGML_TYPE_I8 = 24,
    GGML_TYPE_I16 = 25,
    GGML_TYPE_I32 = 26,
    GGML_TYPE_I64 = 27,
    GGML_TYPE_F64 = 28,
    GGML_TYPE_IQ1_M = 29,
    GGML_TYPE_BF16 = 30,
    GGML_TYPE_Q4_0_4_4 = 31, /* 31..33: interleaved Q4_0, removed from ggml */
    GGML_TYPE_Q4_0_4_8 = 32,
    GGML_TYPE_Q4_0_8_8 = 33,
    GGML_TYPE_TQ1_0 = 34,
    GGML_TYPE_TQ2_0 = 35,
    GGML_TYPE_IQ4_NL_4_4 = 36, /* 36..38: interleaved IQ4_NL, removed from ggml */
    GGML_TYPE_IQ4_NL_4_8 = 37,
    GGML_TYPE_IQ4_NL_8_8 = 38,
    GGML_TYPE_MXFP4 = 39,
    GGML_TYPE_COUNT = 40,
};

typedef struct ggml_type_info {
    const char *name;    /* "Q4_K"; NULL for ids never assigned */
    uint32_t blck_size;  /* elements per block */
    uint32_t type_size;  /* bytes per block */
} ggml_type_info;

/* The info for a type id, or NULL for an id that is not a ggml type. */
const ggml_type_info *ggml_type_get(uint32_t type);
/* The type's name, or "type<N>" in a static buffer-free form ("unknown"). */
const char *ggml_type_name(uint32_t type);
/* Looks a type up by name, case-insensitively ("q4_k", "Q4_K"); -1 if unknown. */
int ggml_type_from_name(const char *name);
/*
 * Bytes of n elements (one row) of the type; false if n is not a multiple of
 * the block size or the type is unknown.
 */
bool ggml_row_size(uint32_t type, uint64_t n, uint64_t *bytes);

#endif
