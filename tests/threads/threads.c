/*
 * threads.c: the thread pool's contract (5.6 Threads) on generated code.
 *
 * For samples/mlp.nn (products of 100 MFLOP, split across threads) and
 * samples/book/lenet_bn.nn (convolutions as products, batch_norm's state),
 * each at batch 256, 32 and 1 (2 for batch_norm) of their runtime dim:
 * - 20 train steps at 1, 2 and 3 threads leave params, state and outputs
 *   bitwise the same, and so do forward and backward (grads, outputs);
 * - two user threads training at once, each with its own structs, end
 *   bitwise as one thread alone does (the second finds the pool busy and
 *   runs on its own thread; neither waits for the other).
 * The updates move each param by -lr times backward's gradient, through
 * update and through train_step (plain SGD): mlp.nn's W1 and W2, updated
 * on the calling thread, and wide.nn's E of 1M elements, whose update is
 * split across the threads; and wide.nn trains bitwise alike at 1, 2 and
 * 3 threads.
 * Which loops of mlp.nn's train step the pool may split (the link wraps
 * nnrt_parallel to count them): none at batch 1, and at batch 256 at
 * least its two large products, W1's update and the L2 term's sum over W1.
 * And nnrt_set_num_threads / nnrt_get_num_threads: n <= 0 restores the
 * default, which is NNRT_NUM_THREADS when the test is run with it set
 * (tests/threads/threads.mk runs it both ways), else the CPUs of the
 * process's affinity mask.
 * Exits 1 on any difference.
 */
#define _GNU_SOURCE     /* sched_getaffinity, CPU_COUNT */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nnrt.h>

extern const nnrt_model mlp_model, lenet_bn_model, wide_model;

static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("threads: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failures++;
}

/* One caller's structs. */
typedef struct Run {
    const nnrt_model *m;
    void *params, *state, *inputs, *outputs, *grads, *ws;
} Run;

static void *alloc(size_t n) {
    void *p = nnrt_alloc(n);
    if (!p) {
        printf("threads: out of memory\n");
        exit(2);
    }
    return p;
}

/* Params from seed 7, inputs drawn from a fixed generator (labels in
 * [0, 10)), the dim at n. */
static Run run_new(const nnrt_model *m, int64_t n) {
    Run r = {m, alloc(m->params_size), alloc(m->state_size), alloc(m->inputs_size),
             alloc(m->outputs_size), alloc(m->params_size), alloc(m->workspace_size)};
    m->init(r.params, r.state, 7);
    m->set_defaults(r.inputs);
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        char *p = (char *)r.inputs + t->offset;
        if (t->role == NNRT_DIM)
            *(int64_t *)p = n;
        if (t->role != NNRT_INPUT)
            continue;
        for (size_t k = 0; k < t->size / 4; k++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            if (t->dtype == NNRT_I32)
                ((int32_t *)p)[k] = (int32_t)((s >> 33) % 10);
            else
                ((float *)p)[k] = (float)((double)(s >> 40) / (double)(1 << 24) - 0.5);
        }
    }
    return r;
}

static void run_free(Run *r) {
    void *p[] = {r->params, r->state, r->inputs, r->outputs, r->grads, r->ws};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        nnrt_free(p[i]);
}

/* What a run computes: forward's and backward's outputs and grads, then
 * params, state and outputs after 20 train steps. */
typedef struct Result {
    char *fwd, *bwd_out, *grads, *params, *state, *outputs;
} Result;

static char *copy(const void *p, size_t n) {
    char *c = malloc(n ? n : 1);
    if (!c) {
        printf("threads: out of memory\n");
        exit(2);
    }
    return memcpy(c, p, n);
}

static Result compute(const nnrt_model *m, int64_t n) {
    Run r = run_new(m, n);
    Result res = {0};
    if (m->forward(r.params, r.state, r.inputs, r.outputs, r.ws) != 0)
        fail("%s: forward failed at batch %lld", m->name, (long long)n);
    res.fwd = copy(r.outputs, m->outputs_size);
    if (m->backward(r.params, r.state, r.inputs, r.outputs, r.grads, r.ws) != 0)
        fail("%s: backward failed at batch %lld", m->name, (long long)n);
    res.bwd_out = copy(r.outputs, m->outputs_size);
    res.grads = copy(r.grads, m->params_size);
    for (int step = 0; step < 20; step++)
        if (m->train_step(r.params, r.state, r.inputs, r.outputs, r.ws) != 0)
            fail("%s: train_step failed at batch %lld", m->name, (long long)n);
    res.params = copy(r.params, m->params_size);
    res.state = copy(r.state, m->state_size);
    res.outputs = copy(r.outputs, m->outputs_size);
    run_free(&r);
    return res;
}

static void result_free(Result *r) {
    char *p[] = {r->fwd, r->bwd_out, r->grads, r->params, r->state, r->outputs};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        free(p[i]);
}

static void compare(const nnrt_model *m, int64_t n, const char *how, const Result *a, const Result *b) {
    const struct {
        const char *what;
        const char *x, *y;
        size_t size;
    } parts[] = {{"forward's outputs", a->fwd, b->fwd, m->outputs_size},
                 {"backward's outputs", a->bwd_out, b->bwd_out, m->outputs_size},
                 {"backward's grads", a->grads, b->grads, m->params_size},
                 {"params after 20 steps", a->params, b->params, m->params_size},
                 {"state after 20 steps", a->state, b->state, m->state_size},
                 {"outputs after 20 steps", a->outputs, b->outputs, m->outputs_size}};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (memcmp(parts[i].x, parts[i].y, parts[i].size) != 0)
            fail("%s at batch %lld: %s differ %s", m->name, (long long)n, parts[i].what, how);
}

typedef struct Concurrent {
    const nnrt_model *m;
    int64_t n;
    Result res;
} Concurrent;

static void *concurrent_main(void *arg) {
    Concurrent *c = arg;
    c->res = compute(c->m, c->n);
    return NULL;
}

/* After backward, update and train_step from the same params: every
 * element of every param at p - lr * g (to f32 rounding; train_step
 * computes its gradient again, fused). */
static void check_sgd_update(const nnrt_model *m, int64_t n) {
    Run a = run_new(m, n), b = run_new(m, n);
    float lr = 0;
    char *before = copy(a.params, m->params_size);
    if (m->backward(a.params, a.state, a.inputs, a.outputs, a.grads, a.ws) != 0 ||
        m->update(a.params, a.state, a.grads, a.inputs) != 0 ||
        m->train_step(b.params, b.state, b.inputs, b.outputs, b.ws) != 0)
        fail("%s: backward, update or train_step failed", m->name);
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, "lr") == 0)
            lr = *(const float *)((const char *)a.inputs + m->tensors[i].offset);
    long wrong = 0, checked = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const nnrt_tensor *t = &m->tensors[i];
        if (t->role != NNRT_PARAM)
            continue;
        const float *p0 = (const float *)(before + t->offset), *g = (const float *)((char *)a.grads + t->offset);
        const float *pu = (const float *)((char *)a.params + t->offset), *pt = (const float *)((char *)b.params + t->offset);
        for (size_t k = 0; k < t->size / sizeof(float); k++, checked++) {
            float want = p0[k] - lr * g[k];
            float tol = 1e-6f * (fabsf(want) + fabsf(p0[k])) + 1e-7f;
            wrong += fabsf(pu[k] - want) > tol || fabsf(pt[k] - want) > tol;
        }
    }
    if (wrong || checked == 0)
        fail("%s: %ld of %ld param elements are not p - lr * g after update or train_step", m->name, wrong, checked);
    free(before);
    run_free(&a);
    run_free(&b);
}

/* The calls of nnrt_parallel, counted while counting is on (the link
 * passes -Wl,--wrap=nnrt_parallel), and those the pool may split across
 * threads: at least 2 grains of units. */
static int counting, calls, splittable;

__typeof__(nnrt_parallel) __real_nnrt_parallel, __wrap_nnrt_parallel;
void __wrap_nnrt_parallel(nnrt_task task, void *ctx, int64_t units, int64_t grain, size_t scratch_bytes,
                          void *scratch) {
    if (counting) {
        calls++;
        splittable += units / (grain > 0 ? grain : 1) >= 2;
    }
    __real_nnrt_parallel(task, ctx, units, grain, scratch_bytes, scratch);
}

/* At batch 1 everything the step touches stays in the calling thread's
 * cache: the L2 term's sum over W1 is split only where W1's update is,
 * which is split only where W1's gradient was (splitting that sum at
 * batch 1 made the step 1.8 times as long on 2 threads as on one).  At
 * 256 the two large products, W1's update, that sum and the ReLU are
 * split.  A train step at each, the calls counted. */
static void check_splits(void) {
    static const struct {
        int64_t n;
        int least, most;
    } want[] = {{1, 0, 0}, {256, 4, 64}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        Run r = run_new(&mlp_model, want[i].n);
        counting = 1;
        calls = splittable = 0;
        int rc = mlp_model.train_step(r.params, r.state, r.inputs, r.outputs, r.ws);
        counting = 0;
        if (rc != 0 || splittable < want[i].least || splittable > want[i].most)
            fail("mlp train step at batch %lld: %d of its %d parallel loops can be split, want %d to %d (rc %d)",
                 (long long)want[i].n, splittable, calls, want[i].least, want[i].most, rc);
        run_free(&r);
    }
}

static int affinity_cpus(void) {
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

int main(int argc, char **argv) {
    /* argv[1]: the default NNRT_NUM_THREADS should give, if set */
    int want_default = argc > 1 ? atoi(argv[1]) : affinity_cpus();
    if (nnrt_get_num_threads() != want_default)
        fail("the default is %d threads, want %d", nnrt_get_num_threads(), want_default);
    nnrt_set_num_threads(3);
    if (nnrt_get_num_threads() != 3)
        fail("nnrt_set_num_threads(3): get says %d", nnrt_get_num_threads());
    nnrt_set_num_threads(-1);
    if (nnrt_get_num_threads() != want_default)
        fail("nnrt_set_num_threads(-1) gave %d threads, not the default %d", nnrt_get_num_threads(), want_default);

    /* batch_norm in training needs two rows */
    const struct {
        const nnrt_model *m;
        int64_t batch[3];
    } cases[] = {{&mlp_model, {256, 32, 1}}, {&lenet_bn_model, {256, 32, 2}}, {&wide_model, {64, 8, 1}}};
    int checks = 0, passed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (size_t j = 0; j < 3; j++) {
            const nnrt_model *m = cases[i].m;
            int64_t n = cases[i].batch[j];
            int before = failures;
            nnrt_set_num_threads(1);
            Result one = compute(m, n);
            for (int t = 2; t <= 3; t++) {
                nnrt_set_num_threads(t);
                Result many = compute(m, n);
                compare(m, n, t == 2 ? "at 2 threads" : "at 3 threads", &one, &many);
                result_free(&many);
            }
            /* Two callers at once, each with 2 threads asked for. */
            nnrt_set_num_threads(2);
            Concurrent c[2] = {{m, n, {0}}, {m, n, {0}}};
            pthread_t th[2];
            for (int k = 0; k < 2; k++)
                if (pthread_create(&th[k], NULL, concurrent_main, &c[k]) != 0) {
                    printf("threads: cannot start a thread\n");
                    return 2;
                }
            for (int k = 0; k < 2; k++) {
                pthread_join(th[k], NULL);
                compare(m, n, "for two callers at once", &one, &c[k].res);
                result_free(&c[k].res);
            }
            result_free(&one);
            checks++;
            passed += failures == before;
        }
    nnrt_set_num_threads(0);
    for (int t = 1; t <= 2; t++) {
        nnrt_set_num_threads(t);
        int before = failures;
        check_sgd_update(&mlp_model, 256);
        check_sgd_update(&wide_model, 64);
        checks++;
        passed += failures == before;
    }
    nnrt_set_num_threads(0);
    int before = failures;
    check_splits();
    checks++;
    passed += failures == before;
    printf("threads: %d passed, %d failed\n", passed, checks - passed + (failures && passed == checks));
    return failures ? 1 : 0;
}
