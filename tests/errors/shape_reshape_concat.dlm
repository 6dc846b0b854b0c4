# reshape keeps the element count and the batch dimension first; concat joins at most four f32 tensors that
# agree outside the joined axis, which is not the batch dimension.
batch = 8
input x: f32[batch, 12]
input y: f32[batch, 5]
input z: f32[batch, 2, 6]
input labels: i32[batch, 3]
a = reshape(x, [batch, 5, 3])
#! error 8:5: cannot reshape f32[batch 8, 12] to [batch 8, 5, 3]: the element counts differ
b = reshape(x, [8, 12])
#! error 10:5: cannot reshape f32[batch 8, 12] to [8, 12]: the batch dimension must stay first
c = reshape(x, [batch, 3, 4, 1, 1, 1, 1])
#! error 12:16: a shape has at most 6 dimensions, got 7
d = concat([x, z], axis=1)
#! error 14:5: concat: [batch 8, 12] and [batch 8, 2, 6] differ outside axis 1
e = concat([x, y], axis=0)
#! error 16:5: concat: axis 0 is the batch dimension of [batch 8, 12]; tensors are joined within each example
f = concat([x, y], axis=2)
#! error 18:5: concat: axis 2 is out of range for [batch 8, 12], which has axes -2..1
g = concat([x, y, x, y, x], axis=1)
#! error 20:5: concat takes 1 to 4 tensors, got 5
h = concat([x, labels], axis=1)
#! error 22:5: concat needs f32 tensors, got i32[batch 8, 3]
k = concat(x, axis=1)
#! error 24:12: concat needs a list of tensors: concat([a, b], axis=1), got f32[batch 8, 12]
m = concat([], axis=0)
#! error 26:5: concat takes 1 to 4 tensors, got 0
n = reshape(x, [batch, 0, 12])
#! error 28:16: dimension 1 is 0; dimensions must be positive
output a
