# The matrix product needs matrices (or a vector on either side, or stacks whose leading axes broadcast) with equal inner dimensions, f32 operands, and only the left operand's
# rows batched; dot needs two vectors of one length.
input x: f32[batch, 4]
input w: f32[3, 5]
input t: f32[batch, 2, 4]
input labels: i32[batch]
input v: f32[4]
a = x @ w
#! error 8:5: matrix product: inner dimensions differ: f32[batch 1, 4] @ f32[3, 5] (4 vs 3)
b = t @ w
#! error 10:5: matrix product: inner dimensions differ: f32[batch 1, 2, 4] @ f32[3, 5] (4 vs 3)
c = w @ x
#! error 12:5: matrix product: inner dimensions differ: f32[3, 5] @ f32[batch 1, 4] (5 vs 1)
d = labels @ w
#! error 14:5: matrix product needs f32 operands, got i32[batch 1] @ f32[3, 5]
e = matmul(x, w)
#! error 16:5: matrix product: inner dimensions differ: f32[batch 1, 4] @ f32[3, 5] (4 vs 3)
f = x @ ones([3])
#! error 18:5: matrix product: inner dimensions differ: f32[batch 1, 4] @ f32[3] (4 vs 3)
g = dot(v, x)
#! error 20:5: dot needs two vectors of one length, got f32[4] and f32[batch 1, 4]
input s3: f32[3, 2, 4]
input s2: f32[2, 4, 5]
h = s3 @ s2
#! error 24:5: matrix product: the leading axes of f32[3, 2, 4] and f32[2, 4, 5] do not broadcast
output a
