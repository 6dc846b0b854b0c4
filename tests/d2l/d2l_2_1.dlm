# D2L 2.1 (data manipulation), the code cells that compute on tensors. 2.1.1's x = torch.arange(12) is fed as
# the input x12, since 2.1.3 declares its own x and y, and X and Y besides: names that differ only in case, each
# with a macro of its own in the generated header (<NAME>_INPUT_X_SIZE is 4, <NAME>_INPUT_uX_SIZE 12).
input x12: f32[12]
#! input x12 = 0 1 2 3 4 5 6 7 8 9 10 11

# 2.1.1: x.numel(), x.shape, x.reshape(3, 4), x.reshape(-1, 4)
output numel = full([1], x12.shape[0])
#! expect numel = 12
X = reshape(x12, [3, 4])
output xr = X
#! expect xr = tensor([[ 0.,  1.,  2.,  3.], [ 4.,  5.,  6.,  7.], [ 8.,  9., 10., 11.]])
output xr_infer = reshape(x12, [-1, 4])
#! expect xr_infer = 0 1 2 3 4 5 6 7 8 9 10 11
# torch.zeros((2, 3, 4)), torch.ones((2, 3, 4)), torch.tensor([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
output zs = zeros([2, 3, 4])
#! expect zs = 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
output os = ones([2, 3, 4])
#! expect os = 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1
# torch.randn(3, 4): standard normal numbers drawn from the model's generator when it is initialised. The book's
# printed values are random, so the relations are checked: the shape, a fresh draw per call, and the mean and
# standard deviation of 10,000 numbers (each within 0.05 of 0 and 1: five standard errors and more)
R = randn(3, 4)
output randn_shape = tensor(R.shape)
#! expect randn_shape = 3 4
output randn_fresh = sum(abs(R - randn(3, 4))) > 0
#! expect randn_fresh = True
Z = randn(100, 100)
output randn_mean = mean(Z)
#! expect randn_mean ~0.05 = 0
output randn_std = sqrt(mean((Z - mean(Z)) ** 2))
#! expect randn_std ~0.05 = 1

# 2.1.2: X[-1], X[1:3]; X[1, 2] = 17; X[:2, :] = 12
output last = X[-1]
#! expect last = tensor([ 8.,  9., 10., 11.])
output rows = X[1:3]
#! expect rows = tensor([[ 4.,  5.,  6.,  7.], [ 8.,  9., 10., 11.]])
X[1, 2] = 17
output one_set = X
#! expect one_set = tensor([[ 0.,  1.,  2.,  3.], [ 4.,  5., 17.,  7.], [ 8.,  9., 10., 11.]])
X[:2, :] = 12
output rows_set = X
#! expect rows_set = tensor([[12., 12., 12., 12.], [12., 12., 12., 12.], [ 8.,  9., 10., 11.]])

# 2.1.3: torch.exp(x), after the assignments above (the book's x is a view of X; here X is a new tensor, so
# exp is taken of it, reshaped). The book prints float32 values to 4 decimals.
output ex = exp(reshape(X, [-1]))
#! expect ex ~0.01 = tensor([162754.7969, 162754.7969, 162754.7969, 162754.7969, 162754.7969, 162754.7969, 162754.7969, 162754.7969,   2980.9580,   8103.0840,  22026.4648,  59874.1406])

input x: f32[4]
#! input x = 1.0 2 4 8
input y: f32[4]
#! input y = 2 2 2 2
output sum4 = x + y
#! expect sum4 = tensor([ 3.,  4.,  6., 10.])
output diff4 = x - y
#! expect diff4 = tensor([-1.,  0.,  2.,  6.])
output prod4 = x * y
#! expect prod4 = tensor([ 2.,  4.,  8., 16.])
output quot4 = x / y
#! expect quot4 = tensor([0.5000, 1.0000, 2.0000, 4.0000])
output pow4 = x ** y
#! expect pow4 = tensor([ 1.,  4., 16., 64.])

# X = torch.arange(12, dtype=torch.float32).reshape((3, 4)); Y = torch.tensor([[2.0, 1, 4, 3], [1, 2, 3, 4],
# [4, 3, 2, 1]]); torch.cat((X, Y), dim=0), torch.cat((X, Y), dim=1), X == Y, X.sum()
input X: f32[3, 4]
#! input X = 0 1 2 3 4 5 6 7 8 9 10 11
input Y: f32[3, 4]
#! input Y = 2.0 1 4 3  1 2 3 4  4 3 2 1
output cat0 = cat([X, Y], 0)
#! expect cat0 = tensor([[ 0.,  1.,  2.,  3.], [ 4.,  5.,  6.,  7.], [ 8.,  9., 10., 11.], [ 2.,  1.,  4.,  3.], [ 1.,  2.,  3.,  4.], [ 4.,  3.,  2.,  1.]])
output cat1 = cat([X, Y], axis=1)
#! expect cat1 = tensor([[ 0.,  1.,  2.,  3.,  2.,  1.,  4.,  3.], [ 4.,  5.,  6.,  7.,  1.,  2.,  3.,  4.], [ 8.,  9., 10., 11.,  4.,  3.,  2.,  1.]])
output eq = X == Y
#! expect eq = tensor([[False,  True, False,  True], [False, False, False, False], [False, False, False, False]])
output total = sum(X)
#! expect total = tensor(66.)

# 2.1.4: broadcasting, a = arange(3).reshape(3, 1), b = arange(2).reshape(1, 2)
input a3: f32[3]
#! input a3 = 0 1 2
input b2: f32[2]
#! input b2 = 0 1
output bc = reshape(a3, [3, 1]) + reshape(b2, [1, 2])
#! expect bc = tensor([[0, 1], [1, 2], [2, 3]])

# 2.1.5 (saving memory: Python object ids) has no counterpart: dlc plans every buffer at compile time.
# 2.1.6: a = torch.tensor([3.5]); a.item(), float(a): the element as a scalar (int(a) has no counterpart:
# tensors hold floats)
input a1: f32[1]
#! input a1 = 3.5
output item = a1[0]
#! expect item = 3.5
