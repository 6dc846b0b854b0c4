# Lists are compile-time values with limits: at most 1048576 elements, at most 16777216 numbers when a nest of
# them becomes a tensor, and range() unrolls at most 100000 values.
input x: f32[4]
l = [0]
for i in range(20) {
    l = l + l
}
big = l + [1]
#! error 8:7: joining lists of 1048576 and 1 elements: a list may hold at most 1048576
m = [l, l, l, l, l, l, l, l, l, l, l, l, l, l, l, l, l]
t = tensor(m)
#! error 11:12: tensor's argument 'data': a list used as a tensor may hold at most 16777216 numbers, got [17, 1048576]
r = range(200000)
#! error 13:5: range(0, 200000) is too long to unroll: a range has at most 100000 values
s = range(5, 300000)
#! error 15:5: range(5, 300000) is too long to unroll: a range has at most 100000 values
output y = x * 2
