# D2L 5.4: custom layers.
# Book: CenteredLayer (no parameters) subtracts the mean: on [1, 2, 3, 4, 5] it gives [-2, -1, 0, 1, 2], and
# after nn.Sequential(nn.LazyLinear(128), CenteredLayer()) the mean of the output is 0 up to rounding.
# MyLinear (with parameters, both drawn from N(0, 1)) is a fully connected layer with ReLU;
# nn.Sequential(MyLinear(64, 8), MyLinear(8, 1)) runs on torch.rand(2, 64).
# Parameters: 0: 8 * 128 + 128 = 1,152; 2: 64 * 8 + 8 = 520; 3: 8 * 1 + 1 = 9; total 1,681.

input x: f32[batch, 8]
input z: f32[batch, 64]

block centered(x) {
    return x - mean(x)
}

block my_linear(x, units) {
    param weight: [x.shape[-1], units] = normal(0, 1)
    param bias: [units] = normal(0, 1)
    return relu(x @ weight + bias)
}

output y_centered = x |> linear(128) |> centered     # 0.weight [128, 8], 0.bias [128]; 1 has no parameters
output y_centered_mean = mean(y_centered)             # 0 up to rounding

output y_dense = z
    |> my_linear(8)         # 2.weight [64, 8], 2.bias [8]
    |> my_linear(1)         # 3.weight [8, 1], 3.bias [1]
