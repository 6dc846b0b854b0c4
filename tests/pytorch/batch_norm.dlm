# The model tests/pytorch/batch_norm.py runs in PyTorch: batch_norm after a convolution (BatchNorm2d) and after a
# linear layer (BatchNorm1d), two SGD steps in training mode, then inference with the running statistics.
input x: f32[batch, 2, 5, 5]
input y: i32[batch]
logits = x
    |> conv2d(3, kernel=3, padding=1, bias=false)
    |> batch_norm
    |> relu
    |> max_pool(2)
    |> flatten
    |> linear(6)
    |> batch_norm(momentum=0.2)
    |> sigmoid
    |> linear(3)
output logits
train {
    loss = cross_entropy(logits, y)
    optimizer = sgd(lr = 0.1)
    batch = 4
}
