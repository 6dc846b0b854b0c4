# D2L 2.3 (linear algebra), the code cells that compute on tensors, with the book's tensors fed as inputs.

# 2.3.1 scalars: x = torch.tensor(3.0), y = torch.tensor(2.0); x + y, x * y, x / y, x**y
input s3: f32[]
#! input s3 = 3.0
input s2: f32[]
#! input s2 = 2.0
output s_add = s3 + s2
#! expect s_add = tensor(5.)
output s_mul = s3 * s2
#! expect s_mul = tensor(6.)
output s_div = s3 / s2
#! expect s_div = tensor(1.5000)
output s_pow = s3 ** s2
#! expect s_pow = tensor(9.)

# 2.3.2 vectors: x = torch.arange(3); x[2]; len(x), x.shape
input v3: f32[3]
#! input v3 = 0 1 2
output v_at = v3[2]
#! expect v_at = tensor(2)
output v_len = full([1], len(v3.shape) * v3.shape[0])
#! expect v_len = 3

# 2.3.3 matrices: A = torch.arange(6).reshape(3, 2); A.T; a symmetric B == B.T
input a6: f32[6]
#! input a6 = 0 1 2 3 4 5
output a_t = reshape(a6, [3, 2]).T
#! expect a_t = tensor([[0, 2, 4], [1, 3, 5]])
input sym: f32[3, 3]
#! input sym = 1 2 3  2 0 4  3 4 5
output sym_eq = sym == sym.T
#! expect sym_eq = tensor([[True, True, True], [True, True, True], [True, True, True]])

# 2.3.4 tensors: torch.arange(24).reshape(2, 3, 4)
input a24: f32[24]
#! input a24 = 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23
output t3 = reshape(a24, [2, 3, 4])
#! expect t3 = tensor([[[ 0,  1,  2,  3], [ 4,  5,  6,  7], [ 8,  9, 10, 11]], [[12, 13, 14, 15], [16, 17, 18, 19], [20, 21, 22, 23]]])

# 2.3.5 properties: A = arange(6).reshape(2, 3); B = A.clone(); A + B; A * B; a + X, (a * X).shape
A = reshape(a6, [2, 3])
B = A
output ab_add = A + B
#! expect ab_add = tensor([[ 0.,  2.,  4.], [ 6.,  8., 10.]])
output ab_mul = A * B
#! expect ab_mul = tensor([[ 0.,  1.,  4.], [ 9., 16., 25.]])
output ax_add = 2 + reshape(a24, [2, 3, 4])
#! expect ax_add = tensor([[[ 2,  3,  4,  5], [ 6,  7,  8,  9], [10, 11, 12, 13]], [[14, 15, 16, 17], [18, 19, 20, 21], [22, 23, 24, 25]]])
output ax_shape = tensor((2 * reshape(a24, [2, 3, 4])).shape) + 0 * sum(a24)
#! expect ax_shape = torch.Size([2, 3, 4])

# 2.3.6 reduction: x.sum(); A.sum(); A.sum(axis=0), A.sum(axis=1); A.sum(axis=[0, 1]) == A.sum(); A.mean(),
# A.sum() / A.numel(); A.mean(axis=0), A.sum(axis=0) / A.shape[0]
output v_sum = sum(v3)
#! expect v_sum = tensor(3.)
output a_sum = sum(A)
#! expect a_sum = tensor(15.)
output a_sum0 = sum(A, axis=0)
#! expect a_sum0 = 3 5 7
output a_sum1 = sum(A, axis=1)
#! expect a_sum1 = 3 12
output a_sum01 = sum(A, axis=[0, 1]) == sum(A)
#! expect a_sum01 = tensor(True)
output a_mean = mean(A)
#! expect a_mean = tensor(2.5000)
output a_mean_by_sum = sum(A) / (A.shape[0] * A.shape[1])
#! expect a_mean_by_sum = tensor(2.5000)
output a_mean0 = mean(A, axis=0)
#! expect a_mean0 = tensor([1.5000, 2.5000, 3.5000])
output a_mean0_by_sum = sum(A, axis=0) / A.shape[0]
#! expect a_mean0_by_sum = tensor([1.5000, 2.5000, 3.5000])

# 2.3.7 non-reduction sum: sum_A = A.sum(axis=1, keepdims=True); A / sum_A; A.cumsum(axis=0)
sum_a = sum(A, axis=1, keepdim=true)
output sum_keep = sum_a
#! expect sum_keep = tensor([[ 3.], [12.]])
output a_norm_rows = A / sum_a
#! expect a_norm_rows ~5e-5 = tensor([[0.0000, 0.3333, 0.6667], [0.2500, 0.3333, 0.4167]])
output a_cumsum = cumsum(A, axis=0)
#! expect a_cumsum = tensor([[0., 1., 2.], [3., 5., 7.]])
# the same cells in PyTorch's method spelling
output a_sum0_method = A.sum(axis=0)
#! expect a_sum0_method = 3 5 7
output a_cumsum_method = A.cumsum(axis=0)
#! expect a_cumsum_method = tensor([[0., 1., 2.], [3., 5., 7.]])
output sum_keep_method = A.sum(axis=1, keepdim=true)
#! expect sum_keep_method = tensor([[ 3.], [12.]])

# 2.3.8 dot products: y = torch.ones(3); torch.dot(x, y); torch.sum(x * y)
y3 = ones([3])
output xy_dot = dot(v3, y3)
#! expect xy_dot = tensor(3.)
output xy_sum = sum(v3 * y3)
#! expect xy_sum = tensor(3.)

# 2.3.9 matrix-vector products: torch.mv(A, x), A @ x
output a_mv = A @ v3
#! expect a_mv = tensor([ 5., 14.])

# 2.3.10 matrix-matrix products: B = torch.ones(3, 4); torch.mm(A, B), A @ B
output a_mm = A @ ones([3, 4])
#! expect a_mm = tensor([[ 3.,  3.,  3.,  3.], [12., 12., 12., 12.]])

# 2.3.11 norms: u = torch.tensor([3.0, -4.0]); torch.norm(u); torch.abs(u).sum(); torch.norm(torch.ones((4, 9)))
input u: f32[2]
#! input u = 3.0 -4.0
output u_l2 = norm(u)
#! expect u_l2 = tensor(5.)
output u_l1 = sum(abs(u))
#! expect u_l1 = tensor(7.)
output u_l1_norm = norm(u, 1)
#! expect u_l1_norm = 7
output fro = norm(ones([4, 9]) * (1 + 0 * sum(u)))
#! expect fro = tensor(6.)
