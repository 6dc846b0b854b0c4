# param and const declarations: a shape of positive compile-time integers without the batch dimension, an
# initialiser whose data fits the shape, and one declaration per name in a scope.
input x: f32[batch, 4]
param w: [4, 3] = normal(0, 0.01)
#! note 4:7: 'w' was created here
param w: [3] = zeros
#! error 6:7: a parameter named 'w' already exists
param b: [batch, 3] = zeros
#! error 8:10: 'batch' can only be the first dimension of an input or reshape
param c: [0, 3] = zeros
#! error 10:10: dimension 0 is 0; dimensions must be positive
param d: [4, 3] = [1, 2, 3]
#! error 12:19: the initial data has 3 elements but [4, 3] needs 12
const e: [2, 2, 2, 2, 2, 2, 2] = ones
#! error 14:10: a shape has at most 6 dimensions, got 7
const f: "four" = zeros
#! error 16:10: expected a shape such as [2, 3], got a string
param g: [4] = x
#! error 18:16: expected an initialiser (normal(0, 0.01), zeros, xavier_uniform, a number, ...), got f32[batch 1, 4]
param h: [3.5] = zeros
#! error 20:10: a dimension must be a compile-time integer, got the number 3.5
output y = x @ w
