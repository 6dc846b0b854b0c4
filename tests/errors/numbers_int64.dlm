# Integer literals are read as 64-bit integers, never through a double: past 2^53 they stay exact (a double
# would make the first dimension -2), and 9223372036854775807 + 1 overflows instead of becoming a float.
input q: f32[9007199254740993 - 9007199254740992 - 2]
#! error 3:7: dimension 0 is -1; dimensions must be positive
b = 9223372036854775807 + 1
#! error 5:5: integer overflow: 9223372036854775807 + 1 does not fit in 64 bits
output q
