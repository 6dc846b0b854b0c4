/* progress.c - what a trainer prints while it runs. On a terminal one status line (epoch, a bar, batch, running
 * loss, examples/s, time left) is redrawn in place (\r) at most ten times a second. In a pipe or log, on a dumb
 * terminal (TERM=dumb or unset) and under mpirun, whose output is a log even when it passes through a terminal,
 * no cursor control is written: the same facts come as a plain line every ten seconds (DLRT_PROGRESS_SECONDS),
 * so a long epoch is not minutes of silence, and a summary line ends each epoch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"

/* Whether `out` takes a line redrawn in place: a terminal that understands cursor control, outside mpirun (which
 * gives ranks a pseudo-terminal and interleaves their output into one log). */
static int redraws(FILE *out) {
    const char *term = getenv("TERM");
    if (!term || !*term || strcmp(term, "dumb") == 0)
        return 0;
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE"))
        return 0;
    return isatty(fileno(out));
}

/* Seconds between plain progress lines: DLRT_PROGRESS_SECONDS when it is a number >= 0, else 10. */
static double plain_interval(void) {
    const char *v = getenv("DLRT_PROGRESS_SECONDS");
    char *end;
    double s = v ? strtod(v, &end) : NAN;
    return v && *v && !*end && s >= 0 && isfinite(s) ? s : 10;
}

void dlrt_progress_init(DlrtProgress *p, FILE *out, int64_t epochs, int64_t first_epoch, int64_t batches, int quiet) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->quiet = quiet;
    p->tty = redraws(out);
    p->interval = plain_interval();
    p->epochs = epochs;
    p->first_epoch = first_epoch;
    p->batches = batches > 0 ? batches : 1;
    p->t_start = dlrt_now();
}

void dlrt_progress_epoch_begin(DlrtProgress *p, int64_t epoch) {
    (void)epoch;
    p->t_epoch = dlrt_now();
    p->t_drawn = p->t_epoch;
    p->loss_sum = 0;
    p->seen = 0;
}

/* Seconds as "1h02m", "3m05s" or "42s". */
static void format_duration(char *buf, size_t cap, double s) {
    if (!isfinite(s) || s < 0)
        s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, cap, "%lds", t);
}

void dlrt_progress_batch(DlrtProgress *p, int64_t epoch, int64_t batch, int64_t n, double loss) {
    p->loss_sum += loss * (double)n;
    p->seen += n;
    double now = dlrt_now();
    p->t_trained = now;
    int last = batch + 1 >= p->batches;
    if (p->quiet)
        return;
    /* a terminal's line shows the last batch too; in a log the epoch's summary line follows it at once */
    if (p->tty ? p->drawn && now - p->t_drawn < 0.1 && !last : last || now - p->t_drawn < p->interval)
        return;
    p->t_drawn = now;
    /* ETA from the run's average batch time, over the batches left in this and later epochs. */
    double done = (double)((epoch - p->first_epoch) * p->batches + batch + 1);
    double left = (double)((p->epochs - epoch) * p->batches + (p->batches - batch - 1));
    char eta[32];
    format_duration(eta, sizeof eta, (now - p->t_start) / done * left);
    double elapsed = now - p->t_epoch;
    char head[64], tail[160];
    snprintf(head, sizeof head, "epoch %lld/%lld ", (long long)epoch, (long long)p->epochs);
    snprintf(tail, sizeof tail, " %lld/%lld  loss %.4f  %.0f ex/s  ETA %s", (long long)(batch + 1),
             (long long)p->batches, p->loss_sum / (double)p->seen, elapsed > 0 ? (double)p->seen / elapsed : 0.0, eta);
    if (!p->tty) {
        fprintf(p->out, "%sbatch%s\n", head, tail);
        fflush(p->out);
        return;
    }
    /* The bar takes what the terminal's width leaves, up to 30 cells; on a narrow one it goes first. */
    int cols = 80;
    struct winsize ws;
    if (ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        cols = ws.ws_col;
    int bar = cols - 1 - (int)strlen(head) - (int)strlen(tail) - 2;
    bar = bar > 30 ? 30 : bar;
    char cells[32] = "";
    if (bar >= 5) {
        int full = (int)((double)bar * (double)(batch + 1) / (double)p->batches);
        for (int i = 0; i < bar; i++)
            cells[i] = i < full ? '=' : i == full ? '>' : ' ';
        cells[bar] = '\0';
    }
    fprintf(p->out, "\r%s%s%s%s%s\033[K", head, bar >= 5 ? "[" : "", cells, bar >= 5 ? "]" : "", tail);
    fflush(p->out);
    p->drawn = 1;
}

void dlrt_progress_note(DlrtProgress *p, int64_t epoch, const char *what) {
    if (p->quiet || !p->tty)
        return;
    fprintf(p->out, "\repoch %lld/%lld %s\033[K", (long long)epoch, (long long)p->epochs, what);
    fflush(p->out);
    p->drawn = 1;
}

double dlrt_progress_epoch_end(DlrtProgress *p, int64_t epoch, const DlrtEpochScores *s) {
    double seconds = dlrt_now() - p->t_epoch;
    if (p->quiet)
        return seconds;
    if (p->drawn)
        fputs("\r\033[K", p->out);
    p->drawn = 0;
    fprintf(p->out, "epoch %lld/%lld", (long long)epoch, (long long)p->epochs);
    const struct {
        const char *name;
        double v;
    } cols[6] = {{"train_loss", s->train_loss}, {"train_acc", s->train_acc}, {"valid_loss", s->valid_loss},
                 {"valid_acc", s->valid_acc},   {"test_loss", s->test_loss}, {"test_acc", s->test_acc}};
    for (int i = 0; i < 6; i++)
        if (isfinite(cols[i].v))
            fprintf(p->out, "  %s %.4f", cols[i].name, cols[i].v);
    if (isfinite(s->lr))
        fprintf(p->out, "  lr %.4g", s->lr);
    double training = p->t_trained - p->t_epoch;
    if (training > 0 && p->seen > 0)
        fprintf(p->out, "  %.0f ex/s", (double)p->seen / training);
    fprintf(p->out, "  %.1f s\n", seconds);
    fflush(p->out);
    return seconds;
}
