#!/usr/bin/env python3
"""torch_book.py: the book's samples of samples/book/ in PyTorch, each with
the recipe of its nnc driver, for docs/chapters.md's comparison.

    torch_book.py NAME --lib MODEL.so [--data DIR] [--seed N] [--epochs N] [--nnc-masks]

NAME is a sample (linreg, softmax, weight_decay, mlp, dropout, lenet,
lenet_bn, adam, resnet); MODEL.so its model as nnc compiled it, linked with libnnrt (make
chapters builds both).  From it the script takes what makes both sides
start alike: the initial params (the model's init at the seed), the data
(the synthetic sets drawn by nnrt_init_tensor from the same streams,
Fashion-MNIST's pixels divided by 255 as nnrt_dataset_load does) and the
order of each epoch (nnrt_shuffle(seed, epoch), batches cut as the driver
cuts them, the last one short).  The network, its loss, the optimizer and
the evaluation are PyTorch's own (torch.nn.functional, torch.optim), run on
as many threads as nnc's driver (libnnrt's count: the CPUs the process may
use, or NNRT_NUM_THREADS).  So are dropout's masks, drawn after
torch.manual_seed(seed): that sample agrees with nnc's in distribution, not
digit for digit.  With --nnc-masks it takes nnc's masks instead (the rule
of the contract's section 5.8, computed here in numpy), and its steps are
nnc's up to float rounding.  Prints the driver's lines: one per epoch, the
seconds of training per epoch, and `final test accuracy: X` (or `final
loss: X`).
"""
import argparse
import ctypes
import gzip
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from nnrt_ctypes import Compiled  # noqa: E402  (the model's structs as torch views)

NNRT_F32, NNRT_INIT_NORMAL = 1, 5


# ---- the networks: params by the names of the .nn files ----

def linear(p, x, train):
    return x @ p["w"] + p["b"]


def softmax(p, x, train):
    return x.reshape(len(x), -1) @ p["W"].T + p["b"]


def mlp(p, x, train):
    return F.relu(x.reshape(len(x), -1) @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"]


def dropout(p, x, train):
    """Dropout site k is drop(h, rate, k): PyTorch's F.dropout, or NncMasks."""
    h = drop(F.relu(x.reshape(len(x), -1) @ p["W1"].T + p["b1"]), 0.2, 0, train)
    h = drop(F.relu(h @ p["W2"].T + p["b2"]), 0.5, 1, train)
    if train and isinstance(drop, NncMasks):
        drop.step += 1
    return h @ p["W3"].T + p["b3"]


def torch_masks(h, rate, site, train):
    return F.dropout(h, rate, train)


class NncMasks:
    """nnc's dropout masks (contract, 5.8; nnrt_dropout_keeps): element i of
    site k, its row-major index in the max shape, is kept at a step when
    word 0 of Philox4x32-10 of the counter {i, k, step} under the key seed is
    at least rate * 2^32.  The step counts train_step's calls from 0."""
    M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85

    def __init__(self, seed, lib):
        """lib: libnnrt, whose nnrt_dropout_keeps the first masks must match."""
        self.seed, self.step = seed, 0
        keeps = lib.nnrt_dropout_keeps
        keeps.restype = ctypes.c_int
        keeps.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_double]
        for site, rate in ((0, 0.2), (1, 0.5)):
            mine = self.keeps(512, site, rate)
            theirs = [keeps(seed, 0, site, i, float(np.float32(rate))) != 0 for i in range(512)]
            if list(mine) != theirs:
                sys.exit("torch_book.py: --nnc-masks: the numpy rule disagrees with nnrt_dropout_keeps")

    def keeps(self, n, site, rate):
        u32 = np.uint64(0xFFFFFFFF)
        c0 = np.arange(n, dtype=np.uint64)
        c1, c2, c3 = (np.full(n, v, np.uint64) for v in (site, self.step & 0xFFFFFFFF, self.step >> 32))
        k0, k1 = self.seed & 0xFFFFFFFF, self.seed >> 32
        for r in range(10):
            if r:
                k0, k1 = (k0 + self.W0) & 0xFFFFFFFF, (k1 + self.W1) & 0xFFFFFFFF
            p0, p1 = np.uint64(self.M0) * c0, np.uint64(self.M1) * c2   # exact: both below 2^64
            c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0), p1 & u32,
                              (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1), p0 & u32)
        rate = float(np.float32(rate))      # the hyper as the f32 model holds it
        return c0 >= np.uint64(int(rate * 4294967296.0))

    def __call__(self, h, rate, site, train):
        if not train:
            return h
        keep = torch.from_numpy(self.keeps(h.numel(), site, rate).reshape(h.shape))
        return h * keep / np.float32(1 - np.float32(rate))


drop = torch_masks


def lenet(p, x, train):
    h = F.avg_pool2d(torch.sigmoid(F.conv2d(x, p["C1"], p["c1"], padding=2)), 2)
    h = F.avg_pool2d(torch.sigmoid(F.conv2d(h, p["C2"], p["c2"])), 2)
    h = torch.sigmoid(h.flatten(1) @ p["W3"].T + p["b3"])
    h = torch.sigmoid(h @ p["W4"].T + p["b4"])
    return h @ p["W5"].T + p["b5"]


def lenet_bn(p, x, train):
    def bn(z, k):
        return torch.sigmoid(F.batch_norm(z, p["mean%d" % k], p["var%d" % k], p["gamma%d" % k],
                                          p["beta%d" % k], training=train, momentum=0.1, eps=1e-5))
    h = F.avg_pool2d(bn(F.conv2d(x, p["C1"], p["c1"]), 1), 2)
    h = F.avg_pool2d(bn(F.conv2d(h, p["C2"], p["c2"]), 2), 2)
    h = bn(h.flatten(1) @ p["W3"].T + p["b3"], 3)
    h = bn(h @ p["W4"].T + p["b4"], 4)
    return h @ p["W5"].T + p["b5"]


def resnet(p, x, train):
    def bn(z, k):
        return F.batch_norm(z, p["m" + k], p["v" + k], p["g" + k], p["b" + k], training=train,
                            momentum=0.1, eps=1e-5)

    def residual(h, k1, k2, K1, K2, shortcut, stride):
        r = F.relu(bn(F.conv2d(h, p[K1], padding=1, stride=stride), k1))
        return F.relu(bn(F.conv2d(r, p[K2], padding=1), k2) + shortcut)
    h0 = F.max_pool2d(F.relu(bn(F.conv2d(x, p["S"], padding=1), "s")), 2)
    h1 = residual(h0, "a1", "a2", "A1", "A2", h0, 1)
    h2 = residual(h1, "b1", "b2", "B1", "B2", F.conv2d(h1, p["B3"], stride=2), 2)
    return F.avg_pool2d(h2, 7).flatten(1) @ p["W"].T + p["b"]


# sample: (model name, network, epochs, optimizer, schedule (warm-up epochs, peak) or None)
SAMPLES = {
    "linreg": ("linreg", linear, 3, "sgd", None),
    "weight_decay": ("weight_decay", linear, 100, "sgd", None),
    "softmax": ("softmax", softmax, 10, "sgd", None),
    "mlp": ("fashion_mnist", mlp, 10, "sgd", None),
    "dropout": ("dropout", dropout, 10, "sgd", None),
    "lenet": ("lenet", lenet, 10, "sgd", None),
    "lenet_bn": ("lenet_bn", lenet_bn, 10, "sgd", None),
    "adam": ("adam", mlp, 10, "adamw", (1, 0.001)),
    "resnet": ("resnet", resnet, 5, "sgd", None),
}


# ---- what libnnrt gives both sides ----

class Runtime:
    def __init__(self, lib_path, model, seed):
        self.c = Compiled(lib_path, model, seed)
        self.lib, self.seed = self.c.lib, seed
        self.lib.nnrt_stream_id.restype = ctypes.c_uint64
        self.lib.nnrt_stream_id.argtypes = [ctypes.c_char_p]
        self.lib.nnrt_init_tensor.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                              ctypes.POINTER(ctypes.c_int64), ctypes.c_int, ctypes.c_double,
                                              ctypes.c_double, ctypes.c_uint64, ctypes.c_uint64]
        self.lib.nnrt_shuffle.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint64, ctypes.c_uint64]

    def tensors(self, role):
        """The model's params (role 2) or states (6) after init, as leaf tensors."""
        base = self.c.params if role == 2 else self.c.state
        return {name: self.c.view(base, name).clone() for name, t in self.c.tensors.items() if t.role == role}

    def hyper(self, name):
        return self.c.view(self.c.inputs, name).item()

    def normal(self, n, std, stream):
        out = np.empty(n, np.float32)
        dims = (ctypes.c_int64 * 1)(n)
        rc = self.lib.nnrt_init_tensor(NNRT_F32, out.ctypes.data, 1, dims, NNRT_INIT_NORMAL, 0.0, std,
                                       self.seed, self.lib.nnrt_stream_id(stream.encode()))
        assert rc == 0
        return out

    def linear_data(self, n, d, w, b, noise, name):
        """bk_linear_data: the same draws, y summed in the same order in float32."""
        x = self.normal(n * d, 1.0, name + " x").reshape(n, d)
        y = self.normal(n, noise, name + " noise")
        dot = np.zeros(n, np.float32)
        for j in range(d):
            dot += x[:, j] * np.float32(w[j])
        y += dot + np.float32(b)
        return torch.from_numpy(x), torch.from_numpy(y).reshape(n, 1)

    def shuffle(self, n, epoch):
        perm = np.empty(n, np.uint32)
        assert self.lib.nnrt_shuffle(perm.ctypes.data, n, self.seed, epoch) == 0
        return torch.from_numpy(perm.astype(np.int64))


def fashion(data, name):
    with gzip.open(os.path.join(data, name + "-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)
    with gzip.open(os.path.join(data, name + "-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    x = torch.from_numpy(x.astype(np.float32)) / 255
    return x.reshape(-1, 1, 28, 28), torch.from_numpy(y.astype(np.int64))


# ---- training: bk_train's loop ----

def lr_at(sched, t, per_epoch, total):
    """bk_lr: a linear warm-up, then a cosine down to 0 at the last step."""
    warm, peak = sched[0] * per_epoch, sched[1]
    if t < warm:
        return peak * (t + 1) / warm
    return peak * 0.5 * (1 + math.cos(math.pi * (t - warm) / max(total - warm - 1, 1)))


def train(rt, net, params, states, opt, objective, train_set, epochs, batch, evals, sched=None, every=1,
          label=""):
    """Epochs of minibatch steps in nnrt_shuffle's order; after each, the means
    that evals(p) returns.  Returns a dict per epoch: loss, acc, secs, eval_secs
    and the entries of evals."""
    x, y = train_set
    n, hist = len(x), []
    per_epoch = (n + batch - 1) // batch
    for e in range(1, epochs + 1):
        perm = rt.shuffle(n, e)
        t0, total, correct = time.perf_counter(), 0.0, 0.0
        for s, at in enumerate(range(0, n, batch)):
            idx = perm[at:at + batch]
            if sched:
                for g in opt.param_groups:
                    g["lr"] = lr_at(sched, (e - 1) * per_epoch + s, per_epoch, per_epoch * epochs)
            opt.zero_grad(set_to_none=True)
            o = net(params | states, x[idx], True)
            J = objective(o, y[idx])
            J.backward()
            opt.step()
            total += J.item() * len(idx)
            if o.shape[1] > 1:
                correct += (o.argmax(1) == y[idx]).sum().item()
        secs = time.perf_counter() - t0
        t1 = time.perf_counter()
        with torch.no_grad():
            ev = evals(params | states)
        r = dict(loss=total / n, acc=correct / n, secs=secs, eval_secs=time.perf_counter() - t1, **ev)
        hist.append(r)
        if e == 1 or e == epochs or e % every == 0:
            line = "%sepoch %2d/%d  loss %.*f" % (label, e, epochs, 7 if r["loss"] < 1e-3 else 4, r["loss"])
            if correct:
                line += "  train acc %.4f" % r["acc"]
            for k, v in ev.items():
                line += ("  %s %.4f" if "acc" in k else "  %s %.5g") % (k, v)
            if sched:
                line += "  lr %.3g" % opt.param_groups[0]["lr"]
            print(line + "  %.3g s (eval %.3g s)" % (secs, r["eval_secs"]), flush=True)
    return hist


def per_epoch_line(hist):
    secs = sum(r["secs"] for r in hist) / len(hist)
    print("%d epochs in %.1f s: %.3g s of training per epoch"
          % (len(hist), sum(r["secs"] + r["eval_secs"] for r in hist), secs))


def leaves(d):
    return {k: v.requires_grad_() for k, v in d.items()}


def classify(args, rt, name):
    _, net, epochs, optim, sched = SAMPLES[name]
    x, y = fashion(args.data, "train")
    tx, ty = fashion(args.data, "t10k")
    p, st = leaves(rt.tensors(2)), rt.tensors(6)
    if optim == "sgd":
        opt = torch.optim.SGD(p.values(), lr=rt.hyper("lr"))
    else:
        opt = torch.optim.AdamW(p.values(), lr=sched[1], weight_decay=0.01)

    def test_acc(q):
        right = sum((net(q, tx[a:a + 256], False).argmax(1) == ty[a:a + 256]).sum().item()
                    for a in range(0, len(tx), 256))
        return {"test acc": right / len(tx)}
    print("%s (PyTorch %s, %s): Fashion-MNIST, %d training and %d test examples, %d epochs, seed %d"
          % (name, torch.__version__.split("+")[0], threads(), len(x), len(tx), args.epochs or epochs, args.seed))
    hist = train(rt, net, p, st, opt, F.cross_entropy, (x, y), args.epochs or epochs, 256, test_acc,
                 sched)
    per_epoch_line(hist)
    print("final test accuracy: %.4f" % hist[-1]["test acc"])


def threads():
    n = torch.get_num_threads()
    return "%d thread%s" % (n, "" if n == 1 else "s")


def half_squared(o, y):
    return ((o - y) ** 2 / 2).mean()


def linreg(args, rt):
    x, y = rt.linear_data(1000, 2, [2, -3.4], 4.2, 0.01, "linreg")
    p = leaves(rt.tensors(2))
    opt = torch.optim.SGD(p.values(), lr=rt.hyper("lr"))
    print("linreg (PyTorch %s, %s): 1000 examples, batch 10, lr 0.03" % (torch.__version__.split("+")[0], threads()))
    hist = train(rt, linear, p, {}, opt, half_squared, (x, y), args.epochs or 3, 10,
                 lambda q: {"train L": half_squared(linear(q, x, False), y).item()})
    w, b = p["w"].detach().flatten().tolist(), p["b"].item()
    print("w = [%.4f, %.4f]  (true [2, -3.4]; error [%.5f, %.5f])" % (w[0], w[1], 2 - w[0], -3.4 - w[1]))
    print("b = %.4f           (true 4.2;      error %.5f)" % (b, 4.2 - b))
    per_epoch_line(hist)
    print("final loss: %.7f" % hist[-1]["train L"])


def weight_decay(args, rt):
    w = [0.01] * 200
    x, y = rt.linear_data(20, 200, w, 0.05, 0.01, "weight decay train")
    tx, ty = rt.linear_data(100, 200, w, 0.05, 0.01, "weight decay test")
    rows, hist = [], []
    for lambd in (0, 3):
        p = leaves(rt.tensors(2))
        opt = torch.optim.SGD(p.values(), lr=rt.hyper("lr"))

        def objective(o, t):
            return half_squared(o, t) + lambd * (p["w"] ** 2).sum() / 2
        h = train(rt, linear, p, {}, opt, objective, (x, y), args.epochs or 100, 5,
                  lambda q: {"train L": half_squared(linear(q, x, False), y).item(),
                             "test L": half_squared(linear(q, tx, False), ty).item()},
                  every=20, label="lambda %g  " % lambd)
        rows.append((lambd, h[-1]["train L"], h[-1]["test L"], p["w"].detach().norm().item()))
        hist += h
    print("after %d epochs   train loss   test loss    ||w||" % (args.epochs or 100))
    for r in rows:
        print("  lambda = %g     %-12.4g %-12.4g %.4f" % r)
    per_epoch_line(hist)
    print("final loss: %.4f" % rows[1][2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name", choices=sorted(SAMPLES))
    ap.add_argument("--lib", required=True, help="the model compiled by nnc, as a shared object")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--epochs", type=int, default=0, help="default: the book's")
    ap.add_argument("--nnc-masks", action="store_true", help="dropout: nnc's masks, not PyTorch's")
    args = ap.parse_args()
    rt = Runtime(args.lib, SAMPLES[args.name][0], args.seed)
    if args.nnc_masks:
        global drop
        drop = NncMasks(args.seed, rt.lib)
    torch.manual_seed(args.seed)
    torch.set_num_threads(rt.lib.nnrt_get_num_threads())
    if args.name == "linreg":
        linreg(args, rt)
    elif args.name == "weight_decay":
        weight_decay(args, rt)
    else:
        classify(args, rt, args.name)


if __name__ == "__main__":
    main()
