#!/usr/bin/python3
"""book_models.py: the book's PyTorch definitions of the zoo models tests/test_interop.c round-trips with dlc.

    book_models.py MODEL PREFIX [DLC_NPZ]

PyTorch side of both round trips, on the first 256 Fashion-MNIST test images (scaled to [0, 1] as
transforms.ToTensor does and as dlc's trainers do; for AlexNet and VGG, 8 of them resized to 224 x 224, and the
weights the book's initialisation, untrained):
  - trains MODEL, defined and initialised with the book's code, for one epoch of SGD on the first 2,000
    training images, and writes its state_dict with np.savez to PREFIX.npz and with np.savez_compressed to
    PREFIX-compressed.npz, the images to PREFIX-inputs.f32 and the model's outputs on them (eval mode) to
    PREFIX-torch.f32;
  - with DLC_NPZ (an archive a dlc trainer wrote with --save), loads it into a fresh book model with a strict
    load_state_dict (every key and shape must match) and writes its outputs on the same images to
    PREFIX-dlc-in-torch.f32.
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
    if name == 'vgg11':  # D2L 7.2, the ratio-4 variant the book trains
        def vgg_block(num_convs, in_channels, out_channels):
            layers = []
            for _ in range(num_convs):
                layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
                in_channels = out_channels
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            return nn.Sequential(*layers)
        conv_blks, in_channels = [], 1
        for (num_convs, out_channels) in ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128)):
            conv_blks.append(vgg_block(num_convs, in_channels, out_channels))
            in_channels = out_channels
        net = nn.Sequential(*conv_blks, nn.Flatten(),
                            nn.Linear(in_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
                            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
                            nn.Linear(4096, 10))
        net.apply(init_xavier)
        return net, 0.05
    sys.exit(f'book_models.py: no book definition for {name}')


# Models at 224 x 224: one epoch of training is out of the test's time on 2 cores, so their weights are the book's
# initialisation, and 8 test images, resized as dlc's trainers resize them (bilinear), are the inputs.
BIG = ('alexnet', 'vgg11')


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
    torch.manual_seed(0)
    torch.set_num_threads(1)
    net, lr = book_model(name)
    if name not in BIG:
        x, y = fashion_mnist('train', 2000)
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
        test = torch.nn.functional.interpolate(test, size=(224, 224), mode='bilinear', align_corners=False)
    test.numpy().astype('<f4').tofile(prefix + '-inputs.f32')
    outputs(net, test).tofile(prefix + '-torch.f32')
    if len(sys.argv) == 4:
        fresh, _ = book_model(name)
        archive = np.load(sys.argv[3])
        fresh.load_state_dict({k: torch.from_numpy(archive[k]) for k in archive.files}, strict=True)
        outputs(fresh, test).tofile(prefix + '-dlc-in-torch.f32')


if __name__ == '__main__':
    main()
