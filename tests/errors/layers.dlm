# Layer arguments out of range and a kernel larger than its input.
input x: f32[batch, 1, 8, 8]
a = x |> conv2d(4, kernel=9)
#! error 3:10: conv2d: a 9x9 kernel with padding (0, 0) and stride (1, 1) does not fit input [batch 1, 1, 8, 8]
b = x |> max_pool(2, padding=2)
#! error 5:10: max_pool: padding (2, 2) must be at most half the window (2, 2)
c = x |> dropout(1.5)
#! error 7:18: dropout probability must be in [0, 1), got 1.5
d = x |> conv2d(4, kernal=3)
#! error 9:20: conv2d has no argument 'kernal'
output b
