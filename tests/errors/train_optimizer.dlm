# Optimizer arguments: sgd(lr, momentum, weight_decay, decay, l1, l1_on) and adam(lr, beta1, beta2, eps,
# weight_decay, decay). Unknown arguments are reported with the ones that exist.
input x: f32[batch, 2]
input y: f32[batch, 1]
yhat = x |> linear(1)
output yhat
train {
    data = synthetic_linear(x, y)
    loss = squared_loss(yhat, y)
    optimizer = sgd(lr=0.1, beta1=0.9, nesterov=true)
#! error 10:29: sgd has no argument 'beta1'; it takes lr, momentum, weight_decay, decay, l1, l1_on
#! error 10:40: sgd has no argument 'nesterov'; it takes lr, momentum, weight_decay, decay, l1, l1_on
}
