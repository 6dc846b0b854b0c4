# An integer literal past 64 bits is a located error of the lexer (it used to become a double).
c = 99999999999999999999
#! error 2:5: the integer 99999999999999999999 does not fit in 64 bits (at most 9223372036854775807)
d = 9223372036854775808
#! error 4:5: the integer 9223372036854775808 does not fit in 64 bits (at most 9223372036854775807)
e = 9223372036854775807
input x: f32[4]
output x
