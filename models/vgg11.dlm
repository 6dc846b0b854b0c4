# D2L 8.2 (7.2 in the 0.17 edition): VGG-11 on Fashion-MNIST resized to 224 x 224, in the book's trained
# variant with every convolution's channel count divided by ratio = 4.
# Book result after 10 epochs: loss about 0.18, train accuracy about 0.93, test accuracy about 0.92.
# Parameters (3 x 3 convolutions, each in -> out: out * in * 9 + out):
#   block 0  conv 1 -> 16:        144 + 16     =        160
#   block 1  conv 16 -> 32:       4,608 + 32   =      4,640
#   block 2  conv 32 -> 64:       18,432 + 64  =     18,496
#            conv 64 -> 64:       36,864 + 64  =     36,928
#   block 3  conv 64 -> 128:      73,728 + 128 =     73,856
#            conv 128 -> 128:     147,456 + 128 =    147,584
#   block 4  conv 128 -> 128 (twice):           =    295,168
#   convolutions                                     576,832
#   6  linear 6272 -> 4096:  6272 * 4096 + 4096 = 25,694,208
#   9  linear 4096 -> 4096:  4096 * 4096 + 4096 = 16,781,312
#   12 linear 4096 -> 10:    4096 * 10 + 10     =     40,970
#   total                                         43,093,322

input x: f32[batch, 1, 224, 224]
input y: i32[batch]

# convs 3 x 3 convolutions with ReLU, then halve the height and width
block vgg_block(x, convs, channels) {
    for i in range(convs) {
        x = x |> conv2d(channels, kernel=3, padding=1) |> relu
    }
    return x |> max_pool(2, stride=2)
}

# VGG-11's (convs, channels) per block, [(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)], divided by 4
conv_arch = [(1, 16), (1, 32), (2, 64), (2, 128), (2, 128)]

h = x
for (convs, channels) in conv_arch {
    h = h |> vgg_block(convs, channels)     # 0 .. 4: 16 x 112 x 112, 32 x 56 x 56, 64 x 28 x 28,
}                                           #         128 x 14 x 14, 128 x 7 x 7

logits = h
    |> flatten                                  # 5: 128 * 7 * 7 = 6272
    |> linear(4096) |> relu |> dropout(0.5)     # 6, 7, 8
    |> linear(4096) |> relu |> dropout(0.5)     # 9, 10, 11
    |> linear(10)                               # 12
output logits

init "*.weight" = xavier_uniform

train {
    data      = fashion_mnist(x, y, resize=224)
    loss      = cross_entropy(logits, y)
    optimizer = sgd(lr = 0.05)
    batch     = 128
    epochs    = 10
    metrics   = [accuracy(logits, y)]
}
