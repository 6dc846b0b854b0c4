#!/usr/bin/python3
"""book_models.py: the book's PyTorch definitions of the zoo models tests/test_interop.c round-trips with dlc.

    book_models.py MODEL PREFIX [DLC_NPZ]
    book_models.py inputs PREFIX

PyTorch side of both round trips, on the first 256 Fashion-MNIST test images (scaled to [0, 1] as
transforms.ToTensor does and as dlc's trainers do; for the models of BIG, 8 of them resized to the model's input,
224 x 224 or 96 x 96, and the weights the book's initialisation, untrained or after one step: see BIG):
  - trains MODEL, defined and initialised with the book's code, for one epoch of SGD on the first 2,000
    training images (the models of BIG: STEPS images, in one step), and writes its state_dict with np.savez to PREFIX.npz and with np.savez_compressed to
    PREFIX-compressed.npz, the images to PREFIX-inputs.f32 and the model's outputs on them (eval mode) to
    PREFIX-torch.f32;
  - with DLC_NPZ (an archive a dlc trainer wrote with --save), loads it into a fresh book model with a strict
    load_state_dict (every key and shape must match) and writes its outputs on the same images to
    PREFIX-dlc-in-torch.f32.
`inputs` writes PREFIX-inputs.f32 alone, for models without a PyTorch definition here (the scratch BN-LeNet).
Raw little-endian float32 files, row-major. Exits 1 with a message when something is missing.
"""
import gzip
import os
import sys

import numpy as np
import torch
from torch import nn

DATA = '/usr/share/datasets/fashion-mnist'


def init_normal(m):  # the book's init_weights for softmax regression and the MLPs
    if type(m) == nn.Linear:
        nn.init.normal_(m.weight, std=0.01)


def init_xavier(m):  # train_ch6's init_weights
    if type(m) in (nn.Linear, nn.Conv2d):
        nn.init.xavier_uniform_(m.weight)


def book_model(name):
    """The book's nn.Sequential definitions (D2L 3.7, 4.3, 4.6, 6.6 and 6.6's ReLU/max-pool exercise) and lr."""
    if name == 'softmax':
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
        net.apply(init_normal)
        return net, 0.1
    if name == 'mlp':
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
        net.apply(init_normal)
        return net, 0.1
    if name == 'dropout_mlp':
        net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 256),
                            nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))
        net.apply(init_normal)
        return net, 0.5
    if name in ('lenet', 'lenet_relu'):
        act, pool = (nn.Sigmoid, nn.AvgPool2d) if name == 'lenet' else (nn.ReLU, nn.MaxPool2d)
        net = nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), act(), pool(kernel_size=2, stride=2),
                            nn.Conv2d(6, 16, kernel_size=5), act(), pool(kernel_size=2, stride=2), nn.Flatten(),
                            nn.Linear(16 * 5 * 5, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, 10))
        net.apply(init_xavier)
        return net, 0.9 if name == 'lenet' else 0.1
    if name == 'batchnorm_concise':  # D2L 8.5's concise BN-LeNet
        net = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(), nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
            nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10))
        net.apply(init_xavier)
        return net, 0.1
    if name == 'alexnet':  # D2L 7.1 (1 input channel, 10 classes)
        net = nn.Sequential(
            nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Flatten(),
            nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(p=0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
            nn.Linear(4096, 10))
        net.apply(init_xavier)
        return net, 0.01
    if name in ('vgg11', 'vgg11_full'):  # D2L 7.2: the ratio-4 variant the book trains, and the full width
        def vgg_block(num_convs, in_channels, out_channels):
            layers = []
            for _ in range(num_convs):
                layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
                in_channels = out_channels
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            return nn.Sequential(*layers)
        conv_blks, in_channels = [], 1
        ratio = 4 if name == 'vgg11' else 1
        for (num_convs, out_channels) in ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)):
            out_channels //= ratio
            conv_blks.append(vgg_block(num_convs, in_channels, out_channels))
            in_channels = out_channels
        net = nn.Sequential(*conv_blks, nn.Flatten(),
                            nn.Linear(in_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
                            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
                            nn.Linear(4096, 10))
        net.apply(init_xavier)
        return net, 0.05
    if name == 'nin':  # D2L 8.3
        def nin_block(in_channels, out_channels, kernel_size, strides, padding):
            return nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
                nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
                nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())
        net = nn.Sequential(
            nin_block(1, 96, kernel_size=11, strides=4, padding=0), nn.MaxPool2d(3, stride=2),
            nin_block(96, 256, kernel_size=5, strides=1, padding=2), nn.MaxPool2d(3, stride=2),
            nin_block(256, 384, kernel_size=3, strides=1, padding=1), nn.MaxPool2d(3, stride=2),
            nn.Dropout(0.5),
            nin_block(384, 10, kernel_size=3, strides=1, padding=1),
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
        net.apply(init_xavier)
        return net, 0.05
    if name == 'googlenet':  # D2L 8.4, the 1.0 edition's branch names; b1 and b2 flattened into the Sequential
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
                relu = torch.relu
                b1 = relu(self.b1_1(x))
                b2 = relu(self.b2_2(relu(self.b2_1(x))))
                b3 = relu(self.b3_2(relu(self.b3_1(x))))
                b4 = relu(self.b4_2(self.b4_1(x)))
                return torch.cat((b1, b2, b3, b4), dim=1)
        net = nn.Sequential(
            nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(),
            nn.Conv2d(64, 192, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            Inception(192, 64, (96, 128), (16, 32), 32), Inception(256, 128, (128, 192), (32, 96), 64),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            Inception(480, 192, (96, 208), (16, 48), 64), Inception(512, 160, (112, 224), (24, 64), 64),
            Inception(512, 128, (128, 256), (24, 64), 64), Inception(512, 112, (144, 288), (32, 64), 64),
            Inception(528, 256, (160, 320), (32, 128), 128),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            Inception(832, 256, (160, 320), (32, 128), 128), Inception(832, 384, (192, 384), (48, 128), 128),
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(1024, 10))
        net.apply(init_xavier)
        return net, 0.1
    if name == 'resnet18':  # D2L 8.6; b1 flattened into the Sequential, each stage an nn.Sequential of Residuals
        class Residual(nn.Module):
            def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
                super().__init__()
                self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
                self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
                self.conv3 = (nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
                              if use_1x1conv else None)
                self.bn1 = nn.BatchNorm2d(num_channels)
                self.bn2 = nn.BatchNorm2d(num_channels)

            def forward(self, x):
                y = torch.relu(self.bn1(self.conv1(x)))
                y = self.bn2(self.conv2(y))
                if self.conv3:
                    x = self.conv3(x)
                return torch.relu(y + x)

        def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
            blk = []
            for i in range(num_residuals):
                if i == 0 and not first_block:
                    blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
                else:
                    blk.append(Residual(num_channels, num_channels))
            return nn.Sequential(*blk)
        net = nn.Sequential(
            nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            resnet_block(64, 64, 2, first_block=True), resnet_block(64, 128, 2), resnet_block(128, 256, 2),
            resnet_block(256, 512, 2),
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 10))
        net.apply(init_xavier)
        return net, 0.01
    if name == 'densenet':  # D2L 8.7; a dense block is an nn.Sequential of conv blocks whose forward concatenates
        def conv_block(input_channels, num_channels):
            return nn.Sequential(nn.BatchNorm2d(input_channels), nn.ReLU(),
                                 nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1))

        class DenseBlock(nn.Sequential):
            def forward(self, x):
                for blk in self:
                    x = torch.cat((x, blk(x)), dim=1)
                return x

        def transition_block(input_channels, num_channels):
            return nn.Sequential(nn.BatchNorm2d(input_channels), nn.ReLU(),
                                 nn.Conv2d(input_channels, num_channels, kernel_size=1),
                                 nn.AvgPool2d(kernel_size=2, stride=2))
        layers = [nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
                  nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
        num_channels, growth_rate, arch = 64, 32, (4, 4, 4, 4)
        for i, num_convs in enumerate(arch):
            layers.append(DenseBlock(*[conv_block(num_channels + k * growth_rate, growth_rate)
                                       for k in range(num_convs)]))
            num_channels += num_convs * growth_rate
            if i != len(arch) - 1:
                layers.append(transition_block(num_channels, num_channels // 2))
                num_channels //= 2
        net = nn.Sequential(*layers, nn.BatchNorm2d(num_channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
                            nn.Flatten(), nn.Linear(num_channels, 10))
        return net, 0.01  # PyTorch's default initialisation, as the book's DenseNet
    sys.exit(f'book_models.py: no book definition for {name}')


# Models at 224 x 224 (and 96 x 96): one epoch of training is out of the test's time on 2 cores, so their weights
# are the book's initialisation, and 8 test images, resized as dlc's trainers resize them (bilinear), are the
# inputs. The modern CNNs take one SGD step on 16 training images, which moves batch norm's running statistics.
BIG = ('alexnet', 'vgg11', 'vgg11_full', 'nin', 'googlenet', 'resnet18', 'densenet')
SIZE = {'googlenet': 96, 'resnet18': 96, 'densenet': 96}
STEPS = {'nin': 16, 'googlenet': 16, 'resnet18': 16, 'densenet': 16}


def fashion_mnist(kind, n):
    path = f'{DATA}/{kind}-images-idx3-ubyte.gz'
    if not os.path.exists(path):
        sys.exit(f'book_models.py: {path} is missing: apt-get install dataset-fashion-mnist')
    with gzip.open(path) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)[:n * 784]
    with gzip.open(f'{DATA}/{kind}-labels-idx1-ubyte.gz') as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return torch.from_numpy(x.reshape(n, 1, 28, 28).astype(np.float32) / 255), torch.from_numpy(y.astype(np.int64))


def outputs(net, x):
    net.eval()
    with torch.no_grad():
        return net(x).numpy().astype('<f4')


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    name, prefix = sys.argv[1], sys.argv[2]
    if name == 'inputs':
        fashion_mnist('t10k', 256)[0].numpy().astype('<f4').tofile(prefix + '-inputs.f32')
        return
    torch.manual_seed(0)
    torch.set_num_threads(1)
    net, lr = book_model(name)
    size = SIZE.get(name, 224)
    if name not in BIG or name in STEPS:
        x, y = fashion_mnist('train', STEPS.get(name, 2000))
        if name in BIG:
            x = torch.nn.functional.interpolate(x, size=(size, size), mode='bilinear', align_corners=False)
        opt = torch.optim.SGD(net.parameters(), lr=lr)
        loss = nn.CrossEntropyLoss()
        net.train()
        for i in range(0, len(x), 256):
            opt.zero_grad()
            loss(net(x[i:i + 256]), y[i:i + 256]).backward()
            opt.step()
    state = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    np.savez(prefix + '.npz', **state)
    if name not in BIG:  # deflating 170 MB takes longer than the rest
        np.savez_compressed(prefix + '-compressed.npz', **state)
    test, _ = fashion_mnist('t10k', 8 if name in BIG else 256)
    if name in BIG:
        test = torch.nn.functional.interpolate(test, size=(size, size), mode='bilinear', align_corners=False)
    test.numpy().astype('<f4').tofile(prefix + '-inputs.f32')
    outputs(net, test).tofile(prefix + '-torch.f32')
    if len(sys.argv) == 4:
        fresh, _ = book_model(name)
        archive = np.load(sys.argv[3])
        for k in archive.files:  # batch norm's counters as PyTorch keeps them
            if k.endswith('num_batches_tracked') and archive[k].dtype != np.int64:
                sys.exit(f'book_models.py: {sys.argv[3]}: {k} is {archive[k].dtype}, not int64')
        fresh.load_state_dict({k: torch.from_numpy(archive[k]) for k in archive.files}, strict=True)
        outputs(fresh, test).tofile(prefix + '-dlc-in-torch.f32')


if __name__ == '__main__':
    main()
