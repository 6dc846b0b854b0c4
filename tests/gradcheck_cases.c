/* gradcheck_cases.c: the gradient-check models, one per group of ops.
 *
 * test_gradcheck compiles each in f64 and checks every trainable parameter's gradient against central differences
 * of the loss through the generated C; test_ops checks that together they use every op of compiler/ops.def that
 * has a gradient rule, on the path the backward pass differentiates. An op with a new gradient rule gets a case
 * here (or a line in one). Inputs are drawn uniformly from [-1, 1] and parameters from continuous distributions,
 * so no operand of abs, relu, max or a pooling window sits on its kink or tie, where central differences and the
 * gradient rule would disagree: keep new cases that way. Some shapes are drawn from a seeded generator. */
#include "gradcheck_cases.h"

#include <stdio.h>

#include "testutil.h"

/* The cases' own generator (SplitMix64), for the shapes drawn at random. */
static uint64_t shape_rng = 2024;

void gradcheck_seed(uint64_t seed) { shape_rng = seed; }

static int draw(int lo, int hi) {
    uint64_t z = (shape_rng += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    z ^= z >> 31;
    return lo + (int)(z % (uint64_t)(hi - lo + 1));
}

/* Element-wise unary ops, mean over the batch and over an axis, broadcasting of [6] and [1]. */
static GradModel model_unary(void) {
    return (GradModel){"input x: f32[batch, 6]\n"
                       "param w: [6] = normal(0, 1)\n"
                       "param c: [1] = normal(0, 1)\n"
                       "h = x * w + c\n"
                       "a = exp(-h) + log(h * h + 1) + abs(h) + sqrt(h * h + 0.5) + relu(h) + sigmoid(h) * tanh(h)\n"
                       "output a\n"
                       "train {\n"
                       "    loss = mean(a) + mean(mean(a, axis=1) * exp(sum(w) / 10))\n"
                       "    optimizer = sgd(lr = 0.1)\n"
                       "    batch = 5\n"
                       "}\n",
                       "F(x,X)"};
}

/* Binary ops with broadcasting, pow with constant and tensor exponents, maximum, minimum, where. */
static GradModel model_binary(void) {
    return (GradModel){"input x: f32[batch, 5]\n"
                       "param a: [5] = normal(0, 1)\n"
                       "param b: [5] = normal(0, 1)\n"
                       "param p: [5] = uniform(0.5, 1.5)\n"
                       "param s: [1, 1] = uniform(0.5, 1.5)\n"
                       "u = x * a + b\n"
                       "v = x - b * a\n"
                       "pos = sigmoid(u) + 0.5\n"
                       "r = u / (1 + v * v) + (u - v) * a - s\n"
                       "q = u ** 2 + v ** 3 + pos ** 0.5 + pos ** p + pow(pos, 1.5) + s ** p\n"
                       "m = max(u, v) + min(u, 2 * v) + max(u, 0.1) + min(0.2, v)\n"
                       "w = where(u > v, u * v, u - v) + where(v < 0, exp(v), v / s)\n"
                       "output m\n"
                       "train {\n"
                       "    loss = mean(r + q + m + w)\n"
                       "    optimizer = sgd(lr = 0.1)\n"
                       "    batch = 6\n"
                       "}\n",
                       "F(x,X)"};
}

/* sum and max over chosen axes, with and without keepdim, over the batch and over everything; reshape, flatten. */
static GradModel model_reduce(void) {
    int d1 = draw(2, 4), d2 = draw(2, 5);
    char *text = fmt("input x: f32[batch, %d, %d]\n"
                     "param w: [%d, %d] = normal(0, 1)\n"
                     "param v: [%d] = normal(0, 1)\n"
                     "h = tanh(x * w + v)\n"
                     "s1 = sum(h, axis=2)\n"
                     "s2 = sum(h, axis=1, keepdim=true)\n"
                     "s3 = sum(h, axis=0)\n"
                     "m1 = max(h, axis=2)\n"
                     "m2 = max(h, axis=(1, 2), keepdim=true)\n"
                     "m3 = max(h, axis=0, keepdim=true)\n"
                     "f = flatten(h)\n"
                     "r = reshape(f, [batch, %d, %d])\n"
                     "output f\n"
                     "train {\n"
                     "    loss = (sum(s1 * s1) / 10 + mean(s2 * m2) + sum(m1 * m1) + max(h * v) + sum(s3 * w)\n"
                     "        + sum(m3 * h) / 7 + mean(sum(r * reshape(w, [%d, %d]), axis=(1, 2)) * sum(f, axis=1)))\n"
                     "    optimizer = sgd(lr = 0.1)\n"
                     "    batch = 4\n"
                     "}\n",
                     d1, d2, d1, d2, d2, d2, d1, d2, d1);
    return (GradModel){text, "F(x,X)"};
}

/* Matrix products in every arrangement the language allows: x @ W, linear (x @ W^T + b), a parameter on the
 * left, transpose on either side, a product of parameters; with BLAS and with the portable loops. */
static const char *matmul_text(void) {
    static char *text;
    if (!text) {
        int k = draw(2, 6), m = draw(2, 5), r = draw(2, 4);
        text = fmt("input x: f32[batch, %d]\n"
                   "param w: [%d, %d] = normal(0, 0.5)\n"
                   "param a: [%d, %d] = normal(0, 0.5)\n"
                   "param b: [%d, %d] = normal(0, 0.5)\n"
                   "h = tanh(x @ w)\n"
                   "g = x |> linear(%d)\n"
                   "k = transpose(a) @ b\n"
                   "q = h @ transpose(b)\n"
                   "z = x @ (w + k)\n"
                   "output q\n"
                   "train {\n"
                   "    loss = mean(h * g) + mean(q * q) + mean(z) + sum((a @ w) ** 2) / 10\n"
                   "    optimizer = sgd(lr = 0.1)\n"
                   "    batch = 5\n"
                   "}\n",
                   k, k, m, r, k, r, m, m);
    }
    return text;
}

static GradModel model_matmul(void) { return (GradModel){matmul_text(), "F(x,X)"}; }

/* concat (batched along features, parameters along rows; its gradient slices), softmax, log_softmax and the
 * cross-entropy against integer labels. */
static GradModel model_concat_softmax(void) {
    int c = draw(3, 6);
    char *text = fmt("input x: f32[batch, 4]\n"
                     "input y: i32[batch]\n"
                     "param wa: [2, 3] = normal(0, 0.5)\n"
                     "param wb: [1, 3] = normal(0, 0.5)\n"
                     "h1 = x |> linear(3)\n"
                     "h2 = tanh(x |> linear(2))\n"
                     "cat = concat([h1, h2, x], axis=1)\n"
                     "logits = cat |> linear(%d)\n"
                     "p = softmax(cat)\n"
                     "lp = log_softmax(logits)\n"
                     "wab = concat([wa, wb], axis=0)\n"
                     "t = h1 @ wab\n"
                     "output logits\n"
                     "train {\n"
                     "    loss = (cross_entropy(logits, y) + mean(p * cat) + mean(lp * sigmoid(logits))\n"
                     "        + mean(t * t) + mean(h2 |> softmax))\n"
                     "    optimizer = sgd(lr = 0.1)\n"
                     "    batch = 6\n"
                     "}\n",
                     c);
    return (GradModel){text, fmt("F(x,X) L(y,Y,%d)", c)};
}

/* cross_entropy with the classes along an axis other than the last (PyTorch's [n, classes, d] against labels
 * [n, d]: axis=1), and along the last axis of logits with more than two axes (one label per position). */
static GradModel model_xent_axis(void) {
    int c = draw(3, 5);
    char *text = fmt("input x: f32[batch, 4]\n"
                     "input y: i32[batch, 3]\n"
                     "h = x |> linear(%d)\n"
                     "by_axis = reshape(h, [batch, %d, 3])\n"
                     "by_last = permute(by_axis, [0, 2, 1]) * 0.5 + 0.1\n"
                     "output by_axis\n"
                     "train {\n"
                     "    loss = cross_entropy(by_axis, y, axis=1) + cross_entropy(by_last, y) / 2\n"
                     "    optimizer = sgd(lr = 0.1)\n"
                     "    batch = 5\n"
                     "}\n",
                     3 * c, c);
    return (GradModel){text, fmt("F(x,X) L(y,Y,%d)", c)};
}

/* conv2d: random channels, input size, non-square kernel, stride and padding; with and without bias. The input is
 * scaled by a parameter first, so the first convolution's input gradient (with those strides and paddings) is
 * needed too. */
static GradModel model_conv(void) {
    int ci = draw(1, 3), h = draw(5, 8), w = draw(5, 9), o1 = draw(2, 4), o2 = draw(1, 3);
    int kh = draw(1, 3), kw = kh % 3 + 1, sh = draw(1, 2), sw = 3 - sh, ph = draw(0, kh / 2 + 1), pw = draw(0, 1);
    int s2h = draw(1, 2), s2w = draw(1, 2);
    char *text = fmt("input x: f32[batch, %d, %d, %d]\n"
                     "param scale: [%d, 1, 1] = uniform(0.5, 1.5)\n"
                     "h = x * scale |> conv2d(%d, kernel=(%d, %d), stride=(%d, %d), padding=(%d, %d)) |> tanh\n"
                     "h = h |> conv2d(%d, kernel=(2, 1), stride=(%d, %d), padding=(1, 0), bias=false)\n"
                     "output h\n"
                     "train {\n"
                     "    loss = mean(h * h) + mean(sigmoid(h))\n"
                     "    optimizer = sgd(lr = 0.1)\n"
                     "    batch = 3\n"
                     "}\n",
                     ci, h, w, ci, o1, kh, kw, sh, sw, ph, pw, o2, s2h, s2w);
    return (GradModel){text, "F(x,X)"};
}

/* The direct kernels of small convolutions (ops/conv.c) work in blocks of 6 output channels and tiles of 16 output
 * columns: 8, 13 and 7 channels leave partial blocks, 37 and 19 columns partial tiles after full ones; b reads its
 * input with a column stride of 2 (its dx goes through im2col), and the stride-1 dx of a and c run as convolutions
 * of dy with the turned kernel (the scale makes a's input gradient needed); d's 9 output columns and 16 channels
 * put the channels in the vector lanes; the dw of a, c and e sums 2, 1 and 3 output channels at a time. */
static GradModel model_conv_direct(void) {
    return (GradModel){"input x: f32[batch, 1, 5, 37]\n"
                       "param scale: [1, 1, 1] = uniform(0.5, 1.5)\n"
                       "a = x * scale |> conv2d(8, kernel=(3, 5), padding=(1, 2)) |> tanh\n"
                       "b = a |> conv2d(13, kernel=(2, 3), stride=2, padding=1) |> tanh\n"
                       "c = a |> conv2d(7, kernel=(2, 3), padding=(1, 0)) |> tanh\n"
                       "d = a |> conv2d(16, kernel=(2, 3), stride=(1, 4)) |> tanh\n"
                       "e = x |> conv2d(6, kernel=(2, 2), padding=(0, 1)) |> tanh\n"
                       "output b\n"
                       "train {\n"
                       "    loss = mean(b * b) + mean(c * c) + mean(d * d) + mean(e * e)\n"
                       "    optimizer = sgd(lr = 0.1)\n"
                       "    batch = 3\n"
                       "}\n",
                       "F(x,X)"};
}

/* max_pool and avg_pool with random windows, strides and padding (the padding counts in the average). */
static GradModel model_pool(void) {
    int c = draw(1, 3), h = draw(6, 9), w = draw(6, 9), win = draw(2, 3), stride = draw(1, 3), pad = draw(0, win / 2);
    char *text = fmt("input x: f32[batch, %d, %d, %d]\n"
                     "h = x |> conv2d(%d, kernel=3, padding=1) |> tanh\n"
                     "a = h |> max_pool(%d, stride=%d, padding=%d)\n"
                     "b = h |> avg_pool((2, 3), stride=(1, 2), padding=(1, 1))\n"
                     "c = h |> max_pool((3, 2), stride=(2, 1), padding=(1, 1))\n"
                     "d = h |> avg_pool(%d, stride=%d, padding=%d)\n"
                     "output a\n"
                     "train {\n"
                     "    loss = mean(a * a) + mean(b * b) + mean(c) + mean(d * d)\n"
                     "    optimizer = sgd(lr = 0.1)\n"
                     "    batch = 3\n"
                     "}\n",
                     c, h, w, c + 1, win, stride, pad, win, stride, pad);
    return (GradModel){text, "F(x,X)"};
}

/* Pooling whose windows tile the image (LeNet's 2x2) has functions of its own, with every window element written
 * out: non-square windows, max and average, forward and backward. */
static GradModel model_pool_tiled(void) {
    return (GradModel){"input x: f32[batch, 2, 6, 9]\n"
                       "h = x |> conv2d(3, kernel=3, padding=1) |> tanh\n"
                       "a = h |> max_pool((2, 3), stride=(2, 3))\n"
                       "b = h |> avg_pool((3, 3), stride=3)\n"
                       "output a\n"
                       "train {\n"
                       "    loss = mean(a * a) + mean(b * b)\n"
                       "    optimizer = sgd(lr = 0.1)\n"
                       "    batch = 3\n"
                       "}\n",
                       "F(x,X)"};
}

/* Dropout: the masks are a function of the step counter, so forward_train repeats itself between steps. The
 * constants after it have different node ids in the training and the inference graph (the masks are only in the
 * first), which once gave two C constants one name. */
static GradModel model_dropout(void) {
    return (GradModel){"input x: f32[batch, 6]\n"
                       "h = x |> linear(8) |> tanh |> dropout(0.5)\n"
                       "h = h * tensor([1, 2, 3, 4, 5, 6, 7, 8]) / 4 + tensor([8, 7, 6, 5, 4, 3, 2, 1]) / 8\n"
                       "h = h |> linear(3) |> dropout(0.3)\n"
                       "output h\n"
                       "train {\n"
                       "    loss = mean(h * h) + mean(h)\n"
                       "    optimizer = sgd(lr = 0.1)\n"
                       "    batch = 5\n"
                       "}\n",
                       "F(x,X)"};
}

/* A bounded data-dependent loop (it stops after a few of its 10 iterations), a tied layer applied twice and a
 * constant that gets no gradient. */
static GradModel model_while_tied(void) {
    return (GradModel){"input x: f32[batch, 5]\n"
                       "const r: [5, 5] = uniform(-1, 1)\n"
                       "param s: [5] = uniform(0.5, 1.5)\n"
                       "shared = linear(5)\n"
                       "h = x |> shared |> tanh\n"
                       "h = tanh(h @ r + 1)\n"
                       "h = h |> shared\n"
                       "while mean(h * h) < 4 max 10 {\n"
                       "    h = h * 1.6 + tanh(h * s)\n"
                       "}\n"
                       "output h\n"
                       "train {\n"
                       "    loss = mean(h * h) / 10 + mean(h)\n"
                       "    optimizer = sgd(lr = 0.1)\n"
                       "    batch = 4\n"
                       "}\n",
                       "F(x,X)"};
}

/* The library losses, and a loss holding gradients (double backpropagation): the gradient of the loss then
 * runs through the backward graph's own ops: divcount, the matmul transposes, and copy, which broadcasts the
 * adjoint of sum(h, axis=1) (a function of w) back over h. */
static GradModel model_losses_second_order(void) {
    return (GradModel){
        "input x: f32[batch, 4]\n"
        "input t: f32[batch, 2]\n"
        "param w: [4, 3] = normal(0, 0.5)\n"
        "h = tanh(x @ w)\n"
        "yhat = h |> linear(2)\n"
        "e = mean(h * h)\n"
        "gx = grad(e, x)\n"
        "gw = grad(sum(yhat * yhat), w)\n"
        "gs = grad(sum(sum(h, axis=1) ** 2), w)\n"
        "output yhat\n"
        "train {\n"
        "    loss = (squared_loss(yhat, t) + mse(yhat, t) + 0.1 * l2_penalty(param(\"1.weight\"))\n"
        "        + 0.01 * l1_penalty(params(\"*.bias\")) + sum(gx * gx) + mean(gw * gw) + mean(gs * gs) + e)\n"
        "    optimizer = sgd(lr = 0.1)\n"
        "    batch = 4\n"
        "}\n",
        "F(x,X) F(t,T)"};
}

/* cumsum along a feature axis, a negative axis and a parameter's first axis, so its gradient (a cumulative sum
 * from the other end) runs forward and reversed, over batched and unbatched tensors. */
static GradModel model_cumsum(void) {
    return (GradModel){"input x: f32[batch, 3, 5]\n"
                       "param w: [3, 5] = normal(0, 1)\n"
                       "param v: [5] = normal(0, 1)\n"
                       "h = tanh(x * w + v)\n"
                       "a = cumsum(h, 1)\n"
                       "b = h * v |> cumsum(axis=-1)\n"
                       "output a\n"
                       "train {\n"
                       "    loss = mean(a * a) + mean(b * sigmoid(a)) + sum(cumsum(w, 0) * w) / 10\n"
                       "    optimizer = sgd(lr = 0.1)\n"
                       "    batch = 4\n"
                       "}\n",
                       "F(x,X)"};
}

/* Subscripts: slices with steps and negative bounds, integer indices dropping axes (of a batched tensor and of a
 * parameter), and slice assignments whose value depends on a parameter, so slice and unslice run both ways. */
static GradModel model_index(void) {
    return (GradModel){"input x: f32[batch, 4, 6]\n"
                       "param w: [4, 6] = normal(0, 1)\n"
                       "param v: [3] = normal(0, 1)\n"
                       "h = tanh(x * w)\n"
                       "a = h[:, 1:4, ::2] * v\n"
                       "b = h[:, -1, -5:-1:3] + w[2, 1]\n"
                       "h[:, 0:2, 1::2] = v * w[-1, :3]\n"
                       "w2 = w\n"
                       "w2[1] = 0.5\n"
                       "output a\n"
                       "train {\n"
                       "    loss = mean(a * a) + mean(b * sigmoid(b)) + mean(h * h * w2)\n"
                       "    optimizer = sgd(lr = 0.1)\n"
                       "    batch = 3\n"
                       "}\n",
                       "F(x,X)"};
}

/* D2L 2.1/2.3's tensor functions: permute and transpose of any axes (batched and not), .T, reshape with -1,
 * stack, norm (L2 and L1), min along an axis, softmax and log_softmax along a middle axis, batched
 * stacks of matrices times matrices and vectors (@), and argmax as a value (no
 * gradient flows through it). detach is checked by test_tensors: central differences see through it. */
static GradModel model_tensors(void) {
    return (GradModel){
        "input x: f32[batch, 2, 3, 4]\n"
        "param w: [3, 4] = normal(0, 1)\n"
        "param v: [2, 3] = normal(0, 1)\n"
        "h = tanh(x * w)\n"
        "a = permute(h, [0, 3, 1, 2]) * transpose(v.T, 0, 1)\n"
        "b = transpose(h, 1, 3) |> reshape([batch, -1])\n"
        "s = stack([w, w * w, w.T.T], 1)\n"
        "m = min(h, axis=2) * argmax(h, axis=2)\n"
        "q = softmax(h, axis=2) * log_softmax(h * w, axis=1)\n"
        "r = h @ w.T @ v.T @ v[:, 0] + (v @ w @ w.T)[0]\n"
        "output a\n"
        "train {\n"
        "    loss = mean(a * a) + mean(b * sigmoid(b)) + norm(s) + norm(v, 1) / 4 + mean(m) + mean(q) + mean(r * r)\n"
        "    optimizer = sgd(lr = 0.1)\n"
        "    batch = 3\n"
        "}\n",
        "F(x,X)"};
}

/* batch_norm over channels ([N, C, H, W]) and features ([N, C]) in training mode: the batch's statistics, whose
 * count includes the run-time batch (checked with fewer examples than the maximum), and a weight and bias drawn
 * away from their ones and zeros. The loss is not invariant to the normalisation (mean(y) is the bias); the layers
 * before have no bias, whose gradient batch normalisation makes zero. The 1x1 convolution after is a matrix product
 * per image (forward, dx and dw) with no im2col. */
static GradModel model_batch_norm(void) {
    return (GradModel){"input x: f32[batch, 2, 3, 4]\n"
                       "h = x |> conv2d(3, kernel=2, bias=false) |> batch_norm(weight_init=uniform(0.5, 1.5), "
                       "bias_init=normal(0, 1)) |> tanh |> conv2d(4, kernel=1) |> tanh\n"
                       "f = h |> flatten |> linear(4, bias=false) |> batch_norm(momentum=0.2, eps=0.01, "
                       "weight_init=uniform(0.5, 1.5))\n"
                       "output f\n"
                       "train {\n"
                       "    loss = mean(sigmoid(f) * f) + mean(h * h * h)\n"
                       "    optimizer = sgd(lr = 0.1)\n"
                       "    batch = 5\n"
                       "}\n",
                       "F(x,X)"};
}

const GradCase gradcheck_cases[] = {
    {"gc_unary", "unary ops, mean, broadcasting", model_unary, 4, ""},
    {"gc_binary", "binary ops, pow, maximum, minimum, where", model_binary, 6, ""},
    {"gc_reduce", "sum and max over axes, reshape, flatten", model_reduce, 3, ""},
    {"gc_cumsum", "cumsum along feature axes, a negative axis and a parameter's axis 0", model_cumsum, 4, ""},
    {"gc_index", "subscripts: slices with steps, negative indices, slice assignment", model_index, 3, ""},
    {"gc_tensors", "permute, transpose of any axes, .T, reshape -1, stack, norm, min, argmax, softmax along an axis",
     model_tensors, 3, ""},
    {"gc_matmul", "matmul in every arrangement (BLAS)", model_matmul, 5, ""},
    {"gc_matmul_portable", "matmul in every arrangement (--portable)", model_matmul, 3, "--portable"},
    {"gc_concat_softmax", "concat, softmax, log_softmax, cross_entropy", model_concat_softmax, 5, ""},
    {"gc_conv", "conv2d: stride, padding, non-square kernel, with and without bias", model_conv, 2, ""},
    {"gc_conv_direct", "conv2d direct kernels: partial channel blocks and column tiles, strides, dx as a convolution",
     model_conv_direct, 2, ""},
    {"gc_pool", "max_pool and avg_pool with stride and padding", model_pool, 3, ""},
    {"gc_pool_tiled", "max_pool and avg_pool whose windows tile the image", model_pool_tiled, 3, ""},
    {"gc_dropout", "dropout", model_dropout, 5, ""},
    {"gc_while_tied", "bounded while loop, tied layer, const", model_while_tied, 4, ""},
    {"gc_second_order", "library losses and a gradient inside the loss", model_losses_second_order, 3, ""},
    {"gc_batch_norm", "batch_norm over channels and features, training mode; 1x1 convolution", model_batch_norm, 4, ""},
    {"gc_xent_axis", "cross_entropy along axis 1 and along the last of three axes", model_xent_axis, 4, ""},
};
const int gradcheck_ncases = (int)(sizeof gradcheck_cases / sizeof gradcheck_cases[0]);
