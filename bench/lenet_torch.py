#!/usr/bin/env python3
"""lenet_torch.py: one SGD step of bench/lenet.nn (the textbook's LeNet-5)
as nnc compiles it, against the same step in PyTorch, timed alternately in
one process (issue 16's benchmark).

    lenet_torch.py LIB [BATCH...]

LIB is the model compiled into a shared object linked with libnnrt; its
batch is a runtime dim, set to each BATCH (default 256 32 1).  Both sides
start from lenet_init's params and the same batch; the objectives of the
first step are compared, then each side runs rounds of about 30 ms of
steps, alternately, and the best time per step is printed with the ratio
nnc / PyTorch (below 1: nnc is faster).  Both run on one thread, then on
all the CPUs the process may use (nnrt_set_num_threads and
torch.set_num_threads; run it with OMP_WAIT_POLICY=PASSIVE, as bench/run.sh
does, or PyTorch's OpenMP threads spin on the cores nnc's turn needs).

Without torch it prints a note and exits 0.
"""
import os
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("LeNet vs PyTorch: skipped, torch is not installed for %s" % sys.executable)
    sys.exit(0)

from nnrt_ctypes import Compiled, best_times

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
PARAMS = ("C1", "c1", "C2", "c2", "W3", "b3", "W4", "b4", "W5", "b5")


def bench(c, batch, threads):
    c.view(c.inputs, "batch", torch.int64).fill_(batch)
    x, y = c.view(c.inputs, "x")[:batch], c.view(c.inputs, "y", torch.int32)[:batch]
    g = torch.Generator().manual_seed(batch)
    x.copy_(torch.rand(x.shape, generator=g))
    y.copy_(torch.randint(0, 10, y.shape, generator=g).int())
    lr = c.view(c.inputs, "lr").item()
    p = {n: c.view(c.params, n).clone().requires_grad_() for n in PARAMS}
    xt, yt = x.clone(), y.long()
    opt = torch.optim.SGD(list(p.values()), lr=lr)

    def torch_step():
        opt.zero_grad(set_to_none=True)
        h = F.avg_pool2d(torch.sigmoid(F.conv2d(xt, p["C1"], p["c1"], padding=2)), 2)
        h = F.avg_pool2d(torch.sigmoid(F.conv2d(h, p["C2"], p["c2"])), 2)
        h = torch.sigmoid(h.reshape(batch, 400) @ p["W3"].T + p["b3"])
        h = torch.sigmoid(h @ p["W4"].T + p["b4"])
        L = F.cross_entropy(h @ p["W5"].T + p["b5"], yt)
        L.backward()
        opt.step()
        return L

    # the same first step on both sides, from the same params
    saved = [c.view(c.params, n).clone() for n in PARAMS]
    Lt = torch_step().item()
    rc = c.train_step()
    Ln = c.view(c.outputs, "L").item()
    for n, v in zip(PARAMS, saved):
        c.view(c.params, n).copy_(v)
    if rc != 0 or abs(Ln - Lt) > 1e-4 * abs(Lt):
        print("lenet_torch: batch %d: nnc and PyTorch disagree: L %.7g vs %.7g (rc %d)" % (batch, Ln, Lt, rc))
        return False
    torch.set_num_threads(threads)
    c.lib.nnrt_set_num_threads(threads)
    best = best_times([c.train_step, torch_step], 0.03, ROUNDS)
    print("LeNet train step, batch %3d, %d thread%s   nnc %8.3f ms   PyTorch %s %8.3f ms   time nnc/PyTorch %.2f"
          % (batch, threads, "" if threads == 1 else "s", best[0] * 1e3, torch.__version__.split("+")[0],
             best[1] * 1e3, best[0] / best[1]))
    return True


def main():
    c = Compiled(sys.argv[1], "lenet")
    batches = [int(b) for b in sys.argv[2:]] or [256, 32, 1]
    ok = True
    for threads in sorted({1, len(os.sched_getaffinity(0))}):
        for b in batches:
            ok &= bench(c, b, threads)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
