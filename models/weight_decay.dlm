# D2L 4.5: weight decay. High-dimensional linear regression: d = 200 inputs, y = 0.05 + sum(0.01 x_i) + noise
# N(0, 0.01), only 20 training examples (100 test), so the model overfits without regularisation.
# Book result: with lambd = 0 the test loss stays high and the L2 norm of w ends near 13-14; with lambd = 3
# the test loss falls and the L2 norm of w ends near 0.36. (--report lists the weights: fewer than 1,000.)
# Parameters: 0.weight [1, 200], 0.bias [1]: 200 + 1 = 201.
#
# Both forms from one file: the penalty written in the loss (4.5.3, from scratch) or, with -D concise=1, the
# optimizer's weight decay on the weight only (4.5.4, concise). -D lambd=0 trains without regularisation:
#     dlc build models/weight_decay.dlm -D lambd=0
#     dlc build models/weight_decay.dlm -D concise=1

lambd = 3
concise = 0

input x: f32[batch, 200]
input y: f32[batch, 1]

yhat = x |> linear(1)
output yhat

init "0.weight" = normal(0, 1)
init "0.bias"   = zeros

train {
    data      = high_dim(x, y, n_train=20, n_test=100, noise=0.01)
    loss      = squared_loss(yhat, y) + (1 - concise) * lambd * l2_penalty(param("0.weight"))  # sum(w^2) / 2
    eval_loss = squared_loss(yhat, y)          # what the book reports: the data term alone
    optimizer = sgd(lr = 0.003, weight_decay = concise * lambd, decay = "*.weight")
    batch     = 5
    epochs    = 100
    plot      = "log"
}
