/*
 * dataset.c: labelled data sets, shuffling and minibatches for training.
 *
 * What a user of PyTorch's DataLoader expects, for models compiled with a
 * fixed batch size: load images and labels (idx.c) into floats in [0, 1]
 * and int32 labels, reshuffle every epoch deterministically (the same seed
 * gives the same orders on every machine), and copy one full batch at a
 * time into the model's inputs struct.
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "nnrt.h"

/* Everything after loading both files, so that the caller frees them in
 * one place. */
static int build(const nnrt_idx *img, const nnrt_idx *lab, const char *images_path,
                 const char *labels_path, nnrt_dataset *ds, char *err, size_t errlen)
{
    if (lab->rank != 1)
        return rt_fail(err, errlen, NNRT_EFORMAT, "%s: labels must be a rank-1 array, not rank %d",
                       labels_path, lab->rank);
    if (lab->type == NNRT_IDX_F32 || lab->type == NNRT_IDX_F64)
        return rt_fail(err, errlen, NNRT_EFORMAT, "%s: labels must be integers, not floats",
                       labels_path);
    size_t n = (size_t)img->dims[0];
    if ((size_t)lab->dims[0] != n)
        return rt_fail(err, errlen, NNRT_EMISMATCH, "%s has %zu images but %s has %zu labels",
                       images_path, n, labels_path, (size_t)lab->dims[0]);

    ds->n = n;
    ds->dim = img->count / n;
    ds->rank = img->rank - 1;
    for (int i = 1; i < img->rank; i++)
        ds->dims[i - 1] = img->dims[i];
    ds->x = nnrt_alloc(img->count * sizeof *ds->x);
    ds->y = nnrt_alloc(n * sizeof *ds->y);
    if (!ds->x || !ds->y)
        return rt_fail(err, errlen, NNRT_ENOMEM, "%s: out of memory", images_path);

    for (size_t i = 0; i < n; i++) {
        double v = nnrt_idx_value(lab, i);
        if (v < 0)
            return rt_fail(err, errlen, NNRT_EFORMAT, "%s: label %zu is negative (%.0f)",
                           labels_path, i, v);
        ds->y[i] = (int32_t)v;
        if (ds->y[i] >= ds->n_classes)
            ds->n_classes = ds->y[i] < INT32_MAX ? ds->y[i] + 1 : INT32_MAX;
    }
    if (img->type == NNRT_IDX_U8) {
        const uint8_t *p = img->data;
        for (size_t i = 0; i < img->count; i++)
            ds->x[i] = (float)p[i] / 255.0f;
    } else {
        for (size_t i = 0; i < img->count; i++)
            ds->x[i] = (float)nnrt_idx_value(img, i);
    }
    return NNRT_OK;
}

int nnrt_dataset_load(const char *images_path, const char *labels_path, nnrt_dataset *ds,
                      char *err, size_t errlen)
{
    if (!ds || !images_path || !labels_path)
        return rt_fail(err, errlen, NNRT_EINVAL, "nnrt_dataset_load: a NULL argument");
    memset(ds, 0, sizeof *ds);
    nnrt_idx img, lab;
    int rc = nnrt_idx_load(images_path, &img, err, errlen);
    if (rc)
        return rc;
    rc = nnrt_idx_load(labels_path, &lab, err, errlen);
    if (rc == NNRT_OK)
        rc = build(&img, &lab, images_path, labels_path, ds, err, errlen);
    nnrt_idx_free(&img);
    nnrt_idx_free(&lab);
    if (rc)
        nnrt_dataset_free(ds);
    return rc;
}

void nnrt_dataset_free(nnrt_dataset *ds)
{
    if (!ds)
        return;
    nnrt_free(ds->x);
    nnrt_free(ds->y);
    memset(ds, 0, sizeof *ds);
}

/* Random 32-bit words for the shuffle: word k of the stream of (seed,
 * epoch), drawn in order, four per Philox block.  The stream is offset by a
 * hash so that it cannot coincide with a param's (seed, stream) at init. */
typedef struct words {
    uint32_t ctr[4], key[2], buf[4];
    int left;
} words;

static uint32_t next_word(words *w)
{
    if (w->left == 0) {
        nnrt_philox4x32(w->ctr, w->key, w->buf);
        if (++w->ctr[0] == 0)
            w->ctr[1]++;
        w->left = 4;
    }
    return w->buf[4 - w->left--];
}

/* Uniform on [0, range), range in 1..2^32, without bias: Lemire's
 * multiply-shift with rejection of the few low products that would favour
 * some values (Lemire, "Fast random integer generation in an interval",
 * 2019). */
static uint32_t below(words *w, uint64_t range)
{
    uint64_t m = (uint64_t)next_word(w) * range;
    if ((uint32_t)m < range) {
        uint64_t threshold = ((uint64_t)1 << 32) % range;
        while ((uint32_t)m < threshold)
            m = (uint64_t)next_word(w) * range;
    }
    return (uint32_t)(m >> 32);
}

int nnrt_shuffle(uint32_t *perm, size_t n, uint64_t seed, uint64_t epoch)
{
    if ((n > 0 && !perm) || (uint64_t)n > (uint64_t)UINT32_MAX + 1)
        return NNRT_EINVAL;
    uint64_t stream = nnrt_stream_id("nnrt_shuffle") + epoch;
    words w = {{0, 0, (uint32_t)stream, (uint32_t)(stream >> 32)},
               {(uint32_t)seed, (uint32_t)(seed >> 32)}, {0}, 0};
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {         /* swap perm[i-1] with a uniform perm[0..i) */
        uint32_t j = below(&w, i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    return NNRT_OK;
}

size_t nnrt_dataset_batch(const nnrt_dataset *ds, const uint32_t *perm, size_t start,
                          size_t batch, float *x, int32_t *y)
{
    if (!ds || ds->n == 0)
        return 0;
    size_t n = ds->n;
    size_t at = start % n;
    for (size_t k = 0; k < batch; k++) {
        size_t e = perm ? perm[at] : at;
        if (x)
            memcpy(x + k * ds->dim, ds->x + e * ds->dim, ds->dim * sizeof *x);
        if (y)
            y[k] = ds->y[e];
        if (++at == n)
            at = 0;
    }
    return start >= n ? 0 : (n - start < batch ? n - start : batch);
}
