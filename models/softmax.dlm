# D2L 3.6 / 3.7: softmax regression on Fashion-MNIST.
# Book result after 10 epochs: train loss about 0.45, train accuracy about 0.85, test accuracy about 0.83.
# Parameters: 1.weight [10, 784], 1.bias [10]: 784 * 10 + 10 = 7,850.

input x: f32[batch, 1, 28, 28]
input y: i32[batch]

logits = x
    |> flatten          # 0: 784
    |> linear(10)       # 1: 10
output logits

init "*.weight" = normal(0, 0.01)
init "*.bias"   = zeros

train {
    data      = fashion_mnist(x, y)
    loss      = cross_entropy(logits, y)     # softmax and cross-entropy in one, as nn.CrossEntropyLoss
    optimizer = sgd(lr = 0.1)
    batch     = 256
    epochs    = 10
    metrics   = [accuracy(logits, y)]
}
