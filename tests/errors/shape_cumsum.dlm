# cumsum(x, axis) sums along one axis of an f32 tensor within each example: the axis is in range (negative counts
# from the last), not the batch dimension, and given once, by position or as axis=.
batch = 8
input x: f32[batch, 4, 3]
input labels: i32[batch]
a = cumsum(x, 3)
#! error 6:5: cumsum: axis 3 is out of range for f32[batch 8, 4, 3], which has axes -3..2
b = cumsum(x, -3)
#! error 8:5: cumsum: axis -3 is the batch dimension of f32[batch 8, 4, 3]; sums run within each example
c = cumsum(x)
#! error 10:5: cumsum needs argument 'axis'
d = cumsum(x, axis=1, keepdim=true)
#! error 12:23: cumsum has no argument 'keepdim'; it takes axis
e = cumsum(labels, 0)
#! error 14:5: cumsum needs an f32 tensor of at least one dimension, got i32[batch 8]
f = cumsum(x, 1.5)
#! error 16:15: cumsum's axis must be a compile-time integer, got the number 1.5
output y = cumsum(x, -1) + cumsum(x, axis=1)
