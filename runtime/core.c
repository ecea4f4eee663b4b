/*
 * core.c: error messages and aligned allocation.
 *
 * The generated code needs its structs and workspace 64-byte aligned (every
 * field is aligned to a cache line so that vector loads never split one);
 * nnrt_alloc is how a user gets such memory without knowing that.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"

#define ALIGN 64

const char *nnrt_strerror(int code)
{
    switch (code) {
    case NNRT_OK:        return "success";
    case NNRT_EINDEX:    return "an integer input (a label) is outside its range";
    case NNRT_ENOMEM:    return "out of memory";
    case NNRT_EIO:       return "input/output error (a read, write, sync or rename failed)";
    case NNRT_EFORMAT:   return "not a file of the expected format";
    case NNRT_ECORRUPT:  return "file is truncated or corrupted";
    case NNRT_EMISMATCH: return "file is for another model, shape or dtype";
    case NNRT_EINVAL:    return "invalid argument";
    case NNRT_EGRAD:     return "gradient check failed: an error is above tolerance, or a param is untested";
    case NNRT_ESHAPE:    return "a dim is outside [1, MAX], or a batch_norm normalizes a single value";
    case NNRT_EMPI:      return "an MPI call failed";
    default:             return "unknown error";
    }
}

/* aligned_alloc wants a size that is a multiple of the alignment, and may
 * return NULL for 0; rounding up (0 to one block) settles both.  No object
 * may exceed PTRDIFF_MAX bytes (pointer differences must fit), so larger
 * requests fail here rather than inside the allocator. */
void *nnrt_alloc(size_t size)
{
    if (size > (size_t)PTRDIFF_MAX - (ALIGN - 1))
        return NULL;
    size_t rounded = size == 0 ? ALIGN : (size + ALIGN - 1) / ALIGN * ALIGN;
    void *p = aligned_alloc(ALIGN, rounded);
    if (p)
        memset(p, 0, rounded);
    return p;
}

void nnrt_free(void *p)
{
    free(p);
}
