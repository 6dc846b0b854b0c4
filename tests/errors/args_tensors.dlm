# D2L chapter 2's tensor functions with wrong arguments: reshape's -1 given twice or not dividing the count,
# permute's axes not a permutation, axes out of range or on the batch dimension, norm's p, stack's shapes,
# eye's size and full's value; a float where an integer is required, even a whole one.
batch = 8
input x: f32[batch, 4, 3]
input X: f32[3, 4]
a = reshape(X, [-1, -1])
#! error 7:16: reshape: only one dimension can be -1 (inferred)
b = reshape(X, [5, -1])
#! error 9:16: reshape: f32[3, 4] has 12 elements, which the other dimensions (5 elements) do not divide
c = permute(X, [0, 0])
#! error 11:16: permute: axis 0 is given twice; the list is a permutation of 0..1
d = permute(X, [1, 0, 2])
#! error 13:16: permute needs a list of 2 axes for f32[3, 4], got a list of 3
e = permute(x, [1, 0, 2])
#! error 15:5: permute: f32[batch 8, 4, 3]'s axis 0 is the batch dimension, which stays first
f = transpose(X, 0, 2)
#! error 17:21: transpose: axis 2 is out of range for f32[3, 4], which has axes -2..1
g = argmax(x, 0)
#! error 19:15: argmax: axis 0 is the batch dimension of f32[batch 8, 4, 3]; give an axis within each example
h = argmin(x)
#! error 21:5: argmin over every element of f32[batch 8, 4, 3] would mix the examples; give an axis: argmin(x, axis=1)
i = norm(X, 3)
#! error 23:13: norm takes p=1, p=2 or p="fro", got the integer 3
j = stack([X, X.T])
#! error 25:11: stack needs tensors of one shape, got f32[3, 4] and f32[4, 3]
k = eye(0)
#! error 27:5: eye's sizes must be in 1..4096, got 0 and 0
l = full([2, 2])
#! error 29:5: full needs a shape and a value: full([2, 3], 7)
m = X.T.size
#! error 31:9: f32[4, 3] has no attribute 'size' (tensors have .shape and .T)
n = x |> flatten |> linear(256.0)
#! error 33:28: linear's output size must be a compile-time integer, got the float 256.0; write 256
o = reshape(X, [2.0, 6])
#! error 35:16: a dimension must be a compile-time integer, got the float 2.0; write 2
output y = x |> sum
