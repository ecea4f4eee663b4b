#!/usr/bin/python3
"""The demo's recipe in PyTorch, for the comparison in docs/demo.md.

784-256-10 MLP with biases, ReLU, weights N(0, 0.01^2), biases 0, mean
cross-entropy, SGD lr 0.1, batch 256, single-threaded, on the same data
(Debian's dataset-fashion-mnist).  Prints per epoch the seconds and the
test accuracy, the way samples/train.c does.

    /usr/bin/python3 samples/fashion_mnist_torch.py [--epochs N] [--data DIR]
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch


def idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
    ap.add_argument('--seed', type=int, default=42)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    load = lambda name: idx(os.path.join(a.data, name))
    x = torch.tensor(load('train-images-idx3-ubyte.gz').reshape(-1, 784), dtype=torch.float32) / 255
    y = torch.tensor(load('train-labels-idx1-ubyte.gz'), dtype=torch.long)
    xt = torch.tensor(load('t10k-images-idx3-ubyte.gz').reshape(-1, 784), dtype=torch.float32) / 255
    yt = torch.tensor(load('t10k-labels-idx1-ubyte.gz'), dtype=torch.long)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    for m in net:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.normal_(m.weight, std=0.01)
            torch.nn.init.zeros_(m.bias)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 256):
            b = perm[i:i + 256]
            loss = loss_fn(net(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        secs = time.perf_counter() - t0
        with torch.no_grad():
            acc = (net(xt).argmax(1) == yt).float().mean().item()
        print('epoch %2d  %.2f s  test accuracy %.4f' % (epoch, secs, acc), flush=True)


if __name__ == '__main__':
    main()
