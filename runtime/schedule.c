/* schedule.c - the learning rate of each epoch: the train section's `schedule = step(...)` or `cosine(...)`, after
 * an optional linear warmup, as PyTorch's SequentialLR of LinearLR and StepLR or CosineAnnealingLR computes it when
 * stepped once per epoch. The trainer asks for the rate at the start of every epoch; it depends on the epoch and
 * the run's length alone, so a resumed run continues the schedule bit for bit. */
#include <math.h>

#include "internal.h"

double dlrt_schedule_lr(const DlrtSchedule *s, double lr, int64_t epoch, int64_t epochs) {
    if (!s || s->kind == DLRT_SCHEDULE_CONSTANT)
        return lr;
    if (epoch < s->warmup) /* LinearLR(start_factor, total_iters = warmup) */
        return lr * (s->start_factor + (1 - s->start_factor) * (double)epoch / (double)s->warmup);
    int64_t e = epoch - s->warmup;
    if (s->kind == DLRT_SCHEDULE_STEP)
        return lr * pow(s->gamma, (double)(e / (s->step_size > 0 ? s->step_size : 1)));
    int64_t t_max = s->t_max > 0 ? s->t_max : epochs - s->warmup;
    if (t_max <= 0 || e >= t_max)
        return s->eta_min;
    return s->eta_min + (lr - s->eta_min) * (1 + cos(3.14159265358979323846 * (double)e / (double)t_max)) / 2;
}
