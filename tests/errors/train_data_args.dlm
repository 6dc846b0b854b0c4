# Generated data must match the inputs: synthetic_linear's w has one entry per feature, and each setting has
# the kind the loader reads (numbers, counts, lists of numbers).
input x: f32[batch, 3]
input y: f32[batch, 1]
yhat = x |> linear(1)
output yhat
train {
    data = synthetic_linear(x, y, w=[2, -3.4], b="four", noise=-1, n=0)
#! error 8:48: b must be a compile-time number, got a string
#! error 8:58: noise must be at least 0, got -1
#! error 8:68: n must be in 1..1073741824, got 0
#! error 8:12: synthetic_linear: w has 2 entries but 'x' has 3 features
    loss = squared_loss(yhat, y)
}
