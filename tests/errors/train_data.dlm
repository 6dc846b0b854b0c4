# Data sources must fit the inputs they fill: fashion_mnist gives f32[batch, 1, S, S] images and i32[batch]
# labels (each mismatch notes the input's declaration); the arguments must be the model's inputs.
input x: f32[batch, 3, 28, 28]
#! note 3:7: 'x' is declared here
input y: f32[batch]
#! note 5:7: 'y' is declared here
input z: f32[batch, 784]
logits = z |> linear(10)
output logits
train {
    data = fashion_mnist(x, y, resize=0)
#! error 11:32: resize must be an image size in 1..4096, got 0
#! error 11:26: fashion_mnist gives images f32[batch, 1, 28, 28], but 'x' is f32[batch 1, 3, 28, 28]
#! error 11:29: fashion_mnist gives labels i32[batch], but 'y' is f32[batch 1]
    loss = sum(logits)
}
