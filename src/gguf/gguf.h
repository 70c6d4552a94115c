/*
 * gguf.h — reader and writer of GGUF files (versions 2 and 3).
 *
 * Byte layout (little-endian):
 *   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv x { string key | u32 value_type | value }
 *   n_tensors x { string name | u32 n_dims | n_dims x u64 ne | u32 type | u64 offset }
 *   padding to general.alignment (default 32)
 *   tensor data; each tensor at data_start + offset, offset a multiple of the alignment
 * where string = u64 length + bytes (no NUL), and an array value =
 *   u32 element_type | u64 count | count x element (elements may be arrays).
 *
 * The reader maps the file and checks every count, length, offset and size
 * against the file size before using it; a bad file is an error naming the
 * byte offset and what was wrong. Strings and tensor data are views into the
 * mapping, valid until gguf_close. A split model (name-00001-of-0000N.gguf
 * with split.* keys) opens as one: metadata from the first shard, tensors from
 * all of them.
 */
#ifndef GGUF_H
#define GGUF_H

#include "base/jc.h"
#include "gguf/gtype.h"

enum gguf_vtype {
    GGUF_VT_UINT8 = 0,
    GGUF_VT_INT8 = 1,
    GGUF_VT_UINT16 = 2,
    GGUF_VT_INT16 = 3,
    GGUF_VT_UINT32 = 4,
    GGUF_VT_INT32 = 5,
    GGUF_VT_FLOAT32 = 6,
    GGUF_VT_BOOL = 7,
    GGUF_VT_STRING = 8,
    GGUF_VT_ARRAY = 9,
    GGUF_VT_UINT64 = 10,
    GGUF_VT_INT64 = 11,
    GGUF_VT_FLOAT64 = 12,
    GGUF_VT_COUNT
};

/* A string view: not NUL-terminated. */
typedef struct gguf_str {
    const char *ptr;
    uint64_t len;
} gguf_str;

typedef struct gguf_value gguf_value;
struct gguf_value {
    enum gguf_vtype type;
    union {
        uint64_t u;   /* UINT8..UINT64 */
        int64_t i;    /* INT8..INT64 */
        double f;     /* FLOAT32, FLOAT64 */
        bool b;       /* BOOL */
        gguf_str s;   /* STRING */
        struct {
            enum gguf_vtype type; /* element type */
            uint64_t n;           /* element count */
            const uint8_t *raw;   /* numeric/bool elements: packed, little-endian, maybe unaligned */
            gguf_str *strs;       /* STRING elements: n views */
            gguf_value *vals;     /* ARRAY elements: n nested arrays */
        } arr;
    };
};

typedef struct gguf_tensor {
    const char *name;     /* NUL-terminated */
    uint32_t type;        /* enum ggml_type; may be one janc cannot run */
    uint32_t n_dims;      /* 1..4 */
    int64_t ne[4];        /* elements per dimension, ne[0] innermost; unused dims are 1 */
    uint64_t offset;      /* offset in its file's data section */
    uint64_t size;        /* bytes */
    const void *data;     /* view into the mapping */
    uint32_t shard;       /* which file of a split model */
} gguf_tensor;

typedef struct gguf_file gguf_file;

/* Opens and validates a GGUF file (or the first shard of a split model). */
gguf_file *gguf_open(const char *path, jc_err *err);
/* Validates a GGUF image in memory (no split handling); buf must outlive the result. */
gguf_file *gguf_open_memory(const void *buf, size_t size, jc_err *err);
void gguf_close(gguf_file *f);

uint32_t gguf_version(const gguf_file *f);
uint32_t gguf_alignment(const gguf_file *f);
uint32_t gguf_n_shards(const gguf_file *f);
/* Total bytes of all shards. */
uint64_t gguf_file_size(const gguf_file *f);
/* Byte offset of the data section in the first shard. */
uint64_t gguf_data_offset(const gguf_file *f);

/* Metadata, in file order. */
uint64_t gguf_kv_count(const gguf_file *f);
gguf_str gguf_kv_key(const gguf_file *f, uint64_t i);
const gguf_value *gguf_kv_value(const gguf_file *f, uint64_t i);
/* The value of key, or NULL. */
const gguf_value *gguf_get(const gguf_file *f, const char *key);

/* Typed getters: false when the key is absent or of an incompatible type. */
bool gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out); /* any non-negative integer */
bool gguf_get_i64(const gguf_file *f, const char *key, int64_t *out);  /* any integer */
bool gguf_get_f64(const gguf_file *f, const char *key, double *out);   /* float or integer */
bool gguf_get_bool(const gguf_file *f, const char *key, bool *out);
bool gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
/* The string value of key as a new NUL-terminated copy, or NULL. Caller frees. */
char *gguf_get_strdup(const gguf_file *f, const char *key);
/* An array value of key whose elements are of type t (any type when t is GGUF_VT_COUNT). */
const gguf_value *gguf_get_arr(const gguf_file *f, const char *key, enum gguf_vtype t);

/* Array element access; i < v->arr.n. Integer/float conversions as above. */
int64_t gguf_arr_i64(const gguf_value *v, uint64_t i);
double gguf_arr_f64(const gguf_value *v, uint64_t i);
gguf_str gguf_arr_str(const gguf_value *v, uint64_t i);

/* Tensors, in file order (shard by shard). */
uint64_t gguf_tensor_count(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, uint64_t i);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);
/* Elements of a tensor (product of ne). */
uint64_t gguf_tensor_nelems(const gguf_tensor *t);

const char *gguf_vtype_name(enum gguf_vtype t);
/* True if the string view equals the C string s. */
bool gguf_str_eq(gguf_str s, const char *c);

/*
 * Writer. Keys and tensors are written in the order they are added; setting
 * an existing key replaces its value in place. Tensor data is referenced,
 * not copied: it must stay valid until gguf_writer_write returns. The file is
 * written atomically (temp file + rename).
 */
typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(uint32_t version); /* 3 normally; 2 for tests */
void gguf_writer_free(gguf_writer *w);
void gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment); /* also writes general.alignment */
void gguf_writer_set_u8(gguf_writer *w, const char *key, uint8_t v);
void gguf_writer_set_i8(gguf_writer *w, const char *key, int8_t v);
void gguf_writer_set_u16(gguf_writer *w, const char *key, uint16_t v);
void gguf_writer_set_i16(gguf_writer *w, const char *key, int16_t v);
void gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
void gguf_writer_set_i64(gguf_writer *w, const char *key, int64_t v);
void gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
void gguf_writer_set_f64(gguf_writer *w, const char *key, double v);
void gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
void gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
/* Arrays of packed elements of type t (numeric or bool), n of them. */
void gguf_writer_set_arr(gguf_writer *w, const char *key, enum gguf_vtype t, const void *data, uint64_t n);
void gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n);
/* Copies any value (including nested arrays) read from another file. */
void gguf_writer_set_value(gguf_writer *w, const char *key, const gguf_value *v);
/* ne has n_dims entries; size must equal the type's row size times the rows. */
int gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                           const int64_t *ne, const void *data, uint64_t size, jc_err *err);
int gguf_writer_write(gguf_writer *w, const char *path, jc_err *err);
/* Writes the file image into a buffer the caller frees (for tests and fuzz seeds). */
int gguf_writer_to_memory(gguf_writer *w, uint8_t **out, size_t *size, jc_err *err);

#endif
