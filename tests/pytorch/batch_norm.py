#!/usr/bin/python3
"""The expected numbers of test_gradcheck's PyTorch comparison of batch_norm (tests/pytorch/batch_norm.dlm).

Runs the same model in PyTorch in float64 from the same inputs and parameters: two SGD steps in training mode (the
loss and every parameter's gradient at each, the running statistics after each), then the model in eval mode on the
same batch. Writes batch_norm_values.txt (the parameters' starting values, "name index value" lines, which the test
loads into the generated code) and batch_norm_expected.txt (trace lines as tests/gradcheck_harness.c prints them).

    /usr/bin/python3 tests/pytorch/batch_norm.py     (Debian's python3-torch)
"""
import math
import os

import torch
from torch import nn

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
MASK = (1 << 64) - 1
N, STEPS, LR = 4, 2, 0.1


class SplitMix64:
    """tests/gradcheck_harness.c's input generator."""

    def __init__(self, seed):
        self.s = seed

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * 2.0**-53


# inputs as the harness fills them: every x of the maximum batch, then the labels
rng = SplitMix64(11)
x = torch.tensor([2 * rng.uniform() - 1 for _ in range(N * 2 * 5 * 5)]).reshape(N, 2, 5, 5)
y = torch.tensor([rng.next() % 3 for _ in range(N)])

model = nn.Sequential(
    nn.Conv2d(2, 3, 3, padding=1, bias=False),
    nn.BatchNorm2d(3),
    nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Flatten(),
    nn.Linear(12, 6),
    nn.BatchNorm1d(6, momentum=0.2),
    nn.Sigmoid(),
    nn.Linear(6, 3),
)

# starting values from a formula, weights and biases of batch norm away from their ones and zeros too
with torch.no_grad():
    for k, (name, p) in enumerate(model.named_parameters()):
        i = torch.arange(p.numel(), dtype=torch.float64)
        v = 0.6 * torch.sin(0.7 * i + 1.3 * k + 0.2)
        if name in ("1.weight", "6.weight"):
            v = 1 + 0.3 * v
        p.copy_(v.reshape(p.shape))
state_names = [n for n, _ in model.named_buffers()]


def values(t):
    return " ".join("%.17g" % v for v in t.detach().reshape(-1).tolist())


def record(kind, step, name, t, trainable):
    return "%s %d %s %d %s" % (kind, step, name, trainable, values(t))


with open(os.path.join(HERE, "batch_norm_values.txt"), "w") as f:
    for name, p in model.named_parameters():
        for i, v in enumerate(p.detach().reshape(-1).tolist()):
            f.write("%s %d %.17g\n" % (name, i, v))

lines = []
opt = torch.optim.SGD(model.parameters(), lr=LR)
model.train()
for step in range(1, STEPS + 1):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    lines.append("loss %d %.17g" % (step, loss.item()))
    for name, p in model.named_parameters():
        lines.append(record("grad", step, name, p.grad, 1))
    opt.step()
    for name, b in model.named_buffers():
        lines.append(record("after", step, name, b.double(), 0))
model.eval()
with torch.no_grad():
    lines.append(record("output", STEPS, "logits", model(x), 0))
with open(os.path.join(HERE, "batch_norm_expected.txt"), "w") as f:
    f.write("# made by batch_norm.py with torch %s\n" % torch.__version__)
    f.write("\n".join(lines) + "\n")
