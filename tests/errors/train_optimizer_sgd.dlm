# sgd's momentum is in [0, 1), its decay a glob string, its learning rate positive.
input x: f32[batch, 2]
input y: f32[batch, 1]
yhat = x |> linear(1)
output yhat
train {
    data = synthetic_linear(x, y)
    loss = squared_loss(yhat, y)
    optimizer = sgd(lr=0, momentum=1, weight_decay=-1, decay=3)
#! error 9:27: momentum must be in [0, 1), got 1
#! error 9:39: weight_decay must be at least 0, got -1
#! error 9:56: decay must be a glob string such as "*.weight", got the integer 3
#! error 9:17: the learning rate must be positive, got 0
}
