# tensors(x, y, X, Y) takes compile-time data of n examples shaped like the inputs after their batch
# dimension.
input x: f32[batch, 1, 4, 4]
input y: f32[batch, 1]
yhat = x |> flatten |> linear(1)
output yhat
X = zeros([2, 1, 4, 5])
Y = zeros([2, 1])
train {
    data = tensors(x, y, X, Y)
#! error 10:12: tensors(...): data [2, 1, 4, 5] and [2, 1] do not match inputs f32[batch 1, 1, 4, 4] and f32[batch 1, 1] (the
    loss = squared_loss(yhat, y)
}
