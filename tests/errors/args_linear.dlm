# linear(x, out, bias=true, weight_init=..., bias_init=...): each argument checked for presence, kind and
# range, and the input for its rank and element type.
input x: f32[batch, 4]
input img: f32[batch, 1, 8, 8]
input labels: i32[batch]
a = x |> linear
#! error 6:10: linear needs the number of output features: linear(256)
b = x |> linear(0)
#! error 8:17: linear's output size must be in 1..2147483647, got 0
c = x |> linear(10, 20)
#! error 10:17: linear takes the output size only: the input size is inferred from the input, so PyTorch's nn.Linear(10, 20) is linear(20) here
d = x |> linear("ten")
#! error 12:17: linear's output size must be a compile-time integer, got a string
e = x |> linear(10, bias=3)
#! error 14:21: 'bias' must be true or false, got the integer 3
f = x |> linear(10, weigth_init=zeros)
#! error 16:21: linear has no argument 'weigth_init'; did you mean 'weight_init'? It takes out, bias, weight_init, bias_init
g = img |> linear(10)
#! error 18:12: linear expects [batch, features], got f32[batch 1, 1, 8, 8]; flatten it first
h = labels |> linear(10)
#! error 20:15: linear expects an f32 tensor, got i32[batch 1]
k = x |> linear(2.5)
#! error 22:17: linear's output size must be a compile-time integer, got the number 2.5
m = x |> linear(10, weight_init=x)
#! error 24:21: expected an initialiser (normal(0, 0.01), zeros, xavier_uniform, a number, ...), got f32[batch 1, 4]
output b
