# init PATTERN = expr: a pattern that matches no parameter is reported with a note on how parameters are named;
# data must have as many elements as each parameter it initialises; the value must be an initialiser.
input x: f32[batch, 4]
y = x |> linear(3) |> relu |> linear(2)
#! note 4:10: parameters are named like "0.weight"
output y
init "*.wieght" = zeros
#! error 7:6: no parameter matches "*.wieght"
init "0.weight" = [1, 2, 3]
#! error 9:6: the initial data has 3 elements but '0.weight' is [3, 4]
init "*.bias" = x
#! error 11:17: expected an initialiser (normal(0, 0.01), zeros, xavier_uniform, a number, ...), got f32[batch 1, 4]
init "2.*" = "ones"
#! error 13:14: expected an initialiser (normal(0, 0.01), zeros, xavier_uniform, a number, ...), got a string
init "0.bias" = normal(0, -1)
#! error 15:17: normal: std must not be negative, got -1
init "*" = self ** 2
#! error 17:12: '**' cannot be used in an initialiser
init "0.*" = uniform(0, 1, 2)
#! error 19:28: uniform takes at most 2 positional arguments, got 3
