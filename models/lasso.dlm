# L1 regularisation (the lasso), the book's suggested counterpart of weight decay (D2L 4.5, exercises): on data
# where only 3 of 50 features matter, the L1 penalty's proximal step (a soft threshold after each SGD step) sets
# most of the other 47 weights exactly to zero; an L2 penalty of the same strength only shrinks them.
#     dlc build models/lasso.dlm                  # L1
#     dlc build models/lasso.dlm -D l1=0 -D l2=1  # L2 instead
# --report lists the weights (51 parameters), so the exact zeros can be counted.

l1 = 0.05
l2 = 0

input x: f32[batch, 50]
input y: f32[batch, 1]

yhat = x |> linear(1)
output yhat

init "0.weight" = normal(0, 1)
init "0.bias"   = zeros

train {
    data      = synthetic_linear(x, y, w=[3, -2, 1.5] + [0] * 47, b=0.5, noise=0.01, n=200)
    loss      = squared_loss(yhat, y) + l2 * l2_penalty(param("0.weight"))
    eval_loss = squared_loss(yhat, y)
    optimizer = sgd(lr = 0.05, l1 = l1, l1_on = "*.weight")
    batch     = 10
    epochs    = 50
}
