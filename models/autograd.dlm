# D2L 2.5: automatic differentiation, and the activation-function derivatives plotted in 4.1.
# Book, with x = torch.arange(4.0): y = 2 * dot(x, x) = 28 and its gradient is 4x = [0, 4, 8, 12];
# the gradient of sum(x) is [1, 1, 1, 1]; that of sum(x * x) (2.5.2, a non-scalar y) is 2x = [0, 2, 4, 6].
# 2.5.4: the gradient of f(a), computed through a data-dependent loop and branch, equals f(a) / a.
# 4.1: the derivatives of ReLU (0 or 1), sigmoid (at most 0.25, at 0) and tanh (at most 1, at 0) over
# x = torch.arange(-8.0, 8.0, 0.1), a batch of 160 values.

# 2.5.1
input x: f32[4]
y = 2 * dot(x, x)
output y
output dx = grad(y, x)                  # 4 * x
output dsum = grad(sum(x), x)           # ones
output dsquare = grad(sum(x * x), x)    # 2.5.2: y = x * x; y.sum().backward(): 2 * x

# 2.5.4 Gradients through control flow:
#   def f(a):
#       b = a * 2
#       while b.norm() < 1000: b = b * 2
#       if b.sum() > 0: c = b
#       else: c = 100 * b
#       return c
# The loop runs at most 64 times (a bound for the static graph); the branch depends on data, so it is a
# where() rather than a compile-time if.
input a: f32[]
b = a * 2
while sqrt(sum(b * b)) < 1000 max 64 {
    b = b * 2
}
output d = where(sum(b) > 0, b, 100 * b)
output da = grad(d, a)                  # equals d / a
output d_over_a = d / a

# 4.1 Activation functions and their derivatives
input z: f32[batch, 1]
output relu_z = relu(z)
output sigmoid_z = sigmoid(z)
output tanh_z = tanh(z)
output drelu = grad(sum(relu(z)), z)
output dsigmoid = grad(sum(sigmoid(z)), z)
output dtanh = grad(sum(tanh(z)), z)
