# Compile-time control flow: `if` takes a compile-time boolean, `for` a list or range; `while` takes an f32
# scalar tensor condition and a bound in 1..1000, and only tensors may change in its body.
input x: f32[batch, 4]
input s: f32[]
input n: i32[]
if sum(x) > 0 {
#! error 6:4: 'if' needs a compile-time condition, got f32[]; for a data-dependent choice use where(c, a, b)
    a = 1
}
if "yes" {
#! error 10:4: 'if' needs a boolean, got a string
    a = 2
}
for i in 3 {
#! error 14:10: 'for' iterates over a list or range(n), got the integer 3
    a = i
}
for (i, j) in [(1, 2), (3, 4, 5)] {
#! error 18:5: cannot unpack a list of 3 into 2 names
    a = i
}
k = 0
while x > 0 max 4 {
#! error 23:7: a while loop's condition must be an f32 scalar, got f32[batch 1, 4]; reduce it with sum() or max()
    x = x / 2
}
while 1 > 0 max 4 {
#! error 27:7: a while loop's condition must be a tensor (the loop is data-dependent), got a boolean; for a compile-time
    x = x / 2
}
while s > 0 max 0 {
#! error 31:17: the loop bound must be in 1..1000, got 0
    s = s / 2
}
while s > 0 max 2000 {
#! error 35:17: the loop bound must be in 1..1000, got 2000
    s = s / 2
}
while s > 0 max 3 {
#! error 39:1: 'k' changes in a while loop from the integer 0 to the integer 1; only tensors can change in a data-dependent
    k = k + 1
}
while n max 3 {
#! error 43:7: a while loop's condition must be an f32 scalar, got i32[]; reduce it with sum() or max()
    s = s / 2
}
while s > 1 max 3 {
#! error 47:1: 's' changes shape in the loop, from [] to [2]
    s = tensor([1, 2])
}
return x
#! error 51:1: 'return' is only allowed in a block; the model's results are its outputs
output x
