# grad(y, x) differentiates a scalar y with respect to an input or a parameter. A gradient through a
# gradient's convolution, pooling or cross-entropy kernels is not supported: the error points at the grad()
# and a note at the layer whose gradient it would differentiate.
input x: f32[batch, 1, 6, 6]
input y: i32[batch]
input v: f32[4]
h = x |> conv2d(2, kernel=3) |> flatten
#! note 7:10: conv2d_dx is part of the gradient of this
logits = h |> linear(3)
l = cross_entropy(logits, y)
a = grad(logits, x)
#! error 11:10: grad needs a scalar to differentiate, got f32[batch 1, 3]; take sum() of it first
b = grad(l, tensor([1, 2]))
#! error 13:5: grad: the value to differentiate by is a compile-time constant; declare it as an input or a param
c = grad(l, 3)
#! error 15:5: grad: the value to differentiate by is a compile-time constant; declare it as an input or a param
gx = grad(l, x)
d = grad(sum(gx * gx), x)
#! error 18:5: grad: cannot differentiate through conv2d_dx, a gradient built by grad() or the loss; second-order gradients
e = grad(sum(v), v, v)
#! error 20:21: grad takes at most 2 positional arguments, got 3
f = grad(sum(v))
#! error 22:5: grad needs argument 'x' (number 2), got 1 argument
output logits
