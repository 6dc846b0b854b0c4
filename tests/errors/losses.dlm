# Losses and penalties: param() and params() name existing parameters (a note shows how they are named),
# penalties take parameters or lists of them, prediction and target have one shape, labels are integers.
input x: f32[batch, 4]
input y: f32[batch, 1]
input labels: i32[batch]
yhat = x |> linear(1)
#! note 6:13: parameters are named like "0.weight"
#! note 6:13: parameters are named like "0.weight"
output yhat
a = l2_penalty(param("0.wieght"))
#! error 10:22: no parameter is named "0.wieght"
b = l1_penalty(params("1.*"))
#! error 12:23: no parameter matches "1.*"
c = l2_penalty([])
#! error 14:16: l2_penalty needs a parameter or a list of them, got an empty list
d = l2_penalty(labels)
#! error 16:16: l2_penalty penalises f32 parameters, got i32[batch 1]
e = mse(yhat, labels)
#! error 18:5: mse: prediction f32[batch 1, 1] and target i32[batch 1] differ in shape
f = squared_loss(yhat, x)
#! error 20:5: squared_loss: prediction f32[batch 1, 1] and target f32[batch 1, 4] differ in shape
g = param(3)
#! error 22:5: param needs a parameter name as a string: param("0.weight"), got the integer 3
h = l2_penalty(param("0.weight"), 2)
#! error 24:35: l2_penalty takes at most 1 positional argument, got 2
