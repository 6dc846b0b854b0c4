/* image.c - PNG in and out for --show-samples, --show-predictions and --predict. libpng's simplified API does
 * the format work (any colour type in, 8-bit RGB out) without setjmp error handling. These run outside training
 * steps, so they allocate freely. */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { GAP = 2, BAR = 3 };

static unsigned char to_byte(float v)
{
    if (!(v > 0)) /* also NaN */
        return 0;
    return v >= 1 ? 255 : (unsigned char)(v * 255.0f + 0.5f);
}

int dlrt_write_image_grid(const char *path, const float *images, int64_t n, int h, int w, int cols, int scale,
                          const int32_t *labels, const int32_t *truth, DlrtError *err)
{
    if (n < 1 || h < 1 || w < 1 || cols < 1 || scale < 1 || (int64_t)w * scale > 8192 || n > 100000)
        return dlrt_fail(err, DLRT_EINVAL, "%s: bad image grid (%lld images of %dx%d, %d columns, scale %d)", path,
                         (long long)n, h, w, cols, scale);
    if (cols > n)
        cols = (int)n;
    int64_t rows = (n + cols - 1) / cols;
    int bar = labels ? BAR : 0;
    int64_t cell_w = (int64_t)w * scale + GAP, cell_h = (int64_t)h * scale + bar + GAP;
    int64_t width = cols * cell_w + GAP, height = rows * cell_h + GAP;
    unsigned char *rgb = calloc((size_t)(width * height * 3), 1);
    if (!rgb)
        return dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory for a %lldx%lld image", path, (long long)width,
                         (long long)height);
    memset(rgb, 255, (size_t)(width * height * 3)); /* white gaps */
    for (int64_t i = 0; i < n; i++) {
        int64_t x0 = GAP + i % cols * cell_w, y0 = GAP + i / cols * cell_h;
        const float *img = images + i * h * w;
        for (int64_t y = 0; y < (int64_t)h * scale; y++)
            for (int64_t x = 0; x < (int64_t)w * scale; x++) {
                unsigned char v = to_byte(img[y / scale * w + x / scale]);
                unsigned char *px = rgb + ((y0 + y) * width + x0 + x) * 3;
                px[0] = px[1] = px[2] = v;
            }
        if (bar) {
            int right = !truth || labels[i] == truth[i];
            for (int64_t y = 0; y < bar; y++)
                for (int64_t x = 0; x < (int64_t)w * scale; x++) {
                    unsigned char *px = rgb + ((y0 + (int64_t)h * scale + y) * width + x0 + x) * 3;
                    px[0] = right ? 40 : 220;
                    px[1] = right ? 170 : 40;
                    px[2] = 40;
                }
        }
    }

    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = PNG_FORMAT_RGB;
    DlrtAtomicFile af;
    int rc = dlrt_atomic_open(&af, path, err);
    if (!rc) {
        if (png_image_write_to_stdio(&image, af.f, 0, rgb, 0, NULL)) {
            rc = dlrt_atomic_commit(&af, err);
        } else {
            dlrt_atomic_abort(&af);
            rc = dlrt_fail(err, DLRT_EIO, "%s: cannot write PNG: %s", path, image.message);
        }
    }
    free(rgb);
    return rc;
}

int dlrt_read_image(const char *path, float *dst, int h, int w, int invert, DlrtError *err)
{
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path))
        return dlrt_fail(err, DLRT_EIO, "%s: cannot read PNG: %s", path, image.message);
    image.format = PNG_FORMAT_GRAY;
    size_t pixels = (size_t)image.width * image.height;
    unsigned char *gray = malloc(pixels);
    float *f = malloc(pixels * sizeof *f);
    if (!gray || !f) {
        png_image_free(&image);
        free(gray);
        free(f);
        return dlrt_fail(err, DLRT_ENOMEM, "%s: out of memory for a %ux%u image", path, (unsigned)image.width,
                         (unsigned)image.height);
    }
    int rc = DLRT_OK;
    if (!png_image_finish_read(&image, NULL, gray, 0, NULL)) {
        rc = dlrt_fail(err, DLRT_EFORMAT, "%s: cannot decode PNG: %s", path, image.message);
    } else {
        for (size_t i = 0; i < pixels; i++)
            f[i] = invert ? 1.0f - (float)gray[i] / 255.0f : (float)gray[i] / 255.0f;
        dlrt_resize_bilinear(f, 1, image.height, image.width, dst, h, w);
    }
    free(gray);
    free(f);
    return rc;
}
