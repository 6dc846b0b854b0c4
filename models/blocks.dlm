# D2L 5.1: layers and modules.
# Book: each network runs on X = torch.rand(2, 20). The Sequential MLP, the custom MLP and MySequential give
# outputs of shape (2, 10); FixedHiddenMLP and the chimera return a single number (the sum of the last
# layer, after halving it until the sum of its absolute values is at most 1).
# Nothing is trained here; `dlc check` shows every shape and parameter name.

input x: f32[batch, 20]

# nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10)): parameters 0.* and 2.*
output y_sequential = x |> linear(256) |> relu |> linear(10)

# 5.1.1 A custom module: class MLP, with the layers self.hidden and self.out
block mlp(x) {
    return x |> linear(256) as hidden |> relu |> linear(10) as out
}
output y_mlp = x |> mlp as mlp                              # mlp.hidden.*, mlp.out.*

# 5.1.2 The sequential module: MySequential applies the modules it is given, in order
block my_sequential(x, layers) {
    for layer in layers {
        x = x |> layer
    }
    return x
}
output y_my_sequential = x |> my_sequential([linear(256), relu, linear(10)]) as my_sequential

# 5.1.3 Executing code in the forward propagation method: a constant (never trained) weight, one linear
# layer applied twice (both uses share its parameters) and a data-dependent loop
block fixed_hidden_mlp(x) {
    const rand_weight: [20, 20] = uniform(0, 1)      # torch.rand((20, 20))
    tied = linear(20)                                # D2L's self.linear
    x = x |> tied
    x = relu(x @ rand_weight + 1)
    x = x |> tied
    while sum(abs(x)) > 1 max 32 {
        x = x / 2
    }
    return sum(x)
}
output y_fixed = x |> fixed_hidden_mlp as fixed_hidden      # fixed_hidden.tied.*, 20 * 20 + 20 = 420

# Mixing and nesting modules: NestMLP holds a Sequential (self.net) and a linear layer (self.linear)
block hidden_stack(x) {
    return x |> linear(64) |> relu |> linear(32) |> relu
}

block nest_mlp(x) {
    return x |> hidden_stack as net |> linear(16) as linear
}

# chimera = nn.Sequential(NestMLP(), nn.LazyLinear(20), FixedHiddenMLP())
block chimera(x) {
    return x
        |> nest_mlp             # 0: 0.net.0.*, 0.net.2.*, 0.linear.*
        |> linear(20)           # 1: 1.*
        |> fixed_hidden_mlp     # 2: 2.tied.*
}
output y_chimera = x |> chimera as chimera
