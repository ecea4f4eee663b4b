/*
 * optim.c: the table of optimizers (contract, sections 5.4 and 5.8).
 *
 * A row gives the optimizer's arguments with torch.optim's names and
 * defaults, and the buffers it keeps per param in the state struct, named
 * after torch.optim's state keys (the header's fields are P_<key>, a
 * checkpoint's P.<key>).  sema.c matches the `optimizer` statement against
 * the row; header.c lays out the buffers; codegen.c's update_rules[] holds
 * each row's update rule.  Adding an optimizer is a row here and its rule
 * there.
 */
#include "nnc.h"

#include <math.h>
#include <string.h>

/* Whether an argument is the constant v (a hyper is never constant). */
static bool arg_is(Node *const *args, int k, double v) { return args[k] && ir_is_const(args[k], v); }

/* sgd keeps a momentum buffer unless its momentum is the constant 0, as
 * PyTorch keeps none then. */
static int sgd_buffers(Node *const *args) { return arg_is(args, 1, 0) ? 0 : 1; }

/* adam keeps the first and second moments, and with amsgrad the running
 * maximum of the second. */
static int adam_buffers(Node *const *args) { return arg_is(args, 5, 1) ? 3 : 2; }
static int adamw_buffers(Node *const *args) { return 2; }

/* WARNING: codegen.c's rules name the arguments by position (enum ARGS in
 * each rule_*): keep these lists in step with them. */
static const Optimizer optimizers[] = {
    {OPT_SGD, "sgd",
     {{"lr", NAN, false}, {"momentum", 0, false}, {"dampening", 0, false},
      {"weight_decay", 0, false}, {"nesterov", 0, true}},
     5, {"momentum_buffer"}, sgd_buffers},
    {OPT_ADAM, "adam",
     {{"lr", 1e-3, false}, {"beta1", 0.9, false}, {"beta2", 0.999, false}, {"eps", 1e-8, false},
      {"weight_decay", 0, false}, {"amsgrad", 0, true}},
     6, {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}, adam_buffers},
    {OPT_ADAMW, "adamw",
     {{"lr", 1e-3, false}, {"beta1", 0.9, false}, {"beta2", 0.999, false}, {"eps", 1e-8, false},
      {"weight_decay", 0.01, false}},
     5, {"exp_avg", "exp_avg_sq"}, adamw_buffers},
};

const Optimizer *optim_find(const char *name) {
    for (size_t i = 0; i < sizeof optimizers / sizeof *optimizers; i++)
        if (strcmp(optimizers[i].name, name) == 0)
            return &optimizers[i];
    return NULL;
}

const char *optim_names(void) {
    const char *s = "";
    for (size_t i = 0; i < sizeof optimizers / sizeof *optimizers; i++)
        s = arena_printf("%s%s'%s'", s, i ? ", " : "", optimizers[i].name);
    return s;
}

int optim_arg(const Optimizer *o, const char *name) {
    for (int k = 0; k < o->nargs; k++)
        if (strcmp(o->args[k].name, name) == 0)
            return k;
    return -1;
}
