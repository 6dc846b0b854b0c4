# D2L 4.2 / 4.3: the multilayer perceptron on Fashion-MNIST, one hidden layer of 256 ReLU units.
# Book result after 10 epochs: train loss about 0.4, train accuracy about 0.86, test accuracy about 0.85.
# Parameters: 1.weight [256, 784] + 1.bias [256] = 200,704 + 256 = 200,960
#             3.weight [10, 256]  + 3.bias [10]  =   2,560 +  10 =   2,570
#             total 203,530

input x: f32[batch, 1, 28, 28]
input y: i32[batch]

logits = x
    |> flatten          # 0: 784
    |> linear(256)      # 1: 256
    |> relu             # 2
    |> linear(10)       # 3: 10
output logits

init "*.weight" = normal(0, 0.01)
init "*.bias"   = zeros

train {
    data      = fashion_mnist(x, y)
    loss      = cross_entropy(logits, y)
    optimizer = sgd(lr = 0.1)
    batch     = 256
    epochs    = 10
    metrics   = [accuracy(logits, y)]
}
