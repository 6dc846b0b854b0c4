# Several argument mistakes in one pipeline are all reported in one run: after a stage's error, the later
# stages' callees and arguments are still checked against their rows.
input x: f32[batch, 1, 28, 28]
y = x |> conv2d(6, kernel=5, paddin=2) |> relu |> max_pool(2, strid=2) |> flaten |> linear(120, bais=true)
#! error 4:30: conv2d has no argument 'paddin'; did you mean 'padding'? It takes out, kernel, padding, stride, bias, weight_init, bias_init
#! error 4:63: max_pool has no argument 'strid'; did you mean 'stride'? It takes window, stride, padding
#! error 4:75: unknown function or layer 'flaten'; did you mean 'flatten'?
#! error 4:97: linear has no argument 'bais'; did you mean 'bias'? It takes out, bias, weight_init, bias_init
z = x |> sum(axis=1, keepdims=true) |> mean(axes=1)
#! error 9:22: sum has no argument 'keepdims'; did you mean 'keepdim'? It takes axis, keepdim
#! error 9:45: mean has no argument 'axes'; did you mean 'axis'? It takes axis, keepdim
output y
