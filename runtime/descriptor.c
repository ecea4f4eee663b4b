/*
 * descriptor.c: reading a model descriptor of ABI version 1 or 2.
 *
 * The tools (checkpoint.c, gradcheck.c) never touch an nnrt_model
 * directly: they open a view (internal.h), which checks the descriptor once,
 * presents its tensors in one normalized form, locates the optimizer
 * buffers that version 2 lays out after the state tensors without
 * describing them, and calls the entry points with the signatures of the
 * descriptor's version.  Nothing here allocates.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "nnrt.h"

#define ALIGN 64

static size_t align64(size_t n)
{
    return (n + (ALIGN - 1)) / ALIGN * ALIGN;
}

static const char *role_name(nnrt_role role)
{
    switch (role) {
    case NNRT_INPUT: return "input";
    case NNRT_PARAM: return "param";
    case NNRT_HYPER: return "hyper";
    case NNRT_OUTPUT: return "output";
    case NNRT_DIM: return "dim";
    case NNRT_STATE: return "state";
    default: return "tensor";
    }
}

nnrt_view_tensor nnrt_view_tensor_of(const nnrt_tensor *t2, const nnrt_tensor_v1 *t1)
{
    nnrt_view_tensor t = {0};
    if (t2) {
        t = (nnrt_view_tensor){t2->name, t2->role, t2->dtype, t2->rank, t2->dims, t2->offset,
                               t2->size, t2->default_value, t2->dim_names, t2, NULL};
    } else if (t1) {
        t = (nnrt_view_tensor){t1->name, t1->role, t1->dtype, t1->rank, t1->dims, t1->offset,
                               t1->size, t1->default_value, NULL, NULL, t1};
    }
    return t;
}

nnrt_view_tensor nnrt_view_tensor_at(const nnrt_view *v, int i)
{
    return v->version == 2 ? nnrt_view_tensor_of(&v->m2->tensors[i], NULL)
                           : nnrt_view_tensor_of(NULL, &v->m1->tensors[i]);
}

/* The struct a tensor of this role lives in, by its size. */
static size_t room_of(const nnrt_view *v, nnrt_role role)
{
    switch (role) {
    case NNRT_PARAM: return v->params_size;
    case NNRT_OUTPUT: return v->outputs_size;
    case NNRT_STATE: return v->state_size;
    default: return v->inputs_size;
    }
}

/* One tensor: what any tool relies on before trusting offsets and sizes. */
static int check_tensor(const nnrt_view *v, const nnrt_view_tensor *t, int i, char *err,
                        size_t errlen)
{
    const char *why = NULL;
    int max_role = v->version == 2 ? NNRT_STATE : NNRT_OUTPUT;
    int max_dtype = v->version == 2 ? NNRT_I64 : NNRT_I32;
    if (!t->name)
        return rt_fail(err, errlen, NNRT_EINVAL, "model %s: malformed descriptor: tensor %d has no name",
                       v->name, i);
    if ((int)t->role < NNRT_INPUT || (int)t->role > max_role)
        why = "an unknown role";
    else if ((int)t->dtype < NNRT_F32 || (int)t->dtype > max_dtype)
        why = "an unknown dtype";
    else if (t->rank < 0 || (t->rank > 0 && !t->dims) || (t->role == NNRT_DIM && t->rank != 0))
        why = "a bad rank or no dims";
    if (why)
        return rt_fail(err, errlen, NNRT_EINVAL, "model %s: malformed descriptor of %s %s: %s",
                       v->name, role_name(t->role), t->name, why);
    size_t n = 1, es = rt_dtype_size(t->dtype);
    for (int k = 0; k < t->rank && !why; k++) {
        if (t->dims[k] < 0)
            why = "a negative dim";
        else if (t->dims[k] > 0 && n > SIZE_MAX / es / (uint64_t)t->dims[k])
            why = "a size that overflows";
        else
            n *= (size_t)t->dims[k];
    }
    size_t room = room_of(v, t->role);
    if (!why && (t->role == NNRT_PARAM || t->role == NNRT_STATE) && t->size != n * es)
        why = "a size that is not its elements' bytes";
    else if (!why && (t->offset > room || t->size > room - t->offset))
        why = "bytes outside the struct of its role";
    else if (!why && t->role == NNRT_STATE && t->offset < sizeof(nnrt_state_head))
        why = "an offset over the state's seed and step";
    if (why)
        return rt_fail(err, errlen, NNRT_EINVAL, "model %s: malformed descriptor of %s %s: %s",
                       v->name, role_name(t->role), t->name, why);
    return NNRT_OK;
}

/* The optimizer buffers of a version-2 state, which the descriptor does not
 * list: they start at the 64-aligned end of the last state tensor (64 when
 * there is none), and what follows is k buffers per param, each the param's
 * size rounded up to 64, then less than 64 bytes of padding. */
static int find_buffers(nnrt_view *v, char *err, size_t errlen)
{
    size_t end = ALIGN, per = 0;
    for (int i = 0; i < v->n_tensors; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        if (t.role == NNRT_STATE && align64(t.offset + t.size) > end)
            end = align64(t.offset + t.size);
        if (t.role == NNRT_PARAM) {
            if (align64(t.size) > SIZE_MAX - per)
                return rt_fail(err, errlen, NNRT_EINVAL, "model %s: malformed descriptor: params too large",
                               v->name);
            per += align64(t.size);
        }
    }
    v->buffers_at = end;
    v->n_buffers = 0;
    if (v->state_size <= end)
        return NNRT_OK;
    size_t rest = v->state_size - end;
    size_t k = per ? rest / per : 0;
    if (k > 3 || rest - k * per >= ALIGN)
        return rt_fail(err, errlen, NNRT_EINVAL,
                       "model %s: malformed descriptor: %zu state bytes after the state tensors "
                       "are not 1, 2 or 3 optimizer buffers per param (%zu bytes each set)",
                       v->name, rest, per);
    v->n_buffers = (int)k;
    return NNRT_OK;
}

int nnrt_view_open(nnrt_view *v, const nnrt_model *m, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    if (!m)
        return rt_fail(err, errlen, NNRT_EINVAL, "no model descriptor");
    int version;
    memcpy(&version, m, sizeof version);      /* the first member of either version */
    if (version == 2) {
        *v = (nnrt_view){2, m, NULL, m->name, m->objective, m->params_size, m->inputs_size,
                         m->outputs_size, m->state_size, m->workspace_size, m->n_tensors,
                         .has_init = !!m->init, .has_forward = !!m->forward,
                         .has_backward = !!m->backward, .has_train_step = !!m->train_step,
                         .has_update = !!m->update};
        if (m->n_tensors > 0 && !m->tensors)
            v->name = NULL;
    } else if (version == 1) {
        const nnrt_model_v1 *m1 = (const nnrt_model_v1 *)(const void *)m;
        *v = (nnrt_view){1, NULL, m1, m1->name, m1->objective, m1->params_size, m1->inputs_size,
                         m1->outputs_size, m1->state_size, m1->workspace_size, m1->n_tensors,
                         .has_init = !!m1->init, .has_forward = !!m1->forward,
                         .has_backward = !!m1->backward, .has_train_step = !!m1->train_step};
        if (m1->n_tensors > 0 && !m1->tensors)
            v->name = NULL;
    } else {
        return rt_fail(err, errlen, NNRT_EINVAL,
                       "model descriptor of ABI version %d; this runtime reads versions 1 and 2", version);
    }
    if (!v->name || v->n_tensors < 0)
        return rt_fail(err, errlen, NNRT_EINVAL, "malformed model descriptor");
    /* No object exceeds PTRDIFF_MAX bytes, and then sums of offsets, sizes
     * and their padding cannot overflow. */
    size_t sizes[5] = {v->params_size, v->inputs_size, v->outputs_size, v->state_size,
                       v->workspace_size};
    for (int k = 0; k < 5; k++)
        if (sizes[k] > (size_t)PTRDIFF_MAX)
            return rt_fail(err, errlen, NNRT_EINVAL, "model %s: malformed descriptor: a struct of %zu bytes",
                           v->name, sizes[k]);
    if (v->version == 2 && v->state_size < sizeof(nnrt_state_head))
        return rt_fail(err, errlen, NNRT_EINVAL,
                       "model %s: malformed descriptor: state_size %zu, less than its seed and step",
                       v->name, v->state_size);
    for (int i = 0; i < v->n_tensors; i++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, i);
        int rc = check_tensor(v, &t, i, err, errlen);
        if (rc)
            return rc;
        v->n_params += t.role == NNRT_PARAM;
        v->n_states += t.role == NNRT_STATE;
    }
    return v->version == 2 ? find_buffers(v, err, errlen) : NNRT_OK;
}

const char *nnrt_view_buffer_key(const nnrt_view *v, int b)
{
    static const char *const keys[] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
    if (v->n_buffers == 1)
        return "momentum_buffer";
    return b >= 0 && b < 3 ? keys[b] : "?";
}

size_t nnrt_view_buffer_offset(const nnrt_view *v, int i, int b)
{
    size_t at = v->buffers_at;
    for (int j = 0; j < i; j++) {
        nnrt_view_tensor t = nnrt_view_tensor_at(v, j);
        if (t.role == NNRT_PARAM)
            at += (size_t)v->n_buffers * align64(t.size);
    }
    return at + (size_t)b * align64(nnrt_view_tensor_at(v, i).size);
}

/* ---- The entry points, per version ---- */

int nnrt_view_init(const nnrt_view *v, void *params, void *state, uint64_t seed)
{
    if (!v->has_init)
        return NNRT_EINVAL;
    if (v->version == 2)
        v->m2->init(params, state, seed);
    else
        v->m1->init(params, seed);
    return NNRT_OK;
}

int nnrt_view_forward(const nnrt_view *v, const void *params, const void *state,
                      const void *inputs, void *outputs, void *workspace)
{
    if (!v->has_forward)
        return NNRT_EINVAL;
    if (v->version == 2)
        return v->m2->forward(params, state, inputs, outputs, workspace);
    return v->m1->forward(params, inputs, outputs, workspace);
}

int nnrt_view_backward(const nnrt_view *v, const void *params, void *state, const void *inputs,
                       void *outputs, void *grads, void *workspace)
{
    if (!v->has_backward)
        return NNRT_EINVAL;
    if (v->version == 2)
        return v->m2->backward(params, state, inputs, outputs, grads, workspace);
    return v->m1->backward(params, inputs, outputs, grads, workspace);
}

int nnrt_view_train_step(const nnrt_view *v, void *params, void *state, const void *inputs,
                         void *outputs, void *workspace)
{
    if (!v->has_train_step)
        return NNRT_EINVAL;
    if (v->version == 2)
        return v->m2->train_step(params, state, inputs, outputs, workspace);
    return v->m1->train_step(params, state, inputs, outputs, workspace);
}

int nnrt_view_update(const nnrt_view *v, void *params, void *state, const void *grads,
                     const void *inputs)
{
    if (!v->has_update)
        return NNRT_EINVAL;
    return v->m2->update(params, state, grads, inputs);
}
