# A bounded `while cond max K` (D2L 2.5.4's loop with a bound) whose condition still holds after its K-th
# iteration must not pass off a truncated result: the generated code still writes the outputs, and _forward
# returns <NAME>_LOOP_LIMIT with _loop_limit() naming the first such loop's line (docs/language.md).
input a: f32[]
#! input a = 3

# 3 -> 6 -> 12 -> 24: the condition turns false exactly at the bound, so nothing is truncated
b = a
while b < 20 max 3 {
    b = b * 2
}
output done = b
#! expect done = 24

# 3 -> 48 after 4 iterations, still below 1000: truncated, and reported
c = a
while c < 1000 max 4 {
    c = c * 2
}
output truncated = c
#! expect truncated = 48
#! expect forward_status = -5
#! expect loop_limit = 17
