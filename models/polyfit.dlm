# D2L 4.4: model selection, underfitting and overfitting, by polynomial regression.
# Data: y = 5 + 1.2 x - 3.4 x^2/2! + 5.6 x^3/3! + noise N(0, 0.1); the features are x^i / i! for
# i = 0 .. 19 (max_degree 20); 100 training and 100 test examples.
# The model is linear without bias on the first `features` features; the loader fills x with the first
# x.shape[-1] columns.
#   features = 4:  third-order fit (normal). Book: weights close to [5, 1.2, -3.4, 5.6], train and test
#                  loss both near the noise level.
#   features = 2:  linear fit (underfitting). Book: the loss stays high on train and test.
#   features = 20: all features (overfitting); the book trains this one for 1500 epochs (--epochs 1500).
#                  Book: the train loss falls, the test loss stays higher.
# Parameters: 0.weight [features, 1]: 4.

features = 4

input x: f32[batch, features]
input y: f32[batch, 1]

yhat = x |> linear(1, bias=false)
output yhat

train {
    data      = polynomial(x, y, degree=20, n_train=100, n_test=100, noise=0.1, coeffs=[5, 1.2, -3.4, 5.6])
    loss      = mse(yhat, y)        # the book's nn.MSELoss: mean of (yhat - y)^2, no 1/2
    optimizer = sgd(lr = 0.01)
    batch     = 10
    epochs    = 400
    plot      = "log"       # the book draws these losses on a log scale
}
