# Mistakes in the train section: unknown settings, a bad optimizer, data that does not fit the inputs.
input x: f32[batch, 3, 28, 28]
input y: i32[batch]
logits = x |> flatten |> linear(10)
output logits
train {
    data = fashion_mnist(x, y)
#! error 7:26: fashion_mnist gives images f32[batch, 1, 28, 28], but 'x' is f32[batch 4, 3, 28, 28]
#! note 2:7: 'x' is declared here
    loss = cross_entropy(logits, y)
    optimizer = rmsprop(lr=0.1)
#! error 11:17: optimizer must be sgd(lr=...) or adam(lr=...)
    batch = 4
    epoch = 3
#! error 14:5: unknown train setting 'epoch'
}
