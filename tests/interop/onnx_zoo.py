#!/usr/bin/python3
"""onnx_zoo.py: the book's PyTorch models exported by PyTorch's own torch.onnx.export, for `dlc import`.

    onnx_zoo.py DIR MODEL...

For each MODEL, the D2L (1.0 edition) PyTorch definition, with reduced widths and resolutions where the book's
would take the test too long (the table below), initialised as the book does (xavier_uniform for linear and
convolution weights; batch norm's weights, biases and running statistics drawn at random so that the folding of
batch norm is visible in the outputs), in eval mode; torch.onnx.export (default options: opset, constant folding)
with the input named `x`, the output `logits` and a dynamic batch axis writes DIR/MODEL.onnx; the first N
Fashion-MNIST test images (scaled to [0, 1], resized bilinearly to the model's resolution) go to
DIR/MODEL-inputs.f32 and the model's outputs on them to DIR/MODEL-torch.f32 (raw little-endian float32,
row-major). Prints one line per model: its name, resolution, parameter count and ONNX node count.
Exits 1 with a message when something is missing.
"""
import gzip
import os
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

DATA = '/usr/share/datasets/fashion-mnist'
N = 32  # images per model


def vgg_block(num_convs, in_channels, out_channels):  # D2L 8.2.1
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def nin_block(in_channels, out_channels, kernel_size, strides, padding):  # D2L 8.3.1
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


class Inception(nn.Module):  # D2L 8.4.1
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


def googlenet(d):  # D2L 8.4.2, every width divided by d
    def inc(cin, c1, c2, c3, c4):
        return Inception(cin // d, c1 // d, (c2[0] // d, c2[1] // d), (c3[0] // d, c3[1] // d), c4 // d)
    b1 = nn.Sequential(nn.Conv2d(1, 64 // d, kernel_size=7, stride=2, padding=3), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(nn.Conv2d(64 // d, 64 // d, kernel_size=1), nn.ReLU(),
                       nn.Conv2d(64 // d, 192 // d, kernel_size=3, padding=1), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b3 = nn.Sequential(inc(192, 64, (96, 128), (16, 32), 32), inc(256, 128, (128, 192), (32, 96), 64),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b4 = nn.Sequential(inc(480, 192, (96, 208), (16, 48), 64), inc(512, 160, (112, 224), (24, 64), 64),
                       inc(512, 128, (128, 256), (24, 64), 64), inc(512, 112, (144, 288), (32, 64), 64),
                       inc(528, 256, (160, 320), (32, 128), 128), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b5 = nn.Sequential(inc(832, 256, (160, 320), (32, 128), 128), inc(832, 384, (192, 384), (48, 128), 128),
                       nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    return nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(1024 // d, 10))


class Residual(nn.Module):  # D2L 8.6.2
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


def resnet18(d):  # D2L 8.6.3, widths divided by d
    blocks = [nn.Sequential(nn.Conv2d(1, 64 // d, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64 // d),
                            nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))]
    cin = 64 // d
    for i, (num_residuals, channels) in enumerate(((2, 64), (2, 128), (2, 256), (2, 512))):
        channels //= d
        blk = []
        for j in range(num_residuals):
            if j == 0 and i != 0:
                blk.append(Residual(cin, channels, use_1x1conv=True, strides=2))
            else:
                blk.append(Residual(cin, channels))
            cin = channels
        blocks.append(nn.Sequential(*blk))
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(cin, 10))


def conv_block(in_channels, num_channels):  # D2L 8.7.2
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, num_channels, kernel_size=3, padding=1))


class DenseBlock(nn.Module):
    def __init__(self, num_convs, in_channels, num_channels):
        super().__init__()
        self.net = nn.Sequential(*[conv_block(in_channels + i * num_channels, num_channels)
                                   for i in range(num_convs)])

    def forward(self, X):
        for blk in self.net:
            Y = blk(X)
            X = torch.cat((X, Y), dim=1)
        return X


def transition_block(in_channels, num_channels):  # D2L 8.7.3
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(), nn.Conv2d(in_channels, num_channels, kernel_size=1),
                         nn.AvgPool2d(kernel_size=2, stride=2))


def densenet(num_channels, growth_rate, arch):  # D2L 8.7.4
    layers = [nn.Conv2d(1, num_channels, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(num_channels),
              nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
    for i, num_convs in enumerate(arch):
        layers.append(DenseBlock(num_convs, num_channels, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(arch) - 1:
            layers.append(transition_block(num_channels, num_channels // 2))
            num_channels //= 2
    layers += [nn.BatchNorm2d(num_channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
               nn.Linear(num_channels, 10)]
    return nn.Sequential(*layers)


def book_model(name):
    """(net, resolution): the book's definitions; the comments say what is reduced."""
    if name == 'softmax':  # D2L 4.5
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), 28
    if name == 'mlp':  # D2L 5.2
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)), 28
    if name == 'lenet':  # D2L 7.6
        return nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10)), 28
    if name == 'alexnet':  # D2L 8.1 at 128 x 128, widths / 4, the dense layers 256 wide
        return nn.Sequential(
            nn.Conv2d(1, 24, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(24, 64, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 96, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(96, 96, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(96, 64, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Flatten(), nn.Linear(64 * 2 * 2, 256), nn.ReLU(), nn.Dropout(p=0.5),
            nn.Linear(256, 256), nn.ReLU(), nn.Dropout(p=0.5), nn.Linear(256, 10)), 128
    if name == 'vgg':  # D2L 8.2 (VGG-11, the book's ratio-4 widths) at 64 x 64, the dense layers 256 wide
        blks, cin = [], 1
        for num_convs, channels in ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128)):
            blks.append(vgg_block(num_convs, cin, channels))
            cin = channels
        return nn.Sequential(*blks, nn.Flatten(), nn.Linear(cin * 2 * 2, 256), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10)), 64
    if name == 'bn_lenet':  # D2L 8.5.4, concise
        return nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(), nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
            nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10)), 28
    if name == 'nin':  # D2L 8.3 at 96 x 96, widths / 4
        return nn.Sequential(
            nin_block(1, 24, kernel_size=11, strides=4, padding=0), nn.MaxPool2d(3, stride=2),
            nin_block(24, 64, kernel_size=5, strides=1, padding=2), nn.MaxPool2d(3, stride=2),
            nin_block(64, 96, kernel_size=3, strides=1, padding=1), nn.MaxPool2d(3, stride=2), nn.Dropout(0.5),
            nin_block(96, 10, kernel_size=3, strides=1, padding=1),
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()), 96
    if name == 'googlenet':  # D2L 8.4 at 64 x 64, widths / 4
        return googlenet(4), 64
    if name == 'resnet18':  # D2L 8.6 at 64 x 64, widths / 4
        return resnet18(4), 64
    if name == 'densenet':  # D2L 8.7 at 64 x 64: 16 channels, growth 8
        return densenet(16, 8, (4, 4, 4, 4)), 64
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


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
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
