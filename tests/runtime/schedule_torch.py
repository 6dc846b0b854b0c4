# The learning rates test_runtime.c's test_schedule expects, from PyTorch itself (Debian's python3-torch):
# SequentialLR of a LinearLR warmup and StepLR or CosineAnnealingLR, stepped once per epoch as dlc's trainers do,
# base rate 0.1. Run: /usr/bin/python3 tests/runtime/schedule_torch.py
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR, StepLR


def rates(main, warmup, start_factor, epochs):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    if warmup:
        warm = LinearLR(opt, start_factor=start_factor, total_iters=warmup)
        sched = SequentialLR(opt, [warm, main(opt)], milestones=[warmup])
    else:
        sched = main(opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return ", ".join(f"{v:.17g}" for v in out)


print("step(3, gamma=0.5):", rates(lambda o: StepLR(o, 3, gamma=0.5), 0, 1, 8))
print("step(2, gamma=0.1, warmup=3, start_factor=0.25):", rates(lambda o: StepLR(o, 2, gamma=0.1), 3, 0.25, 8))
print("cosine(4, eta_min=0.01, warmup=2):", rates(lambda o: CosineAnnealingLR(o, 4, eta_min=0.01), 2, 1 / 3, 6))
print("cosine() over 10 epochs:", rates(lambda o: CosineAnnealingLR(o, 10), 0, 1, 10))
