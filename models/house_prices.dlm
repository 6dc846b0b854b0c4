# D2L 4.10: predicting house prices on Kaggle (train.csv / test.csv).
# Preprocessing as in the book: drop Id, standardise the numeric columns (a missing value becomes 0, the
# mean), one-hot encode the others with a column for "missing": 331 features. The target is SalePrice.
# Book result: 5-fold cross-validation (--kfold 5) gives an average train log rmse about 0.165 and an
# average validation log rmse about 0.171.
# Parameters: 0.weight [1, 331], 0.bias [1]: 331 + 1 = 332.

input x: f32[batch, 331]
input y: f32[batch, 1]

price = x |> linear(1)
output price

train {
    data      = csv(x, y, train="train.csv", test="test.csv", target="SalePrice", drop=["Id"])
    loss      = mse(price, y)       # the book's nn.MSELoss: mean of (price - y)^2, no 1/2
    optimizer = adam(lr = 5, weight_decay = 0)
    batch     = 64
    epochs    = 100
    metrics   = [log_rmse(price, y)]   # the book's: sqrt(mse(log(max(price, 1)), log(y)))
}
