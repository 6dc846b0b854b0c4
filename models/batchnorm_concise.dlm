# D2L 8.5.4 (7.5.4 in the 0.17 edition): batch normalization, concise: LeNet with the built-in batch_norm, which is
# PyTorch's nn.BatchNorm2d / nn.BatchNorm1d (the running variance takes the unbiased variance; running_mean,
# running_var and num_batches_tracked are states). The book's hyperparameters: lr 0.1, batch 128, Xavier-uniform
# weights for the convolutions and linear layers only (init_cnn), so each takes weight_init= rather than an
# `init "*.weight"` rule that would reach batch norm's weights too.
# Book result after 10 epochs (1.0 edition): validation accuracy .868 (median of its runs, .821-.882).
# Parameters (trainable): the same 44,878 as batchnorm.dlm, batch norm's weight and bias for gamma and beta.

input x: f32[batch, 1, 28, 28]
input y: i32[batch]

logits = x
    |> conv2d(6, kernel=5, weight_init=xavier_uniform) |> batch_norm |> sigmoid     # 0-2:   6 x 24 x 24
    |> avg_pool(2, stride=2)                                                        # 3:     6 x 12 x 12
    |> conv2d(16, kernel=5, weight_init=xavier_uniform) |> batch_norm |> sigmoid    # 4-6:   16 x 8 x 8
    |> avg_pool(2, stride=2)                                                        # 7:     16 x 4 x 4
    |> flatten                                                                      # 8:     256
    |> linear(120, weight_init=xavier_uniform) |> batch_norm |> sigmoid             # 9-11
    |> linear(84, weight_init=xavier_uniform) |> batch_norm |> sigmoid              # 12-14
    |> linear(10, weight_init=xavier_uniform)                                       # 15
output logits

train {
    data      = fashion_mnist(x, y)
    loss      = cross_entropy(logits, y)
    optimizer = sgd(lr = 0.1)
    batch     = 128
    epochs    = 10
    metrics   = [accuracy(logits, y)]
}
