/* plot.c - training curves as a self-contained SVG: several series against epoch on shared axes, like D2L's
 * Animator (linear or log-scale y, a legend, labelled axes). Written atomically like every other output. */
#include <math.h>
#include <string.h>

#include "internal.h"

enum { WIDTH = 720, HEIGHT = 440, LEFT = 80, RIGHT = 560, TOP = 44, BOTTOM = 380 };

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
static const char *const dashes[] = {"", "7,4", "2,3", "9,3,2,3"};

typedef struct {
    double lo, hi;
    int log;
} Axis;

static void svg_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
    }
}

/* A step of 1, 2 or 5 times a power of ten giving about five intervals over span. */
static double nice_step(double span) {
    double raw = span / 5, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return mag * (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10);
}

/* Widens [lo, hi] to whole ticks (powers of ten on a log axis) and never to an empty interval. */
static void axis_fit(Axis *a, double lo, double hi) {
    if (!(lo <= hi)) { /* no data */
        lo = a->log ? 0.1 : 0;
        hi = 1;
    }
    if (a->log) {
        a->lo = floor(log10(lo));
        a->hi = ceil(log10(hi));
        if (a->hi <= a->lo)
            a->hi = a->lo + 1;
        return;
    }
    if (hi - lo < 1e-12 * (fabs(lo) + 1)) {
        double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
        lo -= pad;
        hi += pad;
    }
    double step = nice_step(hi - lo);
    a->lo = floor(lo / step) * step;
    a->hi = ceil(hi / step) * step;
}

static double to_px(const Axis *a, double v, double p0, double p1) {
    double t = a->log ? log10(v) : v;
    return p0 + (t - a->lo) / (a->hi - a->lo) * (p1 - p0);
}

static double point_x(const DlrtSeries *s, int64_t i) { return s->x ? s->x[i] : (double)(i + 1); }

static int usable(const Axis *a, double v) { return isfinite(v) && (!a->log || v > 0); }

static void draw_series(FILE *f, const DlrtSeries *s, int k, const Axis *ax, const Axis *ay) {
    const char *color = colors[k % 6], *dash = dashes[k % 4];
    int open = 0;
    for (int64_t i = 0; i < s->n; i++) {
        double x = point_x(s, i), y = s->y[i];
        if (!usable(ax, x) || !usable(ay, y)) { /* a gap */
            if (open)
                fputs("\"/>\n", f);
            open = 0;
            continue;
        }
        if (!open)
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s%s%s points=\"", color,
                    *dash ? " stroke-dasharray=\"" : "", dash, *dash ? "\"" : "");
        fprintf(f, "%s%.1f,%.1f", open ? " " : "", to_px(ax, x, LEFT, RIGHT), to_px(ay, y, BOTTOM, TOP));
        open = 1;
    }
    if (open)
        fputs("\"/>\n", f);
    if (s->n <= 60) /* markers help read short runs */
        for (int64_t i = 0; i < s->n; i++)
            if (usable(ax, point_x(s, i)) && usable(ay, s->y[i]))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                        to_px(ax, point_x(s, i), LEFT, RIGHT), to_px(ay, s->y[i], BOTTOM, TOP), color);
}

int dlrt_write_plot_svg(const char *path, const char *title, const char *xlabel, const char *ylabel,
                        const DlrtSeries *series, int n_series, int log_y, DlrtError *err) {
    Axis ax = {0, 0, 0}, ay = {0, 0, log_y != 0};
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int k = 0; k < n_series; k++)
        for (int64_t i = 0; i < series[k].n; i++) {
            double x = point_x(&series[k], i), y = series[k].y[i];
            if (!usable(&ax, x) || !usable(&ay, y))
                continue;
            xlo = fmin(xlo, x);
            xhi = fmax(xhi, x);
            ylo = fmin(ylo, y);
            yhi = fmax(yhi, y);
        }
    axis_fit(&ax, xlo, xhi);
    axis_fit(&ay, ylo, yhi);

    DlrtAtomicFile af;
    int rc = dlrt_atomic_open(&af, path, err);
    if (rc)
        return rc;
    FILE *f = af.f;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\" font-size=\"13\">\n",
            WIDTH, HEIGHT, WIDTH, HEIGHT);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", WIDTH, HEIGHT);
    fprintf(f, "<text x=\"%d\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">", (LEFT + RIGHT) / 2);
    svg_text(f, title ? title : "");
    fputs("</text>\n", f);

    /* Grid lines and tick labels. */
    double step = nice_step(ax.hi - ax.lo);
    for (double t = ax.lo; t <= ax.hi + step * 1e-9; t += step) {
        double px = to_px(&ax, t, LEFT, RIGHT);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e0e0e0\"/>\n", px, TOP, px, BOTTOM);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", px, BOTTOM + 18,
                fabs(t) < step * 1e-9 ? 0.0 : t);
    }
    double ystep = ay.log ? 1 : nice_step(ay.hi - ay.lo);
    for (double t = ay.lo; t <= ay.hi + ystep * 1e-9; t += ystep) {
        double v = ay.log ? pow(10, t) : fabs(t) < ystep * 1e-9 ? 0.0 : t;
        double py = to_px(&ay, v, BOTTOM, TOP);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n", LEFT, py, RIGHT, py);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", LEFT - 6, py + 4, v);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"black\"/>\n", LEFT, TOP,
            RIGHT - LEFT, BOTTOM - TOP);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (LEFT + RIGHT) / 2, BOTTOM + 40);
    svg_text(f, xlabel ? xlabel : "");
    fprintf(f, "</text>\n<text transform=\"translate(22 %d) rotate(-90)\" text-anchor=\"middle\">", (TOP + BOTTOM) / 2);
    svg_text(f, ylabel ? ylabel : "");
    fputs(ay.log ? " (log scale)</text>\n" : "</text>\n", f);

    for (int k = 0; k < n_series; k++) {
        draw_series(f, &series[k], k, &ax, &ay);
        int y = TOP + 10 + 22 * k;
        const char *dash = dashes[k % 4];
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s%s%s/>\n",
                RIGHT + 16, y, RIGHT + 46, y, colors[k % 6], *dash ? " stroke-dasharray=\"" : "", dash,
                *dash ? "\"" : "");
        fprintf(f, "<text x=\"%d\" y=\"%d\">", RIGHT + 52, y + 4);
        svg_text(f, series[k].name ? series[k].name : "");
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
    return dlrt_atomic_commit(&af, err);
}

int dlrt_write_history_svg(const char *path, const DlrtHistory *h, const char *title, int log_y, DlrtError *err) {
    const struct {
        const char *name;
        const double *y;
    } all[6] = {{"train loss", h->train_loss}, {"valid loss", h->valid_loss}, {"test loss", h->test_loss},
                {"train acc", h->train_acc},   {"valid acc", h->valid_acc},   {"test acc", h->test_acc}};
    DlrtSeries series[6];
    int n = 0;
    for (int k = 0; k < 6; k++) {
        int any = 0;
        for (int64_t i = 0; i < h->n && !any; i++)
            any = isfinite(all[k].y[i]);
        if (any)
            series[n++] = (DlrtSeries){all[k].name, h->epoch, all[k].y, h->n};
    }
    return dlrt_write_plot_svg(path, title, "epoch", log_y ? "loss" : "value", series, n, log_y, err);
}
