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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'pytorch'))
import book  # noqa: E402  (tests/pytorch/book.py: the book's definitions, shared with the other tests)

DATA = '/usr/share/datasets/fashion-mnist'


def init_normal(m):  # the book's init_weights for softmax regression and the MLPs
    if type(m) == nn.Linear:
        nn.init.normal_(m.weight, std=0.01)


def init_xavier(m):  # train_ch6's init_weights
    if type(m) in (nn.Linear, nn.Conv2d):
        nn.init.xavier_uniform_(m.weight)


def book_model(name):
    """The book's definitions (tests/pytorch/book.py: D2L 3.7, 4.3, 4.6, 6.6 and 6.6's ReLU/max-pool exercise, 7.1,
    7.2, 8.3-8.7), initialised as the book does, and the learning rate."""
    if name in ('softmax', 'mlp', 'dropout_mlp'):
        net = getattr(book, name)()
        net.apply(init_normal)
        return net, 0.5 if name == 'dropout_mlp' else 0.1
    if name in ('lenet', 'lenet_relu'):
        net = book.lenet(relu=name == 'lenet_relu')
        net.apply(init_xavier)
        return net, 0.9 if name == 'lenet' else 0.1
    if name == 'batchnorm_concise':  # D2L 8.5's concise BN-LeNet
        net = book.bn_lenet()
        net.apply(init_xavier)
        return net, 0.1
    if name == 'alexnet':  # D2L 7.1 (1 input channel, 10 classes)
        net = book.alexnet()
        net.apply(init_xavier)
        return net, 0.01
    if name in ('vgg11', 'vgg11_full'):  # D2L 7.2: the ratio-4 variant the book trains, and the full width
        net = book.vgg11(ratio=4 if name == 'vgg11' else 1)
        net.apply(init_xavier)
        return net, 0.05
    if name in ('nin', 'googlenet', 'resnet18'):
        net = getattr(book, name)()
        net.apply(init_xavier)
        return net, {'nin': 0.05, 'googlenet': 0.1, 'resnet18': 0.01}[name]
    if name == 'densenet':
        return book.densenet(), 0.01  # PyTorch's default initialisation, as the book's DenseNet
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
