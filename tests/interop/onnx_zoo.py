#!/usr/bin/python3
"""onnx_zoo.py: the book's PyTorch models exported by PyTorch's own torch.onnx.export, for `dlc import`.

    onnx_zoo.py DIR MODEL...
    onnx_zoo.py --load DIR MODEL...

For each MODEL, the D2L (1.0 edition) PyTorch definition (tests/pytorch/book.py), with reduced widths and resolutions where the book's
would take the test too long (the table below), initialised as the book does (xavier_uniform for linear and
convolution weights; batch norm's weights, biases and running statistics drawn at random so that the folding of
batch norm is visible in the outputs), in eval mode; torch.onnx.export (default options: opset, constant folding)
with the input named `x`, the output `logits` and a dynamic batch axis writes DIR/MODEL.onnx; the first N
Fashion-MNIST test images (scaled to [0, 1], resized bilinearly to the model's resolution) go to
DIR/MODEL-inputs.f32 and the model's outputs on them to DIR/MODEL-torch.f32 (raw little-endian float32,
row-major). Prints one line per model: its name, resolution, parameter count and ONNX node count.
Exits 1 with a message when something is missing.

With --load, the other way: for each MODEL, the archive `dlc import` wrote for DIR/MODEL.onnx, DIR/MODEL/MODEL.npz,
goes into a fresh book model with a strict load_state_dict (every key of PyTorch's state_dict there, under its name,
with its shape, and no other), whose outputs on DIR/MODEL-inputs.f32 must be PyTorch's in DIR/MODEL-torch.f32
(max |a - b| <= 1e-5 * max |b| + 1e-6). Prints a line per model; exits 1 on the first that fails.
"""
import gzip
import os
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'pytorch'))
import book  # noqa: E402  (tests/pytorch/book.py: the book's definitions, shared with the other tests)

DATA = '/usr/share/datasets/fashion-mnist'
N = 32  # images per model


def book_model(name):
    """(net, resolution): the book's definitions (tests/pytorch/book.py); the comments say what is reduced."""
    if name in ('softmax', 'mlp', 'lenet'):  # D2L 4.5, 5.2, 7.6
        return getattr(book, name)(), 28
    if name == 'alexnet':  # D2L 8.1 at 128 x 128, widths / 4, the dense layers 256 wide
        return book.alexnet(d=4, hidden=256, side=2), 128
    if name == 'vgg':  # D2L 8.2 (VGG-11, the book's ratio-4 widths) at 64 x 64, the dense layers 256 wide
        return book.vgg11(ratio=4, hidden=256, side=2), 64
    if name == 'bn_lenet':  # D2L 8.5.4, concise
        return book.bn_lenet(), 28
    if name == 'nin':  # D2L 8.3 at 96 x 96, widths / 4
        return book.nin(d=4), 96
    if name in ('googlenet', 'resnet18'):  # D2L 8.4, 8.6 at 64 x 64, widths / 4
        return getattr(book, name)(d=4), 64
    if name == 'densenet':  # D2L 8.7 at 64 x 64: 16 channels, growth 8
        return book.densenet(16, 8, (4, 4, 4, 4)), 64
    sys.exit(f'onnx_zoo.py: no book definition for {name}')


def init(m):
    if type(m) in (nn.Linear, nn.Conv2d):
        nn.init.xavier_uniform_(m.weight)
    if type(m) in (nn.BatchNorm1d, nn.BatchNorm2d):
        with torch.no_grad():
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.5, 0.5)
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)


def test_images(n):
    path = f'{DATA}/t10k-images-idx3-ubyte.gz'
    if not os.path.exists(path):
        sys.exit(f'onnx_zoo.py: {path} is missing: apt-get install dataset-fashion-mnist')
    with gzip.open(path) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)[:n * 784]
    return torch.from_numpy(x.reshape(n, 1, 28, 28).astype(np.float32) / 255)


def load_imported(out, names):
    for name in names:
        net, size = book_model(name)
        archive = np.load(f'{out}/{name}/{name}.npz')
        try:
            net.load_state_dict({k: torch.from_numpy(archive[k]) for k in archive.files}, strict=True)
        except RuntimeError as e:
            sys.exit(f'onnx_zoo.py: {name}: the imported archive does not load into the PyTorch model: {e}')
        net.eval()
        x = torch.from_numpy(np.fromfile(f'{out}/{name}-inputs.f32', '<f4').reshape(-1, 1, size, size))
        with torch.no_grad():
            a = net(x).numpy()
        b = np.fromfile(f'{out}/{name}-torch.f32', '<f4').reshape(a.shape)
        diff, tol = float(np.abs(a - b).max()), 1e-5 * float(np.abs(b).max()) + 1e-6
        if not diff <= tol:
            sys.exit(f'onnx_zoo.py: {name}: outputs after the strict load differ by {diff:.3g} (tolerance {tol:.3g})')
        print(f'{name}: {len(archive.files)} keys, a strict load_state_dict; outputs within {diff:.3g}')


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    if sys.argv[1] == '--load':
        torch.set_num_threads(1)
        return load_imported(sys.argv[2], sys.argv[3:])
    out = sys.argv[1]
    torch.set_num_threads(1)
    images = test_images(N)
    for name in sys.argv[2:]:
        torch.manual_seed(0)
        net, size = book_model(name)
        net.apply(init)
        net.eval()
        x = images if size == 28 else F.interpolate(images, size=(size, size), mode='bilinear', align_corners=False)
        path = f'{out}/{name}.onnx'
        with torch.no_grad():
            y = net(x)
            torch.onnx.export(net, x[:1], path, input_names=['x'], output_names=['logits'],
                              dynamic_axes={'x': {0: 'batch'}, 'logits': {0: 'batch'}})
        x.numpy().astype('<f4').tofile(f'{out}/{name}-inputs.f32')
        y.numpy().astype('<f4').tofile(f'{out}/{name}-torch.f32')
        import onnx
        nodes = len(onnx.load(path).graph.node)
        params = sum(p.numel() for p in net.parameters())
        print(f'{name}: {size} x {size}, {params} parameters, {nodes} ONNX nodes')


if __name__ == '__main__':
    main()
