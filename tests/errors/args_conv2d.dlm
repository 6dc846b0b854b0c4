# conv2d(x, out, kernel, padding=0, stride=1, bias=true): sizes must be positive integers or (h, w) pairs, the
# kernel must fit the padded input, and the input must be [N, C, H, W].
input img: f32[batch, 3, 8, 8]
input flat: f32[batch, 64]
a = img |> conv2d(4)
#! error 5:12: conv2d needs a kernel size: conv2d(4, kernel=3)
b = img |> conv2d(4, kernel=0)
#! error 7:22: conv2d's kernel size must be at least 1, got (0, 0)
c = img |> conv2d(4, kernel=(1, 2, 3))
#! error 9:22: kernel must be an integer or a pair (h, w), got a list of 3
d = img |> conv2d(4, kernel=3, stride=0)
#! error 11:32: conv2d's stride must be in 1..2147483647, got (0, 0)
e = img |> conv2d(4, kernel=3, padding=-1)
#! error 13:32: conv2d's padding must be in 0..2147483647, got (-1, -1)
f = flat |> conv2d(4, kernel=3)
#! error 15:13: conv2d expects [N, C, H, W], got f32[batch 1, 64]
g = img |> conv2d(4, kernel=(3, 20))
#! error 17:12: conv2d: a 3x20 kernel with padding (0, 0) and stride (1, 1) does not fit input [batch 1, 3, 8, 8]
h = img |> conv2d(0, kernel=3)
#! error 19:19: conv2d's output channels must be in 1..2147483647, got 0
k = img |> conv2d(4, kernel="3")
#! error 21:22: kernel must be a compile-time integer, got a string
m = img |> conv2d(4, 3, 1)
#! error 23:25: conv2d takes at most 2 positional arguments, got 3
output a
