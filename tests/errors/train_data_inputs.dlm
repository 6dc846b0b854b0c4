# The data's first two arguments must be the model's inputs, not computed tensors or other values.
input x: f32[batch, 2]
input y: f32[batch, 1]
yhat = x |> linear(1)
output yhat
train {
    data = csv(yhat, 3, train="train.csv", drop="Id", target=1)
#! error 7:16: csv: argument 1 must be one of the model's inputs, got f32[batch 1, 1]
#! error 7:22: csv: argument 2 must be one of the model's inputs, got the integer 3
    loss = squared_loss(yhat, y)
}
