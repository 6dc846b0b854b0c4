# After a syntax error the parser skips to the end of the statement, past any braces and brackets the
# statement opened, and goes on: errors inside blocks, loops and the train section are each reported once.
input x: f32[batch, 4]
block f(x) {
    y = x + = 1
#! error 5:13: syntax error, unexpected '=', expecting an expression
    z = (x
    return x * 2
#! error 8:5: syntax error, unexpected 'return', expecting ')', ',' or an operator
}
for i in range(2) {
    x = x ** ** 2
#! error 12:14: syntax error, unexpected '**', expecting an expression
}
if 1 > 0 { a = ] }
#! error 15:16: syntax error, unexpected ']', expecting an expression
v = x |> relu) |> tanh
#! error 17:14: syntax error, unexpected ')', expecting end of line or an operator
u = x |> (relu
t = x
#! error 20:1: syntax error, unexpected name, expecting ')', ',' or an operator
while sum(x) > 0 max 3 { x = x / / 2 }
#! error 22:34: syntax error, unexpected '/', expecting an expression
train {
    loss = sum(x, axis=)
#! error 25:24: syntax error, unexpected ')', expecting an expression
    batch = 4
    epochs == 3
#! error 28:12: syntax error, unexpected '==', expecting ':=' or '='
}
output v
