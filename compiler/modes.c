/*
 * modes.c: training mode and evaluation mode (contract, 5.3 and 5.8).
 *
 * dropout and batch_norm mean one thing in forward and another in the
 * training entry points (backward, train_step).  Sema builds both values
 * and joins them with a MODE node; this pass, run before autodiff, resolves
 * every MODE twice: each output's node becomes its training value (what
 * backward differentiates and returns) and its eval the forward value.
 * Nodes that no MODE reaches are shared by both, so a model without
 * dropout and batch_norm keeps one graph.
 */
#include "nnc.h"

/* Node x with every MODE replaced by its operand `which` (0: training, 1:
 * evaluation), memoized by id in map[]; done counts the ids resolved so
 * far.  Nodes made here are never looked up: their operands are resolved. */
typedef struct Resolver {
    int which, done;
    Node **map;
} Resolver;

static Node *resolve(Graph *g, Resolver *r, Node *x) {
    for (; r->done <= x->id; r->done++) {
        Node *n = g->nodes[r->done];
        Node *in[3] = {NULL, NULL, NULL};
        bool changed = false;
        for (int k = 0; k < op_info[n->op].arity; k++) {
            in[k] = r->map[n->in[k]->id];
            changed |= in[k] != n->in[k];
        }
        if (n->op == OP_MODE)
            r->map[n->id] = in[r->which];
        else
            r->map[n->id] = changed ? ir_rebuild(g, n, in) : n;
    }
    return r->map[x->id];
}

void modes_split(Model *m) {
    Graph *g = m->g;
    int n = g->n;
    bool any = false;
    for (int i = 0; i < n && !any; i++)
        any = g->nodes[i]->op == OP_MODE;
    for (int t = 0; t < m->ntensors; t++)
        if (m->tensors[t].role == NNRT_OUTPUT)
            m->tensors[t].eval = m->tensors[t].node;
    if (!any)
        return;
    /* Every root is one of the first n nodes, so the maps need n entries. */
    Resolver train = {0, 0, NEWA(Node *, n)}, eval = {1, 0, NEWA(Node *, n)};
    for (int t = 0; t < m->ntensors; t++) {
        Tensor *x = &m->tensors[t];
        if (x->role != NNRT_OUTPUT)
            continue;
        x->eval = resolve(g, &eval, x->node);
        x->node = resolve(g, &train, x->node);
    }
    for (int w = 0; w < m->nwrites; w++)
        m->writes[w].value = resolve(g, &train, m->writes[w].value);
}
