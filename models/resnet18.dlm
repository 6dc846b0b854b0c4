# D2L 8.6 (7.6 in the 0.17 edition): ResNet-18 on Fashion-MNIST resized to 96 x 96.
# Residual blocks of two 3x3 convolutions with batch normalization; the first block of each stage after the first
# halves the image with stride 2 and projects its input with a 1x1 convolution of stride 2 so the sum's shapes agree.
# The book's hyperparameters: lr 0.01 (the 1.0 edition's), batch 128, Xavier-uniform conv and linear weights.
# Book result after 10 epochs (1.0 edition): validation accuracy .914 (median, .899-.919).
# Parameters (trainable; convolutions have biases as in the book):
#   b1:  conv 1 -> 64, 7x7 (3,200) + bn (128)                                          3,328
#   b2:  2 x (2 x (conv 64 -> 64, 3x3: 36,928) + 2 x bn 128)                          148,224
#   b3:  conv 64 -> 128 (73,856) + conv 128 -> 128 (147,584) + 1x1 64 -> 128 (8,320)
#        + 2 bn (512), then 2 x conv 128 -> 128 + 2 bn                                525,952
#   b4:  the same at 128 -> 256                                                     2,100,480
#   b5:  the same at 256 -> 512                                                     8,395,264
#   linear 512 -> 10                                                                    5,130
#   total                                                                          11,178,378 (dlc check)

input x: f32[batch, 1, 96, 96]
input y: i32[batch]

block residual(x, channels, use_1x1conv, strides) {
    y = x |> conv2d(channels, kernel=3, padding=1, stride=strides, weight_init=xavier_uniform) as conv1
          |> batch_norm as bn1 |> relu
    y = y |> conv2d(channels, kernel=3, padding=1, weight_init=xavier_uniform) as conv2 |> batch_norm as bn2
    if use_1x1conv {
        x = conv2d(x, channels, kernel=1, stride=strides, weight_init=xavier_uniform) as conv3
    }
    return relu(y + x)
}

block resnet_block(x, channels, residuals, first_block) {
    for i in range(residuals) {
        if i == 0 and not first_block {
            x = residual(x, channels, true, 2)
        } else {
            x = residual(x, channels, false, 1)
        }
    }
    return x
}

logits = x
    |> conv2d(64, kernel=7, stride=2, padding=3, weight_init=xavier_uniform)   # 0:    64 x 48 x 48
    |> batch_norm |> relu                                                       # 1, 2
    |> max_pool(3, stride=2, padding=1)                                         # 3:    64 x 24 x 24
    |> resnet_block(64, 2, true)                                                # 4:    64 x 24 x 24
    |> resnet_block(128, 2, false)                                              # 5:    128 x 12 x 12
    |> resnet_block(256, 2, false)                                              # 6:    256 x 6 x 6
    |> resnet_block(512, 2, false)                                              # 7:    512 x 3 x 3
    |> adaptive_avg_pool(1)                                                     # 8:    512 x 1 x 1
    |> flatten                                                                  # 9:    512
    |> linear(10, weight_init=xavier_uniform)                                   # 10
output logits

train {
    data      = fashion_mnist(x, y, resize=96)
    loss      = cross_entropy(logits, y)
    optimizer = sgd(lr = 0.01)
    batch     = 128
    epochs    = 10
    metrics   = [accuracy(logits, y)]
}
