# Element-wise operators broadcast like NumPy, aligned at the last dimension; the batch dimension stretches
# nothing and is stretched only by an unbatched 1. Each mismatch names both operand types.
input x: f32[batch, 4]
input y: f32[batch, 3]
input m: f32[3, 4]
input s: f32[batch, 1]
input labels: i32[batch]
a = x + y
#! error 8:5: operands do not broadcast: f32[batch 1, 4] and f32[batch 1, 3]
b = x * m
#! error 10:5: operands do not broadcast: f32[batch 1, 4] and f32[3, 4]
c = x - tensor([1, 2, 3])
#! error 12:5: operands do not broadcast: f32[batch 1, 4] and f32[3]
d = where(x > 0, x, y)
#! error 14:5: operands do not broadcast: f32[batch 1, 4] and f32[batch 1, 3]
e = max(x, y)
#! error 16:5: operands do not broadcast: f32[batch 1, 4] and f32[batch 1, 3]
f = s + m
#! error 18:5: operands do not broadcast: f32[batch 1, 1] and f32[3, 4]
g = x / labels
#! error 20:5: operands do not broadcast: f32[batch 1, 4] and i32[batch 1]
h = x ** tensor([[1], [2]])
#! error 22:5: operands do not broadcast: f32[batch 1, 4] and f32[2, 1]
k = x + s
output k
