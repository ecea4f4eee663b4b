/*
 * checkpoint.c: saving and loading a model's params and optimizer state.
 *
 * Any compiled model is saved through its descriptor (nnrt_model): a header
 * describing every PARAM tensor (name, dtype, shape, bytes), the tensors'
 * data, the optimizer state's raw bytes, and a CRC-32 of all of it; the
 * layout is in nnrt.h.  Two promises shape the code:
 *   - saving never leaves a half-written file: it writes a temporary file
 *     beside the target, syncs it, renames it over the target and syncs the
 *     directory, so the target is either the old file or the new one;
 *   - loading never leaves half-loaded params: the whole file is read and
 *     checked (format, length, CRC, then model, names, dtypes, shapes)
 *     before the first byte is copied into the caller's structs.
 * Saving allocates nothing; loading holds the file in one malloc'ed buffer,
 * freed before it returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"
#include "nnrt.h"

#define MAGIC "NNRTCKPT"
#define FLAG_STATE 1u                  /* the file holds the optimizer state */
#define FIXED_HEAD 24                  /* magic, version, flags, file size */
#define PATH_LEN 4096
#define CHUNK ((size_t)1 << 30)        /* zlib's crc32 takes an unsigned length */

static int host_is_little_endian(void)
{
    uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Copy n bytes of esize-byte elements, reversing each element's bytes on a
 * big-endian host: host order to little-endian and back. */
static void copy_le(void *dst, const void *src, size_t n, size_t esize)
{
    if (host_is_little_endian() || esize == 1) {
        memcpy(dst, src, n);
        return;
    }
    const unsigned char *s = src;
    unsigned char *d = dst;
    for (size_t i = 0; i + esize <= n; i += esize)
        for (size_t k = 0; k < esize; k++)
            d[i + k] = s[i + esize - 1 - k];
}

static uLong crc_of(uLong crc, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (; n > CHUNK; n -= CHUNK, b += CHUNK)
        crc = crc32(crc, b, (uInt)CHUNK);
    return crc32(crc, b, (uInt)n);
}

/* ---- The descriptor ---- */

static size_t n_elems(int rank, const int64_t *dims, int *overflow)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || (dims[i] > 0 && n > SIZE_MAX / (uint64_t)dims[i])) {
            *overflow = 1;
            return 0;
        }
        n *= (size_t)dims[i];
    }
    return n;
}

/* The descriptor is the caller's (hand-written ones exist): check what the
 * format relies on before trusting offsets and sizes. */
static int check_model(const nnrt_model *m, char *err, size_t errlen)
{
    if (!m)
        return rt_fail(err, errlen, NNRT_EINVAL, "no model descriptor");
    if (m->abi_version != NNRT_ABI_VERSION)
        return rt_fail(err, errlen, NNRT_EINVAL, "model descriptor of ABI version %d, this runtime has %d",
                       m->abi_version, NNRT_ABI_VERSION);
    if (!m->name || m->n_tensors < 0 || (m->n_tensors > 0 && !m->tensors))
        return rt_fail(err, errlen, NNRT_EINVAL, "malformed model descriptor");
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        if (t->role != NNRT_PARAM)
            continue;
        size_t es = rt_dtype_size(t->dtype);
        int overflow = 0;
        size_t n = t->rank >= 0 && (t->rank == 0 || t->dims) ? n_elems(t->rank, t->dims, &overflow) : 0;
        if (!t->name || es == 0 || t->rank < 0 || (t->rank > 0 && !t->dims) || overflow
            || n > SIZE_MAX / es || t->size != n * es || t->offset > m->params_size
            || t->size > m->params_size - t->offset)
            return rt_fail(err, errlen, NNRT_EINVAL, "model %s: malformed descriptor of param %s",
                           m->name, t->name ? t->name : "(no name)");
    }
    return NNRT_OK;
}

/* ---- Writing ---- */

/* Where bytes go: a file (with its CRC), or nowhere, only counted, to learn
 * the file's size, which the header holds. */
typedef struct sink {
    FILE *f;
    uint64_t size;
    uLong crc;
    int err;                           /* errno of the first failed write, or 0 */
} sink;

static void emit(sink *o, const void *p, size_t n)
{
    o->size += n;
    if (!o->f || o->err || n == 0)
        return;
    o->crc = crc_of(o->crc, p, n);
    if (fwrite(p, 1, n, o->f) != n)
        o->err = errno ? errno : EIO;
}

static void emit_u32(sink *o, uint32_t v)
{
    uint8_t b[4];
    rt_put_le32(b, v);
    emit(o, b, 4);
}

static void emit_u64(sink *o, uint64_t v)
{
    uint8_t b[8];
    rt_put_le64(b, v);
    emit(o, b, 8);
}

static void emit_str(sink *o, const char *s)
{
    size_t n = strlen(s);
    emit_u32(o, (uint32_t)n);
    emit(o, s, n);
}

static void emit_tensor_data(sink *o, const unsigned char *src, size_t n, size_t esize)
{
    if (!o->f || host_is_little_endian()) {
        emit(o, src, n);
        return;
    }
    unsigned char buf[4096];
    for (size_t at = 0; at < n; at += sizeof buf) {
        size_t len = n - at < sizeof buf ? n - at : sizeof buf;
        copy_le(buf, src + at, len, esize);
        emit(o, buf, len);
    }
}

/* The whole file; file_size is the total it announces (0 while counting). */
static void emit_checkpoint(sink *o, const nnrt_model *m, const void *params, const void *state,
                            uint64_t file_size)
{
    int n_params = 0;
    for (int i = 0; i < m->n_tensors; i++)
        n_params += m->tensors[i].role == NNRT_PARAM;
    emit(o, MAGIC, 8);
    emit_u32(o, NNRT_CKPT_VERSION);
    emit_u32(o, state ? FLAG_STATE : 0);
    emit_u64(o, file_size);
    emit_str(o, m->name);
    emit_u32(o, (uint32_t)n_params);
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        if (t->role != NNRT_PARAM)
            continue;
        emit_str(o, t->name);
        emit_u32(o, (uint32_t)t->dtype);
        emit_u32(o, (uint32_t)t->rank);
        for (int k = 0; k < t->rank; k++)
            emit_u64(o, (uint64_t)t->dims[k]);
        emit_u64(o, t->size);
    }
    emit_u64(o, state ? m->state_size : 0);
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        if (t->role == NNRT_PARAM)
            emit_tensor_data(o, (const unsigned char *)params + t->offset, t->size,
                             rt_dtype_size(t->dtype));
    }
    if (state)
        emit(o, state, m->state_size);
    uLong crc = o->crc;
    emit_u32(o, (uint32_t)crc);
}

/* Create "PATH.tmp.XXXXXX" exclusively.  Not mkstemp: that makes the file
 * 0600, where a user expects what fopen(path, "w") gives, 0666 less the
 * umask.  The suffix is random (Philox over the time, the pid and a stack
 * address, so threads differ too) and O_EXCL makes it ours alone. */
static int open_temp(char *tmp, size_t len, const char *path)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t here = (uint64_t)(uintptr_t)&ts;
    uint32_t key[2] = {(uint32_t)ts.tv_nsec, (uint32_t)getpid()};
    for (uint32_t attempt = 0; attempt < 100; attempt++) {
        uint32_t ctr[4] = {attempt, (uint32_t)here, (uint32_t)(here >> 32), (uint32_t)ts.tv_sec};
        uint32_t w[4];
        nnrt_philox4x32(ctr, key, w);
        char sfx[7];
        for (int i = 0; i < 6; i++)
            sfx[i] = alphabet[(w[i % 4] >> (i / 4 * 16)) % 62];
        sfx[6] = 0;
        snprintf(tmp, len, "%s.tmp.%s", path, sfx);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* Make the rename durable: sync the directory that holds path. */
static int sync_dir(const char *path)
{
    char dir[PATH_LEN];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    if (rc != 0 && errno == EINVAL)     /* a file system that cannot sync directories */
        rc = 0;
    close(fd);
    return rc;
}

int nnrt_save_ex(const char *path, const nnrt_model *m, const void *params, const void *state,
                 char *err, size_t errlen)
{
    int rc = check_model(m, err, errlen);
    if (rc)
        return rc;
    if (!path || !params)
        return rt_fail(err, errlen, NNRT_EINVAL, "nnrt_save: %s is NULL", path ? "params" : "path");
    char tmp[PATH_LEN];
    if (strlen(path) + sizeof ".tmp.XXXXXX" > sizeof tmp)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: path too long", path);

    sink count = {NULL, 0, 0, 0};           /* first pass: the size, for the header */
    emit_checkpoint(&count, m, params, state, 0);

    char msg[128];
    int fd = open_temp(tmp, sizeof tmp, path);
    if (fd < 0)
        return rt_fail(err, errlen, NNRT_EIO, "%s: cannot create %s: %s", path, tmp,
                       rt_errno_str(errno, msg, sizeof msg));
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return rt_fail(err, errlen, NNRT_EIO, "%s: %s", path, rt_errno_str(e, msg, sizeof msg));
    }
    sink out = {f, 0, crc32(0, NULL, 0), 0};
    errno = 0;
    emit_checkpoint(&out, m, params, state, count.size);
    int e = out.err;
    if (!e && fflush(f) != 0)
        e = errno ? errno : EIO;
    if (!e && fsync(fileno(f)) != 0)
        e = errno;
    if (fclose(f) != 0 && !e)
        e = errno ? errno : EIO;
    if (e) {
        unlink(tmp);
        return rt_fail(err, errlen, NNRT_EIO, "%s: cannot write: %s", path,
                       rt_errno_str(e, msg, sizeof msg));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return rt_fail(err, errlen, NNRT_EIO, "%s: cannot rename %s over it: %s", path, tmp,
                       rt_errno_str(e, msg, sizeof msg));
    }
    if (sync_dir(path) != 0)
        return rt_fail(err, errlen, NNRT_EIO, "%s: written, but syncing its directory failed: %s",
                       path, rt_errno_str(errno, msg, sizeof msg));
    return NNRT_OK;
}

int nnrt_save(const char *path, const nnrt_model *m, const void *params, const void *state)
{
    return nnrt_save_ex(path, m, params, state, NULL, 0);
}

/* ---- Reading ---- */

/* A cursor over the file in memory; reading past the end sets bad. */
typedef struct cursor {
    const uint8_t *p;
    size_t len, at;
    int bad;
} cursor;

static const uint8_t *take(cursor *c, uint64_t n)
{
    if (c->bad || n > c->len - c->at) {
        c->bad = 1;
        return NULL;
    }
    const uint8_t *p = c->p + c->at;
    c->at += (size_t)n;
    return p;
}

static uint32_t take_u32(cursor *c)
{
    const uint8_t *p = take(c, 4);
    return p ? rt_get_le32(p) : 0;
}

static uint64_t take_u64(cursor *c)
{
    const uint8_t *p = take(c, 8);
    return p ? rt_get_le64(p) : 0;
}

/* A param as the file describes it. */
typedef struct entry {
    const char *name;               /* not NUL-terminated: name_len bytes */
    uint32_t name_len, dtype, rank;
    const uint8_t *dims;            /* rank little-endian i64 */
    uint64_t bytes;
    const uint8_t *data;
    int used;                       /* matched by a param of the model */
} entry;

static int entry_is(const entry *e, const char *name)
{
    return strlen(name) == e->name_len && memcmp(e->name, name, e->name_len) == 0;
}

/* The file's table against the model's params, by name.  *out[i] gets the
 * entry of the model's tensor i (params only). */
static int match_params(const char *path, const nnrt_model *m, entry *ents, uint32_t n,
                        const entry **match, char *err, size_t errlen)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        match[i] = NULL;
        if (t->role != NNRT_PARAM)
            continue;
        entry *e = NULL;
        for (uint32_t k = 0; k < n && !e; k++)
            if (!ents[k].used && entry_is(&ents[k], t->name))
                e = &ents[k];
        if (!e)
            return rt_fail(err, errlen, NNRT_EMISMATCH, "%s: the checkpoint has no param %s",
                           path, t->name);
        e->used = 1;
        match[i] = e;
        if (e->dtype != (uint32_t)t->dtype)
            return rt_fail(err, errlen, NNRT_EMISMATCH, "%s: tensor %s has dtype %s, the model expects %s",
                           path, t->name, rt_dtype_name((nnrt_dtype)e->dtype), rt_dtype_name(t->dtype));
        int same = e->rank == (uint32_t)t->rank;
        for (int k = 0; same && k < t->rank; k++)
            same = (int64_t)rt_get_le64(e->dims + 8 * k) == t->dims[k];
        if (!same) {
            int64_t fdims[16];
            int frank = e->rank < 16 ? (int)e->rank : 16;
            for (int k = 0; k < frank; k++)
                fdims[k] = (int64_t)rt_get_le64(e->dims + 8 * k);
            char got[160], want[160];
            return rt_fail(err, errlen, NNRT_EMISMATCH, "%s: tensor %s has shape %s%s, the model expects %s",
                           path, t->name, rt_shape_str(got, sizeof got, frank, fdims),
                           e->rank > 16 ? " (first 16 dims)" : "",
                           rt_shape_str(want, sizeof want, t->rank, t->dims));
        }
        if (e->bytes != t->size)
            return rt_fail(err, errlen, NNRT_ECORRUPT, "%s: tensor %s has %llu bytes for %zu expected",
                           path, t->name, (unsigned long long)e->bytes, t->size);
    }
    for (uint32_t k = 0; k < n; k++)
        if (!ents[k].used)
            return rt_fail(err, errlen, NNRT_EMISMATCH, "%s: the checkpoint has a param %.*s that the model %s has not",
                           path, (int)ents[k].name_len, ents[k].name, m->name);
    return NNRT_OK;
}

/* Check the file in memory completely, then copy.  ents has room for
 * n_params entries (read from the file, bounded by its size). */
static int parse_and_copy(const char *path, const nnrt_model *m, const uint8_t *buf, size_t len,
                          void *params, void *state, char *err, size_t errlen)
{
    cursor c = {buf, len - 4, FIXED_HEAD, 0};       /* the CRC is already checked */
    uint32_t flags = rt_get_le32(buf + 12);
    if (flags & ~FLAG_STATE)
        return rt_fail(err, errlen, NNRT_EFORMAT, "%s: unknown flags 0x%x", path, flags);
    uint32_t name_len = take_u32(&c);
    const char *name = (const char *)take(&c, name_len);
    uint32_t n = take_u32(&c);
    if (c.bad || n > (c.len - c.at) / 20)           /* an entry takes at least 20 bytes */
        return rt_fail(err, errlen, NNRT_ECORRUPT, "%s: malformed header", path);
    if (!entry_is(&(entry){.name = name, .name_len = name_len}, m->name))
        return rt_fail(err, errlen, NNRT_EMISMATCH, "%s: a checkpoint of model %.*s, not of %s",
                       path, (int)name_len, name, m->name);

    int rc = NNRT_OK;
    entry *ents = calloc(n ? n : 1, sizeof *ents);
    const entry **match = calloc(m->n_tensors ? (size_t)m->n_tensors : 1, sizeof *match);
    if (!ents || !match) {
        rc = rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    for (uint32_t k = 0; k < n; k++) {
        entry *e = &ents[k];
        e->name_len = take_u32(&c);
        e->name = (const char *)take(&c, e->name_len);
        e->dtype = take_u32(&c);
        e->rank = take_u32(&c);
        e->dims = take(&c, 8 * (uint64_t)e->rank);
        e->bytes = take_u64(&c);
    }
    uint64_t state_size = take_u64(&c);
    for (uint32_t k = 0; k < n; k++)
        ents[k].data = take(&c, ents[k].bytes);
    const uint8_t *state_data = take(&c, state_size);
    if (c.bad || c.at != c.len) {
        rc = rt_fail(err, errlen, NNRT_ECORRUPT, "%s: malformed: the table does not match the data", path);
        goto out;
    }
    if (!(flags & FLAG_STATE) && state_size != 0) {
        rc = rt_fail(err, errlen, NNRT_ECORRUPT, "%s: malformed: state bytes without state", path);
        goto out;
    }
    rc = match_params(path, m, ents, n, match, err, errlen);
    if (rc)
        goto out;
    if (state) {
        if (!(flags & FLAG_STATE)) {
            rc = rt_fail(err, errlen, NNRT_EMISMATCH,
                         "%s: the checkpoint has no optimizer state (load with state NULL for the params alone)",
                         path);
            goto out;
        }
        if (state_size != m->state_size) {
            rc = rt_fail(err, errlen, NNRT_EMISMATCH,
                         "%s: optimizer state of %llu bytes, the model's has %zu", path,
                         (unsigned long long)state_size, m->state_size);
            goto out;
        }
    }

    /* Everything checked: now, and only now, write into the caller's structs. */
    for (int i = 0; i < m->n_tensors; i++)
        if (match[i])
            copy_le((unsigned char *)params + m->tensors[i].offset, match[i]->data,
                    m->tensors[i].size, rt_dtype_size(m->tensors[i].dtype));
    if (state && state_size)
        memcpy(state, state_data, (size_t)state_size);
out:
    free(ents);
    free(match);
    return rc;
}

int nnrt_load_ex(const char *path, const nnrt_model *m, void *params, void *state,
                 char *err, size_t errlen)
{
    int rc = check_model(m, err, errlen);
    if (rc)
        return rc;
    if (!path || !params)
        return rt_fail(err, errlen, NNRT_EINVAL, "nnrt_load: %s is NULL", path ? "params" : "path");

    char msg[128];
    FILE *f = fopen(path, "rb");
    if (!f)
        return rt_fail(err, errlen, NNRT_EIO, "%s: cannot open: %s", path,
                       rt_errno_str(errno, msg, sizeof msg));
    uint8_t head[FIXED_HEAD], *buf = NULL;
    size_t got = fread(head, 1, FIXED_HEAD, f);
    if (ferror(f)) {
        rc = rt_fail(err, errlen, NNRT_EIO, "%s: read error: %s", path, rt_errno_str(errno, msg, sizeof msg));
        goto out;
    }
    /* Format first: a file that is not a checkpoint is not "corrupt". */
    if (got == 0) {
        rc = rt_fail(err, errlen, NNRT_EFORMAT, "%s: not a checkpoint (empty file)", path);
        goto out;
    }
    if (memcmp(head, MAGIC, got < 8 ? got : 8) != 0) {
        rc = rt_fail(err, errlen, NNRT_EFORMAT, "%s: not a checkpoint (no %s magic)", path, MAGIC);
        goto out;
    }
    if (got < 16) {
        rc = rt_fail(err, errlen, NNRT_ECORRUPT, "%s: truncated header", path);
        goto out;
    }
    uint32_t version = rt_get_le32(head + 8);
    if (version != NNRT_CKPT_VERSION) {
        rc = rt_fail(err, errlen, NNRT_EFORMAT, "%s: checkpoint format version %u, this runtime reads %u",
                     path, version, NNRT_CKPT_VERSION);
        goto out;
    }
    struct stat st;
    if (got < FIXED_HEAD || fstat(fileno(f), &st) != 0) {
        rc = rt_fail(err, errlen, got < FIXED_HEAD ? NNRT_ECORRUPT : NNRT_EIO, "%s: %s", path,
                     got < FIXED_HEAD ? "truncated header" : rt_errno_str(errno, msg, sizeof msg));
        goto out;
    }
    /* The length before reading it all: a short or long file is found
     * without holding it in memory. */
    uint64_t want = rt_get_le64(head + 16), have = (uint64_t)st.st_size;
    if (have != want) {
        rc = rt_fail(err, errlen, NNRT_ECORRUPT, have < want ? "%s: truncated: %llu bytes, the header says %llu"
                                                             : "%s: %llu bytes, the header says %llu: trailing bytes",
                     path, (unsigned long long)have, (unsigned long long)want);
        goto out;
    }
    if (want > SIZE_MAX || want < FIXED_HEAD + 4 || !(buf = malloc((size_t)want))) {
        rc = want < FIXED_HEAD + 4 ? rt_fail(err, errlen, NNRT_ECORRUPT, "%s: malformed header", path)
                                   : rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    memcpy(buf, head, FIXED_HEAD);
    size_t len = (size_t)want;
    if (fread(buf + FIXED_HEAD, 1, len - FIXED_HEAD, f) != len - FIXED_HEAD) {
        rc = ferror(f) ? rt_fail(err, errlen, NNRT_EIO, "%s: read error: %s", path,
                                 rt_errno_str(errno, msg, sizeof msg))
                       : rt_fail(err, errlen, NNRT_ECORRUPT, "%s: truncated while reading", path);
        goto out;
    }
    if ((uint32_t)crc_of(crc32(0, NULL, 0), buf, len - 4) != rt_get_le32(buf + len - 4)) {
        rc = rt_fail(err, errlen, NNRT_ECORRUPT, "%s: checksum mismatch: the file is corrupted", path);
        goto out;
    }
    rc = parse_and_copy(path, m, buf, len, params, state, err, errlen);
out:
    free(buf);
    fclose(f);
    return rc;
}

int nnrt_load(const char *path, const nnrt_model *m, void *params, void *state)
{
    return nnrt_load_ex(path, m, params, state, NULL, 0);
}
