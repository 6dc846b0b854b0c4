# Layers without parameters: dropout's probability is in [0, 1); flatten, relu, sigmoid and tanh take only
# their input; softmax works over the last axis; integer tensors are not their inputs.
input x: f32[batch, 4]
input labels: i32[batch]
a = x |> dropout(1)
#! error 5:18: dropout probability must be in [0, 1), got 1
b = x |> dropout(-0.1)
#! error 7:18: dropout probability must be in [0, 1), got -0.1
c = x |> dropout("half")
#! error 9:18: dropout's probability must be a compile-time number, got a string
d = x |> dropout
#! error 11:10: dropout needs a probability: dropout(0.5)
e = x |> flatten(2)
#! error 13:18: flatten takes no arguments besides its input, got 1
f = relu(x, 1)
#! error 15:13: relu takes no arguments besides its input, got 1
g = x |> sigmoid(alpha=1)
#! error 17:18: sigmoid has no argument 'alpha'; it takes no named arguments
h = softmax(x, axis=0)
#! error 19:16: softmax: axis 0 is the batch dimension of f32[batch 1, 4]; a softmax runs within each example
k = labels |> tanh
#! error 21:15: tanh expects an f32 tensor, got i32[batch 1]
m = x |> dropout(p=0.5, scale=2)
#! error 23:25: dropout has no argument 'scale'; it takes p
output a
