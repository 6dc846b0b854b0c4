# Several syntax errors in one file: every one is reported, not only the first.
input x: f32[batch, 10]
y = x |> linear(10)) |> relu
#! error 3:20: syntax error, unexpected ')'
z = x + * 2
#! error 5:9: syntax error, unexpected '*'
w = (x
#! error 9:1: syntax error, unexpected 'output'
output w
v: = 3
#! error 10:2: syntax error, unexpected ':', expecting ':=' or '='
