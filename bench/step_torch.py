#!/usr/bin/env python3
"""step_torch.py: one SGD step of samples/mlp.nn as nnc compiles it, against
the same step in PyTorch (eager, one thread), timed alternately in one
process.

    step_torch.py [--threads] LIB [LIB...]

With --threads both run on all the CPUs the process may use
(os.sched_getaffinity): nnc with its default threads, PyTorch with as many
(its own default can be fewer: one on these virtual machines).  Run it with
OMP_WAIT_POLICY=PASSIVE (bench/run.sh does): PyTorch's OpenMP threads
otherwise spin between its calls, on the cores nnc's turn needs.

Each LIB is a shared object holding the model (nnc -D batch=B
samples/mlp.nn, linked with libnnrt); the batch is read from its
descriptor.  The nnc step is called through ctypes (about a microsecond a
call).  Both start from the params of mlp_init and the same batch; the
objectives of the first step are compared, then each side runs rounds of
about 30 ms of steps, alternately, and the best time per step of each is
printed with the ratio nnc / PyTorch (below 1: nnc is faster).

Without torch it prints a note and exits 0.
"""
import os
import sys

THREADS = "--threads" in sys.argv[1:]
if not THREADS:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("train step vs PyTorch: skipped, torch is not installed for %s" % sys.executable)
    sys.exit(0)

from nnrt_ctypes import Compiled, best_times

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))


def bench(path):
    c = Compiled(path, "mlp")
    x, y = c.view(c.inputs, "x"), c.view(c.inputs, "y", torch.int32)
    lam = c.view(c.inputs, "lambda").item()
    lr = c.view(c.inputs, "lr").item()
    batch, q = x.shape[0], c.tensors["W2"].dims[0]
    g = torch.Generator().manual_seed(7)
    x.copy_(torch.randint(0, 256, x.shape, generator=g).float() / 255)
    y.copy_(torch.randint(0, q, y.shape, generator=g).int())

    W1 = c.view(c.params, "W1").clone().requires_grad_()
    W2 = c.view(c.params, "W2").clone().requires_grad_()
    xt, yt = x.clone(), y.long()
    opt = torch.optim.SGD([W1, W2], lr=lr)

    def torch_step():
        opt.zero_grad(set_to_none=True)
        o = torch.relu(xt @ W1.T) @ W2.T
        J = F.cross_entropy(o, yt) + lam / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
        J.backward()
        opt.step()
        return J

    Jt = torch_step().item()
    rc = c.train_step()
    Jn = c.view(c.outputs, "J").item()
    if rc != 0 or abs(Jn - Jt) > 1e-5 * abs(Jt):
        print("step_torch: batch %d: nnc and PyTorch disagree: J %.9g vs %.9g (rc %d)" % (batch, Jn, Jt, rc))
        return False

    if THREADS:
        c.lib.nnrt_set_num_threads(0)
    best = best_times([c.train_step, torch_step], 0.03, ROUNDS)
    threads = " (threads: nnc %d, PyTorch %d)" % (c.lib.nnrt_get_num_threads(), torch.get_num_threads()) \
        if THREADS else ""
    print("train step, batch %4d   nnc %8.3f ms   PyTorch %s %8.3f ms   time nnc/PyTorch %.2f   (J %.6f = %.6f)%s"
          % (batch, best[0] * 1e3, torch.__version__.split("+")[0], best[1] * 1e3, best[0] / best[1], Jn, Jt,
             threads))
    return True


def main():
    torch.set_num_threads(len(os.sched_getaffinity(0)) if THREADS else 1)
    ok = all([bench(p) for p in sys.argv[1:] if p != "--threads"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
