# D2L 2.4 (calculus). f(x) = 3x^2 - 4x; its numerical limit at x = 1 for h = 0.1 .. 0.00001 (2.4.1), and the
# gradient of x^3 - 1/x at x = 1 (the exercise the section's tangent line plot draws: 3x^2 + 1/x^2 = 4). The
# plotting cells have no counterpart.
block f(x) {
    return 3 * x ** 2 - 4 * x
}

input h: f32[5]
#! input h = 0.1 0.01 0.001 0.0001 0.00001
output limit = (f(1 + h) - f(tensor(1))) / h
#! expect limit ~5e-6 = 2.30000 2.03000 2.00300 2.00030 2.00003

input x: f32[]
#! input x = 1
output df = grad(f(x), x)
#! expect df = 2
output dg = grad(x ** 3 - 1 / x, x)
#! expect dg = 4
