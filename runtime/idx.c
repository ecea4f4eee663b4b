/*
 * idx.c: the reader of IDX files, the format of MNIST and Fashion-MNIST.
 *
 * An IDX file is a 4-byte magic number (0, 0, element type, rank), rank
 * big-endian u32 dims, then the elements, big-endian, row-major.  The files
 * are usually distributed gzipped; zlib's gz* functions read both forms, so
 * the content decides, not the name.
 *
 * The reader is strict, since a short or padded file usually means a
 * download that went wrong: the data must be exactly as long as the header
 * says, and a gzip stream must be complete.  (Bytes after the end of a gzip
 * stream are ignored, as gzip itself does: zlib does not report them.)  It returns the elements in the
 * host's byte order in memory from nnrt_alloc, which it grows as data
 * actually arrives, so that a damaged header announcing terabytes costs a
 * clear error, not the machine's memory.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"
#include "nnrt.h"

#define FIRST_CHUNK ((size_t)1 << 24)  /* the buffer starts this big, then doubles */
#define READ_MAX ((size_t)1 << 30)     /* gzread takes an unsigned, returns an int */

size_t nnrt_idx_elem_size(int type)
{
    switch (type) {
    case NNRT_IDX_U8: case NNRT_IDX_I8: return 1;
    case NNRT_IDX_I16: return 2;
    case NNRT_IDX_I32: case NNRT_IDX_F32: return 4;
    case NNRT_IDX_F64: return 8;
    default: return 0;
    }
}

double nnrt_idx_value(const nnrt_idx *a, size_t i)
{
    switch (a->type) {
    case NNRT_IDX_U8: return ((const uint8_t *)a->data)[i];
    case NNRT_IDX_I8: return ((const int8_t *)a->data)[i];
    case NNRT_IDX_I16: return ((const int16_t *)a->data)[i];
    case NNRT_IDX_I32: return ((const int32_t *)a->data)[i];
    case NNRT_IDX_F32: return ((const float *)a->data)[i];
    default: return ((const double *)a->data)[i];
    }
}

/* Read up to len bytes, fewer only at the end of the data or on an error,
 * which the caller tells apart with gzerror. */
static size_t read_some(gzFile f, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        size_t want = len - got < READ_MAX ? len - got : READ_MAX;
        int r = gzread(f, (char *)buf + got, (unsigned)want);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* The error of a gzFile after a short read: NNRT_OK when the data simply
 * ended, else the code and message to report. */
static int stream_error(gzFile f, const char *path, char *err, size_t errlen)
{
    int zerr;
    const char *msg = gzerror(f, &zerr);
    if (zerr == Z_OK)
        return NNRT_OK;
    if (zerr == Z_ERRNO) {
        char buf[128];
        return rt_fail(err, errlen, NNRT_EIO, "%s: read error: %s", path,
                       rt_errno_str(errno, buf, sizeof buf));
    }
    if (zerr == Z_BUF_ERROR)
        return rt_fail(err, errlen, NNRT_ECORRUPT, "%s: truncated: the gzip stream ends early", path);
    if (zerr == Z_MEM_ERROR)
        return rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory", path);
    size_t plen = strlen(path);           /* zlib says "PATH: what"; we name the path once */
    if (strncmp(msg, path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0)
        msg += plen + 2;
    return rt_fail(err, errlen, NNRT_ECORRUPT, "%s: damaged gzip data: %s", path, msg);
}

/* Big-endian elements to host order, in place. */
static void to_host_order(uint8_t *p, size_t count, size_t esize)
{
    for (size_t i = 0; i < count; i++, p += esize) {
        if (esize == 2) {
            uint16_t v = (uint16_t)(p[0] << 8 | p[1]);
            memcpy(p, &v, 2);
        } else if (esize == 4) {
            uint32_t v = rt_get_be32(p);
            memcpy(p, &v, 4);
        } else if (esize == 8) {
            uint64_t v = (uint64_t)rt_get_be32(p) << 32 | rt_get_be32(p + 4);
            memcpy(p, &v, 8);
        }
    }
}

/* Everything after the open, so that nnrt_idx_load closes the file in one
 * place.  On failure *out may hold a buffer, which the caller frees. */
static int load(gzFile f, const char *path, nnrt_idx *out, char *err, size_t errlen)
{
    uint8_t head[4 + 4 * 4];
    size_t got = read_some(f, head, 4);
    if (got < 4) {
        int rc = stream_error(f, path, err, errlen);
        if (rc)
            return rc;
        if (got == 0)
            return rt_fail(err, errlen, NNRT_EFORMAT, "%s: not an IDX file (empty)", path);
        return rt_fail(err, errlen, NNRT_ECORRUPT, "%s: truncated: %zu bytes, no whole header",
                       path, got);
    }
    if (head[0] != 0 || head[1] != 0)
        return rt_fail(err, errlen, NNRT_EFORMAT,
                       "%s: not an IDX file (magic number %02x %02x %02x %02x, expected 00 00 TYPE RANK)",
                       path, head[0], head[1], head[2], head[3]);
    int type = head[2], rank = head[3];
    size_t esize = nnrt_idx_elem_size(type);
    if (esize == 0)
        return rt_fail(err, errlen, NNRT_EFORMAT, "%s: unknown IDX element type 0x%02x", path, type);
    if (rank < 1 || rank > 4)
        return rt_fail(err, errlen, NNRT_EFORMAT, "%s: IDX rank %d is not supported (1 to 4)",
                       path, rank);
    got = read_some(f, head + 4, 4 * (size_t)rank);
    if (got < 4 * (size_t)rank) {
        int rc = stream_error(f, path, err, errlen);
        return rc ? rc : rt_fail(err, errlen, NNRT_ECORRUPT, "%s: truncated header", path);
    }

    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        uint32_t d = rt_get_be32(head + 4 + 4 * i);
        if (d == 0)
            return rt_fail(err, errlen, NNRT_EFORMAT, "%s: dimension %d is 0", path, i);
        if (count > SIZE_MAX / esize / d)
            return rt_fail(err, errlen, NNRT_EFORMAT, "%s: dimensions too large for memory", path);
        count *= d;
        out->dims[i] = d;
    }
    size_t total = count * esize;
    if (total > (size_t)PTRDIFF_MAX)
        return rt_fail(err, errlen, NNRT_EFORMAT, "%s: dimensions too large for memory", path);
    out->type = type;
    out->rank = rank;
    out->count = count;
    out->elem_size = esize;

    size_t cap = total < FIRST_CHUNK ? total : FIRST_CHUNK;
    uint8_t *buf = nnrt_alloc(cap);
    if (!buf)
        return rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory for %zu bytes", path, cap);
    out->data = buf;
    got = 0;
    for (;;) {
        got += read_some(f, buf + got, cap - got);
        if (got < cap || cap == total)
            break;
        size_t grown = cap <= total / 2 ? 2 * cap : total;
        uint8_t *bigger = nnrt_alloc(grown);
        if (!bigger)
            return rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory for %zu bytes", path, grown);
        memcpy(bigger, buf, got);
        nnrt_free(buf);
        out->data = buf = bigger;
        cap = grown;
    }
    if (got < total) {
        int rc = stream_error(f, path, err, errlen);
        return rc ? rc : rt_fail(err, errlen, NNRT_ECORRUPT,
                                 "%s: truncated: %zu bytes of data, the header announces %zu",
                                 path, got, total);
    }
    uint8_t extra;
    if (read_some(f, &extra, 1) > 0)
        return rt_fail(err, errlen, NNRT_ECORRUPT,
                       "%s: trailing bytes after the %zu bytes of data the header announces",
                       path, total);
    int rc = stream_error(f, path, err, errlen);
    if (rc)
        return rc;
    to_host_order(buf, count, esize);
    return NNRT_OK;
}

int nnrt_idx_load(const char *path, nnrt_idx *out, char *err, size_t errlen)
{
    if (!out || !path)
        return rt_fail(err, errlen, NNRT_EINVAL, "nnrt_idx_load: %s is NULL", out ? "path" : "out");
    memset(out, 0, sizeof *out);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        char buf[128];
        if (errno == 0)
            return rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory", path);
        return rt_fail(err, errlen, NNRT_EIO, "%s: cannot open: %s", path,
                       rt_errno_str(errno, buf, sizeof buf));
    }
    gzbuffer(f, 1 << 17);
    int rc = load(f, path, out, err, errlen);
    gzclose(f);
    if (rc)
        nnrt_idx_free(out);
    return rc;
}

void nnrt_idx_free(nnrt_idx *idx)
{
    if (!idx)
        return;
    nnrt_free(idx->data);
    memset(idx, 0, sizeof *idx);
}
