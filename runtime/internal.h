/*
 * internal.h: helpers shared by the runtime's files and by nobody else.
 *
 * Everything here is static inline, so that libnnrt exports no name beyond
 * the nnrt_ ones declared in nnrt.h.  It holds the error-message writer of the
 * *_ex functions and the little-endian codecs of the file formats (IDX is
 * big-endian, checkpoints are little-endian; both are decoded byte by byte,
 * so the code does not depend on the host's byte order).
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
    case NNRT_F64: return 8;
    default: return 0;
    }
}

static inline const char *rt_dtype_name(nnrt_dtype dtype)
{
    switch (dtype) {
    case NNRT_F32: return "f32";
    case NNRT_F64: return "f64";
    case NNRT_I32: return "i32";
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

#endif
