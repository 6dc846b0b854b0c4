# The loss is differentiated with respect to every parameter: a loss built from a gradient through a
# convolution (here, a penalty on the input gradient) needs second-order gradients that are not supported.
input x: f32[batch, 1, 6, 6]
input y: i32[batch]
logits = x |> conv2d(2, kernel=3) |> flatten |> linear(3)
#! note 5:15: conv2d_dx is part of the gradient of this
l = cross_entropy(logits, y)
output logits
train {
    loss = l + sum(grad(l, x) ** 2)
#! error 10:12: the loss cannot be differentiated through conv2d_dx, a gradient built by grad(); second-order gradients go
}
