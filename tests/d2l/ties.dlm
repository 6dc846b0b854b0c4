# Subgradients at ties follow PyTorch's (the expectations are what torch 2 gives, D2L's framework): a max or min
# over every axis (x.max(), amax over several axes) spreads the gradient evenly over the tied elements; along one
# axis (x.max(dim)) it goes to the first extremum, the index argmax returns; maximum(a, b) and minimum(a, b) give
# each operand half where a == b.
input x: f32[4]
#! input x = 1 3 3 2
output full_max = grad(max(x), x)
#! expect full_max = tensor([0.0000, 0.5000, 0.5000, 0.0000])

input m: f32[2, 3]
#! input m = 1 3 3  2 2 0
output row_max = grad(sum(max(m, axis=1)), m)
#! expect row_max = tensor([[0., 1., 0.], [1., 0., 0.]])
output row_min = grad(sum(min(m, axis=1)), m)
#! expect row_min = tensor([[1., 0., 0.], [0., 0., 1.]])
output amax = grad(max(m, axis=(0, 1)), m)
#! expect amax = tensor([[0.0000, 0.5000, 0.5000], [0.0000, 0.0000, 0.0000]])
output all_max = grad(max(m), m)
#! expect all_max = tensor([[0.0000, 0.5000, 0.5000], [0.0000, 0.0000, 0.0000]])
output row_argmax = argmax(m, 1)
#! expect row_argmax = 1 0

input mm: f32[2, 3]
#! input mm = 2 2 0  1 1 3
output row_min_first = grad(sum(min(mm, axis=1)), mm)
#! expect row_min_first = tensor([[0., 0., 1.], [1., 0., 0.]])

input a: f32[3]
#! input a = 1 2 3
input b: f32[3]
#! input b = 1 5 0
output maximum_a = grad(sum(max(a, b)), a)
#! expect maximum_a = tensor([0.5000, 0.0000, 1.0000])
output maximum_b = grad(sum(max(a, b)), b)
#! expect maximum_b = tensor([0.5000, 1.0000, 0.0000])
output minimum_a = grad(sum(min(a, b)), a)
#! expect minimum_a = tensor([0.5000, 1.0000, 0.0000])
output minimum_b = grad(sum(min(a, b)), b)
#! expect minimum_b = tensor([0.5000, 0.0000, 1.0000])
