# D2L 5.2: parameter management: access, initialisation and tied parameters.
# Book: net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1)) on X = torch.rand(2, 4);
# net[2].state_dict() holds weight and bias; the built-in initialisers set the weights to N(0, 0.01), to 1,
# to Xavier or to 42; the custom one draws from U(-10, 10) and zeroes the entries with |w| < 5; in the tied
# net, net[2] and net[4] hold the same tensor, so changing one changes the other.
# `dlc check` lists every parameter by full name with its shape (5.2.1, parameter access).
# Weights are stored [out, in], as PyTorch stores them.

input x: f32[batch, 4]

# 5.2.3 Tied parameters:
#   shared = nn.LazyLinear(8)
#   net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.LazyLinear(1))
shared = linear(8)
output y_tied = x
    |> linear(8)        # net[0]: 0.weight [8, 4], 0.bias [8]
    |> relu             # net[1]
    |> shared           # net[2]: shared.weight [8, 8], shared.bias [8]
    |> relu             # net[3]
    |> shared           # net[4]: the same parameters; their gradient is the sum over both uses
    |> relu             # net[5]
    |> linear(1)        # net[6]: 6.weight [1, 8], 6.bias [1]

# 5.2.2 Parameter initialisation, each variant on its own copy of the book's net
block net(x) {
    return x |> linear(8) |> relu |> linear(1)      # 0.*, 2.*
}
output y_normal   = x |> net as normal_net
output y_constant = x |> net as constant_net
output y_mixed    = x |> net as mixed_net
output y_custom   = x |> net as custom_net

# init_normal: nn.init.normal_(m.weight, mean=0, std=0.01); nn.init.zeros_(m.bias)
init "normal_net.*.weight" = normal(0, 0.01)
init "normal_net.*.bias"   = zeros

# init_constant: nn.init.constant_(m.weight, 1); nn.init.zeros_(m.bias)
init "constant_net.*.weight" = constant(1)
init "constant_net.*.bias"   = zeros

# net[0].apply(init_xavier); net[2].apply(init_42)
init "mixed_net.0.weight" = xavier_uniform
init "mixed_net.2.weight" = constant(42)

# my_init: U(-10, 10), then keep only the entries with |w| >= 5; then net[0].weight.data[:] += 1
init "custom_net.*.weight" = uniform(-10, 10)
init "custom_net.*.weight" = self * (abs(self) >= 5)
init "custom_net.0.weight" = self + 1

# The remaining initialisers, given as layer arguments instead of init statements
output y_args = x
    |> linear(8, weight_init=xavier_normal, bias_init=constant(0.1)) as xavier_normal_layer
    |> relu
    |> linear(8, weight_init=kaiming_uniform, bias_init=ones) as kaiming_uniform_layer
    |> relu
    |> linear(8, weight_init=kaiming_normal, bias_init=0) as kaiming_normal_layer
    |> relu
    |> linear(1, weight_init=uniform(-0.1, 0.1), bias_init=zeros) as uniform_layer
