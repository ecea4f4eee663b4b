#!/usr/bin/env python3
"""step_torch.py: one SGD step of samples/mlp.nn as nnc compiles it, against
the same step in PyTorch (eager, one thread), timed alternately in one
process.

    step_torch.py LIB [LIB...]

Each LIB is a shared object holding the model (nnc -D batch=B
samples/mlp.nn, linked with libnnrt); the batch is read from its
descriptor.  The nnc step is called through ctypes (about a microsecond a
call).  Both start from the params of mlp_init and the same batch; the
objectives of the first step are compared, then each side runs rounds of
about 30 ms of steps, alternately, and the best time per step of each is
printed with the ratio nnc / PyTorch (below 1: nnc is faster).

Without torch it prints a note and exits 0.
"""
import ctypes
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("train step vs PyTorch: skipped, torch is not installed for %s" % sys.executable)
    sys.exit(0)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))


class Tensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("role", ctypes.c_int), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int), ("dims", ctypes.POINTER(ctypes.c_int64)),
                ("offset", ctypes.c_size_t), ("size", ctypes.c_size_t), ("default_value", ctypes.c_double),
                ("dim_names", ctypes.c_void_p)]


STEP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                        ctypes.c_void_p)


class Model(ctypes.Structure):
    _fields_ = [("abi_version", ctypes.c_int), ("name", ctypes.c_char_p),
                ("params_size", ctypes.c_size_t), ("inputs_size", ctypes.c_size_t),
                ("outputs_size", ctypes.c_size_t), ("state_size", ctypes.c_size_t),
                ("workspace_size", ctypes.c_size_t), ("n_tensors", ctypes.c_int),
                ("tensors", ctypes.POINTER(Tensor)), ("objective", ctypes.c_char_p),
                ("init", ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64)),
                ("set_defaults", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
                ("forward", ctypes.c_void_p), ("backward", ctypes.c_void_p), ("train_step", STEP),
                ("update", ctypes.c_void_p)]


def bench(path):
    lib = ctypes.CDLL(os.path.abspath(path))
    lib.nnrt_alloc.restype = ctypes.c_void_p
    lib.nnrt_alloc.argtypes = [ctypes.c_size_t]
    m = Model.in_dll(lib, "mlp_model")
    tensors = {m.tensors[i].name.decode(): m.tensors[i] for i in range(m.n_tensors)}

    def alloc(n):
        return lib.nnrt_alloc(max(n, 1))

    params, state, inputs = alloc(m.params_size), alloc(m.state_size), alloc(m.inputs_size)
    outputs, ws = alloc(m.outputs_size), alloc(m.workspace_size)

    def view(base, name, dtype):
        t = tensors[name]
        shape = [t.dims[d] for d in range(t.rank)]
        n = 1
        for d in shape:
            n *= d
        ctype = ctypes.c_float if dtype == torch.float32 else ctypes.c_int32
        buf = (ctype * n).from_address(base + t.offset)
        return torch.frombuffer(buf, dtype=dtype).view(shape)

    m.init(params, state, 42)
    m.set_defaults(inputs)
    x, y = view(inputs, "x", torch.float32), view(inputs, "y", torch.int32)
    lam = view(inputs, "lambda", torch.float32).item()
    lr = view(inputs, "lr", torch.float32).item()
    batch, q = x.shape[0], tensors["W2"].dims[0]
    g = torch.Generator().manual_seed(7)
    x.copy_(torch.randint(0, 256, x.shape, generator=g).float() / 255)
    y.copy_(torch.randint(0, q, y.shape, generator=g).int())

    W1 = view(params, "W1", torch.float32).clone().requires_grad_()
    W2 = view(params, "W2", torch.float32).clone().requires_grad_()
    xt, yt = x.clone(), y.long()
    opt = torch.optim.SGD([W1, W2], lr=lr)

    def torch_step():
        opt.zero_grad(set_to_none=True)
        o = torch.relu(xt @ W1.T) @ W2.T
        J = F.cross_entropy(o, yt) + lam / 2 * ((W1 * W1).sum() + (W2 * W2).sum())
        J.backward()
        opt.step()
        return J

    def nnc_step():
        return m.train_step(params, state, inputs, outputs, ws)

    Jt = torch_step().item()
    rc = nnc_step()
    Jn = view(outputs, "J", torch.float32).item()
    if rc != 0 or abs(Jn - Jt) > 1e-5 * abs(Jt):
        print("step_torch: batch %d: nnc and PyTorch disagree: J %.9g vs %.9g (rc %d)" % (batch, Jn, Jt, rc))
        return False

    flop = 6.0 * batch * (x.shape[1] * W1.shape[0] + W1.shape[0] * q)
    steps = int(0.03 / (flop / 30e9 + 100e-6)) + 1
    best = [float("inf"), float("inf")]
    for _ in range(ROUNDS):
        for k, fn in enumerate((nnc_step, torch_step)):
            t = time.perf_counter()
            for _ in range(steps):
                fn()
            t = (time.perf_counter() - t) / steps
            best[k] = min(best[k], t)
    print("train step, batch %4d   nnc %8.3f ms   PyTorch %s %8.3f ms   time nnc/PyTorch %.2f   (J %.6f = %.6f)"
          % (batch, best[0] * 1e3, torch.__version__.split("+")[0], best[1] * 1e3, best[0] / best[1], Jn, Jt))
    return True


def main():
    torch.set_num_threads(1)
    ok = all([bench(p) for p in sys.argv[1:]])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
