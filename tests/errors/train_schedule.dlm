# A learning-rate schedule's arguments are each checked: epochs at least 1 (warmup at least 0), factors in (0, 1].
input x: f32[batch, 2]
input y: f32[batch, 1]
yhat = x |> linear(1)
output yhat
train {
    data = synthetic_linear(x, y)
    loss = squared_loss(yhat, y)
    schedule = step(0, gamma=2, warmup=-1, start_factor=0)
#! error 9:21: step_size must be in 1..1099511627776 epochs, got 0
#! error 9:33: warmup must be in 0..1099511627776 epochs, got -1
#! error 9:24: gamma must be in (0, 1], got 2
#! error 9:44: start_factor must be in (0, 1], got 0
}
