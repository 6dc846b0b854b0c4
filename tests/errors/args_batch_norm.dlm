# batch_norm takes [batch, C] or [batch, C, H, W] and a momentum in [0, 1] and a positive eps; adaptive_avg_pool an
# image whose size the output size divides.
input x: f32[batch, 3, 6, 6]
input v: f32[batch, 2, 3]
a = batch_norm(x, momentum=1.5)
#! error 5:19: batch_norm's momentum must be in [0, 1], got 1.5
b = batch_norm(x, eps=0)
#! error 7:19: batch_norm's eps must be positive, got 0
c = batch_norm(v)
#! error 9:5: batch_norm expects [batch, C] or [batch, C, H, W], got f32[batch 1, 2, 3]
d = batch_norm(x, 4)
#! error 11:19: batch_norm takes no arguments besides its input, got 1
e = adaptive_avg_pool(x, 4)
#! error 13:26: adaptive_avg_pool: output size (4, 4) must divide the image, 6 x 6 (windows of equal size)
f = adaptive_avg_pool(v)
#! error 15:5: adaptive_avg_pool expects [N, C, H, W], got f32[batch 1, 2, 3]
g = adaptive_avg_pool(x, (2, 3)) + adaptive_avg_pool(x)
output g
