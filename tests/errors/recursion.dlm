# A block that calls itself without end is stopped at a fixed depth of nested applications, with a note at
# its definition, and elaboration stops there rather than run out of stack.
input x: f32[batch, 4]
block forever(x) {
#! note 4:7: 'forever' is defined here
    return forever(x) + 1
#! error 6:12: block applications nest more than 200 deep here; does 'forever' call itself without end?
}
y = forever(x)
output y
