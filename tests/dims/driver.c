/*
 * driver.c: the acceptance test of runtime dims (contract 5.1, 5.5, 5.8).
 *
 * One model of tests/dims is compiled twice: as written, with its
 * `dim NAME <= MAX` lines (nnc --prefix=dyn), and with each of those lines
 * replaced by `const NAME = n` (nnc --prefix=fix).  dims.mk links both into
 * one program per (model, n) with this driver, which knows nothing of the
 * model: it pairs the tensors of the two descriptors by name and checks that
 * the dyn build, called with NAME = n, computes what the fixed build does:
 *
 *   descriptor    the same tensors; a runtime axis holds MAX in dyn and n in
 *                 fix; each dim an NNRT_DIM entry (I64, rank 0, size 8,
 *                 default MAX); set_defaults sets dims to MAX; init agrees
 *   forward, backward, update, train_step (three steps)
 *                 outputs, the objective, the gradient of every param, the
 *                 params and optimizer buffers after each step agree within
 *                 1e-5 relative + 1e-6 absolute (f32) or 1e-12 (f64); the
 *                 elements of the dyn outputs not in use keep the sentinel
 *                 they had before the call, and the inputs, params and state
 *                 are not written where the contract says they are not
 *   independent of the elements not in use
 *                 backward gives the same bits with NaN in the elements not
 *                 in use and in the workspace as with finite values there
 *   eshape        a dim of 0, MAX + 1, -1, 2^32 + 1 or INT64_MIN gives NNRT_ESHAPE from
 *                 forward, backward and train_step (before a bad label too),
 *                 with params, state, grads and outputs byte for byte unchanged
 *   eindex        an out-of-range label among the elements in use gives
 *                 NNRT_EINDEX, everything unchanged; out-of-range values in
 *                 elements not in use are ignored
 *
 * In the dyn inputs, every element not in use holds NaN (floats) or 12345
 * (i32), and the workspace of every call is filled with 0xFF bytes (NaN),
 * so that a result that reads one of them shows it.
 *
 *   usage: dims_CASE MODEL.nn N1 [N2 ...]
 *
 * N1, N2, ... are the values of the model's dims in declaration order (the
 * values the fixed build was made with).  MODEL.nn is read for lines
 *   #: labels NAME HI     i32 input NAME holds labels in [0, HI) that the
 *                          model checks (cross_entropy): NNRT_EINDEX otherwise
 *   #: ints NAME HI       i32 input NAME in [0, HI), not checked by the model
 * Exit status 0 when every check passed, 1 when one failed, 2 on a usage
 * error.  Memory: the structs of each build are allocated once with
 * nnrt_alloc and live until the process ends; the copies a check makes are
 * freed by it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnrt.h>

extern const nnrt_model dyn_model, fix_model;
static const nnrt_model *const D = &dyn_model;
static const nnrt_model *const F = &fix_model;

#define MAX_DIMS 8
#define MAX_INTS 16
#define MAX_RANK 8
#define MAX_REPORT 4          /* mismatches printed per check */
#define DYN_SENTINEL 0xA5     /* fills dyn outputs and grads before a call */
#define FIX_SENTINEL 0x5A     /* the same for fix: an element neither wrote differs */
#define POISON_I32 12345      /* i32 input elements not in use */
#define TRAIN_STEPS 3
#define SEED 20240611u

/* ---- the case ---- */

static char case_name[256];

static struct dim {
    const nnrt_tensor *t;     /* its NNRT_DIM entry in D */
    int64_t max, n;
} dims[MAX_DIMS];
static int n_dims;

static struct ints {
    char name[64];
    int32_t hi;               /* values in [0, hi) */
    int checked;              /* labels: out of range gives NNRT_EINDEX */
} ints[MAX_INTS];
static int n_ints;

/* A tensor of both builds.  map[j] is the index in D's storage of element j
 * of F's (row-major over F's dims); used[i] says whether D's element i is in
 * use, i.e. is some map[j]. */
typedef struct pair {
    const nnrt_tensor *d, *f;
    size_t nd, nf;
    size_t *map;
    unsigned char *used;
    int runtime;              /* some axis is a runtime dim */
} pair;
static pair *pairs;
static int n_pairs;

/* The structs of one build. */
typedef struct bufs {
    const nnrt_model *m;
    void *params, *state, *inputs, *outputs, *grads, *ws;
} bufs;
static bufs dyn, fix;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "dims: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void *xalloc(size_t n)
{
    void *p = nnrt_alloc(n);
    if (!p)
        die("out of memory");
    return p;
}

/* ---- checks: each is a named group of assertions, passed or failed ---- */

static int n_pass, n_fail;
static const char *check_name;
static int check_bad;

static void check_begin(const char *name)
{
    check_name = name;
    check_bad = 0;
}

static void fail(const char *fmt, ...)
{
    if (check_bad++ < MAX_REPORT) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "FAIL %s: %s: ", case_name, check_name);
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
    }
}

static void check_end(void)
{
    if (check_bad > MAX_REPORT)
        fprintf(stderr, "FAIL %s: %s: %d failures in all\n", case_name, check_name, check_bad);
    if (check_bad)
        n_fail++;
    else
        n_pass++;
    printf("%s %s: %s\n", check_bad ? "FAIL" : "ok  ", case_name, check_name);
}

/* ---- elements ---- */

static size_t dtype_size(nnrt_dtype t)
{
    return t == NNRT_F64 || t == NNRT_I64 ? 8 : 4;
}

static size_t count(const nnrt_tensor *t)
{
    size_t n = 1;
    for (int k = 0; k < t->rank; k++)
        n *= (size_t)t->dims[k];
    return n;
}

static double get(const void *base, const nnrt_tensor *t, size_t i)
{
    const char *p = (const char *)base + t->offset + i * dtype_size(t->dtype);
    switch (t->dtype) {
    case NNRT_F32: { float v; memcpy(&v, p, 4); return v; }
    case NNRT_F64: { double v; memcpy(&v, p, 8); return v; }
    case NNRT_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case NNRT_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
    }
    return NAN;
}

static void set(void *base, const nnrt_tensor *t, size_t i, double v)
{
    char *p = (char *)base + t->offset + i * dtype_size(t->dtype);
    switch (t->dtype) {
    case NNRT_F32: { float x = (float)v; memcpy(p, &x, 4); break; }
    case NNRT_F64: memcpy(p, &v, 8); break;
    case NNRT_I32: { int32_t x = (int32_t)v; memcpy(p, &x, 4); break; }
    case NNRT_I64: { int64_t x = (int64_t)v; memcpy(p, &x, 8); break; }
    }
}

static void set_dim(void *inputs, const struct dim *d, int64_t v)
{
    memcpy((char *)inputs + d->t->offset, &v, 8);
}

static int64_t get_dim(const void *inputs, const struct dim *d)
{
    int64_t v;
    memcpy(&v, (const char *)inputs + d->t->offset, 8);
    return v;
}

/* "[i,j,...]": the multi-index of element j of t (row-major). */
static const char *index_str(const nnrt_tensor *t, size_t j)
{
    static char buf[128];
    size_t n = (size_t)snprintf(buf, sizeof buf, "[");
    size_t div = count(t);
    for (int k = 0; k < t->rank && n < sizeof buf; k++) {
        div /= (size_t)t->dims[k];
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%zu", k ? "," : "", j / div);
        j %= div;
    }
    if (n < sizeof buf)
        snprintf(buf + n, sizeof buf - n, "]");
    return buf;
}

/* a and b agree: within 1e-5|b| + 1e-6 in f32, 1e-12(|b| + 1) in f64,
 * exactly for integers.  NaN agrees with nothing. */
static int close_enough(nnrt_dtype t, double a, double b)
{
    if (t == NNRT_I32 || t == NNRT_I64)
        return a == b;
    if (a == b)
        return 1;
    double lim = t == NNRT_F64 ? 1e-12 * fabs(b) + 1e-12 : 1e-5 * fabs(b) + 1e-6;
    return fabs(a - b) <= lim;
}

/* Float values compared, and how many of them were not bitwise equal: the
 * builds usually agree to the bit, and the summary says how often. */
static size_t n_compared, n_inexact;

/* Compare the elements in use of p in dyn's struct dbase with fix's fbase. */
static void compare(const pair *p, const char *what, const void *dbase, const void *fbase)
{
    for (size_t j = 0; j < p->nf; j++) {
        double a = get(dbase, p->d, p->map[j]), b = get(fbase, p->f, j);
        if (p->d->dtype == NNRT_F32 || p->d->dtype == NNRT_F64) {
            n_compared++;
            n_inexact += memcmp(&a, &b, sizeof a) != 0;
        }
        if (!close_enough(p->d->dtype, a, b))
            fail("%s %s%s: dyn %.9g, fix %.9g", what, p->f->name, index_str(p->f, j), a, b);
    }
}

/* Every element of p not in use in dbase still holds the byte pattern s. */
static void check_sentinel(const pair *p, const void *dbase, unsigned char s)
{
    size_t es = dtype_size(p->d->dtype);
    for (size_t i = 0; i < p->nd; i++) {
        if (p->used[i])
            continue;
        const unsigned char *b = (const unsigned char *)dbase + p->d->offset + i * es;
        for (size_t k = 0; k < es; k++)
            if (b[k] != s) {
                fail("%s%s, not in use, was written (now %.9g)", p->d->name,
                     index_str(p->d, i), get(dbase, p->d, i));
                break;
            }
    }
}

/* ---- the pairing of the two descriptors ---- */

static const nnrt_tensor *find(const nnrt_model *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name))
            return &m->tensors[i];
    return NULL;
}

static const struct dim *dim_named(const char *name)
{
    for (int i = 0; i < n_dims; i++)
        if (!strcmp(dims[i].t->name, name))
            return &dims[i];
    return NULL;
}

/* Pair the tensor d of D with F's; returns 0 when their shapes do not
 * correspond (reported). */
static int make_pair(pair *p, const nnrt_tensor *d)
{
    const nnrt_tensor *f = find(F, d->name);
    memset(p, 0, sizeof *p);
    if (!f) {
        fail("%s is in dyn's descriptor, not in fix's", d->name);
        return 0;
    }
    p->d = d;
    p->f = f;
    if (f->role != d->role || f->dtype != d->dtype || f->rank != d->rank) {
        fail("%s: role/dtype/rank %d/%d/%d in dyn, %d/%d/%d in fix", d->name, d->role,
             d->dtype, d->rank, f->role, f->dtype, f->rank);
        return 0;
    }
    if (d->rank > MAX_RANK)
        die("%s: rank %d", d->name, d->rank);
    int ok = 1;
    for (int k = 0; k < d->rank; k++) {
        const char *dn = d->dim_names ? d->dim_names[k] : NULL;
        int64_t want_d = f->dims[k], want_f = f->dims[k];
        if (dn) {
            const struct dim *rd = dim_named(dn);
            if (!rd) {
                fail("%s: axis %d names %s, which is not a dim", d->name, k, dn);
                ok = 0;
                continue;
            }
            if (d->role == NNRT_PARAM) {
                fail("param %s has the runtime axis %s", d->name, dn);
                ok = 0;
            }
            want_d = rd->max;
            want_f = rd->n;
            p->runtime = 1;
        }
        if (d->dims[k] != want_d || f->dims[k] != want_f) {
            fail("%s: axis %d (%s) is %lld in dyn and %lld in fix, want %lld and %lld",
                 d->name, k, dn ? dn : "fixed", (long long)d->dims[k], (long long)f->dims[k],
                 (long long)want_d, (long long)want_f);
            ok = 0;
        }
    }
    if (f->dim_names)
        for (int k = 0; k < f->rank; k++)
            if (f->dim_names[k])
                fail("%s: axis %d of the fixed build names dim %s", f->name, k,
                     f->dim_names[k]);
    if (!ok)
        return 0;
    p->nd = count(d);
    p->nf = count(f);
    if (d->size != p->nd * dtype_size(d->dtype))
        fail("%s: size %zu bytes, want %zu at the max shape", d->name, d->size,
             p->nd * dtype_size(d->dtype));
    p->map = calloc(p->nf + 1, sizeof *p->map);
    p->used = calloc(p->nd + 1, 1);
    if (!p->map || !p->used)
        die("out of memory");
    size_t idx[MAX_RANK] = {0};
    for (size_t j = 0; j < p->nf; j++) {
        size_t at = 0;
        for (int k = 0; k < d->rank; k++)
            at = at * (size_t)d->dims[k] + idx[k];
        p->map[j] = at;
        p->used[at] = 1;
        for (int k = d->rank - 1; k >= 0; k--) {       /* next multi-index in F */
            if (++idx[k] < (size_t)f->dims[k])
                break;
            idx[k] = 0;
        }
    }
    return 1;
}

static void check_descriptor(void)
{
    check_begin("descriptor");
    if (D->abi_version != 2 || F->abi_version != 2)
        fail("abi_version %d and %d, want 2", D->abi_version, F->abi_version);
    if (strcmp(D->name, F->name))
        fail("model names %s and %s", D->name, F->name);
    if (!D->objective || !F->objective || strcmp(D->objective, F->objective))
        fail("objectives %s and %s", D->objective ? D->objective : "(none)",
             F->objective ? F->objective : "(none)");
    if (!D->train_step || !D->update || !F->train_step || !F->update)
        fail("no train_step or update: every model of tests/dims has an optimizer");
    if (D->params_size != F->params_size || D->state_size != F->state_size)
        fail("params_size %zu/%zu, state_size %zu/%zu (dyn/fix): params and state have "
             "no runtime dims", D->params_size, F->params_size, D->state_size, F->state_size);
    pairs = calloc((size_t)D->n_tensors + 1, sizeof *pairs);
    if (!pairs)
        die("out of memory");
    for (int i = 0; i < D->n_tensors; i++) {
        const nnrt_tensor *t = &D->tensors[i];
        if (t->role == NNRT_DIM) {
            if (t->dtype != NNRT_I64 || t->rank != 0 || t->size != 8 ||
                t->offset + 8 > D->inputs_size || t->offset % 64)
                fail("dim %s: dtype %d rank %d size %zu offset %zu, want I64, 0, 8 and a "
                     "64-byte aligned field of the inputs", t->name, t->dtype, t->rank,
                     t->size, t->offset);
            if (find(F, t->name))
                fail("dim %s is in the fixed build's descriptor", t->name);
            continue;
        }
        if (make_pair(&pairs[n_pairs], t))
            n_pairs++;
    }
    for (int i = 0; i < F->n_tensors; i++)
        if (!find(D, F->tensors[i].name))
            fail("%s is in fix's descriptor, not in dyn's", F->tensors[i].name);
    check_end();
}

/* ---- inputs ---- */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static const struct ints *ints_of(const char *name)
{
    for (int i = 0; i < n_ints; i++)
        if (!strcmp(ints[i].name, name))
            return &ints[i];
    return NULL;
}

/* The value of element j (in F's numbering) of input t: uniform in
 * [-1, 1), or in [0, hi) for an i32. */
static double input_value(const nnrt_tensor *t, size_t j)
{
    uint64_t r = mix(name_hash(t->name) ^ mix(j));
    if (t->dtype == NNRT_I32) {
        const struct ints *in = ints_of(t->name);
        if (!in)
            die("i32 input %s has no `#: labels` or `#: ints` line in the model", t->name);
        return (double)(r % (uint64_t)in->hi);
    }
    return (double)(r >> 11) / 9007199254740992.0 * 2 - 1;
}

/* Both inputs structs, with the same values in use; dyn's elements not in
 * use poisoned.  Checks set_defaults on the way. */
static void fill_inputs(void)
{
    memset(dyn.inputs, 0xFF, D->inputs_size);
    memset(fix.inputs, 0, F->inputs_size);
    D->set_defaults(dyn.inputs);
    F->set_defaults(fix.inputs);
    for (int i = 0; i < n_dims; i++) {
        if (get_dim(dyn.inputs, &dims[i]) != dims[i].max)
            fail("set_defaults set %s to %lld, want its MAX %lld", dims[i].t->name,
                 (long long)get_dim(dyn.inputs, &dims[i]), (long long)dims[i].max);
        if (dims[i].t->default_value != (double)dims[i].max)
            fail("dim %s: default_value %g, want MAX %lld", dims[i].t->name,
                 dims[i].t->default_value, (long long)dims[i].max);
        set_dim(dyn.inputs, &dims[i], dims[i].n);
    }
    for (int i = 0; i < n_pairs; i++) {
        const pair *p = &pairs[i];
        if (p->d->role == NNRT_HYPER) {
            if (get(dyn.inputs, p->d, 0) != get(fix.inputs, p->f, 0) ||
                p->d->default_value != p->f->default_value)
                fail("hyper %s: default %g in dyn, %g in fix", p->d->name,
                     get(dyn.inputs, p->d, 0), get(fix.inputs, p->f, 0));
            continue;
        }
        if (p->d->role != NNRT_INPUT)
            continue;
        for (size_t k = 0; k < p->nd; k++)
            set(dyn.inputs, p->d, k, p->d->dtype == NNRT_I32 ? POISON_I32 : NAN);
        for (size_t j = 0; j < p->nf; j++) {
            double v = input_value(p->f, j);
            set(fix.inputs, p->f, j, v);
            set(dyn.inputs, p->d, p->map[j], v);
        }
    }
}

/* ---- calls ---- */

typedef enum { E_FORWARD, E_BACKWARD, E_TRAIN_STEP } entry;

/* The byte every workspace is filled with before a call: 0xFF is NaN in
 * f32 and f64; check_poison uses another. */
static unsigned char ws_fill = 0xFF;
static const char *const entry_names[] = { "forward", "backward", "train_step" };

/* Call an entry point of b's model on b's structs, after filling its
 * outputs and grads with the sentinel s and its workspace with NaN. */
static int call(bufs *b, entry e, unsigned char s)
{
    memset(b->outputs, s, b->m->outputs_size);
    memset(b->grads, s, b->m->params_size);
    memset(b->ws, ws_fill, b->m->workspace_size);
    switch (e) {
    case E_FORWARD:
        return b->m->forward(b->params, b->state, b->inputs, b->outputs, b->ws);
    case E_BACKWARD:
        return b->m->backward(b->params, b->state, b->inputs, b->outputs, b->grads, b->ws);
    case E_TRAIN_STEP:
        return b->m->train_step(b->params, b->state, b->inputs, b->outputs, b->ws);
    }
    return 0;
}

static void compare_role(nnrt_role role, const char *what, const void *dbase,
                         const void *fbase)
{
    for (int i = 0; i < n_pairs; i++)
        if (pairs[i].d->role == role)
            compare(&pairs[i], what, dbase, fbase);
}

static void check_output_sentinels(unsigned char s)
{
    for (int i = 0; i < n_pairs; i++)
        if (pairs[i].d->role == NNRT_OUTPUT && pairs[i].runtime)
            check_sentinel(&pairs[i], dyn.outputs, s);
}

/* The optimizer buffers, which the descriptor does not list (nnrt.h): after
 * the head and the STATE tensors, per param in declaration order, k buffers
 * of its dtype and shape, each 64-byte aligned. */
static size_t align64(size_t n)
{
    return (n + 63) / 64 * 64;
}

static void compare_state(const char *what, const void *ds, const void *fs)
{
    const nnrt_state_head *dh = ds, *fh = fs;
    if (dh->seed != fh->seed || dh->step != fh->step)
        fail("%s seed/step %llu/%llu in dyn, %llu/%llu in fix", what,
             (unsigned long long)dh->seed, (unsigned long long)dh->step,
             (unsigned long long)fh->seed, (unsigned long long)fh->step);
    size_t start = sizeof(nnrt_state_head), per_round = 0;
    for (int i = 0; i < D->n_tensors; i++)
        if (D->tensors[i].role == NNRT_STATE && D->tensors[i].offset + D->tensors[i].size > start)
            start = D->tensors[i].offset + D->tensors[i].size;
    start = align64(start);
    for (int i = 0; i < n_pairs; i++)
        if (pairs[i].d->role == NNRT_PARAM)
            per_round += align64(pairs[i].d->size);
    if (D->state_size <= start || per_round == 0)
        return;                                         /* no buffers */
    size_t k = (D->state_size - start) / per_round;
    if (start + k * per_round != D->state_size) {
        fail("state_size %zu is not the head plus whole buffers of the params", D->state_size);
        return;
    }
    size_t off = start;
    for (int i = 0; i < n_pairs; i++) {
        const pair *p = &pairs[i];
        if (p->d->role != NNRT_PARAM)
            continue;
        for (size_t r = 0; r < k; r++) {
            nnrt_tensor buf = *p->d;
            buf.offset = off + r * per_round;
            for (size_t j = 0; j < p->nd; j++) {
                double a = get(ds, &buf, j), b = get(fs, &buf, j);
                if (!close_enough(buf.dtype, a, b))
                    fail("%s buffer %zu of %s%s: dyn %.9g, fix %.9g", what, r, p->d->name,
                         index_str(p->d, j), a, b);
            }
        }
        off += align64(p->d->size);
    }
}

/* Snapshots of every struct a call is given, to check what it wrote. */
typedef struct snap {
    void *params, *state, *inputs, *outputs, *grads;
} snap;

static void *copy_of(const void *p, size_t n)
{
    void *c = xalloc(n);
    memcpy(c, p, n);
    return c;
}

static void snap_take(snap *s, const bufs *b)
{
    s->params = copy_of(b->params, b->m->params_size);
    s->state = copy_of(b->state, b->m->state_size);
    s->inputs = copy_of(b->inputs, b->m->inputs_size);
    s->outputs = copy_of(b->outputs, b->m->outputs_size);
    s->grads = copy_of(b->grads, b->m->params_size);
}

static void snap_free(snap *s)
{
    nnrt_free(s->params);
    nnrt_free(s->state);
    nnrt_free(s->inputs);
    nnrt_free(s->outputs);
    nnrt_free(s->grads);
}

/* Report every struct of b that differs from the snapshot; which says which
 * to compare (a string of p s i o g). */
static void snap_compare(const snap *s, const bufs *b, const char *which, const char *ctx)
{
    struct { char c; const char *name; const void *a, *b; size_t n; } v[] = {
        { 'p', "params", s->params, b->params, b->m->params_size },
        { 's', "state", s->state, b->state, b->m->state_size },
        { 'i', "inputs", s->inputs, b->inputs, b->m->inputs_size },
        { 'o', "outputs", s->outputs, b->outputs, b->m->outputs_size },
        { 'g', "grads", s->grads, b->grads, b->m->params_size },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (!strchr(which, v[i].c) || !memcmp(v[i].a, v[i].b, v[i].n))
            continue;
        size_t at = 0;
        while (((const unsigned char *)v[i].a)[at] == ((const unsigned char *)v[i].b)[at])
            at++;
        fail("%s: the %s struct was written (first changed byte at offset %zu)", ctx,
             v[i].name, at);
    }
}

/* ---- the checks ---- */

static void check_init(void)
{
    check_begin("init and set_defaults");
    D->init(dyn.params, dyn.state, SEED);
    F->init(fix.params, fix.state, SEED);
    compare_role(NNRT_PARAM, "init", dyn.params, fix.params);
    compare_state("init", dyn.state, fix.state);
    fill_inputs();
    check_end();
}

static void check_forward(void)
{
    check_begin("forward");
    snap s;
    snap_take(&s, &dyn);
    int rd = call(&dyn, E_FORWARD, DYN_SENTINEL), rf = call(&fix, E_FORWARD, FIX_SENTINEL);
    if (rd || rf)
        fail("forward returned %d (dyn) and %d (fix), want 0", rd, rf);
    compare_role(NNRT_OUTPUT, "forward", dyn.outputs, fix.outputs);
    check_output_sentinels(DYN_SENTINEL);
    snap_compare(&s, &dyn, "psi", "forward");
    snap_free(&s);
    check_end();
}

static void check_backward(void)
{
    check_begin("backward");
    snap s;
    snap_take(&s, &dyn);
    int rd = call(&dyn, E_BACKWARD, DYN_SENTINEL), rf = call(&fix, E_BACKWARD, FIX_SENTINEL);
    if (rd || rf)
        fail("backward returned %d (dyn) and %d (fix), want 0", rd, rf);
    compare_role(NNRT_OUTPUT, "backward", dyn.outputs, fix.outputs);
    compare_role(NNRT_PARAM, "gradient", dyn.grads, fix.grads);
    check_output_sentinels(DYN_SENTINEL);
    snap_compare(&s, &dyn, "psi", "backward");
    snap_free(&s);
    check_end();
}

/* update after the backward of check_backward: the same params and buffers;
 * and update reads no dims, so an invalid one changes nothing. */
static void check_update(void)
{
    check_begin("update");
    void *dp = copy_of(dyn.params, D->params_size), *ds = copy_of(dyn.state, D->state_size);
    void *fp = copy_of(fix.params, F->params_size), *fs = copy_of(fix.state, F->state_size);
    int rd = D->update(dp, ds, dyn.grads, dyn.inputs);
    int rf = F->update(fp, fs, fix.grads, fix.inputs);
    if (rd || rf)
        fail("update returned %d (dyn) and %d (fix), want 0", rd, rf);
    compare_role(NNRT_PARAM, "updated param", dp, fp);
    compare_state("update", ds, fs);
    if (((nnrt_state_head *)ds)->step != 1)
        fail("step %llu after one update, want 1",
             (unsigned long long)((nnrt_state_head *)ds)->step);

    void *dp0 = copy_of(dyn.params, D->params_size), *ds0 = copy_of(dyn.state, D->state_size);
    void *in0 = copy_of(dyn.inputs, D->inputs_size);
    for (int i = 0; i < n_dims; i++)
        set_dim(in0, &dims[i], 0);
    rd = D->update(dp0, ds0, dyn.grads, in0);
    if (rd)
        fail("update with the dims 0 returned %d: update reads no dims (5.8)", rd);
    if (memcmp(dp0, dp, D->params_size) || memcmp(ds0, ds, D->state_size))
        fail("update with the dims 0 gave other params or state than with the dims set");
    nnrt_free(dp), nnrt_free(ds), nnrt_free(fp), nnrt_free(fs);
    nnrt_free(dp0), nnrt_free(ds0), nnrt_free(in0);
    check_end();
}

/* TRAIN_STEPS train steps from the params of init, on the same copies in
 * both builds; dyn.params and fix.params hold the result. */
static void check_train_steps(void)
{
    char name[64];
    D->init(dyn.params, dyn.state, SEED);
    F->init(fix.params, fix.state, SEED);
    for (int k = 1; k <= TRAIN_STEPS; k++) {
        snprintf(name, sizeof name, "train_step %d", k);
        check_begin(name);
        snap s;
        snap_take(&s, &dyn);
        int rd = call(&dyn, E_TRAIN_STEP, DYN_SENTINEL);
        int rf = call(&fix, E_TRAIN_STEP, FIX_SENTINEL);
        if (rd || rf)
            fail("train_step returned %d (dyn) and %d (fix), want 0", rd, rf);
        compare_role(NNRT_OUTPUT, "output", dyn.outputs, fix.outputs);
        compare_role(NNRT_PARAM, "param after the step", dyn.params, fix.params);
        compare_state("state after the step", dyn.state, fix.state);
        if (((nnrt_state_head *)dyn.state)->step != (uint64_t)k)
            fail("step %llu, want %d", (unsigned long long)((nnrt_state_head *)dyn.state)->step,
                 k);
        check_output_sentinels(DYN_SENTINEL);
        snap_compare(&s, &dyn, "ig", name);
        snap_free(&s);
        check_end();
    }
}

/* Set the elements not in use of dyn's inputs: NaN and POISON_I32, or
 * (finite) small numbers and in-range integers, which an op that absorbs
 * NaN (a comparison, say) would not hide. */
static void poison_unused(int finite)
{
    for (int i = 0; i < n_pairs; i++) {
        const pair *p = &pairs[i];
        if (p->d->role != NNRT_INPUT)
            continue;
        const struct ints *in = ints_of(p->d->name);
        for (size_t k = 0; k < p->nd; k++) {
            if (p->used[k])
                continue;
            double v = p->d->dtype == NNRT_I32 ? (finite ? (double)(k % (size_t)in->hi) : POISON_I32)
                       : finite ? (double)(k % 3) - 0.5 : NAN;
            set(dyn.inputs, p->d, k, v);
        }
    }
}

/* The results in use do not depend on the elements not in use nor on the
 * workspace's contents: backward with the other poison gives the same bits. */
static void check_poison(void)
{
    check_begin("independent of the elements not in use");
    int r1 = call(&dyn, E_BACKWARD, DYN_SENTINEL);
    void *out1 = copy_of(dyn.outputs, D->outputs_size), *g1 = copy_of(dyn.grads, D->params_size);
    poison_unused(1);
    ws_fill = 0x3F;                   /* 0.747 in f32, 0.487 in f64 */
    int r2 = call(&dyn, E_BACKWARD, DYN_SENTINEL);
    ws_fill = 0xFF;
    poison_unused(0);
    if (r1 || r2)
        fail("backward returned %d and %d, want 0", r1, r2);
    for (int i = 0; i < n_pairs; i++) {
        const pair *p = &pairs[i];
        const void *before = p->d->role == NNRT_OUTPUT ? out1 : g1;
        const void *now = p->d->role == NNRT_OUTPUT ? dyn.outputs : dyn.grads;
        if (p->d->role != NNRT_OUTPUT && p->d->role != NNRT_PARAM)
            continue;
        size_t es = dtype_size(p->d->dtype);
        for (size_t j = 0; j < p->nf; j++) {
            size_t at = p->d->offset + p->map[j] * es;
            if (memcmp((const char *)before + at, (const char *)now + at, es))
                fail("%s %s%s: %.9g with NaN not in use and in the workspace, %.9g with "
                     "finite values", p->d->role == NNRT_OUTPUT ? "output" : "gradient",
                     p->d->name, index_str(p->f, j), get(before, p->d, p->map[j]),
                     get(now, p->d, p->map[j]));
        }
    }
    nnrt_free(out1);
    nnrt_free(g1);
    check_end();
}

/* Call entry e of dyn expecting the error want; nothing may be written. */
static void expect_error(entry e, int want, const char *ctx)
{
    char buf[192];
    snprintf(buf, sizeof buf, "%s %s", entry_names[e], ctx);
    memset(dyn.outputs, DYN_SENTINEL, D->outputs_size);
    memset(dyn.grads, DYN_SENTINEL, D->params_size);
    snap s;
    snap_take(&s, &dyn);
    int r;
    memset(dyn.ws, ws_fill, D->workspace_size);
    switch (e) {
    case E_FORWARD:
        r = D->forward(dyn.params, dyn.state, dyn.inputs, dyn.outputs, dyn.ws);
        break;
    case E_BACKWARD:
        r = D->backward(dyn.params, dyn.state, dyn.inputs, dyn.outputs, dyn.grads, dyn.ws);
        break;
    default:
        r = D->train_step(dyn.params, dyn.state, dyn.inputs, dyn.outputs, dyn.ws);
        break;
    }
    if (r != want)
        fail("%s returned %d, want %d", buf, r, want);
    snap_compare(&s, &dyn, "psiog", buf);
    snap_free(&s);
}

/* The first i32 input checked by the model, or NULL. */
static const pair *first_label(void)
{
    for (int i = 0; i < n_pairs; i++) {
        const struct ints *in = ints_of(pairs[i].d->name);
        if (pairs[i].d->role == NNRT_INPUT && in && in->checked)
            return &pairs[i];
    }
    return NULL;
}

static void check_eshape(void)
{
    check_begin("eshape");
    char ctx[128];
    for (int i = 0; i < n_dims; i++) {
        struct dim *d = &dims[i];
        const int64_t bad[] = { 0, d->max + 1, -1, ((int64_t)1 << 32) + 1, INT64_MIN };
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            set_dim(dyn.inputs, d, bad[b]);
            snprintf(ctx, sizeof ctx, "with %s = %lld", d->t->name, (long long)bad[b]);
            for (entry e = E_FORWARD; e <= E_TRAIN_STEP; e++)
                expect_error(e, NNRT_ESHAPE, ctx);
        }
        /* dims are checked before labels */
        const pair *lab = first_label();
        if (lab) {
            double keep = get(dyn.inputs, lab->d, lab->map[0]);
            set(dyn.inputs, lab->d, lab->map[0], -1);
            set_dim(dyn.inputs, d, 0);
            snprintf(ctx, sizeof ctx, "with %s = 0 and %s%s = -1", d->t->name, lab->d->name,
                     index_str(lab->f, 0));
            for (entry e = E_FORWARD; e <= E_TRAIN_STEP; e++)
                expect_error(e, NNRT_ESHAPE, ctx);
            set(dyn.inputs, lab->d, lab->map[0], keep);
        }
        set_dim(dyn.inputs, d, d->n);
    }
    check_end();
}

static void check_eindex(void)
{
    check_begin("eindex");
    char ctx[160];
    int any = 0;
    for (int i = 0; i < n_pairs; i++) {
        const pair *p = &pairs[i];
        const struct ints *in = ints_of(p->d->name);
        if (p->d->role != NNRT_INPUT || !in || !in->checked)
            continue;
        any = 1;
        /* out of range in use: first, middle and last element in use */
        const size_t at[] = { 0, p->nf / 2, p->nf - 1 };
        const double val[] = { -1, in->hi, POISON_I32 };
        for (size_t k = 0; k < 3; k++) {
            size_t di = p->map[at[k]];
            double keep = get(dyn.inputs, p->d, di);
            set(dyn.inputs, p->d, di, val[k]);
            snprintf(ctx, sizeof ctx, "with %s%s = %g (in use)", p->d->name,
                     index_str(p->f, at[k]), val[k]);
            for (entry e = E_FORWARD; e <= E_TRAIN_STEP; e++)
                expect_error(e, NNRT_EINDEX, ctx);
            set(dyn.inputs, p->d, di, keep);
        }
        /* out of range only where not in use: fine */
        for (size_t k = 0; k < p->nd; k++)
            if (!p->used[k])
                set(dyn.inputs, p->d, k, k % 2 ? -1 : in->hi);
        snprintf(ctx, sizeof ctx, "%s out of range only in elements not in use", p->d->name);
        int r = call(&dyn, E_FORWARD, DYN_SENTINEL);
        call(&fix, E_FORWARD, FIX_SENTINEL);
        if (r)
            fail("forward with %s returned %d, want 0", ctx, r);
        compare_role(NNRT_OUTPUT, "forward", dyn.outputs, fix.outputs);
        for (size_t k = 0; k < p->nd; k++)
            if (!p->used[k])
                set(dyn.inputs, p->d, k, POISON_I32);
    }
    if (!any)
        printf("     (no labels in this model)\n");
    check_end();
}

/* ---- main ---- */

static void read_model_notes(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open %s", path);
    char line[512], kind[32], name[64];
    long hi;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "#:", 2))
            continue;
        if (sscanf(line + 2, "%31s %63s %ld", kind, name, &hi) != 3 || hi < 1 ||
            (strcmp(kind, "labels") && strcmp(kind, "ints")))
            die("%s: bad line: %s", path, line);
        if (n_ints == MAX_INTS)
            die("%s: too many `#:` lines", path);
        strcpy(ints[n_ints].name, name);
        ints[n_ints].hi = (int32_t)hi;
        ints[n_ints].checked = !strcmp(kind, "labels");
        n_ints++;
    }
    fclose(f);
}

static void alloc_bufs(bufs *b, const nnrt_model *m)
{
    b->m = m;
    b->params = xalloc(m->params_size);
    b->state = xalloc(m->state_size);
    b->inputs = xalloc(m->inputs_size);
    b->outputs = xalloc(m->outputs_size);
    b->grads = xalloc(m->params_size);
    b->ws = xalloc(m->workspace_size);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: %s MODEL.nn N1 [N2 ...]", argv[0]);
    read_model_notes(argv[1]);
    for (int i = 0; i < D->n_tensors; i++)
        if (D->tensors[i].role == NNRT_DIM) {
            if (n_dims == MAX_DIMS)
                die("too many dims");
            dims[n_dims].t = &D->tensors[i];
            dims[n_dims].max = (int64_t)D->tensors[i].default_value;
            n_dims++;
        }
    if (argc - 2 != n_dims)
        die("%s has %d dims, %d values given", D->name, n_dims, argc - 2);
    size_t len = (size_t)snprintf(case_name, sizeof case_name, "%s", D->name);
    for (int i = 0; i < n_dims; i++) {
        char *end;
        dims[i].n = strtoll(argv[i + 2], &end, 10);
        if (*end || dims[i].n < 1 || dims[i].n > dims[i].max)
            die("%s: %s = %s is not in [1, %lld]", D->name, dims[i].t->name, argv[i + 2],
                (long long)dims[i].max);
        len += (size_t)snprintf(case_name + len, sizeof case_name - len, " %s=%lld",
                                dims[i].t->name, (long long)dims[i].n);
    }

    check_descriptor();
    if (n_fail) {
        printf("%s: the builds do not correspond, nothing else checked\n", case_name);
        return 1;
    }
    alloc_bufs(&dyn, D);
    alloc_bufs(&fix, F);
    check_init();
    check_forward();
    check_backward();
    check_update();
    check_poison();
    check_eshape();
    check_eindex();
    check_train_steps();
    printf("%s: %d checks passed, %d failed; %zu of %zu values compared differ in some bit\n",
           case_name, n_pass, n_fail, n_inexact, n_compared);
    return n_fail ? 1 : 0;
}
