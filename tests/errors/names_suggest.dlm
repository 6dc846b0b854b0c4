# An unknown layer, function, variable, argument or parameter name gets the nearest known one when it is close
# enough to be a slip ("did you mean"), and none when nothing is.
input x: f32[batch, 784]
hidden = x |> lienar(256) |> relu
#! error 4:15: unknown function or layer 'lienar'; did you mean 'linear'?
h = x |> linear(256, bais=false) |> relu
#! error 6:22: linear has no argument 'bais'; did you mean 'bias'? It takes out, bias, weight_init, bias_init
y = hiden |> linear(10)
#! error 8:5: 'hiden' is not defined; did you mean 'hidden'?
z = x |> flaten
#! error 10:10: 'flaten' is not defined; did you mean 'flatten'?
w = x |> soft_plus
#! error 12:10: 'soft_plus' is not defined
v = x |> linear(784, 256)
#! error 14:17: linear takes the output size only: the input size is inferred from the input, so PyTorch's nn.Linear(784, 256) is linear(256) here
m = x.summ(axis=1)
#! error 16:7: f32[batch 1, 784] has no method 'summ'; did you mean 'sum'?
output u = x |> linear(10)
train {
    loss      = sum(u) + l2_penalty(param("2.weigth"))
#! error 20:43: no parameter is named "2.weigth"; did you mean "2.weight"?
    optimizer = sgd(lr = 0.1)
}
