/*
 * plan.c: deciding, for one entry point, how every node is evaluated and
 * where its values live.
 *
 * - Nodes the entry point's results do not depend on are dead.
 * - Leaves live in their structs; views are strided layouts over their
 *   operand's storage and cost nothing.
 * - An elementwise node with a single consumer that reads each of its
 *   elements once (another elementwise node of the same size, a sum or max,
 *   or the final store) is computed inline inside that consumer's loop: a
 *   chain of elementwise ops becomes one loop (fusion).  One read by
 *   several such loops is computed again in each when that is a few
 *   arithmetic ops on one value of its size (cheap_to_recompute).
 * - Everything else gets a buffer: in its destination struct when its only
 *   use is to be stored there, otherwise in the workspace, where buffers
 *   whose last reader has run are reused (first fit, by liveness).  A
 *   buffer is row-major, or in the order of the transpose that reads it
 *   when that spares a copy (store_transposed).
 * - A matrix product read only by an elementwise node computed in its place
 *   (relu(x @ W.T + b), the ReLU mask times g @ W, g.T @ x + lambda * W)
 *   takes that node as its epilogue: the product's kernel applies it to
 *   each tile of the result as soon as the tile is final (Slot.epilogue).
 *
 * The train step updates params in place, so a gradient read while params
 * are being updated must not read another param (or its own at another
 * index): such a gradient is materialized, or snapshotted, before the first
 * update.
 */
#include "nnc.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define END INT_MAX
#define MAX_FUSED_DEPTH 64

static int64_t align64(int64_t n) { return (n + 63) & ~(int64_t)63; }

Layout layout_of(Base base, int64_t byte_off, const Shape *s) {
    Layout l = {.base = base, .byte_off = byte_off};
    int64_t st = 1;
    for (int d = s->rank - 1; d >= 0; d--) {
        l.stride[d] = s->d[d] == 1 ? 0 : st;
        st *= s->d[d];
    }
    return l;
}

bool layout_contiguous(const Layout *l, const Shape *s) {
    Layout c = layout_of(l->base, l->byte_off, s);
    for (int d = 0; d < s->rank; d++)
        if (s->d[d] != 1 && c.stride[d] != l->stride[d])
            return false;
    return true;
}

/* A reshape that only drops or adds axes of 1 (x[:, t] of a strided
 * slice) keeps the strides of the other axes, which match in order. */
static bool squeeze_layout(const Shape *is, const Layout *in, const Shape *s, Layout *out) {
    int i = 0;
    for (int j = 0; j < s->rank; j++) {
        out->stride[j] = 0;
        if (s->d[j] == 1 && !s->dyn[j])
            continue;
        while (i < is->rank && is->d[i] == 1 && !is->dyn[i])
            i++;
        if (i == is->rank || !shape_axis_eq(is, i, s, j))
            return false;
        out->stride[j] = in->stride[i++];
    }
    while (i < is->rank && is->d[i] == 1 && !is->dyn[i])
        i++;
    return i == is->rank;
}

/* The layout of a view node over its operand's layout; false when the view
 * cannot be expressed by strides (a reshape of a non-contiguous layout). */
static bool view_layout(const Node *n, const Layout *in, Layout *out) {
    const Shape *is = &n->in[0]->shape, *s = &n->shape;
    *out = *in;
    switch (n->op) {
    case OP_DETACH:
        return true;
    case OP_TRANSPOSE:
        for (int i = 0; i < s->rank; i++)
            out->stride[i] = in->stride[n->attr[i]];
        return true;
    case OP_SLICE:
        out->elem_off += n->attr[1] * in->stride[n->attr[0]];
        return true;
    case OP_INDEX:
        out->elem_off += n->attr[0] * in->stride[0];
        for (int i = 0; i < s->rank; i++)
            out->stride[i] = in->stride[i + 1];
        return true;
    case OP_BROADCAST: {
        int lead = s->rank - is->rank;
        for (int i = 0; i < s->rank; i++)
            out->stride[i] = (i < lead || is->d[i - lead] == 1) ? 0 : in->stride[i - lead];
        return true;
    }
    case OP_RESHAPE:
        if (layout_contiguous(in, is)) {
            *out = layout_of(in->base, in->byte_off, s);
            out->elem_off = in->elem_off;
            return true;
        }
        return squeeze_layout(is, in, s, out);
    LEAF_OPS: UNARY_OPS: BINARY_OPS: TERNARY_OPS: MODE_OPS: REINDEX_OPS: REDUCE_OPS: KERNEL_OPS: case OP_CONST: case OP_COUNT:
    default:
        return false;
    }
}

static size_t node_bytes(const Node *n) { return (size_t)shape_numel(&n->shape) * dtype_size(n->dt); }

/* Bytes a kernel needs while it runs, beside its result: a product's packed
 * operands, or the best value and its index for each group of an arg-max. */
static const Layout *memory_of(const Plan *p, const Node *x) {
    Storage st = p->slot[x->id].st;
    return st == ST_LEAF || st == ST_VIEW || st == ST_BUFFER || st == ST_WINDOWS ? &p->slot[x->id].lay : NULL;
}

int64_t reduce_chunk_rows(const Node *n) {
    const Node *x = n->in[0];
    if (op_info[n->op].kind != K_REDUCE || n->shape.d[0] != 1 || n->shape.dyn[0] || x->shape.d[0] < 2 ||
        shape_numel(&x->shape) < 2 * PAR_MIN_ELEMS)
        return 0;
    int64_t per_row = shape_numel(&x->shape) / x->shape.d[0], rows = (PAR_MIN_ELEMS + per_row - 1) / per_row;
    return rows < x->shape.d[0] ? rows : 0;
}

int64_t reduce_partial_bytes(const Node *n) { return align64((int64_t)node_bytes(n)); }

int64_t chunk_rows(const Plan *p, const Node *n, const Shape **rows_of) {
    if (p->slot[n->id].conv_weights) {   /* images enough for PAR_MIN_ELEMS of dY: some microseconds */
        *rows_of = &n->in[1]->in[0]->in[0]->shape;   /* the image of dY @ transpose(im2col(image)) */
        int64_t per_image = shape_numel(&n->in[0]->shape) / (*rows_of)->d[0];
        return (PAR_MIN_ELEMS + per_image - 1) / per_image;
    }
    *rows_of = &n->in[0]->shape;
    return reduce_chunk_rows(n);
}

/* A product's form is chosen here, once its operands' storage is known. */
static size_t scratch_bytes(Plan *p, const Node *n) {
    if (p->slot[n->id].conv_direct)
        return 0;
    if (p->slot[n->id].col_chunk)   /* its product's columns, then their packing */
        return (size_t)columns_chunk_bytes(p, n) + gemm_scratch(p->slot[n->in[0]->id].gemm);
    const Shape *rows_of;
    int64_t chunk = chunk_rows(p, n, &rows_of);
    if (chunk) {   /* a partial result per chunk */
        int64_t chunks = (rows_of->d[0] + chunk - 1) / chunk;
        return (size_t)(chunks * reduce_partial_bytes(n));
    }
    if (n->op == OP_MATMUL) {
        Slot *s = &p->slot[n->id];
        s->gemm = gemm_plan(n, memory_of(p, n->in[0]), memory_of(p, n->in[1]), &s->lay,
                            p->slot[n->in[1]->id].st == ST_WINDOWS);
        return gemm_scratch(s->gemm);
    }
    if ((n->op != OP_MAXMASK && n->op != OP_ARGMAX) || small_groups(&n->in[0]->shape, first_max_axes(n)))
        return 0;
    Shape r = n->in[0]->shape;
    unsigned axes = first_max_axes(n);
    for (int i = 0; i < r.rank; i++)
        if (axes & (1u << i))
            r.d[i] = 1;
    return (size_t)align64((int64_t)shape_numel(&r) * 8) * 2;
}

int reshape_groups(const Node *n, AxisGroup *g) {
    const Shape *is = &n->in[0]->shape, *os = &n->shape;
    int i = 0, j = 0, k = 0;
    while (i < is->rank || j < os->rank) {
        int64_t pi = 1, pj = 1;
        g[k] = (AxisGroup){i, i, j, j};
        do {
            if (j == os->rank || (i < is->rank && pi <= pj))
                pi *= is->d[i++];
            else
                pj *= os->d[j++];
        } while (pi != pj && (i < is->rank || j < os->rank));
        g[k].in1 = i;
        g[k++].out1 = j;
    }
    return k;
}

/* A reshape that no strides express (a broadcast's axes merged: max and
 * average pooling's gradient, [N, C, H/2, 2, W/2, 2] as [N, C, H, W]) is
 * computed inline by its readers, each element read from its operand at
 * the indices reshape_groups gives, instead of copied out, when every
 * reader reads it in a loop.  Not with a runtime axis inside a group: its
 * extent in use would change the indices. */
static bool reshape_by_index(const Node *n) {
    AxisGroup g[2 * MAX_RANK];
    int ng = reshape_groups(n, g);
    for (int k = 0; k < ng; k++) {
        for (int a = g[k].in0 + 1; a < g[k].in1; a++)
            if (n->in[0]->shape.dyn[a])
                return false;
        for (int a = g[k].out0 + 1; a < g[k].out1; a++)
            if (n->shape.dyn[a])
                return false;
    }
    return true;
}

/* Is x a reshape that its readers compute (reshape_by_index), each in its
 * loop?  Then its operand, if elementwise, can be computed there too. */
static bool reshape_inline(const Plan *p, const Node *x, const int *loop_reads) {
    return x->op == OP_RESHAPE && p->slot[x->id].uses == loop_reads[x->id] && reshape_by_index(x);
}

unsigned first_max_axes(const Node *n) { return n->op == OP_ARGMAX ? 1u << n->attr[0] : (unsigned)n->attr[0]; }

bool small_groups(const Shape *x, unsigned axes) {
    int64_t group = 1;
    for (int d = 0; d < x->rank; d++)
        if (axes >> d & 1) {
            if (x->dyn[d])
                return false;
            group *= x->d[d];
        }
    return group <= MAX_SMALL_GROUP;
}

static double node_flops(const Node *n) {
    switch (op_info[n->op].kind) {
    case K_EW:
        return (double)shape_numel(&n->shape);
    case K_REDUCE:
        return (double)shape_numel(&n->in[0]->shape);
    case K_KERNEL:
        if (n->op == OP_MATMUL)   /* a convolution's flops are those of its products */
            return 2.0 * (double)n->shape.d[0] * (double)n->shape.d[1] * (double)n->in[0]->shape.d[1];
        if (n->op == OP_IM2COL)   /* a copy */
            return 0;
        if (n->op == OP_COL2IM)   /* an addition per window element */
            return (double)shape_numel(&n->in[0]->shape);
        return (double)shape_numel(&n->shape);
    case K_LEAF: case K_CONST: case K_VIEW:
    default:
        return 0;
    }
}

/* ---- workspace allocation ----
 *
 * Every buffer is a block alive from the kernel that writes it to the last
 * one that reads it.  Blocks are placed offline, largest first, each at the
 * lowest offset that overlaps no placed block alive at the same time: the
 * big gradients take the bottom and small buffers fill the holes, which
 * packs far better than placing them in program order.  Sizes are
 * multiples of 64, so every offset is 64-byte aligned.
 */
typedef struct Block {
    int64_t off, size;
    int from, until;     /* alive over [from, until] */
} Block;

static int by_size_desc(const void *a, const void *b) {
    const Block *x = *(Block *const *)a, *y = *(Block *const *)b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->from - y->from;
}

/* Up to this many blocks are placed largest first; beyond, the search for
 * the lowest free offset among every block alive at the same time would
 * make the plan's time grow with the square of the graph (an unrolled loop
 * of 10,000 iterations has some 60,000 blocks), and they are placed in
 * program order instead (place_in_order). */
enum { PLACE_LARGEST_FIRST_MAX = 4096 };

/* A block ends its life: its bytes join the free gaps (sorted, merged). */
typedef struct Gaps {
    int64_t *off, *end;
    int n, cap;
} Gaps;

static void gap_free(Gaps *g, int64_t off, int64_t end) {
    int i = 0;
    while (i < g->n && g->off[i] < off)
        i++;
    bool left = i > 0 && g->end[i - 1] == off, right = i < g->n && g->off[i] == end;
    if (left && right) {
        g->end[i - 1] = g->end[i];
        memmove(g->off + i, g->off + i + 1, sizeof(int64_t) * (size_t)(g->n - i - 1));
        memmove(g->end + i, g->end + i + 1, sizeof(int64_t) * (size_t)(g->n - i - 1));
        g->n--;
    } else if (left) {
        g->end[i - 1] = end;
    } else if (right) {
        g->off[i] = off;
    } else {
        if (g->n == g->cap) {
            g->cap = g->cap ? 2 * g->cap : 64;
            int64_t *o = NEWA(int64_t, g->cap), *e = NEWA(int64_t, g->cap);
            if (g->n) {
                memcpy(o, g->off, sizeof(int64_t) * (size_t)g->n);
                memcpy(e, g->end, sizeof(int64_t) * (size_t)g->n);
            }
            g->off = o;
            g->end = e;
        }
        memmove(g->off + i + 1, g->off + i, sizeof(int64_t) * (size_t)(g->n - i));
        memmove(g->end + i + 1, g->end + i, sizeof(int64_t) * (size_t)(g->n - i));
        g->off[i] = off;
        g->end[i] = end;
        g->n++;
    }
}

static int by_start(const void *a, const void *b) {
    const Block *x = *(Block *const *)a, *y = *(Block *const *)b;
    if (x->from != y->from)
        return x->from < y->from ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Program order: each block at the lowest free offset when it is written
 * (first fit), its bytes freed once its last reader has run.  A min-heap by
 * the end of life holds the blocks alive. */
static int64_t place_in_order(Block *blocks, int n) {
    Block **order = NEWA(Block *, n + 1), **heap = NEWA(Block *, n + 1);
    for (int i = 0; i < n; i++)
        order[i] = &blocks[i];
    qsort(order, (size_t)n, sizeof *order, by_start);
    Gaps gaps = {0};
    int64_t top = 0, peak = 0;
    int nheap = 0;
    for (int i = 0; i < n; i++) {
        Block *b = order[i];
        while (nheap && heap[0]->until < b->from) {
            Block *done = heap[0];
            heap[0] = heap[--nheap];
            for (int k = 0;;) {   /* sift down */
                int c = 2 * k + 1;
                if (c >= nheap)
                    break;
                if (c + 1 < nheap && heap[c + 1]->until < heap[c]->until)
                    c++;
                if (heap[k]->until <= heap[c]->until)
                    break;
                Block *t = heap[k];
                heap[k] = heap[c];
                heap[c] = t;
                k = c;
            }
            gap_free(&gaps, done->off, done->off + done->size);
        }
        int k = 0;
        while (k < gaps.n && gaps.end[k] - gaps.off[k] < b->size)
            k++;
        if (k < gaps.n) {
            b->off = gaps.off[k];
            gaps.off[k] += b->size;
        } else if (gaps.n && gaps.end[gaps.n - 1] == top) {   /* the last gap, grown */
            b->off = gaps.off[--gaps.n];
            top = b->off + b->size;
        } else {
            b->off = top;
            top += b->size;
        }
        if (k < gaps.n && gaps.off[k] == gaps.end[k]) {
            memmove(gaps.off + k, gaps.off + k + 1, sizeof(int64_t) * (size_t)(gaps.n - k - 1));
            memmove(gaps.end + k, gaps.end + k + 1, sizeof(int64_t) * (size_t)(gaps.n - k - 1));
            gaps.n--;
        }
        if (b->off + b->size > peak)
            peak = b->off + b->size;
        int c = nheap++;   /* sift up */
        heap[c] = b;
        while (c > 0 && heap[(c - 1) / 2]->until > heap[c]->until) {
            Block *t = heap[c];
            heap[c] = heap[(c - 1) / 2];
            heap[(c - 1) / 2] = t;
            c = (c - 1) / 2;
        }
    }
    return peak;
}

/* Place every block; returns the peak. */
static int64_t place_blocks(Block *blocks, int n) {
    if (n > PLACE_LARGEST_FIRST_MAX)
        return place_in_order(blocks, n);
    Block **order = NEWA(Block *, n + 1);
    for (int i = 0; i < n; i++)
        order[i] = &blocks[i];
    qsort(order, (size_t)n, sizeof *order, by_size_desc);
    int64_t peak = 0;
    for (int i = 0; i < n; i++) {
        Block *b = order[i];
        int64_t off = 0;
        for (bool moved = true; moved;) {
            moved = false;
            for (int k = 0; k < i; k++) {
                const Block *o = order[k];
                if (o->from <= b->until && b->from <= o->until &&
                    off < o->off + o->size && o->off < off + b->size) {
                    off = align64(o->off + o->size);
                    moved = true;
                }
            }
        }
        b->off = off;
        if (off + b->size > peak)
            peak = off + b->size;
    }
    return peak;
}

/* ---- the plan ---- */

/* A param the objective does not depend on has a zero gradient and is left
 * untouched by an optimizer step, buffers included (contract, 5.8), as
 * PyTorch leaves a param whose .grad is None. */
bool param_updated(const Tensor *t) {
    return t->role == NNRT_PARAM && !ir_is_const(t->grad, 0);
}

static void add_root(Plan *p, Node *n, Base base, int64_t off, int *cap) {
    if (p->nroots == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        Root *r = NEWA(Root, *cap);
        if (p->nroots)
            memcpy(r, p->roots, sizeof(Root) * (size_t)p->nroots);
        p->roots = r;
    }
    p->roots[p->nroots++] = (Root){.node = n, .dest = layout_of(base, off, &n->shape)};
}

/* Can the update of param p read gradient gy in place, while params are
 * being overwritten?  Only if gy reads no param or state except p itself,
 * elementwise at the same index. */
static bool safe_in_place(const Plan *pl, const Node *gy, const Node *p) {
    const Slot *s = &pl->slot[gy->id];
    if (s->st == ST_CONST || s->st == ST_BUFFER)
        return true;
    if (s->st == ST_LEAF)
        return gy->op != OP_PARAM || gy == p;
    if (s->st == ST_VIEW) {
        while (op_info[gy->op].kind == K_VIEW && pl->slot[gy->id].st == ST_VIEW)
            gy = gy->in[0];
        return pl->slot[gy->id].st == ST_BUFFER || gy->op != OP_PARAM;
    }
    if (!shape_eq(&gy->shape, &p->shape))
        return false;
    for (int k = 0; k < op_info[gy->op].arity; k++)
        if (!safe_in_place(pl, gy->in[k], p))
            return false;
    return true;
}

/* A buffer that the inline expression rooted at x reads, at the same index
 * as x, used nowhere else: it can live in x's destination.  Only one of
 * root's dtype: an f64 root over an f32 buffer would need twice its bytes. */
static Node *buffer_in_place(const Plan *pl, Node *x, const Node *root) {
    for (int k = 0; k < op_info[x->op].arity; k++) {
        Node *o = x->in[k];
        const Slot *s = &pl->slot[o->id];
        if (!shape_eq(&o->shape, &root->shape) || o->dt != root->dt)
            continue;
        if (s->st == ST_BUFFER && s->uses == 1 && !s->direct && layout_contiguous(&s->lay, &o->shape))
            return o;
        if (s->st == ST_INLINE && s->uses == 1 && op_info[o->op].kind == K_EW) {   /* read once, at x's index */
            Node *b = buffer_in_place(pl, o, root);
            if (b)
                return b;
        }
    }
    return NULL;
}

/* The node whose value a view (of a view ...) of x reads. */
static const Node *viewed(const Plan *pl, const Node *x) {
    while (pl->slot[x->id].st == ST_VIEW)
        x = x->in[0];
    return x;
}

/* Can every value the inline expression rooted at x reads, other than the
 * product mm, be read when mm's kernel runs?  Leaves and constants can,
 * buffers only if computed before it. */
static bool ready_before(const Plan *pl, const Node *x, const Node *mm) {
    for (int k = 0; k < op_info[x->op].arity; k++) {
        const Node *o = viewed(pl, x->in[k]);
        const Slot *s = &pl->slot[o->id];
        if (o == mm)
            continue;
        if (s->st == ST_BUFFER && o->id > mm->id)
            return false;
        if (s->st == ST_INLINE && !ready_before(pl, o, mm))
            return false;
    }
    return true;
}

/* Can elementwise node e (a buffer, or a root computed inline), computed
 * in the place of buffer mm, be mm's epilogue?  If mm is a matmul and
 * everything else e reads is ready before mm is. */
static bool fuses_as_epilogue(const Plan *pl, const Node *e, const Node *mm) {
    return mm->op == OP_MATMUL && !pl->slot[mm->id].epilogue && !pl->slot[mm->id].conv_direct &&
           ready_before(pl, e, mm);
}

/* Does consumer c read operand x once per element of x, in a loop that
 * could compute x in place: an elementwise node of x's size, or a
 * reduction? */
static bool reads_in_loop(const Node *c, const Node *x) {
    return op_info[c->op].kind == K_REDUCE ||
           (op_info[c->op].kind == K_EW && shape_numel(&c->shape) == shape_numel(&x->shape));
}

/* An elementwise node read by several such loops is computed again in each
 * of them, not written out, when that is a few arithmetic ops on one value
 * in memory of its size (and small broadcast ones): each loop then reads
 * that value where it would have read x, so the bytes moved fall by x's
 * store and nothing is added.  Batch norm's centered and normalized values
 * and its affine output, read again by the backward pass, become loops
 * over the convolution's output. */
enum { MAX_RECOMPUTED_OPS = 4 };

/* Counts the ops of the inline expression rooted at x into *ops and its
 * reads of values in memory as wide as `wide` into *wides (the last one
 * in *wide_read); false if an op is not plain arithmetic. */
static bool arithmetic_reads(const Plan *pl, const Node *x, const Node *wide, int *ops, int *wides,
                             const Node **wide_read) {
    static const bool arithmetic[OP_COUNT] = {
        [OP_NEG] = 1, [OP_ABS] = 1, [OP_RELU] = 1, [OP_SQUARE] = 1, [OP_SIGN] = 1, [OP_STEP] = 1, [OP_ADD] = 1,
        [OP_SUB] = 1, [OP_MUL] = 1, [OP_DIV] = 1, [OP_MAXIMUM] = 1, [OP_MINIMUM] = 1, [OP_EQ] = 1, [OP_NE] = 1,
        [OP_GT] = 1, [OP_GE] = 1, [OP_WHERE] = 1};
    if (!arithmetic[x->op])
        return false;
    ++*ops;
    for (int k = 0; k < op_info[x->op].arity; k++) {
        const Node *o = x->in[k];
        Storage st = pl->slot[o->id].st;
        if (st == ST_INLINE) {
            if (!arithmetic_reads(pl, o, wide, ops, wides, wide_read))
                return false;
        } else if (st != ST_CONST && shape_numel(&o->shape) == shape_numel(&wide->shape) && o != *wide_read) {
            if (dtype_size(o->dt) > dtype_size(wide->dt))
                return false;
            ++*wides;
            *wide_read = o;
        }
    }
    return true;
}

static bool cheap_to_recompute(const Plan *pl, const Node *x) {
    int ops = 0, wides = 0;
    const Node *wide_read = NULL;
    /* x read from a product read by x alone is better its epilogue,
     * computed in the product's place at no cost (x @ W.T + b) */
    return arithmetic_reads(pl, x, x, &ops, &wides, &wide_read) && ops <= MAX_RECOMPUTED_OPS && wides <= 1 &&
           !(wide_read && wide_read->op == OP_MATMUL && pl->slot[wide_read->id].uses == 1);
}

/* A reshape r of a transpose of an elementwise kernel's result x that
 * would need a copy (a convolution's output gradient, [N, C, H, W], read
 * as [C, N*H*W] by its weight's product): x is stored in the transpose's
 * order instead, so that both are views.  Only when no other view reads x:
 * those decided before would not hold with x's new layout. */
static bool store_transposed(Plan *p, const Node *r, const int *view_uses) {
    const Node *t = r->in[0], *x = t->in[0];
    Slot *ts = &p->slot[t->id], *xs = &p->slot[x->id];
    if (r->op != OP_RESHAPE || t->op != OP_TRANSPOSE || ts->st != ST_VIEW || ts->uses != 1 ||
        op_info[x->op].kind != K_EW || xs->st != ST_BUFFER || view_uses[x->id] != 1)
        return false;
    Layout ordered = layout_of(xs->lay.base, xs->lay.byte_off, &t->shape);
    for (int i = 0; i < t->shape.rank; i++)
        xs->lay.stride[t->attr[i]] = ordered.stride[i];
    view_layout(t, &xs->lay, &ts->lay);
    return view_layout(r, &ts->lay, &p->slot[r->id].lay);
}

/* A sum of products, as the gradient of a weight shared by the steps of a
 * loop is (h0.T @ g1 + h1.T @ g2 + ...): each addition gets a buffer of its
 * own, so that it runs as the epilogue of its product, in the product's
 * place, and the sum so far is the only one alive.  Fused into one loop,
 * the additions would keep every product alive until it ran: a workspace
 * growing with the steps. */
static bool accumulates_products(const Plan *p, const Node *x) {
    if (x->op != OP_ADD)
        return false;
    for (int k = 0; k < 2; k++) {
        const Node *mm = x->in[k], *other = x->in[1 - k];
        if (mm->op == OP_MATMUL && p->slot[mm->id].uses == 1 && shape_eq(&mm->shape, &x->shape) &&
            (other->op == OP_MATMUL || other->op == OP_ADD))
            return true;
    }
    return false;
}

/* The bytes of the values in memory that computing x reads: through inline
 * nodes and views to leaves and buffers, each counted once a kernel
 * (seen[id] == stamp). */
static double bytes_read(const Plan *p, const Node *x, int *seen, int stamp) {
    double sum = 0;
    for (int k = 0; k < op_info[x->op].arity; k++) {
        const Node *o = x->in[k];
        Storage st = p->slot[o->id].st;
        if (seen[o->id] == stamp || st == ST_CONST || st == ST_DEAD)
            continue;
        seen[o->id] = stamp;
        sum += st == ST_INLINE || st == ST_VIEW || st == ST_WINDOWS || st == ST_COLUMNS ? bytes_read(p, o, seen, stamp)
                                                                                        : (double)node_bytes(o);
    }
    return sum;
}

static double bytes_moved(const Model *m, const Plan *p) {
    Graph *g = m->g;
    int *seen = NEWA(int, g->n);
    int stamp = 0;
    double sum = 0;
    for (int i = 0; i < g->n; i++) {
        const Slot *s = &p->slot[i];
        if (s->st != ST_BUFFER || s->by_epilogue)
            continue;
        stamp++;
        seen[i] = stamp;    /* an epilogue reads its product where it is */
        sum += (double)node_bytes(g->nodes[i]) + bytes_read(p, g->nodes[i], seen, stamp);
        if (s->epilogue)
            sum += bytes_read(p, s->epilogue, seen, stamp);
    }
    for (int r = 0; r < p->nroots; r++)
        if (!p->roots[r].direct && !p->roots[r].by_epilogue)
            sum += 2.0 * (double)node_bytes(p->roots[r].node);
    if (p->kind == ENTRY_TRAIN)
        for (int i = 0; i < m->ntensors; i++) {
            const Tensor *t = &m->tensors[i];
            if (!param_updated(t))
                continue;
            stamp++;
            /* the param and its buffers read and written, its gradient read */
            sum += 2.0 * (1 + m->nbuffers) * (double)node_bytes(t->node);
            const Slot *gs = &p->slot[t->grad->id];
            sum += gs->st == ST_INLINE ? bytes_read(p, t->grad, seen, stamp) : (double)node_bytes(t->grad);
        }
    return sum;
}

/* ---- windows never written out ----
 *
 * conv2d's im2col is kh*kw times the image: LeNet's first at batch 256 is
 * 20 MB, written once and read by the forward product and again by the
 * weight gradient's, from memory each time.  When only products read it,
 * as their B (W @ cols, and dY @ cols.T through a transpose), it gets no
 * buffer (ST_WINDOWS): each product fills the blocks of B it packs, a few
 * KB at a time, from the image, which stays alive instead. */

/* The im2col that x is, or is a transpose of, while it has a buffer. */
static const Node *windows_read(const Plan *p, const Node *x) {
    if (x->op == OP_TRANSPOSE && p->slot[x->id].st == ST_VIEW)
        x = x->in[0];
    return x->op == OP_IM2COL && p->slot[x->id].st == ST_BUFFER ? x : NULL;
}

/* W @ windows computed by a direct convolution (Slot.conv_direct): the
 * windows are not written out, the image's rows are contiguous with a
 * stride of 1 along them, and each row of output pixels of all of W's rows
 * fits in 16 vector registers (M * ceil(OW / lanes) <= 16, OW at most two
 * vectors) with K = C*kh*kw at most CONV_DIRECT_K, or CONV_DIRECT_K_WIDE
 * when p->wide, unrolled.  More rows or a longer K are the gemm's: it reuses what it loads from B across M, where
 * this reloads the image per window element.  The bounds on K are
 * measured (make conv-pair and whole steps, one thread, against the gemm's
 * way).  With AVX-512 everywhere (--cpu=native on such a CPU), 160: K =
 * 144 and 150 (16 channels 3x3 at 14x14, LeNet's second) took 0.86 to 0.94
 * of the time, 8 rows of 28 pixels over K = 144 0.77; K = 288 and 400 the
 * same time (0.99 to 1.00), 576 1.13.  Otherwise 32: with 16 registers
 * (x86-64-v3, and the lower copies of a build for any x86-64) K = 150 and
 * 144 made LeNet's and ResNet's steps take 1.02 to 1.28 times as long at
 * x86-64-v3 and up to 1.74 times at the baseline. */
static bool conv_direct(const Plan *p, const Node *n) {
    const Node *w = n->in[1];
    if (n->op != OP_MATMUL || w->op != OP_IM2COL || p->slot[w->id].st != ST_WINDOWS || w->value != 0 ||
        n->shape.dyn[0] || !memory_of(p, n->in[0]))
        return false;
    const Node *x = w->in[0];
    const Layout *image = memory_of(p, x);
    Window win = ir_window(w);
    int64_t lanes = WIDE_VECTOR_BYTES / (int64_t)dtype_size(n->dt);
    int64_t vectors = (window_out(x->shape.d[3], win.kw, win.sw, win.pw, win.dw) + lanes - 1) / lanes;
    return image && image->stride[3] == 1 && win.sw == 1 && vectors <= 2 && n->shape.d[0] * vectors <= CONV_DIRECT_ACC &&
           n->in[0]->shape.d[1] <= (p->wide ? CONV_DIRECT_K_WIDE : CONV_DIRECT_K);
}

/* dY @ windows.T, a convolution's weight gradient [O, C*kh*kw], computed
 * the direct convolution's way (Slot.conv_weights): for each window row
 * (c, i) and each group of output channels o, the sums over the batch of
 * dY's row of pixels of o times the image's row shifted by j, for every j
 * at once, in vector registers (codegen.c, cg_conv_weights), with no
 * windows filled; in chunks of images fixed by the shapes, across threads,
 * the partial sums added in chunk order, as a reduction's are.  Taken
 * where it was measured to win: with AVX-512 everywhere (a group's
 * CONV_DIRECT_ACC sums need its 32 registers), output rows of two vectors
 * and the channels in at most two groups, since each group loads the
 * image's rows again and each window row dY's.  LeNet's first (6 channels
 * in 2 groups, 5x5, rows of 28 pixels) then took about 0.4 of the time of
 * dot products over filled windows; with rows of one vector (LeNet's
 * second, 10 of 16 lanes) it took 1.35 times as long, and with 32
 * channels (7 groups) of 3x3 1.34 times (bench/README.md). */
static bool conv_weights(const Plan *p, const Node *n) {
    if (n->op != OP_MATMUL || n->in[1]->op != OP_TRANSPOSE || !p->wide ||
        shape_is_dynamic(&n->shape))
        return false;
    const Node *w = n->in[1]->in[0];
    if (w->op != OP_IM2COL || p->slot[w->id].st != ST_WINDOWS || w->value != 0)
        return false;
    const Layout *dy = memory_of(p, n->in[0]), *image = memory_of(p, w->in[0]);
    Window win = ir_window(w);
    int64_t lanes = WIDE_VECTOR_BYTES / (int64_t)dtype_size(n->dt);
    int64_t ow = window_out(w->in[0]->shape.d[3], win.kw, win.sw, win.pw, win.dw);
    int64_t group = win.kw <= CONV_DIRECT_ACC ? CONV_DIRECT_ACC / win.kw : 0;
    return dy && image && dy->stride[1] == 1 && image->stride[3] == 1 && win.sw == 1 && ow > lanes &&
           ow <= 2 * lanes && group && n->shape.d[0] <= 2 * group;
}

/* ---- a convolution's input gradient, a chunk of images at a time ----
 *
 * col2im(W.T @ dY) has C*kh*kw rows of the product for each output pixel
 * (LeNet's second convolution at batch 256: [150, 25600], 15 MB), which
 * col2im sums back into the image.  Written out whole, the product goes
 * to memory and comes back.  Instead (ST_COLUMNS) the col2im's kernel
 * computes the product's columns of a chunk of images into its scratch,
 * at most COLUMNS_CHUNK_BYTES, and sums them into those images while they
 * are in the cache; the chunks run across threads.  The sums are the same
 * bits: each column of the product is computed as before, and col2im sums
 * each image from its own columns. */
enum { COLUMNS_CHUNK_BYTES = 512 << 10 };

static int64_t columns_per_image(const Node *n) { return (int64_t)node_bytes(n->in[0]) / n->shape.d[0]; }

int64_t columns_chunk_bytes(const Plan *p, const Node *n) {
    return align64(p->slot[n->id].col_chunk * columns_per_image(n));
}

/* The images in a chunk of col2im n, its product made ST_COLUMNS; 0 where
 * it stays a buffer: a product not by outer products over B in memory
 * (gemm_by_columns), or one chunk's worth at most. */
static int64_t columns_chunk(Plan *p, const Node *n) {
    const Node *m = n->in[0];
    if (n->op != OP_COL2IM || m->op != OP_MATMUL || p->slot[m->id].st != ST_BUFFER || p->slot[m->id].uses != 1)
        return 0;
    const Layout *a = memory_of(p, m->in[0]), *b = memory_of(p, m->in[1]);
    int64_t images = COLUMNS_CHUNK_BYTES / columns_per_image(n);
    if (!a || !b || p->slot[m->in[1]->id].st == ST_WINDOWS || images < 1 || images >= n->shape.d[0])
        return 0;
    Layout whole = layout_of(BASE_WS, 0, &m->shape);
    const GemmPlan *gp = gemm_by_columns(gemm_plan(m, a, b, &whole, false));
    if (!gp)
        return 0;
    p->slot[m->id].st = ST_COLUMNS;
    p->slot[m->id].gemm = gp;
    return images;
}

/* A reduction that keeps axis 0 (a pooling window's sum or max, a row's
 * sum), or the mask of a max over small groups that keeps it (max
 * pooling's gradient): each row of the result is folded from its own row
 * of x alone, in the same order whichever thread runs it.  Serial, the
 * two average poolings of LeNet-5's forward were 11% of its step on two
 * threads, the other thread waiting (perf). */
static bool keeps_rows(const Node *n) {
    if (op_info[n->op].kind == K_REDUCE)
        return !(n->attr[0] & 1);
    return n->op == OP_MAXMASK && !(first_max_axes(n) & 1) && small_groups(&n->in[0]->shape, first_max_axes(n));
}

/* A direct convolution's output element is K multiply-adds (LeNet-5's
 * second: 150), not one operation: counted as one, its 16 x 3200 outputs
 * at batch 32 stayed on one thread, 11% of the step on two (perf). */
double split_work(const Plan *p, const Node *n) {
    if (op_info[n->op].kind == K_REDUCE)
        return (double)shape_numel(&n->in[0]->shape);
    double k = p->slot[n->id].conv_direct ? (double)n->in[0]->shape.d[1] : 1;
    return (double)shape_numel(&n->shape) * k;
}

const Shape *split_shape(const Plan *p, const Node *n) {
    OpKind k = op_info[n->op].kind;
    const Shape *s = k == K_EW || keeps_rows(n) || (n->op == OP_COL2IM && !p->slot[n->id].col_chunk) ? &n->shape
                     : n->op == OP_IM2COL || k == K_VIEW                 ? &n->in[0]->shape
                     : p->slot[n->id].conv_direct                        ? &n->in[1]->in[0]->shape
                                                                         : NULL;
    if (!s || s->rank < 1 || s->d[0] < 2)
        return NULL;
    return split_work(p, n) >= 2 * PAR_MIN_ELEMS ? s : NULL;
}

/* Every im2col whose readers, and its transposes' readers, all take it as
 * a product's B in a form that can fill B's blocks becomes ST_WINDOWS,
 * with those transposes: one pass over the graph's edges. */
static void fill_windows(Plan *p, const Graph *g) {
    int *readers = NEWA(int, g->n);
    bool *other = NEWA(bool, g->n);   /* read otherwise, by the im2col's id */
    for (int j = 0; j < g->n; j++) {
        Node *y = g->nodes[j];
        for (int k = 0; k < op_info[y->op].arity && p->slot[j].st != ST_DEAD; k++) {
            const Node *x = y->in[k], *w = windows_read(p, x);
            if (!w)
                continue;
            readers[x->id]++;
            if (y->op == OP_MATMUL && k == 1 && y->in[0] != x) {
                const Layout *a = memory_of(p, y->in[0]);
                other[w->id] |= !a || !gemm_fills_b(gemm_plan(y, a, &p->slot[x->id].lay, &p->slot[j].lay, true));
            } else if (x != w || !windows_read(p, y)) {
                other[w->id] = true;
            }
        }
    }
    /* a root is read otherwise */
    for (int i = 0; i < g->n; i++) {
        const Node *w = windows_read(p, g->nodes[i]);
        if (w && readers[i] != p->slot[i].uses)
            other[w->id] = true;
    }
    for (int i = 0; i < g->n; i++) {
        const Node *w = windows_read(p, g->nodes[i]);
        if (w && !other[w->id] && w != g->nodes[i])
            p->slot[i].st = ST_WINDOWS;
    }
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i]->op == OP_IM2COL && p->slot[i].st == ST_BUFFER && !other[i])
            p->slot[i].st = ST_WINDOWS;
}

Plan *plan_entry(const Model *m, EntryKind kind, bool wide) {
    Graph *g = m->g;
    int n = g->n;
    Plan *p = NEW(Plan);
    p->kind = kind;
    p->wide = wide;
    p->slot = NEWA(Slot, n);
    int cap = 0;

    /* Roots: outputs always (forward's in evaluation mode); gradients for
     * backward; updates for train; the running statistics last in both
     * training entries.  Those are stored after every kernel has run, by
     * their store loops, so that every read of a state sees its value on
     * entry (contract, 5.8). */
    for (int i = 0; i < m->ntensors; i++) {
        const Tensor *t = &m->tensors[i];
        if (t->role == NNRT_OUTPUT)
            add_root(p, kind == ENTRY_FORWARD ? t->eval : t->node, BASE_OUTPUTS, (int64_t)t->offset, &cap);
        else if (t->role == NNRT_PARAM && kind == ENTRY_BACKWARD)
            add_root(p, t->grad, BASE_GRADS, (int64_t)t->offset, &cap);
    }
    for (int w = 0; w < m->nwrites && kind != ENTRY_FORWARD; w++) {
        add_root(p, m->writes[w].value, BASE_STATE, (int64_t)m->tensors[m->writes[w].tensor].offset, &cap);
        p->roots[p->nroots - 1].at_end = true;
    }
    Node **consumer = NEWA(Node *, n);
    int *loop_reads = NEWA(int, n);   /* uses by a consumer's loop (reads_in_loop) */
    int *view_uses = NEWA(int, n);
    bool *live = NEWA(bool, n);
    for (int i = 0; i < p->nroots; i++) {
        live[p->roots[i].node->id] = true;
        p->slot[p->roots[i].node->id].uses++;
    }
    if (kind == ENTRY_TRAIN) {
        p->snapshot = NEWA(int64_t, m->ntensors);
        for (int i = 0; i < m->ntensors; i++) {
            const Tensor *t = &m->tensors[i];
            p->snapshot[i] = -1;
            if (!param_updated(t))
                continue;
            live[t->grad->id] = live[t->node->id] = true;
            p->slot[t->grad->id].uses++;
        }
    }
    /* Kernels over a runtime axis read its dim (codegen.c). */
    for (int k = 0; k < m->ndims; k++)
        live[m->tensors[m->dims[k]].node->id] = true;
    for (int i = n - 1; i >= 0; i--) {
        if (!live[i])
            continue;
        Node *x = g->nodes[i];
        for (int k = 0; k < op_info[x->op].arity; k++) {
            live[x->in[k]->id] = true;
            p->slot[x->in[k]->id].uses++;
            consumer[x->in[k]->id] = x;
            loop_reads[x->in[k]->id] += reads_in_loop(x, x->in[k]);
            view_uses[x->in[k]->id] += op_info[x->op].kind == K_VIEW;
        }
    }

    /* Storage, in topological order. */
    int *depth = NEWA(int, n);    /* of the inline expression rooted at a node */
    for (int i = 0; i < n; i++) {
        Slot *s = &p->slot[i];
        Node *x = g->nodes[i];
        if (!live[i]) {
            s->st = ST_DEAD;
            continue;
        }
        switch (op_info[x->op].kind) {
        case K_LEAF: {
            s->st = ST_LEAF;
            if (x->op == OP_SEEDSTEP) {
                s->lay = layout_of(BASE_STATE, 0, &x->shape);
                break;
            }
            const Tensor *t = &m->tensors[x->tensor];
            static const Base base_of_role[] = {[NNRT_INPUT] = BASE_INPUTS, [NNRT_PARAM] = BASE_PARAMS,
                                                [NNRT_OUTPUT] = BASE_OUTPUTS, [NNRT_STATE] = BASE_STATE};
            s->lay = layout_of(base_of_role[role_struct(t->role)], (int64_t)t->offset, &x->shape);
            break;
        }
        case K_CONST:
            s->st = ST_CONST;
            s->cval = x->value;
            break;
        case K_VIEW: {
            Slot *in = &p->slot[x->in[0]->id];
            if (in->st == ST_CONST) {
                s->st = ST_CONST;
                s->cval = in->cval;
            } else if (in->st != ST_INLINE && (view_layout(x, &in->lay, &s->lay) || store_transposed(p, x, view_uses))) {
                s->st = ST_VIEW;
            } else if (reshape_inline(p, x, loop_reads) && in->st != ST_WINDOWS) {
                s->st = ST_INLINE;
                depth[i] = in->st == ST_INLINE ? depth[x->in[0]->id] + 1 : 0;
            } else {
                s->st = ST_BUFFER;   /* a reshape that needs a copy */
            }
            break;
        }
        case K_EW: {
            Node *c = consumer[i];
            bool fusable = s->uses == 1 && (!c || reads_in_loop(c, x) ||
                                            (reshape_inline(p, c, loop_reads) && p->slot[c->id].uses == 1));
            /* Bound the depth of a fused expression: codegen walks it
             * recursively, and a loop can build chains of any length. */
            for (int k = 0; k < op_info[x->op].arity; k++)
                if (p->slot[x->in[k]->id].st == ST_INLINE && depth[x->in[k]->id] + 1 > depth[i])
                    depth[i] = depth[x->in[k]->id] + 1;
            fusable |= s->uses > 1 && loop_reads[i] == s->uses && cheap_to_recompute(p, x);
            s->st = fusable && depth[i] < MAX_FUSED_DEPTH && !accumulates_products(p, x) ? ST_INLINE : ST_BUFFER;
            break;
        }
        case K_REDUCE: case K_KERNEL:
        default:
            s->st = ST_BUFFER;
        }
        /* Buffers are contiguous (store_transposed reorders some); their place
         * is decided below. */
        if (s->st == ST_BUFFER)
            s->lay = layout_of(BASE_WS, 0, &x->shape);
    }
    if (kind == ENTRY_TRAIN)
        for (int i = 0; i < m->ntensors; i++) {
            const Tensor *t = &m->tensors[i];
            if (!param_updated(t) || safe_in_place(p, t->grad, t->node))
                continue;
            if (p->slot[t->grad->id].st == ST_INLINE) {
                p->slot[t->grad->id].st = ST_BUFFER;
                p->slot[t->grad->id].lay = layout_of(BASE_WS, 0, &t->grad->shape);
            } else {
                p->snapshot[i] = 0;   /* given an offset below */
            }
        }

    fill_windows(p, g);
    for (int i = 0; i < n; i++) {
        p->slot[i].conv_direct = p->slot[i].st == ST_BUFFER && conv_direct(p, g->nodes[i]);
        p->slot[i].conv_weights = p->slot[i].st == ST_BUFFER && conv_weights(p, g->nodes[i]);
        p->slot[i].col_chunk = p->slot[i].st == ST_BUFFER ? columns_chunk(p, g->nodes[i]) : 0;
    }

    /* Read times: the kernel (or the end) at which each value is last read.
     * Inline nodes and views are read when their consumer runs. */
    for (int i = 0; i < n; i++)
        p->slot[i].read_time = -1;
    for (int r = 0; r < p->nroots; r++)
        p->slot[p->roots[r].node->id].read_time = END;
    if (kind == ENTRY_TRAIN)
        for (int i = 0; i < m->ntensors; i++)
            if (param_updated(&m->tensors[i]))
                p->slot[m->tensors[i].grad->id].read_time = END;
    for (int i = n - 1; i >= 0; i--) {
        Slot *s = &p->slot[i];
        if (s->st == ST_DEAD)
            continue;
        Node *x = g->nodes[i];
        int t = s->st == ST_BUFFER ? i : s->read_time;
        for (int k = 0; k < op_info[x->op].arity; k++) {
            Slot *in = &p->slot[x->in[k]->id];
            if (t > in->read_time)
                in->read_time = t;
        }
    }

    /* Direct results: a buffer whose one use is its root is computed there.
     * A root computed inline by its store loop (dW = mm + lambda*W) lets one
     * of its buffers of the same shape be computed in the destination: the
     * loop then reads and writes each element at the same index. */
    for (int r = 0; r < p->nroots; r++) {
        Root *rt = &p->roots[r];
        Slot *s = &p->slot[rt->node->id];
        if (rt->at_end)
            continue;
        if (s->st == ST_BUFFER && s->uses == 1) {
            s->lay = rt->dest;
            s->direct = true;
            rt->direct = true;
        } else if (s->st == ST_INLINE) {
            Node *b = buffer_in_place(p, rt->node, rt->node);
            if (b) {
                if (fuses_as_epilogue(p, rt->node, b)) {
                    p->slot[b->id].epilogue = rt->node;
                    rt->by_epilogue = true;
                }
                p->slot[b->id].lay = rt->dest;
                p->slot[b->id].direct = true;
            }
        }
    }

    /* Workspace blocks: one per buffer, except that an elementwise kernel
     * may overwrite the buffer it alone reads, element by element (relu(z)
     * in z's place), extending that buffer's block. */
    Block *blocks = NEWA(Block, 2 * n + m->ntensors + 1);
    int *block_of = NEWA(int, n), *scratch_block = NEWA(int, n);
    int nblocks = 0;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        Slot *s = &p->slot[i];
        Node *x = g->nodes[i];
        if (s->st == ST_DEAD)
            continue;
        p->flops += s->st == ST_INLINE || s->st == ST_BUFFER || s->st == ST_COLUMNS ? node_flops(x) : 0;
        if (s->st != ST_BUFFER)
            continue;
        /* A kernel's scratch is a block of its own, alive while it runs. */
        s->scratch = scratch_bytes(p, x);
        if (s->scratch) {
            scratch_block[i] = nblocks;
            blocks[nblocks++] = (Block){0, align64((int64_t)s->scratch), i, i};
            total += align64((int64_t)s->scratch);
        }
        if (s->direct)
            continue;
        int64_t size = align64((int64_t)node_bytes(x));
        total += size;
        Node *o = op_info[x->op].kind == K_EW && layout_contiguous(&s->lay, &x->shape) ? buffer_in_place(p, x, x) : NULL;
        if (o && !p->slot[o->id].direct) {
            if (fuses_as_epilogue(p, x, o)) {
                p->slot[o->id].epilogue = x;
                s->by_epilogue = true;
            }
            Block *b = &blocks[block_of[o->id]];
            block_of[i] = block_of[o->id];
            if (s->read_time > b->until)
                b->until = s->read_time;
            continue;
        }
        block_of[i] = nblocks;
        blocks[nblocks++] = (Block){0, size, i, s->read_time};
    }
    int first_snapshot = nblocks;
    if (kind == ENTRY_TRAIN)
        for (int i = 0; i < m->ntensors; i++)
            if (p->snapshot[i] == 0) {
                int64_t size = align64((int64_t)node_bytes(m->tensors[i].grad));
                blocks[nblocks++] = (Block){0, size, END - 1, END};
                total += size;
            }
    int64_t peak = place_blocks(blocks, nblocks);
    for (int i = 0; i < n; i++) {
        Slot *s = &p->slot[i];
        if (s->st == ST_BUFFER && !s->direct) {   /* in the order chosen above */
            s->lay.base = BASE_WS;
            s->lay.byte_off = blocks[block_of[i]].off;
        }
        if (s->st == ST_BUFFER && s->scratch)
            s->scratch_lay = (Layout){.base = BASE_WS, .byte_off = blocks[scratch_block[i]].off};
    }
    if (kind == ENTRY_TRAIN)
        for (int i = 0, k = first_snapshot; i < m->ntensors; i++)
            if (p->snapshot[i] == 0)
                p->snapshot[i] = blocks[k++].off;
    /* Views now see where their operands were placed. */
    for (int i = 0; i < n; i++)
        if (p->slot[i].st == ST_VIEW)
            view_layout(g->nodes[i], &p->slot[g->nodes[i]->in[0]->id].lay, &p->slot[i].lay);
    p->workspace = (size_t)peak;
    p->workspace_noreuse = (size_t)total;
    p->bytes = bytes_moved(m, p);
    return p;
}

/* ---- --emit=plan ---- */

static const char *base_name(int base) {
    static const char *const names[NBASE] = {"params", "inputs", "outputs", "grads", "state", "ws"};
    return base >= 0 && base < NBASE ? names[base] : "?";
}

static void dump_plan(FILE *f, const Model *m, const Plan *p, const char *entry) {
    Graph *g = m->g;
    fprintf(f, "%s: workspace %zu bytes (%zu without reuse), %.0f flops and %.0f bytes moved at the max shape\n",
            entry, p->workspace, p->workspace_noreuse, p->flops, p->bytes);
    for (int i = 0; i < g->n; i++) {
        const Slot *s = &p->slot[i];
        const Node *x = g->nodes[i];
        if (s->st == ST_DEAD || s->st == ST_LEAF || s->st == ST_CONST)
            continue;
        fprintf(f, "  %%%d %s %s", i, op_info[x->op].name, shape_str(x->dt, &x->shape));
        switch (s->st) {
        case ST_INLINE:
            fprintf(f, ": inline\n");
            continue;
        case ST_VIEW:
            fprintf(f, ": view of %%%d\n", x->in[0]->id);
            continue;
        case ST_WINDOWS:
            fprintf(f, ": %s, filled block by block by the products that read it\n",
                    x->op == OP_IM2COL ? "not written out" : "a view of windows");
            continue;
        case ST_COLUMNS:
            fprintf(f, ": not written out, computed a chunk of images at a time by the col2im that reads it (%s)\n",
                    gemm_describe(s->gemm));
            continue;
        case ST_BUFFER:
            break;
        case ST_DEAD: case ST_LEAF: case ST_CONST:
            continue;
        }
        if (s->by_epilogue) {
            fprintf(f, ": epilogue of its product\n");
            continue;
        }
        fprintf(f, ": kernel into %s+%lld", base_name(s->lay.base), (long long)s->lay.byte_off);
        if (s->scratch)
            fprintf(f, ", scratch %zu bytes at ws+%lld", s->scratch, (long long)s->scratch_lay.byte_off);
        if (s->epilogue)
            fprintf(f, ", epilogue %%%d %s", s->epilogue->id, op_info[s->epilogue->op].name);
        if (s->gemm)
            fprintf(f, " (%s)", gemm_describe(s->gemm));
        if (s->conv_direct)
            fprintf(f, " (direct convolution from the image, a row of pixels at a time%s)",
                    split_shape(p, x) ? "; threads" : "");
        else if (split_shape(p, x))
            fprintf(f, " (rows across threads)");
        const Shape *rows_of;
        int64_t chunk = chunk_rows(p, x, &rows_of);
        if (s->conv_weights)
            fprintf(f, " (direct weight gradient from dY and the image, in chunks of %lld images; threads)",
                    (long long)chunk);
        else if (chunk)
            fprintf(f, " (in chunks of %lld rows; threads)", (long long)chunk);
        if (s->col_chunk)
            fprintf(f, " (its product's columns of %lld images at a time, summed back while in the cache; threads)",
                    (long long)s->col_chunk);
        fprintf(f, "\n");
    }
    for (int r = 0; r < p->nroots; r++) {
        const Root *rt = &p->roots[r];
        fprintf(f, "  root %%%d -> %s+%lld%s\n", rt->node->id, base_name(rt->dest.base), (long long)rt->dest.byte_off,
                rt->direct ? " (computed there)" : rt->by_epilogue ? " (by an epilogue)" : "");
    }
    if (p->snapshot)
        for (int i = 0; i < m->ntensors; i++)
            if (p->snapshot[i] >= 0)
                fprintf(f, "  gradient of %s copied to ws+%lld before the update\n", m->tensors[i].name,
                        (long long)p->snapshot[i]);
}

void plan_dump(FILE *f, const Model *m, Plan *const plans[3]) {
    static const char *const names[3] = {"forward", "backward", "train_step"};
    fprintf(f, "# %s: how each entry point computes its values (nnc --emit=plan)\n", m->name);
    for (int k = 0; k < 3; k++)
        if (plans[k]) {
            fprintf(f, "\n");
            dump_plan(f, m, plans[k], names[k]);
        }
}
