# D2L 8.5 (7.5 in the 0.17 edition): batch normalization from scratch, in LeNet on Fashion-MNIST.
# The layer is a block of primitives: the batch's mean and (biased) variance over the batch, and the height and
# width of an image, normalise in training mode and update the moving statistics, states that the training step
# sets (`:=`) and checkpoints keep; evaluation and inference normalise with the moving statistics. The book's
# hyperparameters: lr 0.1, batch 128, Xavier-uniform weights for the convolutions and linear layers (init_cnn).
# Book result after 10 epochs (1.0 edition): validation accuracy .869 (median of its runs, .825-.882).
# Parameters (trainable; each batch norm has 2 x C more in its moving statistics, states):
#   0  conv 1 -> 6, 5x5:    6 * 25 + 6        =    156
#   1  batch norm 6:        2 * 6             =     12
#   4  conv 6 -> 16, 5x5:   16 * 6 * 25 + 16  =  2,416
#   5  batch norm 16:       2 * 16            =     32
#   9  linear 256 -> 120:   256 * 120 + 120   = 30,840
#   10 batch norm 120:      2 * 120           =    240
#   12 linear 120 -> 84:    120 * 84 + 84     = 10,164
#   13 batch norm 84:       2 * 84            =    168
#   15 linear 84 -> 10:     84 * 10 + 10      =    850
#   total                                       44,878

input x: f32[batch, 1, 28, 28]
input y: i32[batch]

# num_dims 2: [batch, features]; 4: [N, C, H, W], statistics per channel
block batch_norm_scratch(x, num_features, num_dims) {
    if num_dims == 2 {
        shape = [1, num_features]
        axes = 0
    } else {
        shape = [1, num_features, 1, 1]
        axes = (0, 2, 3)
    }
    param gamma: shape = ones
    param beta: shape = zeros
    state moving_mean: shape = zeros
    state moving_var: shape = ones
    if training() {
        m = mean(x, axis=axes, keepdim=true)
        v = mean((x - m) ** 2, axis=axes, keepdim=true)
        x_hat = (x - m) / sqrt(v + 1e-5)
        moving_mean := 0.9 * moving_mean + 0.1 * m
        moving_var := 0.9 * moving_var + 0.1 * v
    } else {
        x_hat = (x - moving_mean) / sqrt(moving_var + 1e-5)
    }
    return gamma * x_hat + beta
}

logits = x
    |> conv2d(6, kernel=5) |> batch_norm_scratch(6, 4) |> sigmoid      # 0-2:   6 x 24 x 24
    |> avg_pool(2, stride=2)                                           # 3:     6 x 12 x 12
    |> conv2d(16, kernel=5) |> batch_norm_scratch(16, 4) |> sigmoid    # 4-6:   16 x 8 x 8
    |> avg_pool(2, stride=2)                                           # 7:     16 x 4 x 4
    |> flatten                                                         # 8:     256
    |> linear(120) |> batch_norm_scratch(120, 2) |> sigmoid            # 9-11
    |> linear(84) |> batch_norm_scratch(84, 2) |> sigmoid              # 12-14
    |> linear(10)                                                      # 15
output logits

init "*.weight" = xavier_uniform

train {
    data      = fashion_mnist(x, y)
    loss      = cross_entropy(logits, y)
    optimizer = sgd(lr = 0.1)
    batch     = 128
    epochs    = 10
    metrics   = [accuracy(logits, y)]
}
