# Operands that do not broadcast, a matrix product with unequal inner dimensions, a non-scalar loss.
input x: f32[batch, 784]
input y: i32[batch]
w = tensor([1, 2, 3])
a = x + w
#! error 5:5: operands do not broadcast: f32[batch 1, 784] and f32[3]
b = x @ tensor([[1, 2], [3, 4]])
#! error 7:5: matrix product: inner dimensions differ
logits = x |> linear(10)
output logits
train {
    data = fashion_mnist(x, y)
    loss = logits * 2
#! error 13:12: the loss must be a scalar
    batch = 1
}
