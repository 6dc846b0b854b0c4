# The train section holds `key = value` settings: unknown keys, keys given twice (with a note at the first),
# values of the wrong kind or out of range are each reported.
input x: f32[batch, 2]
input y: f32[batch, 1]
yhat = x |> linear(1)
output yhat
train {
    data = synthetic_linear(x, y, w=[2, -3.4], b=4.2)
    loss = squared_loss(yhat, y)
#! note 9:5: first given here
    optimizer = rmsprop(lr=0.03)
#! error 11:17: optimizer must be sgd(lr=...) or adam(lr=...), got rmsprop(...)
    batch = 10
    epochs = 0
#! note 14:5: first given here
#! error 14:14: epochs must be at least 1, got 0
    seed = "one"
#! error 17:12: seed must be a compile-time integer, got a string
    epochs = 3
#! error 19:5: train setting 'epochs' is given twice
    learning_rate = 0.1
#! error 21:5: unknown train setting 'learning_rate'; expected data, loss, eval_loss, optimizer, batch, epochs, seed, metrics, lr, plot or schedule
    lr = -1
#! error 23:10: the learning rate must be positive, got -1
    metrics = accuracy(yhat, y)
#! error 25:15: metrics is a list: [accuracy(logits, y)]
    loss = mse(yhat, y)
#! error 27:5: train setting 'loss' is given twice
}
