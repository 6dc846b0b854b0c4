# A block cannot return from inside a while loop: the loop runs on data, so it cannot decide the block's
# result at compile time.
input s: f32[]
block halve(v) {
    while v > 1 max 8 {
#! error 5:5: 'return' inside a while loop: the loop is data-dependent, so it cannot decide the block's result; assign in
        v = v / 2
        return v
    }
    return v
}
output y = halve(s)
