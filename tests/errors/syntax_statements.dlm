# Statements written wrongly. Each error names what the parser expected, and the parser resynchronises at the
# end of the line, so every statement is checked.
input x f32[batch, 4]
#! error 3:9: syntax error, unexpected name, expecting ':'
input y: f32 batch, 4]
#! error 5:14: syntax error, unexpected 'batch', expecting '['
param w: [4, 4] normal(0, 1)
#! error 7:17: syntax error, unexpected name, expecting '=' or an operator
const c [4] = zeros
#! error 9:9: syntax error, unexpected '[', expecting ':'
output
#! error 11:7: syntax error, unexpected end of line, expecting name
for i range(3) { }
#! error 13:7: syntax error, unexpected name, expecting 'in'
for i in range(3)
#! error 15:18: syntax error, unexpected end of line, expecting '{' or an operator
while sum(x) > 0 { x = x / 2 }
#! error 17:18: expected 'max' and an iteration bound after the loop condition, found '{': while cond max 100 { ... }
while sum(x) > 0 until 10 { x = x / 2 }
#! error 19:18: expected 'max' and an iteration bound after the loop condition, found 'until'
if true x = 1
#! error 21:9: syntax error, unexpected name, expecting '{' or an operator
block f(x) return x
#! error 23:12: syntax error, unexpected 'return', expecting '{'
block g x { return x }
#! error 25:9: syntax error, unexpected name, expecting '('
init weight = zeros
#! error 27:6: syntax error, unexpected name, expecting string
train x = 1
#! error 29:7: syntax error, unexpected name, expecting '{'
z = x + 1
output z
