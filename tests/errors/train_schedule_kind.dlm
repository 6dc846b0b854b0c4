# A learning-rate schedule is step(step_size, ...) or cosine(t_max, ...); step needs its step_size.
input x: f32[batch, 2]
input y: f32[batch, 1]
yhat = x |> linear(1)
output yhat
train {
    data = synthetic_linear(x, y)
    loss = squared_loss(yhat, y)
    schedule = exponential(0.9)
#! error 9:16: schedule must be step(step_size, gamma=0.1) or cosine(t_max, eta_min=0), got exponential(...)
}
