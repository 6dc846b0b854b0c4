# Layer instances are applied to exactly their input; a built-in function is not a layer and has no name to
# give; only layers and functions can be called or piped into.
input x: f32[batch, 4]
shared = linear(3)
#! note 4:10: the layer was created here
a = shared(x, 2)
#! error 6:5: layer instance 'shared' takes exactly its input, got 2 arguments
b = x |> shared(bias=false)
#! error 8:10: layer instance 'shared' takes exactly its input, got 2 arguments
c = exp(x) as e
#! error 10:15: 'exp' is a function, not a layer: it has no name to give
d = x |> 3
#! error 12:10: the right side of '|>' must be a layer or a function, got the integer 3
f = 3(x)
#! error 14:5: the integer 3 is not callable
g = "relu"(x)
#! error 16:5: a string is not callable
h = x |> shared |> shared
#! error 18:20: layer 'shared' is applied again to an input that needs weight [3, 3], but it has [3, 4]
k = x(2)
#! error 20:5: f32[batch 1, 4] is not callable
output a
