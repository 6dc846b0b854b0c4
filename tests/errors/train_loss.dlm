# The loss is a scalar f32 tensor; metrics are a list of accuracy(logits, labels) and log_rmse(pred, target)
# with matching shapes; unknown metrics are named.
input x: f32[batch, 4]
input y: i32[batch]
input t: f32[batch, 1]
logits = x |> linear(3)
pred = x |> linear(1)
output logits
train {
    loss = logits * 2
#! error 10:12: the loss must be a scalar, got f32[batch 1, 3]; reduce it with mean() or sum()
    metrics = [accuracy(logits, y), precision(logits, y), log_rmse(pred, y), log_rmse(logits, t), 3]
#! error 12:37: unknown metric 'precision'; expected accuracy(logits, labels) or log_rmse(pred, target)
#! error 12:59: log_rmse: prediction f32[batch 1, 1] and target i32[batch 1] differ in shape
#! error 12:78: log_rmse: prediction f32[batch 1, 3] and target f32[batch 1, 1] differ in shape
#! error 12:99: unknown metric; expected accuracy(logits, labels) or log_rmse(pred, target)
}
