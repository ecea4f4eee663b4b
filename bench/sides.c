/*
 * sides.c: see sides.h.
 */
#include "sides.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double side_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *alloc(size_t n) {
    void *p = nnrt_alloc(n);
    if (!p) {
        fprintf(stderr, "bench: out of memory\n");
        exit(2);
    }
    return p;
}

const nnrt_tensor *side_find(const nnrt_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return &m->tensors[i];
    fprintf(stderr, "bench: model %s has no tensor '%s'\n", m->name, name);
    exit(2);
}

Side side_setup(const nnrt_model *m, int64_t n) {
    Side r = {m, alloc(m->params_size), alloc(m->state_size), alloc(m->inputs_size), alloc(m->outputs_size),
              alloc(m->workspace_size)};
    m->init(r.params, r.state, 42);
    m->set_defaults(r.inputs);
    if (n == 0)
        return r;
    const nnrt_tensor *x = side_find(m, "x"), *y = side_find(m, "y");
    float *xs = (float *)((char *)r.inputs + x->offset);
    int32_t *ys = (int32_t *)((char *)r.inputs + y->offset);
    int64_t d = (int64_t)(x->size / sizeof(float)) / x->dims[0], q = 10;   /* elements a row */
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < d; j++)
            xs[i * d + j] = (float)sin((double)(i * d + j));
        ys[i] = (int32_t)(i % q);
    }
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].role == NNRT_DIM)
            *(int64_t *)((char *)r.inputs + m->tensors[i].offset) = n;
    return r;
}

void side_free(Side *s) {
    void *p[] = {s->params, s->state, s->inputs, s->outputs, s->ws};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        nnrt_free(p[i]);
}

float side_objective(const Side *s) {
    return *(float *)((char *)s->outputs + side_find(s->m, s->m->objective)->offset);
}

int side_call(const Side *s, int train) {
    return train ? s->m->train_step(s->params, s->state, s->inputs, s->outputs, s->ws)
                 : s->m->forward(s->params, s->state, s->inputs, s->outputs, s->ws);
}

void side_time(const Side sides[2], int train, int rounds, double best[2]) {
    best[0] = best[1] = 1e30;
    for (int round = 0; round < rounds; round++)
        for (int s = 0; s < 2; s++) {
            int calls = 0;
            double t0 = side_now(), t;
            do {
                side_call(&sides[s], train);
                calls++;
            } while ((t = side_now() - t0) < 0.02);
            if (t / calls < best[s])
                best[s] = t / calls;
        }
}
