# `state name: [dims] = init` declares a tensor the training step sets with `name := value` (same shape, f32,
# once per step); `:=` sets nothing else. training() is a compile-time boolean and takes no arguments.
input x: f32[batch, 3]
param w: [3] = ones
const k: [3] = ones
state s: [3] = zeros
state t: [2] = zeros
h = x * w + s + k
s := mean(x, axis=0)
s := 2 * s
#! error 10:1: state 's' is set twice in one training step
#! note 9:1: it was set here
u := h
#! error 13:1: 'u' is not defined; ':=' sets a state declared with 'state u: [dims] = init'
w := s
#! error 15:1: ':=' sets a state, but 'w' is a param; declare it with 'state w: [dims] = init'
k := s
#! error 17:1: ':=' sets a state, but 'k' is a const; declare it with 'state k: [dims] = init'
t := s
#! error 19:6: state 't' is f32[2], but its new value is f32[3]
v = 1
v := s
#! error 22:1: ':=' sets a state, but 'v' is the integer 1; declare it with 'state v: [dims] = init'
t := mean(x, axis=1)
#! error 24:6: state 't' is f32[2], but its new value is f32[batch 1]
if training(1) {
#! error 26:13: training() takes no arguments, got 1
}
output h
