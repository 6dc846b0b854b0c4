# D2L 2.5 (automatic differentiation), every code cell: the gradient of 2 x.x (2.5.1), of x.sum(), of x * x
# summed (2.5.2, the non-scalar case), detaching (2.5.3) and a function with a while loop and a branch (2.5.4),
# whose random input is fed here as two values of either sign: the book asserts a.grad == d / a.
input x: f32[4]
#! input x = 0 1 2 3

# 2.5.1: y = 2 * torch.dot(x, x); y.backward(); x.grad; x.grad == 4 * x; then y = x.sum()
y = 2 * dot(x, x)
output y_dot = y
#! expect y_dot = tensor(28.)
output x_grad = grad(y, x)
#! expect x_grad = tensor([ 0.,  4.,  8., 12.])
output x_grad_eq = grad(y, x) == 4 * x
#! expect x_grad_eq = tensor([True, True, True, True])
output sum_grad = grad(sum(x), x)
#! expect sum_grad = tensor([1., 1., 1., 1.])

# 2.5.2: y = x * x; y.backward(gradient=torch.ones(len(y))), i.e. y.sum().backward()
output sq_grad = grad(sum(x * x), x)
#! expect sq_grad = tensor([0., 2., 4., 6.])

# 2.5.3: u = y.detach(); z = u * x; z.sum().backward(); x.grad == u; then y.sum().backward(); x.grad == 2 * x
ysq = x * x
u = detach(ysq)
z = u * x
output detach_eq = grad(sum(z), x) == u
#! expect detach_eq = tensor([True, True, True, True])
output detach_grad = grad(sum(z), x)
#! expect detach_grad = 0 1 4 9
output detach_method = grad(sum(ysq.detach() * x), x)
#! expect detach_method = 0 1 4 9
output y_grad_eq = grad(sum(ysq), x) == 2 * x
#! expect y_grad_eq = tensor([True, True, True, True])

# 2.5.4: control flow. def f(a): b = a * 2; while b.norm() < 1000: b = b * 2; c = b if b.sum() > 0 else 100 * b
block f(a) {
    b = a * 2
    while norm(b) < 1000 max 64 {
        b *= 2
    }
    return where(sum(b) > 0, b, 100 * b)
}

input a: f32[]
#! input a = 0.37
d = f(a)
output d_pos = d
#! expect d_pos = 1515.52
output ratio_pos = grad(d, a) == d / a
#! expect ratio_pos = tensor(True)
input an: f32[]
#! input an = -0.8
dn = f(an)
output d_neg = dn
#! expect d_neg = -163840
output ratio_neg = grad(dn, an) == dn / an
#! expect ratio_neg = tensor(True)
