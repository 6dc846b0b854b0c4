# Built-in functions with arguments missing, extra, of the wrong kind or out of range.
input x: f32[batch, 4]
input v: f32[4]
input labels: i32[batch]
a = exp()
#! error 5:5: exp needs one argument, got none
b = exp(x, x)
#! error 7:12: exp takes at most 1 positional argument, got 2
c = pow(x)
#! error 9:5: pow needs two arguments: pow(x, 2)
d = where(x > 0, x)
#! error 11:5: where needs argument 'b' (number 3), got 2 arguments
e = sum(x, axis=5)
#! error 13:12: axis 5 is out of range for f32[batch 1, 4], which has axes -2..1
f = sum(x, keepdim=2)
#! error 15:12: 'keepdim' must be true or false, got the integer 2
g = mean(labels)
#! error 17:5: a reduction needs an f32 tensor, got i32[batch 1]
h = min(x, axis=2)
#! error 19:12: axis 2 is out of range for f32[batch 1, 4], which has axes -2..1
k = reshape(x)
#! error 21:5: reshape needs a shape: reshape(x, [batch, 784])
m = reshape(x, [2, batch])
#! error 23:16: 'batch' can only be the first dimension
n = transpose(x)
#! error 25:5: transpose needs an unbatched 2-D tensor, got f32[batch 1, 4]
p = dot(v, tensor([1, 2, 3]))
#! error 27:5: dot needs two vectors of one length, got f32[4] and f32[3]
q = tensor([[1, 2], [3]])
#! error 29:12: tensor's argument 'data': a list used as a tensor must be a rectangular nest of numbers, at most 6 deep
r = arange(0)
#! error 31:12: arange length must be in 1..16777216, got 0
s = arange(1.5)
#! error 33:12: arange's length must be a compile-time integer, got the number 1.5
t = len(3)
#! error 35:5: len needs a list, got the integer 3
u = log_softmax(x, axis=0)
#! error 37:20: log_softmax: axis 0 is the batch dimension of f32[batch 1, 4]; a softmax runs within each example
w = sum(x, axis=-3)
#! error 39:12: axis -3 is out of range for f32[batch 1, 4], which has axes -2..1
output a
