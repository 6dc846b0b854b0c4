# Optimizer values out of range or of the wrong kind, and a decay glob that chooses no parameter (with a note
# showing how parameters are named).
input x: f32[batch, 2]
input y: f32[batch, 1]
yhat = x |> linear(1)
#! note 5:13: parameters are named like "0.weight"
output yhat
train {
    data = synthetic_linear(x, y)
    loss = squared_loss(yhat, y)
    optimizer = adam("fast", beta1=1.5, beta2=-0.1, eps=0, weight_decay=0.1, decay="*.wieght")
#! error 11:22: lr must be a compile-time number, got a string
#! error 11:30: beta1 must be in [0, 1), got 1.5
#! error 11:41: beta2 must be in [0, 1), got -0.1
#! error 11:53: eps must be positive, got 0
#! error 11:78: decay "*.wieght" matches no trainable parameter
}
