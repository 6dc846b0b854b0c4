# Names declared twice: inputs, outputs and parameters (each with a note at the first declaration), a keyword
# argument given twice, a positional argument after keyword arguments.
input x: f32[batch, 4]
#! note 3:7: first declared here
input x: f32[batch, 8]
#! error 5:7: input 'x' is declared twice
param w: [4, 2] = zeros
#! note 7:7: 'w' was created here
param w: [4, 2] = ones
#! error 9:7: a parameter named 'w' already exists
y = x @ w
output y
#! note 12:8: first declared here
output y
#! error 14:8: output 'y' is declared twice
a = x |> linear(2, bias=true, bias=false)
#! error 16:31: argument 'bias' given twice
b = x |> linear(out=2, true)
#! error 18:24: a positional argument cannot follow keyword arguments
shared = linear(2) as named
c = x |> linear(2) as twin
#! note 21:10: 'twin.weight' was created here
d = x |> linear(2) as twin
#! error 23:10: a parameter named 'twin.weight' already exists
output z = x
