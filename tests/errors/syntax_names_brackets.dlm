# A keyword used as a name says that it is a keyword; a bracket left open is named where it was opened.
input x: f32[batch, 4]
output = x
#! error 3:1: 'output' is a keyword and cannot name a value; choose another name, such as 'output_'
in = 3
#! error 5:1: 'in' is a keyword and cannot name a value; choose another name, such as 'in_'
y = sum(x * (x + 1)
output y
#! error 8:1: syntax error, unexpected 'output', expecting ')', ',' or an operator
#! note 7:8: the '(' opened here is not closed
#! error 13:10: syntax error, unexpected end of line, expecting ',', ']' or an operator
#! note 13:5: the '[' opened here is not closed
z = [1, 2
