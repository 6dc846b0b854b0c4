# D2L 3.2 / 3.3: linear regression, from scratch and concise.
# Data: y = X w + b + noise with w = [2, -3.4], b = 4.2, noise N(0, 0.01), 1000 examples.
# Book result: the loss falls to about 5e-5 by epoch 3 and the learned w, b differ from the true ones by
# about 1e-3 or less.
# Parameters: 0.weight [1, 2], 0.bias [1]: 2 + 1 = 3.

input x: f32[batch, 2]
input y: f32[batch, 1]

yhat = x |> linear(1, weight_init=normal(0, 0.01), bias_init=zeros)
output yhat

train {
    data      = synthetic_linear(x, y, w=[2, -3.4], b=4.2, noise=0.01, n=1000)
    loss      = squared_loss(yhat, y)        # mean of (yhat - y)^2 / 2 over the batch
    optimizer = sgd(lr = 0.03)
    batch     = 10
    epochs    = 3
}
