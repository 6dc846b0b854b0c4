# Compile-time integers are 64-bit and checked: overflow in +, -, * and ** is an error, not a wrap; division by
# zero is an error; infinite or out-of-range dimensions and shapes past the element limit are refused where
# they appear.
big = 2 ** 62
a = big + big
#! error 5:5: integer overflow: 4611686018427387904 + 4611686018427387904 does not fit in 64 bits
b = -big - big - big
#! error 7:5: integer overflow: -9223372036854775808 - 4611686018427387904 does not fit in 64 bits
c = big * 4
#! error 9:5: integer overflow: 4611686018427387904 * 4 does not fit in 64 bits
d = 2 ** 64
#! error 11:5: integer overflow: 2 ** 64 does not fit in 64 bits
e = 1 / 0
#! error 13:5: division by zero: 1 / 0
m = -big * 2
f = -m
#! error 16:5: integer overflow: -(-9223372036854775808) does not fit in 64 bits
input x: f32[batch, 1e400]
#! error 18:7: a dimension must be a compile-time integer, got the number inf, which is out of range
input y: i32[batch, 100000, 100000]
#! error 20:7: input 'y' would be i32[batch 1, 100000, 100000], 10000000000 elements; a tensor has at most 2147483647
input z: f32[3000000000]
#! error 22:7: input 'z' would be f32[3000000000], 3000000000 elements; a tensor has at most 2147483647
param w: [1e18, 1e18] = zeros
#! error 24:10: param 'w' would be f32[1000000000000000000, 1000000000000000000], more than 9223372036854775807 elements; a
g = range(-9000000000000000000, 9000000000000000000)
#! error 26:5: range(-9000000000000000000, 9000000000000000000) is too long to unroll: a range has at most 100000 values
h = zeros([5000, 5000])
#! error 28:11: zeros([5000, 5000]) would be a compile-time constant of 25000000 elements; the limit is 16777216
k = ones(1e19)
#! error 30:10: expected a shape such as [2, 3], got the number 1e+19
output o = x
