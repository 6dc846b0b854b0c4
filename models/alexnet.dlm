# D2L 8.1 (7.1 in the 0.17 edition): AlexNet on Fashion-MNIST resized to 224 x 224, one input channel.
# Book result after 10 epochs: loss about 0.33, train accuracy about 0.88, test accuracy about 0.88.
# Parameters:
#   0  conv 1 -> 96, 11x11:    96 * 1 * 121 + 96     =     11,712
#   3  conv 96 -> 256, 5x5:    256 * 96 * 25 + 256   =    614,656
#   6  conv 256 -> 384, 3x3:   384 * 256 * 9 + 384   =    885,120
#   8  conv 384 -> 384, 3x3:   384 * 384 * 9 + 384   =  1,327,488
#   10 conv 384 -> 256, 3x3:   256 * 384 * 9 + 256   =    884,992
#   14 linear 6400 -> 4096:    6400 * 4096 + 4096    = 26,218,496
#   17 linear 4096 -> 4096:    4096 * 4096 + 4096    = 16,781,312
#   20 linear 4096 -> 10:      4096 * 10 + 10        =     40,970
#   total                                              46,764,746

input x: f32[batch, 1, 224, 224]
input y: i32[batch]

logits = x
    |> conv2d(96, kernel=11, stride=4, padding=1) |> relu     # 0, 1:   96 x 54 x 54 (floor(215 / 4) + 1)
    |> max_pool(3, stride=2)                                  # 2:      96 x 26 x 26
    |> conv2d(256, kernel=5, padding=2) |> relu               # 3, 4:   256 x 26 x 26
    |> max_pool(3, stride=2)                                  # 5:      256 x 12 x 12
    |> conv2d(384, kernel=3, padding=1) |> relu               # 6, 7:   384 x 12 x 12
    |> conv2d(384, kernel=3, padding=1) |> relu               # 8, 9:   384 x 12 x 12
    |> conv2d(256, kernel=3, padding=1) |> relu               # 10, 11: 256 x 12 x 12
    |> max_pool(3, stride=2)                                  # 12:     256 x 5 x 5
    |> flatten                                                # 13:     6400
    |> linear(4096) |> relu |> dropout(0.5)                   # 14, 15, 16
    |> linear(4096) |> relu |> dropout(0.5)                   # 17, 18, 19
    |> linear(10)                                             # 20
output logits

init "*.weight" = xavier_uniform

train {
    data      = fashion_mnist(x, y, resize=224)
    loss      = cross_entropy(logits, y)
    optimizer = sgd(lr = 0.01)
    batch     = 128
    epochs    = 10
    metrics   = [accuracy(logits, y)]
}
