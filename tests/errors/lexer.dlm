# Characters that are not part of the language, and strings that do not end: each is reported once, where it
# is, with what the language writes instead; the parser then resumes at the next line.
input x: f32[batch, 4]
a = x $ 2
#! error 4:7: unexpected character '$'
b = x ! 2
#! error 6:7: unexpected character '!'; negation is 'not' and inequality '!='
c = x & x
#! error 8:7: unexpected character '&'; logical and is 'and'
d = `x`
#! error 10:5: unexpected character '`'
#! error 10:7: unexpected character '`'
init "*.weight = zeros
#! error 13:6: unterminated string: a string ends with '"' on the same line
e = x ^ 2
#! error 15:7: unexpected character '^'; a power is '**'
f = x % 2
#! error 17:7: unexpected character '%'; there is no remainder operator
g = 'x'
#! error 19:5: unexpected character '''; strings are written in double quotes
#! error 19:7: unexpected character '''; strings are written in double quotes
h = x | relu
#! error 22:7: unexpected character '|'; logical or is 'or', and a pipeline '|>'
output a
