#!/usr/bin/python3
"""PyTorch's side of test_gradcheck's zoo comparison (`test_gradcheck zoo`, the interop suite).

For one of the modern CNNs of models/ (batchnorm, batchnorm_concise, nin, googlenet, resnet18, densenet), the book's
PyTorch definition (D2L 1.0), written as nested nn.Sequential and modules whose parameter names are dlc's, runs in
float64 from the parameters and batch that tests/gradcheck_harness.c's `dump` mode uses: one SGD step in training
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
from torch import nn
from torch.nn import functional as F

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


# ---- D2L 8.5: batch normalization from scratch, and BN-LeNet ----


def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
    if not torch.is_grad_enabled():
        X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
    else:
        assert len(X.shape) in (2, 4)
        if len(X.shape) == 2:
            mean = X.mean(dim=0)
            var = ((X - mean) ** 2).mean(dim=0)
        else:
            mean = X.mean(dim=(0, 2, 3), keepdim=True)
            var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        X_hat = (X - mean) / torch.sqrt(var + eps)
        moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
        moving_var = (1.0 - momentum) * moving_var + momentum * var
    Y = gamma * X_hat + beta
    return Y, moving_mean.data, moving_var.data


class BatchNorm(nn.Module):
    """The book's, with the moving statistics registered as buffers so that they have names."""

    def __init__(self, num_features, num_dims):
        super().__init__()
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.gamma = nn.Parameter(torch.ones(shape))
        self.beta = nn.Parameter(torch.zeros(shape))
        self.register_buffer("moving_mean", torch.zeros(shape))
        self.register_buffer("moving_var", torch.ones(shape))

    def forward(self, X):
        Y, self.moving_mean, self.moving_var = batch_norm(X, self.gamma, self.beta, self.moving_mean,
                                                          self.moving_var, eps=1e-5, momentum=0.1)
        return Y


def bn_lenet(scratch):
    def bn(features, dims):
        if scratch:
            return BatchNorm(features, dims)
        return nn.BatchNorm2d(features) if dims == 4 else nn.BatchNorm1d(features)

    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), bn(6, 4), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), bn(16, 4), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(256, 120), bn(120, 2), nn.Sigmoid(),
        nn.Linear(120, 84), bn(84, 2), nn.Sigmoid(), nn.Linear(84, 10))


# ---- D2L 8.3: NiN ----


def nin_block(in_channels, out_channels, kernel_size, strides, padding):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


def nin():
    return nn.Sequential(
        nin_block(1, 96, kernel_size=11, strides=4, padding=0), nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, kernel_size=5, strides=1, padding=2), nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, kernel_size=3, strides=1, padding=1), nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.0), nin_block(384, 10, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())


# ---- D2L 8.4: GoogLeNet ----


class Inception(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.b1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.b2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.b2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.b3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.b3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.b4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.b4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

    def forward(self, x):
        b1 = F.relu(self.b1_1(x))
        b2 = F.relu(self.b2_2(F.relu(self.b2_1(x))))
        b3 = F.relu(self.b3_2(F.relu(self.b3_1(x))))
        b4 = F.relu(self.b4_2(self.b4_1(x)))
        return torch.cat((b1, b2, b3, b4), dim=1)


def googlenet():
    return nn.Sequential(
        nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(), nn.Conv2d(64, 192, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        Inception(192, 64, (96, 128), (16, 32), 32), Inception(256, 128, (128, 192), (32, 96), 64),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        Inception(480, 192, (96, 208), (16, 48), 64), Inception(512, 160, (112, 224), (24, 64), 64),
        Inception(512, 128, (128, 256), (24, 64), 64), Inception(512, 112, (144, 288), (32, 64), 64),
        Inception(528, 256, (160, 320), (32, 128), 128),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        Inception(832, 256, (160, 320), (32, 128), 128), Inception(832, 384, (192, 384), (48, 128), 128),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(1024, 10))


# ---- D2L 8.6: ResNet-18 ----


class Residual(nn.Module):
    def __init__(self, in_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(in_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


def resnet_block(in_channels, num_channels, num_residuals, first_block=False):
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(in_channels, num_channels, use_1x1conv=True, strides=2))
        else:
            blk.append(Residual(num_channels, num_channels))
    return nn.Sequential(*blk)


def resnet18():
    return nn.Sequential(
        nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        resnet_block(64, 64, 2, first_block=True), resnet_block(64, 128, 2), resnet_block(128, 256, 2),
        resnet_block(256, 512, 2), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 10))


# ---- D2L 8.7: DenseNet ----


def conv_block(in_channels, num_channels):
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, num_channels, kernel_size=3, padding=1))


class DenseBlock(nn.Sequential):
    """The book's DenseBlock, its convolution blocks the Sequential's own children (dlc's names)."""

    def __init__(self, in_channels, num_convs, num_channels):
        super().__init__(*[conv_block(in_channels + i * num_channels, num_channels) for i in range(num_convs)])

    def forward(self, X):
        for blk in self:
            Y = blk(X)
            X = torch.cat((X, Y), dim=1)
        return X


def transition_block(in_channels, num_channels):
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(), nn.Conv2d(in_channels, num_channels, kernel_size=1),
                         nn.AvgPool2d(kernel_size=2, stride=2))


def densenet(num_channels=64, growth_rate=32, arch=(4, 4, 4, 4)):
    layers = [nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
    for i, num_convs in enumerate(arch):
        layers.append(DenseBlock(num_channels, num_convs, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(arch) - 1:
            num_channels //= 2
            layers.append(transition_block(num_channels * 2, num_channels))
    layers += [nn.BatchNorm2d(num_channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
               nn.Linear(num_channels, 10)]
    return nn.Sequential(*layers)


MODELS = {
    "batchnorm": lambda: bn_lenet(scratch=True),
    "batchnorm_concise": lambda: bn_lenet(scratch=False),
    "nin": nin,
    "googlenet": googlenet,
    "resnet18": resnet18,
    "densenet": densenet,
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
