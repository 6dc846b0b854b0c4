# Expressions written wrongly: a missing operand, a keyword argument without a value, `as` on something that
# is not a layer call, an empty index, an attribute without a name. An operator at the end of a line
# continues the statement on the next line, so the error shows where the statement could not go on.
input x: f32[batch, 4]
a = x + * 2
#! error 5:9: syntax error, unexpected '*', expecting an expression
c = x |> linear(out=)
#! error 7:21: syntax error, unexpected ')', expecting an expression
d = 2 as two
#! error 9:7: only a layer call can be named with 'as'
g = x[]
#! error 11:7: syntax error, unexpected ']', expecting ':' or an expression
h = x.(2)
#! error 13:7: syntax error, unexpected '(', expecting name
i = [1, 2,, 3]
#! error 15:11: syntax error, unexpected ',', expecting an expression
j = f(, x)
#! error 17:7: syntax error, unexpected ',', expecting ')' or an expression
k = x |>
output a
#! error 20:1: syntax error, unexpected 'output', expecting an expression
