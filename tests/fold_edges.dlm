# What batch normalization's folding (compiler/fold.c, dlc compile --infer --weights) must leave alone, beside
# what it folds; test_embed compiles this with a checkpoint and checks the outputs and the kernels.
input x: f32[batch, 1, 28, 28]

h = conv2d(x, 3, kernel=3) as c1
folds = h * tensor([[[1.5]], [[2]], [[-3]]]) + 1                # per channel: would fold into c1, but
shared = h + 1                                                  # h is read here too: c1 is not run twice
not_affine = 2 / ((conv2d(x, 3, kernel=3, bias=false) as c2) + 20)   # c / (y + 20) is not affine in y
c = conv2d(x, 3, kernel=3) as c3
per_element = c * reshape(arange(2028) / 2028, [3, 26, 26])    # varies within a channel: no fold
y = flatten(folds + shared + not_affine + per_element) |> linear(10, bias=false) as l1
logits = y + (flatten(x) |> linear(10, bias=false) as l2 |> batch_norm as bn)   # no bias: bn folds into l2
output logits
