/* resize.c - bilinear image resizing with PyTorch's align_corners=False conventions, so a model trained on
 * Fashion-MNIST upsampled to 224x224 (D2L's AlexNet and VGG) sees the same pixels as in the book. */
#include "dlrt.h"

/* PyTorch's area_pixel_compute_source_index: pixel centres are aligned, and coordinates left of the first
 * centre clamp to it; the weight of the upper neighbour is the fractional part. Arithmetic is in float, as
 * PyTorch's for float tensors, so sample positions agree for scales that are not powers of two. */
static void source_index(int64_t d, float scale, int64_t in, int64_t *lo, int64_t *hi, float *frac) {
    float s = scale * ((float)d + 0.5f) - 0.5f;
    if (s < 0)
        s = 0;
    int64_t i = (int64_t)s;
    if (i > in - 1)
        i = in - 1;
    *lo = i;
    *hi = i < in - 1 ? i + 1 : i;
    *frac = s - (float)i;
}

void dlrt_resize_bilinear(const float *src, int64_t planes, int64_t in_h, int64_t in_w, float *dst, int64_t out_h,
                          int64_t out_w) {
    float sy = (float)in_h / (float)out_h, sx = (float)in_w / (float)out_w;
    for (int64_t p = 0; p < planes; p++) {
        const float *in = src + p * in_h * in_w;
        float *out = dst + p * out_h * out_w;
        for (int64_t y = 0; y < out_h; y++) {
            int64_t y0, y1;
            float fy;
            source_index(y, sy, in_h, &y0, &y1, &fy);
            const float *r0 = in + y0 * in_w, *r1 = in + y1 * in_w;
            for (int64_t x = 0; x < out_w; x++) {
                int64_t x0, x1;
                float fx;
                source_index(x, sx, in_w, &x0, &x1, &fx);
                float top = (1 - fx) * r0[x0] + fx * r0[x1];
                float bottom = (1 - fx) * r1[x0] + fx * r1[x1];
                out[y * out_w + x] = (1 - fy) * top + fy * bottom;
            }
        }
    }
}
