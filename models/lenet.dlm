# D2L 7.6 (6.6 in the 0.17 edition, whose hyperparameters these are): LeNet-5 on Fashion-MNIST.
# Sigmoid activations, average pooling, Xavier-uniform weights (train_ch6's init_weights).
# Book result after 10 epochs: loss 0.469, train accuracy 0.823, test accuracy 0.779.
# Parameters:
#   0  conv 1 -> 6, 5x5:    6 * 1 * 25 + 6    =    156
#   3  conv 6 -> 16, 5x5:   16 * 6 * 25 + 16  =  2,416
#   7  linear 400 -> 120:   400 * 120 + 120   = 48,120
#   9  linear 120 -> 84:    120 * 84 + 84     = 10,164
#   11 linear 84 -> 10:     84 * 10 + 10      =    850
#   total                                       61,706

input x: f32[batch, 1, 28, 28]
input y: i32[batch]

logits = x
    |> conv2d(6, kernel=5, padding=2) |> sigmoid     # 0, 1: 6 x 28 x 28
    |> avg_pool(2, stride=2)                         # 2:    6 x 14 x 14
    |> conv2d(16, kernel=5) |> sigmoid               # 3, 4: 16 x 10 x 10
    |> avg_pool(2, stride=2)                         # 5:    16 x 5 x 5
    |> flatten                                       # 6:    400
    |> linear(120) |> sigmoid                        # 7, 8
    |> linear(84) |> sigmoid                         # 9, 10
    |> linear(10)                                    # 11
output logits

init "*.weight" = xavier_uniform

train {
    data      = fashion_mnist(x, y)
    loss      = cross_entropy(logits, y)
    optimizer = sgd(lr = 0.9)
    batch     = 256
    epochs    = 10
    metrics   = [accuracy(logits, y)]
}
