#!/usr/bin/python3
"""PyTorch peer for the dlc benchmarks.

Trains and runs the D2L Fashion-MNIST models in plain eager PyTorch (the way
the D2L book does) and prints one JSON line per (model, thread count) to
stdout, so that dlc's generated trainers can be compared against it on the
same machine in the same run.

Measured, per model and thread count (each measurement repeated --repeat
times; the median is reported, the raw values are kept in *_runs):

  train_examples_per_second
      Minibatch SGD (forward, cross-entropy, backward, step) at the D2L
      batch size, over one shuffled epoch of the 60,000 training images
      (softmax, mlp, lenet) or over --batches batches (alexnet, vgg11, whose
      28x28 images are bilinearly resized to 224x224 per batch inside the
      timed loop, as dlc does).  A few warm-up batches run before the timed
      region and are not counted.
  infer_latency_us
      Median wall time of one batch-1 forward pass (eval mode,
      torch.inference_mode); inputs are pre-resized for the 224x224 models.
  infer_examples_per_second
      Batch-256 forward throughput over test-set batches (pre-resized).

Also reported: analytic FLOPs per example (see count_flops), the achieved
training GFLOP/s, CPU utilisation while training, and which OpenBLAS
core/threads were active (on Debian, torch's Linear/addmm goes through the
system OpenBLAS; see README.md).

Usage:
  /usr/bin/python3 bench/torch_peer.py --model lenet --threads 1,2 --repeat 3
  /usr/bin/python3 bench/torch_peer.py --model alexnet --threads 1 --batches 4
"""

import argparse
import ctypes
import gzip
import json
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"

# ---------------------------------------------------------------------------
# Models (D2L definitions)
# ---------------------------------------------------------------------------


def softmax_net():
    """D2L 4.4/4.5: softmax regression."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def mlp_net():
    """D2L 5.2: one hidden layer of 256 ReLU units."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def lenet_net():
    """D2L 7.6: the original sigmoid LeNet-5 with average pooling."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def alexnet_net():
    """D2L 8.1: AlexNet with one input channel at 224x224."""
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 10))


def vgg11_net():
    """D2L 8.2: VGG-11, the small variant (channels divided by ratio 4)."""
    conv_arch = ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128))
    layers, in_ch = [], 1
    for num_convs, out_ch in conv_arch:
        for _ in range(num_convs):
            layers += [nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1),
                       nn.ReLU()]
            in_ch = out_ch
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(
        *layers, nn.Flatten(),
        nn.Linear(in_ch * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 10))


def bn_lenet_net():
    """D2L 8.5.4: LeNet with nn.BatchNorm2d/1d after each convolution and hidden linear layer (dlc's
    batchnorm_concise)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10))


class Residual(nn.Module):
    """D2L 8.6: two 3x3 convolutions with batch normalization, a 1x1 projection where the shape changes."""

    def __init__(self, in_ch, out_ch, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1,
                               stride=strides)
        self.conv2 = nn.Conv2d(out_ch, out_ch, kernel_size=3, padding=1)
        self.conv3 = (nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=strides)
                      if use_1x1conv else None)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.bn2 = nn.BatchNorm2d(out_ch)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.conv3:
            x = self.conv3(x)
        return F.relu(y + x)


def resnet18_net():
    """D2L 8.6: ResNet-18 with one input channel at 96x96."""
    def stage(in_ch, out_ch, first):
        return nn.Sequential(
            Residual(in_ch, out_ch, use_1x1conv=not first,
                     strides=1 if first else 2),
            Residual(out_ch, out_ch))
    return nn.Sequential(
        nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        stage(64, 64, True), stage(64, 128, False), stage(128, 256, False),
        stage(256, 512, False),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 10))


# name -> (constructor, D2L batch size, D2L learning rate, input side,
#          default timed batches (None = one full epoch), init)
MODELS = {
    "softmax": (softmax_net, 256, 0.1, 28, None, "normal"),
    "mlp": (mlp_net, 256, 0.1, 28, None, "normal"),
    "lenet": (lenet_net, 256, 0.9, 28, None, "xavier"),
    "alexnet": (alexnet_net, 128, 0.01, 224, 4, "xavier"),
    "vgg11": (vgg11_net, 128, 0.05, 224, 4, "xavier"),
    "batchnorm_concise": (bn_lenet_net, 128, 0.1, 28, None, "xavier"),
    "resnet18": (resnet18_net, 128, 0.01, 96, 4, "xavier"),
}


def init_weights(net, kind):
    """D2L-style initialisation (irrelevant for speed, keeps losses sane)."""
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            if kind == "normal":
                nn.init.normal_(m.weight, std=0.01)
            else:
                nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def count_flops(net, side):
    """Analytic FLOPs per example as (forward, training step).

    Only Conv2d/Linear layers count, at 2 FLOPs per multiply-accumulate (bias
    adds, activations, pooling and the loss are ignored).  Backward costs 2x
    forward per layer (input gradient + weight gradient), except the first
    layer, whose input gradient is never computed.
    """
    per_layer = []

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1]
            per_layer.append(2 * (mod.in_channels // mod.groups) * k
                             * out.shape[1] * out.shape[2] * out.shape[3])
        elif isinstance(mod, nn.Linear):
            per_layer.append(2 * mod.in_features * mod.out_features)

    hooks = [m.register_forward_hook(hook) for m in net.modules()
             if isinstance(m, (nn.Conv2d, nn.Linear))]
    net.eval()  # batch norm refuses one example in training mode
    with torch.inference_mode():
        net(torch.zeros(1, 1, side, side))
    for h in hooks:
        h.remove()
    forward = sum(per_layer)
    return forward, 3 * forward - per_layer[0]


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def read_idx(path, header_bytes):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header_bytes)


def load_fashion_mnist(data_dir, split):
    """Returns (images float32 [N,1,28,28] in [0,1], labels int64 [N])."""
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"), 16)
    y = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"), 8)
    x = torch.from_numpy(x.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)
    y = torch.from_numpy(y.astype(np.int64))
    assert x.shape[0] == y.shape[0]
    return x, y


def cyclic_batch(x, i, batch):
    """The i-th full batch of x, wrapping around so it is never short."""
    start = (i * batch) % (x.shape[0] - batch + 1)
    return x[start:start + batch]


def resize(x, side):
    """Bilinear resize to side x side (identity for 28x28 models)."""
    if x.shape[-1] == side:
        return x
    return F.interpolate(x, size=(side, side), mode="bilinear",
                         align_corners=False)


# ---------------------------------------------------------------------------
# Threading.  torch.set_num_threads sizes torch's OpenMP pool (elementwise
# ops, oneDNN convolutions), but Debian's torch calls the system libblas.so.3
# (OpenBLAS, pthread build) for GEMMs (Linear/addmm, some convolutions), and
# OpenBLAS sizes its own pool (default: all cores) independently.  Running
# both pools at 2 threads on 2 cores is pathological: libgomp workers
# spin-wait after each parallel region while OpenBLAS workers want the same
# cores (measured here: mlp training 230k -> 59k ex/s, mlp batch-256
# inference 516k -> 32k ex/s).  So by default OpenBLAS runs single-threaded
# and torch's OpenMP pool provides the parallelism; --blas-threads overrides
# this (for alexnet/vgg11 it makes no measurable difference).
# ---------------------------------------------------------------------------


def find_openblas():
    try:
        lib = ctypes.CDLL("libopenblas.so.0")  # already mapped by torch
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib
    except (OSError, AttributeError):
        return None


def set_threads(n, blas_n, openblas):
    torch.set_num_threads(n)
    if openblas is not None:
        openblas.openblas_set_num_threads(blas_n)


def blas_info(openblas):
    if openblas is None:
        return {"openblas_core": None, "openblas_threads": None}
    return {"openblas_core": openblas.openblas_get_corename().decode(),
            "openblas_threads": openblas.openblas_get_num_threads()}


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------


def measure_train(net, lr, batch, side, train_x, train_y, n_batches, warmup,
                  gen):
    """Times SGD over n_batches (None = a full shuffled epoch, last partial
    batch included).  Returns (examples/s, examples, seconds, CPU seconds /
    wall seconds, last loss)."""
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    n = train_x.shape[0]

    def step(idx):
        x = resize(train_x.index_select(0, idx), side)
        y = train_y.index_select(0, idx)
        loss = loss_fn(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    net.train()
    # Warm-up on its own random batches (allocator, oneDNN primitive caches).
    perm = torch.randperm(n, generator=gen)
    for i in range(warmup):
        step(perm[i * batch:(i + 1) * batch])

    perm = torch.randperm(n, generator=gen)
    if n_batches is None:
        starts = range(0, n, batch)
    else:
        # Full batches, wrapping around if more than an epoch is asked for.
        starts = [(i * batch) % (n - batch + 1) for i in range(n_batches)]
    examples = 0
    c0, t0 = time.process_time(), time.perf_counter()
    for start in starts:
        idx = perm[start:start + batch]
        loss = step(idx)
        examples += idx.shape[0]
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return examples / seconds, examples, seconds, cpu / seconds, float(loss)


def measure_latency(net, x1, min_iters, max_iters, budget_s):
    """Median wall time (us) of a batch-1 forward pass."""
    times = []
    with torch.inference_mode():
        for _ in range(3):  # warm-up
            net(x1)
        t_end = time.perf_counter() + budget_s
        while len(times) < max_iters and (len(times) < min_iters
                                          or time.perf_counter() < t_end):
            t0 = time.perf_counter_ns()
            net(x1)
            times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e3, len(times)


def measure_infer_throughput(net, batches):
    """Examples/s of forward passes over the given (pre-resized) batches."""
    with torch.inference_mode():
        net(batches[0])  # warm-up
        t0 = time.perf_counter()
        examples = 0
        for xb in batches:
            net(xb)
            examples += xb.shape[0]
        seconds = time.perf_counter() - t0
    return examples / seconds


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


def parse_list(text, allowed=None, conv=str):
    items = [conv(t) for t in text.split(",") if t]
    if allowed is not None:
        if items == ["all"]:
            return list(allowed)
        bad = [t for t in items if t not in allowed]
        if bad:
            raise SystemExit(f"unknown model(s) {bad}; choose from "
                             f"{', '.join(allowed)} or 'all'")
    return items


def median(xs):
    return statistics.median(xs) if xs else None


def bench_model(name, threads, args, data, openblas, log):
    ctor, batch, lr, side, default_batches, init = MODELS[name]
    batch = args.batch_size or batch
    n_batches = args.batches if args.batches is not None else default_batches
    train_x, train_y, test_x = data
    set_threads(threads, args.blas_threads, openblas)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    fwd_flops, train_flops = count_flops(ctor(), side)
    train_runs, cpu_util_runs, infer_lat_runs, infer_eps_runs = [], [], [], []
    lat_iters, examples, loss = 0, 0, None

    # Inference inputs, resized once outside the timed loops.
    infer_bs = args.infer_batch
    n_inf = args.infer_batches or (
        max(1, test_x.shape[0] // infer_bs) if side == 28 else 2)
    inf_batches = [resize(cyclic_batch(test_x, i, infer_bs), side)
                   for i in range(n_inf)]
    x1 = resize(test_x[:1], side).contiguous()

    for r in range(args.repeat):
        # A fresh network per repeat so every run starts from the same state.
        net = ctor()
        init_weights(net, init)
        if not args.no_train:
            eps, examples, secs, util, loss = measure_train(
                net, lr, batch, side, train_x, train_y, n_batches,
                args.warmup, gen)
            train_runs.append(eps)
            cpu_util_runs.append(util)
            log(f"  {name} t={threads} rep {r}: train {eps:,.1f} ex/s "
                f"({examples} ex in {secs:.2f}s, cpu {util:.2f}, "
                f"loss {loss:.3f})")
        if not args.no_infer:
            net.eval()
            lat, lat_iters = measure_latency(net, x1, args.latency_min_iters,
                                             args.latency_max_iters,
                                             args.latency_budget)
            infer_lat_runs.append(lat)
            eps_i = measure_infer_throughput(net, inf_batches)
            infer_eps_runs.append(eps_i)
            log(f"  {name} t={threads} rep {r}: b1 latency {lat:,.1f} us "
                f"({lat_iters} iters), b{infer_bs} {eps_i:,.1f} ex/s")

    train_eps = median(train_runs)
    rec = {
        "peer": "torch",
        "model": name,
        "threads": threads,
        "batch": batch,
        "train_examples_per_second": train_eps,
        "infer_latency_us": median(infer_lat_runs),
        "infer_examples_per_second": median(infer_eps_runs),
        "repeats": args.repeat,
        # --- details -------------------------------------------------------
        "input_side": side,
        "train_examples": examples,
        "train_mode": "epoch" if n_batches is None else f"{n_batches} batches",
        "warmup_batches": args.warmup,
        "train_final_loss": loss,
        "infer_batch": infer_bs,
        "infer_batches": n_inf,
        "infer_latency_iters": lat_iters,
        "forward_flops_per_example": fwd_flops,
        "train_flops_per_example": train_flops,
        "train_gflops_per_second": (train_flops * train_eps / 1e9
                                    if train_eps else None),
        # process CPU seconds per wall second while training (~threads when
        # all workers are busy; > threads would mean a thread-count leak)
        "train_cpu_utilization": median(cpu_util_runs),
        # the process's peak resident set (training and inference of this one model: run.sh starts a process per
        # model and thread count), as the dlc trainer's report gives its own
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "train_examples_per_second_runs": train_runs,
        "infer_latency_us_runs": infer_lat_runs,
        "infer_examples_per_second_runs": infer_eps_runs,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
        **blas_info(openblas),
        "host": platform.node(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return rec


def main():
    p = argparse.ArgumentParser(
        description="PyTorch peer for dlc: train/infer speed of D2L models "
                    "on Fashion-MNIST; prints one JSON line per model and "
                    "thread count.")
    p.add_argument("--model", default="all",
                   help="comma list of %s, or 'all'" % ", ".join(MODELS))
    p.add_argument("--threads", default="1",
                   help="comma list of thread counts (default 1)")
    p.add_argument("--blas-threads", type=int, default=1,
                   help="OpenBLAS threads (default 1; see set_threads)")
    p.add_argument("--repeat", type=int, default=3,
                   help="repeats per measurement; the median is reported")
    p.add_argument("--batches", type=int, default=None,
                   help="timed training batches (default: a full epoch for "
                        "softmax/mlp/lenet, %d for alexnet/vgg11)"
                        % MODELS["alexnet"][4])
    p.add_argument("--batch-size", type=int, default=None,
                   help="override the D2L training batch size")
    p.add_argument("--warmup", type=int, default=3,
                   help="untimed warm-up training batches (default 3)")
    p.add_argument("--infer-batch", type=int, default=256,
                   help="batch size for inference throughput (default 256)")
    p.add_argument("--infer-batches", type=int, default=None,
                   help="batches for inference throughput (default: the "
                        "test set for 28x28 models, 2 for 224x224)")
    p.add_argument("--latency-min-iters", type=int, default=10)
    p.add_argument("--latency-max-iters", type=int, default=2000)
    p.add_argument("--latency-budget", type=float, default=2.0,
                   help="seconds per batch-1 latency measurement (default 2)")
    p.add_argument("--no-train", action="store_true")
    p.add_argument("--no-infer", action="store_true")
    p.add_argument("--data", default=DATA_DIR)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true",
                   help="no progress on stderr")
    args = p.parse_args()

    if args.batches is not None and args.batches < 1:
        raise SystemExit("--batches must be >= 1")
    if args.repeat < 1:
        raise SystemExit("--repeat must be >= 1")
    models = parse_list(args.model, MODELS)
    threads = parse_list(args.threads, conv=int)

    def log(msg):
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    openblas = find_openblas()
    train_x, train_y = load_fashion_mnist(args.data, "train")
    test_x, _ = load_fashion_mnist(args.data, "test")
    for name in models:
        for t in threads:
            rec = bench_model(name, t, args, (train_x, train_y, test_x),
                              openblas, log)
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
