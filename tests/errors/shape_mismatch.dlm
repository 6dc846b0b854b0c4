# conv2d on a flat input, and a linear layer on a 4-D one: each error is located at its call.
input x: f32[batch, 784]
input y: i32[batch]
h = conv2d(x, 6, kernel=5)
#! error 4:5: conv2d expects [N, C, H, W], got f32[batch 1, 784]
img = reshape(x, [batch, 1, 28, 28])
k = img |> linear(10)
#! error 7:12: linear expects [batch, features], got f32[batch 1, 1, 28, 28]; flatten it first
r = reshape(x, [batch, 3, 28, 28])
#! error 9:5: cannot reshape f32[batch 1, 784] to [batch 1, 3, 28, 28]: the element counts differ
output h
