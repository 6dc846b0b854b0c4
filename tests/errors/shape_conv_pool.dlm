# Convolution and pooling shapes: a layer instance applied to inputs with other channel counts, a kernel or a
# window that does not fit after an earlier layer shrank the image.
input a: f32[batch, 1, 8, 8]
input b: f32[batch, 3, 8, 8]
conv = conv2d(4, kernel=3)
#! note 5:8: the layer was created here
y1 = a |> conv
y2 = b |> conv
#! error 8:11: layer 'conv' is applied again to an input that needs weight [4, 3, 3, 3], but it has [4, 1, 3, 3]
z = a |> conv2d(2, kernel=5) |> max_pool(2) |> conv2d(2, kernel=3)
#! error 10:48: conv2d: a 3x3 kernel with padding (0, 0) and stride (1, 1) does not fit input [batch 1, 2, 2, 2]
p = a |> avg_pool(4) |> avg_pool(4)
#! error 12:25: avg_pool: window (4, 4) with stride (4, 4) does not fit input f32[batch 1, 1, 2, 2]
q = a |> conv2d(2, kernel=3, stride=4) |> max_pool(3)
#! error 14:43: max_pool: window (3, 3) with stride (3, 3) does not fit input f32[batch 1, 2, 2, 2]
output y1
