# D2L 4.6: dropout. An MLP with two hidden layers of 256 ReLU units on Fashion-MNIST, dropout 0.2 after the
# first hidden layer and 0.5 after the second (active in training only).
# Book result after 10 epochs: test accuracy about 0.85, with train and test curves close together.
# Parameters: 1: 784 * 256 + 256 = 200,960
#             4: 256 * 256 + 256 =  65,792
#             7: 256 * 10  + 10  =   2,570
#             total 269,322

dropout1 = 0.2
dropout2 = 0.5

input x: f32[batch, 1, 28, 28]
input y: i32[batch]

logits = x
    |> flatten                                      # 0
    |> linear(256) |> relu |> dropout(dropout1)     # 1, 2, 3
    |> linear(256) |> relu |> dropout(dropout2)     # 4, 5, 6
    |> linear(10)                                   # 7
output logits

init "*.weight" = normal(0, 0.01)      # biases keep PyTorch's default, as in the book's concise version

train {
    data      = fashion_mnist(x, y)
    loss      = cross_entropy(logits, y)
    optimizer = sgd(lr = 0.5)
    batch     = 256
    epochs    = 10
    metrics   = [accuracy(logits, y)]
}
