# max_pool and avg_pool(x, window, stride=window, padding=0): positive window and stride, padding at most half
# the window, a window that fits the padded input, an input of [N, C, H, W].
input img: f32[batch, 2, 6, 6]
input flat: f32[batch, 36]
a = img |> max_pool
#! error 5:12: max_pool needs a window size: max_pool(2)
b = img |> max_pool(0)
#! error 7:12: max_pool: the window and the stride must be at least 1, got window (0, 0) and stride (0, 0)
c = img |> avg_pool(2, stride=0)
#! error 9:12: avg_pool: the window and the stride must be at least 1, got window (2, 2) and stride (0, 0)
d = img |> max_pool(2, padding=-1)
#! error 11:12: max_pool: padding must be at least 0, got (-1, -1)
e = img |> avg_pool(3, padding=2)
#! error 13:12: avg_pool: padding (2, 2) must be at most half the window (3, 3)
f = flat |> max_pool(2)
#! error 15:13: max_pool expects [N, C, H, W], got f32[batch 1, 36]
g = img |> avg_pool(7)
#! error 17:12: avg_pool: window (7, 7) with stride (7, 7) does not fit input f32[batch 1, 2, 6, 6]
h = img |> max_pool((2, 2, 2))
#! error 19:21: window must be an integer or a pair (h, w), got a list of 3
k = img |> max_pool(2, window=3, size=2)
#! error 21:34: max_pool has no argument 'size'; it takes window, stride, padding
output a
