"""nnrt_ctypes.py: a model compiled by nnc, called from Python through
ctypes, for the benchmarks that time it against PyTorch in one process
(step_torch.py, lenet_torch.py).  The structs are nnrt.h's, version 2.
"""
import ctypes
import os

import torch


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


class Compiled:
    """The model NAME_model in the shared object path (linked with
    libnnrt), its structs allocated, init(seed) and set_defaults done."""

    def __init__(self, path, name, seed=42):
        self.lib = ctypes.CDLL(os.path.abspath(path))
        self.lib.nnrt_alloc.restype = ctypes.c_void_p
        self.lib.nnrt_alloc.argtypes = [ctypes.c_size_t]
        self.m = Model.in_dll(self.lib, name + "_model")
        self.tensors = {self.m.tensors[i].name.decode(): self.m.tensors[i] for i in range(self.m.n_tensors)}
        m = self.m
        self.params, self.state, self.inputs = self.alloc(m.params_size), self.alloc(m.state_size), \
            self.alloc(m.inputs_size)
        self.outputs, self.ws = self.alloc(m.outputs_size), self.alloc(m.workspace_size)
        m.init(self.params, self.state, seed)
        m.set_defaults(self.inputs)

    def alloc(self, n):
        return self.lib.nnrt_alloc(max(n, 1))

    def view(self, base, name, dtype=torch.float32):
        """Tensor name of the struct at base, as a torch tensor sharing its memory."""
        t = self.tensors[name]
        shape = [t.dims[d] for d in range(t.rank)]
        n = 1
        for d in shape:
            n *= d
        ctype = {torch.float32: ctypes.c_float, torch.int32: ctypes.c_int32, torch.int64: ctypes.c_int64}[dtype]
        buf = (ctype * n).from_address(base + t.offset)
        return torch.frombuffer(buf, dtype=dtype).view(shape)

    def train_step(self):
        return self.m.train_step(self.params, self.state, self.inputs, self.outputs, self.ws)


def best_times(fns, seconds, rounds):
    """The best time per call of each function of fns, called alternately:
    rounds rounds of about `seconds` of calls each (the count is fixed from
    a first call of each), each round after one untimed call."""
    import time
    counts = []
    for fn in fns:
        t = time.perf_counter()
        fn()
        counts.append(max(1, int(seconds / max(time.perf_counter() - t, 1e-6))))
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            fn()    # untimed: the other side's turn let this one's threads fall asleep
            t = time.perf_counter()
            for _ in range(counts[k]):
                fn()
            best[k] = min(best[k], (time.perf_counter() - t) / counts[k])
    return best
