# D2L 8.7 (7.7 in the 0.17 edition): DenseNet on Fashion-MNIST resized to 96 x 96.
# Dense blocks: each convolution block (batch norm, ReLU, 3x3 convolution of `growth` channels) sees the
# concatenation of the block's input and every output before it; transition blocks (batch norm, ReLU, 1x1
# convolution halving the channels, 2x2 average pooling) between them.
# The book's hyperparameters: lr 0.01 (the 1.0 edition's), batch 128, PyTorch's default initialisation.
# Book result after 10 epochs (1.0 edition): validation accuracy .900 (median, .893-.919).
# Parameters (trainable): 758,226 (dlc check): the stem (conv 7x7 3,200, bn 128), four dense blocks of four
# convolution blocks at growth rate 32 (64 -> 192, 96 -> 224, 112 -> 240, 120 -> 248 channels), three
# transitions (to 96, 112, 120 channels), the last batch norm (496) and the linear layer 248 -> 10 (2,490).

input x: f32[batch, 1, 96, 96]
input y: i32[batch]

block conv_block(x, channels) {
    return x |> batch_norm |> relu |> conv2d(channels, kernel=3, padding=1)
}

block dense_block(x, convs, growth) {
    for i in range(convs) {
        x = concat([x, conv_block(x, growth)], axis=1)
    }
    return x
}

block transition_block(x, channels) {
    return x |> batch_norm |> relu |> conv2d(channels, kernel=1) |> avg_pool(2, stride=2)
}

channels = 64
growth = 32
arch = [4, 4, 4, 4]

h = x
    |> conv2d(64, kernel=7, stride=2, padding=3)        # 64 x 48 x 48
    |> batch_norm |> relu
    |> max_pool(3, stride=2, padding=1)                 # 64 x 24 x 24
for i in range(len(arch)) {
    h = dense_block(h, arch[i], growth)
    channels = channels + arch[i] * growth
    if i != len(arch) - 1 {
        channels = channels / 2
        h = transition_block(h, channels)               # 96 x 12, 112 x 6, 120 x 3
    }
}
logits = h
    |> batch_norm |> relu                               # 248 x 3 x 3
    |> adaptive_avg_pool(1)
    |> flatten
    |> linear(10)
output logits

train {
    data      = fashion_mnist(x, y, resize=96)
    loss      = cross_entropy(logits, y)
    optimizer = sgd(lr = 0.01)
    batch     = 128
    epochs    = 10
    metrics   = [accuracy(logits, y)]
}
