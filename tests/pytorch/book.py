"""book.py: the book's (D2L 1.0) PyTorch definitions of the zoo's models, written once for the tests that compare
dlc with PyTorch: tests/pytorch/zoo.py (one float64 step against dlc's), tests/interop/book_models.py (.npz round
trips) and tests/interop/onnx_zoo.py (torch.onnx.export for `dlc import`), which import this file.

Written as nested nn.Sequential and modules whose state_dict keys are the zoo models' parameter names: a model's
first blocks are spread into the top-level nn.Sequential as the .dlm files write them (`0.weight`,
`1.running_mean`), ResNet's stages are nn.Sequentials of the book's Residual (`4.0.conv1.weight`), GoogLeNet's
Inception has the 1.0 edition's branch names (`8.b2_2.weight`) and DenseNet's dense block is an nn.Sequential of
conv blocks whose forward concatenates (`4.1.0.running_var`). The arguments reduce widths and resolutions where a
test cannot afford the book's (d divides every width); the defaults are the book's. Initialisation is the caller's.
"""
import torch
from torch import nn
from torch.nn import functional as F


def softmax():  # D2L 4.5
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def mlp():  # D2L 5.2
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def dropout_mlp():  # D2L 5.6
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 256),
                         nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))


def lenet(relu=False):  # D2L 7.6, and its exercise with ReLU and max pooling
    act, pool = (nn.ReLU, nn.MaxPool2d) if relu else (nn.Sigmoid, nn.AvgPool2d)
    return nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), act(), pool(kernel_size=2, stride=2),
                         nn.Conv2d(6, 16, kernel_size=5), act(), pool(kernel_size=2, stride=2), nn.Flatten(),
                         nn.Linear(16 * 5 * 5, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, 10))


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


def bn_lenet(scratch=False):  # D2L 8.5.3 (the book's BatchNorm) and 8.5.4 (concise)
    def bn(features, dims):
        if scratch:
            return BatchNorm(features, dims)
        return nn.BatchNorm2d(features) if dims == 4 else nn.BatchNorm1d(features)

    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), bn(6, 4), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), bn(16, 4), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(256, 120), bn(120, 2), nn.Sigmoid(),
        nn.Linear(120, 84), bn(84, 2), nn.Sigmoid(), nn.Linear(84, 10))


# ---- D2L 8.1, 8.2: AlexNet and VGG ----


def alexnet(d=1, hidden=4096, side=5):
    """1 input channel, 10 classes; `side` is the last feature map's (5 at 224 x 224)."""
    return nn.Sequential(
        nn.Conv2d(1, 96 // d, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96 // d, 256 // d, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256 // d, 384 // d, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384 // d, 384 // d, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384 // d, 256 // d, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(256 // d * side * side, hidden), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(hidden, 10))


def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg11(ratio=1, hidden=4096, side=7):
    """VGG-11, its widths divided by ratio (4: the variant the book trains); `side` as alexnet's (7 at 224)."""
    conv_blks, in_channels = [], 1
    for (num_convs, out_channels) in ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)):
        out_channels //= ratio
        conv_blks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    return nn.Sequential(*conv_blks, nn.Flatten(),
                         nn.Linear(in_channels * side * side, hidden), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(hidden, 10))


# ---- D2L 8.3: NiN ----


def nin_block(in_channels, out_channels, kernel_size, strides, padding):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


def nin(d=1, dropout=0.5):
    return nn.Sequential(
        nin_block(1, 96 // d, kernel_size=11, strides=4, padding=0), nn.MaxPool2d(3, stride=2),
        nin_block(96 // d, 256 // d, kernel_size=5, strides=1, padding=2), nn.MaxPool2d(3, stride=2),
        nin_block(256 // d, 384 // d, kernel_size=3, strides=1, padding=1), nn.MaxPool2d(3, stride=2),
        nn.Dropout(dropout), nin_block(384 // d, 10, kernel_size=3, strides=1, padding=1),
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


def googlenet(d=1):
    def inc(cin, c1, c2, c3, c4):
        return Inception(cin // d, c1 // d, (c2[0] // d, c2[1] // d), (c3[0] // d, c3[1] // d), c4 // d)
    return nn.Sequential(
        nn.Conv2d(1, 64 // d, kernel_size=7, stride=2, padding=3), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        nn.Conv2d(64 // d, 64 // d, kernel_size=1), nn.ReLU(),
        nn.Conv2d(64 // d, 192 // d, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        inc(192, 64, (96, 128), (16, 32), 32), inc(256, 128, (128, 192), (32, 96), 64),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        inc(480, 192, (96, 208), (16, 48), 64), inc(512, 160, (112, 224), (24, 64), 64),
        inc(512, 128, (128, 256), (24, 64), 64), inc(512, 112, (144, 288), (32, 64), 64),
        inc(528, 256, (160, 320), (32, 128), 128),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        inc(832, 256, (160, 320), (32, 128), 128), inc(832, 384, (192, 384), (48, 128), 128),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(1024 // d, 10))


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


def resnet18(d=1):
    return nn.Sequential(
        nn.Conv2d(1, 64 // d, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64 // d), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        resnet_block(64 // d, 64 // d, 2, first_block=True), resnet_block(64 // d, 128 // d, 2),
        resnet_block(128 // d, 256 // d, 2), resnet_block(256 // d, 512 // d, 2),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512 // d, 10))


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
    layers = [nn.Conv2d(1, num_channels, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(num_channels),
              nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
    for i, num_convs in enumerate(arch):
        layers.append(DenseBlock(num_channels, num_convs, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(arch) - 1:
            num_channels //= 2
            layers.append(transition_block(num_channels * 2, num_channels))
    layers += [nn.BatchNorm2d(num_channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
               nn.Linear(num_channels, 10)]
    return nn.Sequential(*layers)
