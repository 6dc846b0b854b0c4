# The data setting names one of the known sources; its first two arguments must be model inputs.
input x: f32[batch, 2]
input y: f32[batch, 1]
yhat = x |> linear(1)
output yhat
train {
    data = mnist(x, y)
#! error 7:12: unknown data source 'mnist'; expected fashion_mnist, synthetic_linear, polynomial, high_dim, csv or tensors
    loss = squared_loss(yhat, y)
}
