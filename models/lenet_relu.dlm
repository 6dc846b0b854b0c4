# D2L 7.6's suggested variant of LeNet: ReLU activations and max pooling instead of sigmoid and average
# pooling (the book's exercise "replace average pooling with max-pooling, the sigmoid with ReLU"). ReLU trains
# from the first epoch, so the learning rate is lower than LeNet's 0.9, which would diverge.
# Same shapes and parameters as lenet.dlm: 61,706.

input x: f32[batch, 1, 28, 28]
input y: i32[batch]

logits = x
    |> conv2d(6, kernel=5, padding=2) |> relu        # 6 x 28 x 28
    |> max_pool(2, stride=2)                         # 6 x 14 x 14
    |> conv2d(16, kernel=5) |> relu                  # 16 x 10 x 10
    |> max_pool(2, stride=2)                         # 16 x 5 x 5
    |> flatten                                       # 400
    |> linear(120) |> relu
    |> linear(84) |> relu
    |> linear(10)
output logits

init "*.weight" = xavier_uniform

train {
    data      = fashion_mnist(x, y)
    loss      = cross_entropy(logits, y)
    optimizer = sgd(lr = 0.1)
    batch     = 256
    epochs    = 10
    metrics   = [accuracy(logits, y)]
}
