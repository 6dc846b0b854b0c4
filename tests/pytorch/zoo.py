#!/usr/bin/python3
"""PyTorch's side of test_gradcheck's zoo comparison (`test_gradcheck zoo`, the interop suite).

For one of the modern CNNs of models/ (batchnorm, batchnorm_concise, nin, googlenet, resnet18, densenet), the book's
PyTorch definition (D2L 1.0, from tests/pytorch/book.py: nested nn.Sequential and modules whose parameter names are
dlc's) runs in float64 from the parameters and batch that tests/gradcheck_harness.c's `dump` mode uses: one SGD step in training
mode (the loss, every parameter's gradient, the running statistics after the step), then eval mode on the same
batch. The records go to OUT in the harness's format (`KIND NAME COUNT` and COUNT little-endian f64), for the test
to compare element by element.

    /usr/bin/python3 tests/pytorch/zoo.py MODEL SIDE N LR INPUT_SEED OUT     (Debian's python3-torch, python3-numpy)

SIDE is the input's height and width (the test compiles the model at a reduced resolution where the architecture
allows); NiN's dropout runs at p = 0 on both sides, since the two random masks cannot agree.
"""
import sys

import numpy as np
import torch
from torch.nn import functional as F

import book

torch.set_default_dtype(torch.float64)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(seed, count):
    """The first `count` draws of tests/gradcheck_harness.c's SplitMix64 from `seed`, as uint64."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, count + 1, dtype=np.uint64) * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(z):
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def name_seed(name):
    """FNV-1a, as the harness seeds a parameter's values."""
    h = 0xCBF29CE484222325
    for c in name.encode():
        h = ((h ^ c) * 0x100000001B3) & ((1 << 64) - 1)
    return h


def formula_values(model):
    """The harness's formula_values: uniform in (-a, a) around 0 or 1 by the kind of parameter."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            amp, centre = 0.1, 0.0
            if leaf == "gamma" or (leaf == "weight" and p.dim() == 1):
                amp, centre = 0.3, 1.0
            elif leaf == "weight":
                amp = 2 / np.sqrt(p.numel() // p.shape[0])
            u = uniform(splitmix64(name_seed(name), p.numel()))
            p.copy_(torch.from_numpy(centre + amp * (2 * u - 1)).reshape(p.shape))


MODELS = {
    "batchnorm": lambda: book.bn_lenet(scratch=True),
    "batchnorm_concise": lambda: book.bn_lenet(scratch=False),
    "nin": lambda: book.nin(dropout=0.0),
    "googlenet": book.googlenet,
    "resnet18": book.resnet18,
    "densenet": book.densenet,
}


def record(f, kind, name, t):
    a = t.detach().double().reshape(-1).numpy().astype("<f8")
    f.write(("%s %s %d\n" % (kind, name, a.size)).encode())
    f.write(a.tobytes())


def main():
    if len(sys.argv) != 7 or sys.argv[1] not in MODELS:
        sys.exit("usage: zoo.py {%s} SIDE N LR INPUT_SEED OUT" % ",".join(MODELS))
    name, side, n, lr, seed, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), \
        int(sys.argv[5]), sys.argv[6]
    # the harness fills x (all of the batch), then the labels, from one generator
    z = splitmix64(seed, n * side * side + n)
    x = torch.from_numpy(2 * uniform(z[:n * side * side]) - 1).reshape(n, 1, side, side)
    y = torch.from_numpy((z[n * side * side:] % np.uint64(10)).astype(np.int64))
    model = MODELS[name]()
    formula_values(model)
    model.train()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    with open(out, "wb") as f:
        record(f, "loss", "-", loss)
        for pname, p in model.named_parameters():
            record(f, "grad", pname, p.grad)
        with torch.no_grad():
            for pname, p in model.named_parameters():
                p -= lr * p.grad
        for bname, b in model.named_buffers():
            record(f, "state", bname, b)
        model.eval()
        with torch.no_grad():
            record(f, "output", "logits", model(x))


if __name__ == "__main__":
    main()
