# D2L 8.2 (7.2 in the 0.17 edition): the full-width VGG-11 for one-channel 224 x 224 inputs and 10 classes.
# The book builds it to print its shapes (1 x 64 x 112 x 112, 128 x 56 x 56, 256 x 28 x 28, 512 x 14 x 14,
# 512 x 7 x 7, flatten 25088, 4096, 4096, 10) and trains only the ratio-4 variant (vgg11.dlm); the train
# section below uses that variant's hyperparameters.
# Parameters (3 x 3 convolutions, each in -> out: out * in * 9 + out):
#   block 0  conv 1 -> 64:        576 + 64           =         640
#   block 1  conv 64 -> 128:      73,728 + 128       =      73,856
#   block 2  conv 128 -> 256:     294,912 + 256      =     295,168
#            conv 256 -> 256:     589,824 + 256      =     590,080
#   block 3  conv 256 -> 512:     1,179,648 + 512    =   1,180,160
#            conv 512 -> 512:     2,359,296 + 512    =   2,359,808
#   block 4  conv 512 -> 512 (twice):                =   4,719,616
#   convolutions                                         9,219,328
#   6  linear 25088 -> 4096:  25088 * 4096 + 4096    = 102,764,544
#   9  linear 4096 -> 4096:   4096 * 4096 + 4096     =  16,781,312
#   12 linear 4096 -> 10:     4096 * 10 + 10         =      40,970
#   total                                              128,806,154

input x: f32[batch, 1, 224, 224]
input y: i32[batch]

# convs 3 x 3 convolutions with ReLU, then halve the height and width
block vgg_block(x, convs, channels) {
    for i in range(convs) {
        x = x |> conv2d(channels, kernel=3, padding=1) |> relu
    }
    return x |> max_pool(2, stride=2)
}

conv_arch = [(1, 64), (1, 128), (2, 256), (2, 512), (2, 512)]

h = x
for (convs, channels) in conv_arch {
    h = h |> vgg_block(convs, channels)     # 0 .. 4: 64 x 112 x 112, 128 x 56 x 56, 256 x 28 x 28,
}                                           #         512 x 14 x 14, 512 x 7 x 7

logits = h
    |> flatten                                  # 5: 512 * 7 * 7 = 25088
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
