/*
 * internal.h: helpers shared by the runtime's files and by nobody else.
 *
 * Two parts.  The static inline helpers (rt_*): the error-message writer of
 * the *_ex functions and the little-endian codecs of the file formats (IDX
 * is big-endian, checkpoints are little-endian; both are decoded byte by
 * byte, so the code does not depend on the host's byte order).  Then the
 * descriptor view (nnrt_view_*, descriptor.c), through which every tool
 * reads a model descriptor of either ABI version.  Those functions are
 * linked, not inline: they carry the nnrt_ prefix so that the static
 * library adds no name outside its namespace, and hidden visibility keeps
 * them out of libnnrt.so's exports; nnrt.h does not declare them.
 */
#ifndef NNRT_INTERNAL_H
#define NNRT_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nnrt.h"

/* Write a message into the caller's buffer, if it gave one, and return the
 * code, so that a failure is reported in one line: return rt_fail(...). */
__attribute__((format(printf, 4, 5)))
static inline int rt_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static inline uint32_t rt_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t rt_get_le64(const uint8_t *p)
{
    return (uint64_t)rt_get_le32(p) | (uint64_t)rt_get_le32(p + 4) << 32;
}

static inline void rt_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void rt_put_le64(uint8_t *p, uint64_t v)
{
    rt_put_le32(p, (uint32_t)v);
    rt_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t rt_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* strerror is not thread-safe; strerror_r is, in one of two flavours. */
static inline const char *rt_errno_str(int e, char *buf, size_t len)
{
#if defined(_GNU_SOURCE) && defined(__GLIBC__)
    return strerror_r(e, buf, len);
#else
    if (strerror_r(e, buf, len) != 0)
        snprintf(buf, len, "error %d", e);
    return buf;
#endif
}

/* Bytes per element of a descriptor dtype; 0 for an unknown one. */
static inline size_t rt_dtype_size(nnrt_dtype dtype)
{
    switch (dtype) {
    case NNRT_F32: case NNRT_I32: return 4;
    case NNRT_F64: case NNRT_I64: return 8;
    default: return 0;
    }
}

static inline const char *rt_dtype_name(nnrt_dtype dtype)
{
    switch (dtype) {
    case NNRT_F32: return "f32";
    case NNRT_F64: return "f64";
    case NNRT_I32: return "i32";
    case NNRT_I64: return "i64";
    default: return "?";
    }
}

/* "[256, 784]" into buf (len > 0); "[]" for a scalar.  Truncates silently. */
static inline const char *rt_shape_str(char *buf, size_t len, int rank, const int64_t *dims)
{
    char one[32];
    snprintf(buf, len, "[");
    for (int i = 0; i < rank; i++) {
        size_t at = strlen(buf);
        snprintf(one, sizeof one, "%s%lld", i ? ", " : "", (long long)dims[i]);
        snprintf(buf + at, len - at, "%s", one);
    }
    size_t at = strlen(buf);
    snprintf(buf + at, len - at, "]");
    return buf;
}

/* ---- IDX arrays (idx.c) ---- */

/* Bytes per element of an IDX type, 0 for an unknown one. */
size_t nnrt_idx_elem_size(int type);
/* Element i of an IDX array, as a double: exact for every IDX type. */
double nnrt_idx_value(const nnrt_idx *a, size_t i);

/* ---- The descriptor view (descriptor.c) ----
 *
 * A descriptor of abi_version 1 (nnrt_model_v1) or 2 (nnrt_model), read
 * once, checked, and seen through one normalized interface, so that every
 * tool is written once.  Opening allocates nothing and keeps pointers into
 * the caller's descriptor, which must outlive the view. */

#define NNRT_INTERNAL __attribute__((visibility("hidden")))

/* One entry of tensors[], whatever the version. */
typedef struct nnrt_view_tensor {
    const char *name;
    nnrt_role role;
    nnrt_dtype dtype;
    int rank;
    const int64_t *dims;               /* rank entries (may be NULL when rank is 0) */
    size_t offset, size;
    double default_value;
    const char *const *dim_names;      /* NULL in version 1 */
    const nnrt_tensor *v2;             /* the descriptor's own entry: v2 in version 2, */
    const nnrt_tensor_v1 *v1;          /* v1 in version 1; the other is NULL */
} nnrt_view_tensor;

typedef struct nnrt_view {
    int version;                       /* 1 or 2 */
    const nnrt_model *m2;              /* the descriptor: m2 in version 2, */
    const nnrt_model_v1 *m1;           /* m1 in version 1; the other is NULL */
    const char *name, *objective;
    size_t params_size, inputs_size, outputs_size, state_size, workspace_size;
    int n_tensors;
    int n_params, n_states;            /* PARAM and STATE entries (no STATE in version 1) */
    int n_buffers;                     /* optimizer buffers per param: 0 to 3 (version 1: 0,
                                          its state being opaque bytes) */
    size_t buffers_at;                 /* state offset of the first buffer */
    int has_init, has_forward, has_backward, has_train_step, has_update;
} nnrt_view;

/* Check m and fill v.  Returns 0, or NNRT_EINVAL (with a message naming
 * the problem): NULL, an abi_version other than 1 and 2, no name, a tensor
 * without a name, of an unknown role or dtype (per version), a negative
 * rank or dim, missing dims, a tensor outside the struct of its role, a
 * PARAM or STATE whose size is not its elements' bytes, a state tensor
 * over the seed and step, a version-2 state_size below 16, or bytes after
 * the last state tensor that are not whole optimizer buffers (the rule in
 * docs/runtime.md). */
NNRT_INTERNAL int nnrt_view_open(nnrt_view *v, const nnrt_model *m, char *err, size_t errlen);

/* Entry i (0 <= i < n_tensors) of tensors[]. */
NNRT_INTERNAL nnrt_view_tensor nnrt_view_tensor_at(const nnrt_view *v, int i);
/* The same from the descriptor's own entry (exactly one of them non-NULL;
 * both NULL gives a zeroed view with no name). */
NNRT_INTERNAL nnrt_view_tensor nnrt_view_tensor_of(const nnrt_tensor *t2, const nnrt_tensor_v1 *t1);

/* torch.optim's name of buffer b (0 <= b < n_buffers): "momentum_buffer";
 * or "exp_avg", "exp_avg_sq", "max_exp_avg_sq". */
NNRT_INTERNAL const char *nnrt_view_buffer_key(const nnrt_view *v, int b);
/* The state offset of buffer b of the PARAM tensors[i]. */
NNRT_INTERNAL size_t nnrt_view_buffer_offset(const nnrt_view *v, int i, int b);

/* The entry points, called with the signature of the descriptor's version:
 * state is passed to version 2 only (version 1 has none but train_step's
 * opaque one).  Each returns NNRT_EINVAL when the descriptor has no such
 * entry point (update: always, in version 1). */
NNRT_INTERNAL int nnrt_view_init(const nnrt_view *v, void *params, void *state, uint64_t seed);
NNRT_INTERNAL int nnrt_view_forward(const nnrt_view *v, const void *params, const void *state,
                                    const void *inputs, void *outputs, void *workspace);
NNRT_INTERNAL int nnrt_view_backward(const nnrt_view *v, const void *params, void *state,
                                     const void *inputs, void *outputs, void *grads,
                                     void *workspace);
NNRT_INTERNAL int nnrt_view_train_step(const nnrt_view *v, void *params, void *state,
                                       const void *inputs, void *outputs, void *workspace);
NNRT_INTERNAL int nnrt_view_update(const nnrt_view *v, void *params, void *state,
                                   const void *grads, const void *inputs);

#endif
