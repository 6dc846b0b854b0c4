# D2L 6.2: convolutions for images; 6.2.4, learning a kernel.
# X is a 6 x 8 image, 1 except for a 0 stripe in columns 2..5; Y = corr2d(X, K) with K = [[1, -1]] marks
# its edges: +1 at column 1 (1 to 0), -1 at column 5 (0 to 1). A 1 x 2 convolution without bias, trained
# for 10 steps of plain gradient descent on the summed squared error, learns K.
# Book result: the loss falls from tens to well under 1 within 10 epochs and the learned kernel is close
# to [[1, -1]] (--report prints 0.weight).
# Parameters: 0.weight [1, 1, 1, 2]: 2.

input x: f32[batch, 1, 6, 8]
input y: f32[batch, 1, 6, 7]

yhat = x |> conv2d(1, kernel=(1, 2), bias=false)
output yhat

X = reshape(tensor([[1, 1, 0, 0, 0, 0, 1, 1],
                    [1, 1, 0, 0, 0, 0, 1, 1],
                    [1, 1, 0, 0, 0, 0, 1, 1],
                    [1, 1, 0, 0, 0, 0, 1, 1],
                    [1, 1, 0, 0, 0, 0, 1, 1],
                    [1, 1, 0, 0, 0, 0, 1, 1]]), [1, 1, 6, 8])

Y = reshape(tensor([[0, 1, 0, 0, 0, -1, 0],
                    [0, 1, 0, 0, 0, -1, 0],
                    [0, 1, 0, 0, 0, -1, 0],
                    [0, 1, 0, 0, 0, -1, 0],
                    [0, 1, 0, 0, 0, -1, 0],
                    [0, 1, 0, 0, 0, -1, 0]]), [1, 1, 6, 7])

train {
    data      = tensors(x, y, X, Y)       # one example
    loss      = sum((yhat - y) ** 2)      # the book's l.sum()
    optimizer = sgd(lr = 0.03)
    batch     = 1
    epochs    = 10
}
