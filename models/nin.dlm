# D2L 8.3 (7.3 in the 0.17 edition): network in network on Fashion-MNIST resized to 224 x 224.
# NiN blocks (a convolution and two 1x1 convolutions, each followed by ReLU) and no fully connected layer: the last
# block has one channel per class and global average pooling makes them the logits.
# The book's hyperparameters: lr 0.05, batch 128, Xavier-uniform weights.
# Book result after 10 epochs (1.0 edition): validation accuracy .854 (median, .793-.874).
# Parameters (trainable):
#   0  96: conv 1 -> 96, 11x11 (11,712) + 2 x 1x1 96 -> 96 (9,312)                      30,336
#   2  256: conv 96 -> 256, 5x5 (614,656) + 2 x 1x1 256 -> 256 (65,792)                746,240
#   4  384: conv 256 -> 384, 3x3 (885,120) + 2 x 1x1 384 -> 384 (147,840)            1,180,800
#   7  10: conv 384 -> 10, 3x3 (34,570) + 2 x 1x1 10 -> 10 (110)                         34,790
#   total                                                                            1,992,166

input x: f32[batch, 1, 224, 224]
input y: i32[batch]

block nin_block(x, channels, kernel, strides, padding) {
    return x
        |> conv2d(channels, kernel=kernel, stride=strides, padding=padding) |> relu
        |> conv2d(channels, kernel=1) |> relu
        |> conv2d(channels, kernel=1) |> relu
}

logits = x
    |> nin_block(96, 11, 4, 0)              # 0:   96 x 54 x 54
    |> max_pool(3, stride=2)                # 1:   96 x 26 x 26
    |> nin_block(256, 5, 1, 2)              # 2:   256 x 26 x 26
    |> max_pool(3, stride=2)                # 3:   256 x 12 x 12
    |> nin_block(384, 3, 1, 1)              # 4:   384 x 12 x 12
    |> max_pool(3, stride=2)                # 5:   384 x 5 x 5
    |> dropout(0.5)                         # 6
    |> nin_block(10, 3, 1, 1)               # 7:   10 x 5 x 5
    |> adaptive_avg_pool(1)                 # 8:   10 x 1 x 1
    |> flatten                              # 9:   10
output logits

init "*.weight" = xavier_uniform

train {
    data      = fashion_mnist(x, y, resize=224)
    loss      = cross_entropy(logits, y)
    optimizer = sgd(lr = 0.05)
    batch     = 128
    epochs    = 10
    metrics   = [accuracy(logits, y)]
}
