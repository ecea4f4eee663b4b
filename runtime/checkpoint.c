/*
 * checkpoint.c: saving and loading a model's params and state.
 *
 * Any compiled model is saved through its descriptor, read through the
 * view of descriptor.c: a table describing every tensor saved (name, dtype,
 * shape, bytes), their data, and a CRC-32 of all of it; the layouts are in
 * nnrt.h.  Format 2 (version-2 models) saves the state by name: seed, step,
 * every state tensor and every optimizer buffer ("W.exp_avg"), so that an
 * evaluation build can take a training run's running statistics.  Format 1
 * (version-1 models) saves the optimizer state as opaque bytes; both are
 * read.  Two promises shape the code:
 *   - saving never leaves a half-written file: it writes a temporary file
 *     beside the target, syncs it, renames it over the target and syncs the
 *     directory, so the target is either the old file or the new one;
 *   - loading never leaves half-loaded params: the whole file is read and
 *     checked (format, length, CRC, then model, names, dtypes, shapes)
 *     before the first byte is copied into the caller's structs.
 * Saving allocates nothing; loading holds the file in one malloc'ed buffer
 * and its table in two more, freed before it returns.
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
#define FLAG_STATE 1u                  /* the file holds the state */
#define KIND_PARAM 1u                  /* format 2: what a row of the table is */
#define KIND_STATE 2u
#define KIND_BUFFER 3u
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

/* One row of the table; key names an optimizer buffer of the tensor (the
 * row's name is then "W.exp_avg"), and kind is written in format 2 only. */
static void emit_row(sink *o, int format, uint32_t kind, const nnrt_view_tensor *t, const char *key)
{
    if (format >= 2)
        emit_u32(o, kind);
    if (key) {
        size_t n = strlen(t->name), k = strlen(key);
        emit_u32(o, (uint32_t)(n + 1 + k));
        emit(o, t->name, n);
        emit(o, ".", 1);
        emit(o, key, k);
    } else {
        emit_str(o, t->name);
    }
    emit_u32(o, (uint32_t)t->dtype);
    emit_u32(o, (uint32_t)t->rank);
    for (int k = 0; k < t->rank; k++)
        emit_u64(o, (uint64_t)t->dims[k]);
    emit_u64(o, t->size);
}

/* The whole file; file_size is the total it announces (0 while counting).
 * A version-2 model gets format 2 (state by name), a version-1 model
 * format 1 (its state as opaque bytes), which older runtimes read. */
static void emit_checkpoint(sink *o, const nnrt_view *v, const void *params, const void *state,
                            uint64_t file_size)
{
    int format = v->version == 2 ? 2 : 1;
    const unsigned char *sb = state;
    int n_rows = v->n_params;
    if (format == 2 && state)
        n_rows += v->n_states + v->n_params * v->n_buffers;
    emit(o, MAGIC, 8);
    emit_u32(o, (uint32_t)format);
    emit_u32(o, state ? FLAG_STATE : 0);
    emit_u64(o, file_size);
    emit_str(o, v->name);
    emit_u32(o, (uint32_t)n_rows);
    for (int i = 0; i < v->n_tensors; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        if (t.role == NNRT_PARAM)
            emit_row(o, format, KIND_PARAM, &t, NULL);
    }
    if (format == 2 && state) {
        for (int i = 0; i < v->n_tensors; i++) {
            nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
            if (t.role == NNRT_STATE)
                emit_row(o, format, KIND_STATE, &t, NULL);
        }
        for (int i = 0; i < v->n_tensors; i++) {
            nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
            for (int b = 0; t.role == NNRT_PARAM && b < v->n_buffers; b++)
                emit_row(o, format, KIND_BUFFER, &t, nnrt_view_buffer_key(v, b));
        }
        nnrt_state_head head;
        memcpy(&head, state, sizeof head);
        emit_u64(o, head.seed);
        emit_u64(o, head.step);
    }
    if (format == 1)
        emit_u64(o, state ? v->state_size : 0);
    for (int i = 0; i < v->n_tensors; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        if (t.role == NNRT_PARAM)
            emit_tensor_data(o, (const unsigned char *)params + t.offset, t.size,
                             rt_dtype_size(t.dtype));
    }
    if (format == 2 && state) {
        for (int i = 0; i < v->n_tensors; i++) {
            nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
            if (t.role == NNRT_STATE)
                emit_tensor_data(o, sb + t.offset, t.size, rt_dtype_size(t.dtype));
        }
        for (int i = 0; i < v->n_tensors; i++) {
            nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
            for (int b = 0; t.role == NNRT_PARAM && b < v->n_buffers; b++)
                emit_tensor_data(o, sb + nnrt_view_buffer_offset(v, i, b), t.size,
                                 rt_dtype_size(t.dtype));
        }
    }
    if (format == 1 && state)
        emit(o, state, v->state_size);
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
    nnrt_view v;
    int rc = nnrt_view_open(&v, m, err, errlen);
    if (rc)
        return rc;
    if (!path || !params)
        return rt_fail(err, errlen, NNRT_EINVAL, "nnrt_save: %s is NULL", path ? "params" : "path");
    char tmp[PATH_LEN];
    if (strlen(path) + sizeof ".tmp.XXXXXX" > sizeof tmp)
        return rt_fail(err, errlen, NNRT_EINVAL, "%s: path too long", path);

    sink count = {NULL, 0, 0, 0};           /* first pass: the size, for the header */
    emit_checkpoint(&count, &v, params, state, 0);

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
    emit_checkpoint(&out, &v, params, state, count.size);
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

/* A row of the file's table: a param, a state tensor or an optimizer
 * buffer (format 1 has params only). */
typedef struct entry {
    uint32_t kind;                  /* KIND_* */
    const char *name;               /* not NUL-terminated: name_len bytes */
    uint32_t name_len, dtype, rank;
    const uint8_t *dims;            /* rank little-endian i64 */
    uint64_t bytes;
    const uint8_t *data;
    int used;                       /* matched by a tensor of the model */
} entry;

/* Whether e is called name, or name.key when key is not NULL. */
static int entry_is(const entry *e, const char *name, const char *key)
{
    size_t n = strlen(name), k = key ? strlen(key) + 1 : 0;
    return n + k == e->name_len && memcmp(e->name, name, n) == 0
           && (!key || (e->name[n] == '.' && memcmp(e->name + n + 1, key, k - 1) == 0));
}

/* The file as parsed, before anything is copied. */
typedef struct file {
    const char *path;
    uint32_t format, flags;
    entry *ents;
    uint32_t n;
    uint64_t seed, step;            /* format 2 with a state */
    uint64_t state_size;            /* format 1: the opaque state's bytes */
    const uint8_t *state_data;
} file;

static const char *const kind_what[] = {"", "param", "state tensor", "optimizer buffer"};

/* The unused entry of that kind for the model's tensor t (its buffer key
 * when key is not NULL), checked against t's dtype and shape; *out gets it.
 * In messages a param is a "tensor", as in format 1's. */
static int match(const file *f, uint32_t kind, const nnrt_view_tensor *t, const char *key,
                 const entry **out, char *err, size_t errlen)
{
    entry *e = NULL;
    for (uint32_t k = 0; k < f->n && !e; k++)
        if (f->ents[k].kind == kind && !f->ents[k].used && entry_is(&f->ents[k], t->name, key))
            e = &f->ents[k];
    const char *dot = key ? "." : "", *sfx = key ? key : "";
    if (!e)
        return rt_fail(err, errlen, NNRT_EMISMATCH, "%s: the checkpoint has no %s %s%s%s", f->path,
                       kind_what[kind], t->name, dot, sfx);
    e->used = 1;
    *out = e;
    const char *what = kind == KIND_PARAM ? "tensor" : kind_what[kind];
    if (e->dtype != (uint32_t)t->dtype)
        return rt_fail(err, errlen, NNRT_EMISMATCH, "%s: %s %s%s%s has dtype %s, the model expects %s",
                       f->path, what, t->name, dot, sfx, rt_dtype_name((nnrt_dtype)e->dtype),
                       rt_dtype_name(t->dtype));
    int same = e->rank == (uint32_t)t->rank;
    for (int k = 0; same && k < t->rank; k++)
        same = (int64_t)rt_get_le64(e->dims + 8 * k) == t->dims[k];
    if (!same) {
        int64_t fdims[16];
        int frank = e->rank < 16 ? (int)e->rank : 16;
        for (int k = 0; k < frank; k++)
            fdims[k] = (int64_t)rt_get_le64(e->dims + 8 * k);
        char got[160], want[160];
        return rt_fail(err, errlen, NNRT_EMISMATCH, "%s: %s %s%s%s has shape %s%s, the model expects %s",
                       f->path, what, t->name, dot, sfx, rt_shape_str(got, sizeof got, frank, fdims),
                       e->rank > 16 ? " (first 16 dims)" : "",
                       rt_shape_str(want, sizeof want, t->rank, t->dims));
    }
    if (e->bytes != t->size)
        return rt_fail(err, errlen, NNRT_ECORRUPT, "%s: %s %s%s%s has %llu bytes for %zu expected",
                       f->path, what, t->name, dot, sfx, (unsigned long long)e->bytes, t->size);
    return NNRT_OK;
}

/* An entry of that kind that no tensor of the model took. */
static int extra(const file *f, const nnrt_view *v, uint32_t kind, char *err, size_t errlen)
{
    for (uint32_t k = 0; k < f->n; k++) {
        const entry *e = &f->ents[k];
        if (e->kind == kind && !e->used)
            return rt_fail(err, errlen, NNRT_EMISMATCH, "%s: the checkpoint has %s %s %.*s that the model %s has not%s",
                           f->path, kind == KIND_BUFFER ? "an" : "a", kind_what[kind], (int)e->name_len,
                           e->name, v->name,
                           kind == KIND_BUFFER ? " (saved with another optimizer?)" : "");
    }
    return NNRT_OK;
}

/* Parse the table and data of a file whose CRC is already checked. */
static int parse(file *f, const uint8_t *buf, size_t len, const nnrt_view *v, char *err, size_t errlen)
{
    cursor c = {buf, len - 4, FIXED_HEAD, 0};
    f->flags = rt_get_le32(buf + 12);
    if (f->flags & ~FLAG_STATE)
        return rt_fail(err, errlen, NNRT_EFORMAT, "%s: unknown flags 0x%x", f->path, f->flags);
    uint32_t name_len = take_u32(&c);
    const char *name = (const char *)take(&c, name_len);
    f->n = take_u32(&c);
    /* a row takes at least 20 bytes (24 in format 2) */
    if (c.bad || f->n > (c.len - c.at) / (f->format == 1 ? 20 : 24))
        return rt_fail(err, errlen, NNRT_ECORRUPT, "%s: malformed header", f->path);
    if (!entry_is(&(entry){.name = name, .name_len = name_len}, v->name, NULL))
        return rt_fail(err, errlen, NNRT_EMISMATCH, "%s: a checkpoint of model %.*s, not of %s",
                       f->path, (int)name_len, name, v->name);
    f->ents = calloc(f->n ? f->n : 1, sizeof *f->ents);
    if (!f->ents)
        return rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory", f->path);
    for (uint32_t k = 0; k < f->n; k++) {
        entry *e = &f->ents[k];
        e->kind = f->format == 1 ? KIND_PARAM : take_u32(&c);
        e->name_len = take_u32(&c);
        e->name = (const char *)take(&c, e->name_len);
        e->dtype = take_u32(&c);
        e->rank = take_u32(&c);
        e->dims = take(&c, 8 * (uint64_t)e->rank);
        e->bytes = take_u64(&c);
        if (!c.bad && (e->kind < KIND_PARAM || e->kind > KIND_BUFFER
                       || (e->kind != KIND_PARAM && !(f->flags & FLAG_STATE))))
            return rt_fail(err, errlen, NNRT_ECORRUPT, "%s: malformed: row %u is of kind %u%s", f->path,
                           k, e->kind, e->kind >= KIND_STATE && e->kind <= KIND_BUFFER ? " without state" : "");
    }
    if (f->format == 1) {
        f->state_size = take_u64(&c);
    } else if (f->flags & FLAG_STATE) {
        f->seed = take_u64(&c);
        f->step = take_u64(&c);
    }
    for (uint32_t k = 0; k < f->n; k++)
        f->ents[k].data = take(&c, f->ents[k].bytes);
    f->state_data = take(&c, f->state_size);
    if (c.bad || c.at != c.len)
        return rt_fail(err, errlen, NNRT_ECORRUPT, "%s: malformed: the table does not match the data", f->path);
    if (!(f->flags & FLAG_STATE) && f->state_size != 0)
        return rt_fail(err, errlen, NNRT_ECORRUPT, "%s: malformed: state bytes without state", f->path);
    return NNRT_OK;
}

/* Whether the model's state can be loaded from the file, and how: the
 * format-1 opaque bytes (a version-1 model), by name (format 2 into a
 * version-2 model), or not at all (leave the state alone). */
enum { STATE_SKIP, STATE_RAW, STATE_NAMED };

static int state_plan(const file *f, const nnrt_view *v, int *plan, char *err, size_t errlen)
{
    *plan = STATE_SKIP;
    if (v->version == 1) {
        if (f->format != 1)
            return rt_fail(err, errlen, NNRT_EMISMATCH,
                           "%s: written for a version-2 model, whose state a version-1 model cannot "
                           "read (load with state NULL for the params alone)", f->path);
        if (!(f->flags & FLAG_STATE))
            return rt_fail(err, errlen, NNRT_EMISMATCH,
                           "%s: the checkpoint has no optimizer state (load with state NULL for the params alone)",
                           f->path);
        if (f->state_size != v->state_size)
            return rt_fail(err, errlen, NNRT_EMISMATCH, "%s: optimizer state of %llu bytes, the model's has %zu",
                           f->path, (unsigned long long)f->state_size, v->state_size);
        *plan = STATE_RAW;
        return NNRT_OK;
    }
    if (f->format == 1) {
        /* No seed, step or tensors by name: nothing of a version-2 state can
         * be read from it.  A model that has only seed and step loads the
         * params and keeps its state, as a PyTorch module without buffers
         * or optimizer state would. */
        if (v->n_states == 0 && v->n_buffers == 0)
            return NNRT_OK;
        return rt_fail(err, errlen, NNRT_EMISMATCH,
                       "%s: written by version 1 of the format, which has no seed/step/state tensors/"
                       "optimizer buffers by name; the model %s has %d state tensors and %d buffers per "
                       "param (load with state NULL for the params alone)",
                       f->path, v->name, v->n_states, v->n_buffers);
    }
    if (!(f->flags & FLAG_STATE))
        return rt_fail(err, errlen, NNRT_EMISMATCH,
                       "%s: the checkpoint has no state (seed, step, state tensors, optimizer buffers); "
                       "load with state NULL for the params alone", f->path);
    *plan = STATE_NAMED;
    return NNRT_OK;
}

/* Check the file in memory completely, then copy.  slot[] has a place per
 * tensor and buffer: tensor i at i * (1 + n_buffers), its buffer b after it. */
static int parse_and_copy(const char *path, const nnrt_view *v, uint32_t format, const uint8_t *buf,
                          size_t len, void *params, void *state, char *err, size_t errlen)
{
    file f = {.path = path, .format = format};
    size_t per = 1 + (size_t)v->n_buffers;
    const entry **slot = calloc(v->n_tensors ? (size_t)v->n_tensors * per : 1, sizeof *slot);
    int rc = slot ? parse(&f, buf, len, v, err, errlen)
                  : rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < v->n_tensors && !rc; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        if (t.role == NNRT_PARAM)
            rc = match(&f, KIND_PARAM, &t, NULL, &slot[i * per], err, errlen);
    }
    if (!rc)
        rc = extra(&f, v, KIND_PARAM, err, errlen);
    int plan = STATE_SKIP;
    if (!rc && state)
        rc = state_plan(&f, v, &plan, err, errlen);
    int named = plan == STATE_NAMED;
    for (int i = 0; named && i < v->n_tensors && !rc; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        if (t.role == NNRT_STATE)
            rc = match(&f, KIND_STATE, &t, NULL, &slot[i * per], err, errlen);
    }
    if (!rc && named)
        rc = extra(&f, v, KIND_STATE, err, errlen);
    for (int i = 0; named && i < v->n_tensors && !rc; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        for (int b = 0; t.role == NNRT_PARAM && b < v->n_buffers && !rc; b++)
            rc = match(&f, KIND_BUFFER, &t, nnrt_view_buffer_key(v, b), &slot[i * per + 1 + (size_t)b],
                       err, errlen);
    }
    /* a model without buffers (an evaluation build) ignores the file's */
    if (!rc && named && v->n_buffers > 0)
        rc = extra(&f, v, KIND_BUFFER, err, errlen);
    if (rc)
        goto out;

    /* Everything checked: now, and only now, write into the caller's structs. */
    unsigned char *sb = state;
    for (int i = 0; i < v->n_tensors; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        size_t es = rt_dtype_size(t.dtype);
        if (t.role == NNRT_PARAM)
            copy_le((unsigned char *)params + t.offset, slot[i * per]->data, t.size, es);
        if (named && t.role == NNRT_STATE)
            copy_le(sb + t.offset, slot[i * per]->data, t.size, es);
        for (int b = 0; named && t.role == NNRT_PARAM && b < v->n_buffers; b++)
            copy_le(sb + nnrt_view_buffer_offset(v, i, b), slot[i * per + 1 + (size_t)b]->data, t.size, es);
    }
    if (named) {
        nnrt_state_head head = {f.seed, f.step};
        memcpy(state, &head, sizeof head);
    }
    if (plan == STATE_RAW && f.state_size)
        memcpy(state, f.state_data, (size_t)f.state_size);
out:
    free(f.ents);
    free(slot);
    return rc;
}

int nnrt_load_ex(const char *path, const nnrt_model *m, void *params, void *state,
                 char *err, size_t errlen)
{
    nnrt_view v;
    int rc = nnrt_view_open(&v, m, err, errlen);
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
    if (version != 1 && version != 2) {
        rc = rt_fail(err, errlen, NNRT_EFORMAT, "%s: checkpoint format version %u, this runtime reads 1 and 2",
                     path, version);
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
    rc = parse_and_copy(path, &v, version, buf, len, params, state, err, errlen);
out:
    free(buf);
    fclose(f);
    return rc;
}

int nnrt_load(const char *path, const nnrt_model *m, void *params, void *state)
{
    return nnrt_load_ex(path, m, params, state, NULL, 0);
}
