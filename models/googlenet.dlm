# D2L 8.4 (7.4 in the 0.17 edition): GoogLeNet on Fashion-MNIST resized to 96 x 96.
# Inception blocks: four parallel branches (1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pooling then 1x1), each
# followed by ReLU, concatenated along the channels; global average pooling before the one linear layer.
# The older edition's hyperparameters, which the book's run used: lr 0.1, batch 128, Xavier-uniform weights.
# Book result after 10 epochs: validation accuracy .890 (median, .854-.902).
# Parameters (trainable): 5,977,530 (dlc check); the stem 1x1 and 3x3 convolutions 4,160 + 110,784 after the 7x7's
# 3,200, nine Inception blocks, and the linear layer 1024 -> 10 (10,250).

input x: f32[batch, 1, 96, 96]
input y: i32[batch]

# c1: the 1x1 branch's channels; c2, c3: the (reduce, output) channels of the 3x3 and 5x5 branches; c4: the pool
# branch's
block inception(x, c1, c2, c3, c4) {
    p1 = x |> conv2d(c1, kernel=1) as b1_1 |> relu
    p2 = x |> conv2d(c2[0], kernel=1) as b2_1 |> relu |> conv2d(c2[1], kernel=3, padding=1) as b2_2 |> relu
    p3 = x |> conv2d(c3[0], kernel=1) as b3_1 |> relu |> conv2d(c3[1], kernel=5, padding=2) as b3_2 |> relu
    p4 = x |> max_pool(3, stride=1, padding=1) as b4_1 |> conv2d(c4, kernel=1) as b4_2 |> relu
    return concat([p1, p2, p3, p4], axis=1)
}

logits = x
    |> conv2d(64, kernel=7, stride=2, padding=3) |> relu                    # 0, 1:   64 x 48 x 48
    |> max_pool(3, stride=2, padding=1)                                     # 2:      64 x 24 x 24
    |> conv2d(64, kernel=1) |> relu                                         # 3, 4
    |> conv2d(192, kernel=3, padding=1) |> relu                             # 5, 6:   192 x 24 x 24
    |> max_pool(3, stride=2, padding=1)                                     # 7:      192 x 12 x 12
    |> inception(64, (96, 128), (16, 32), 32)                               # 8:      256 x 12 x 12
    |> inception(128, (128, 192), (32, 96), 64)                             # 9:      480
    |> max_pool(3, stride=2, padding=1)                                     # 10:     480 x 6 x 6
    |> inception(192, (96, 208), (16, 48), 64)                              # 11:     512
    |> inception(160, (112, 224), (24, 64), 64)                             # 12:     512
    |> inception(128, (128, 256), (24, 64), 64)                             # 13:     512
    |> inception(112, (144, 288), (32, 64), 64)                             # 14:     528
    |> inception(256, (160, 320), (32, 128), 128)                           # 15:     832
    |> max_pool(3, stride=2, padding=1)                                     # 16:     832 x 3 x 3
    |> inception(256, (160, 320), (32, 128), 128)                           # 17:     832
    |> inception(384, (192, 384), (48, 128), 128)                           # 18:     1024
    |> adaptive_avg_pool(1)                                                 # 19:     1024 x 1 x 1
    |> flatten                                                              # 20
    |> linear(10)                                                           # 21
output logits

init "*.weight" = xavier_uniform

train {
    data      = fashion_mnist(x, y, resize=96)
    loss      = cross_entropy(logits, y)
    optimizer = sgd(lr = 0.1)
    batch     = 128
    epochs    = 10
    metrics   = [accuracy(logits, y)]
}
