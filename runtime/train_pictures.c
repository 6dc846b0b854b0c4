/* train_pictures.c - what a Fashion-MNIST classifier's trainer shows: --show-samples (training images with their
 * labels, as D2L shows the data), --show-predictions (test images with labels and predictions, mistakes in red)
 * and --predict (the most probable classes of images in files). The model runs in inference mode through its
 * descriptor's forward and output, on the dataset's own 28 x 28 images, resized first when the model was trained
 * on larger ones. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { RAW_H = DLRT_RAW_SIDE, RAW_W = DLRT_RAW_SIDE, CLASSES = 10, TOP_K = 3 };

/* Runs the model on n images of RAW_H x RAW_W, a batch at a time, and copies each one's CLASSES logits to out. */
static void logits_of(DlrtTrainer *t, const float *images, int64_t n, float *out) {
    const DlrtModel *m = t->m;
    int64_t r = m->data.resize;
    for (int64_t i = 0; i < n; i += t->batch) {
        int k = (int)(n - i < t->batch ? n - i : t->batch);
        if (r) {
            dlrt_resize_bilinear(images + i * RAW_H * RAW_W, k, RAW_H, RAW_W, t->xb, r, r);
            m->forward(t->state, k, t->xb);
        } else {
            m->forward(t->state, k, images + i * m->x_size);
        }
        memcpy(out + i * CLASSES, m->output(t->state), sizeof(float) * (size_t)k * CLASSES);
    }
}

/* The first n images of ds as floats (the data may hold bytes), or NULL after saying that memory ran out. */
static float *first_images(DlrtTrainer *t, const DlrtDataset *ds, int64_t n) {
    float *pixels = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1) * RAW_H * RAW_W);
    if (pixels)
        dlrt_dataset_get(ds, 0, n, pixels);
    else
        fprintf(t->errf, "%s: out of memory for %lld images\n", t->prog, (long long)n);
    return pixels;
}

int dlrt_trainer_show_samples(DlrtTrainer *t) {
    enum { N = 18 };
    DlrtCaption captions[N];
    const DlrtDataset *train = &t->train;
    int64_t n = train->n < N ? train->n : N;
    for (int64_t i = 0; i < n; i++)
        captions[i] = (DlrtCaption){{dlrt_fashion_mnist_class(train->labels[i]), NULL}, DLRT_MARK_NONE};
    float *images = first_images(t, train, n);
    if (!images)
        return 1;
    int status = 0;
    if (dlrt_write_image_grid(t->args.show_samples, "fashion-mnist training images", images, n, RAW_H, RAW_W, 9, 4,
                              captions, &t->err) != DLRT_OK)
        status = dlrt_trainer_fail(t, 1);
    free(images);
    return status;
}

int dlrt_trainer_show_predictions(DlrtTrainer *t) {
    enum { N = 36 };
    float logits[N * CLASSES];
    DlrtCaption captions[N];
    const DlrtDataset *test = &t->test;
    int64_t n = test->n < N ? test->n : N, wrong = 0;
    float *images = first_images(t, test, n);
    if (!images)
        return 1;
    logits_of(t, images, n, logits);
    for (int64_t i = 0; i < n; i++) {
        int p = dlrt_argmax(logits + i * CLASSES, CLASSES), y = test->labels[i];
        captions[i] = (DlrtCaption){{dlrt_fashion_mnist_class(y), dlrt_fashion_mnist_class(p)},
                                    p == y ? DLRT_MARK_RIGHT : DLRT_MARK_WRONG};
        wrong += p != y;
    }
    char title[160];
    snprintf(title, sizeof title, "%s on fashion-mnist test images: label, prediction (%lld of %lld wrong, in red)",
             t->m->name, (long long)wrong, (long long)n);
    int status = 0;
    if (dlrt_write_image_grid(t->args.show_predictions, title, images, n, RAW_H, RAW_W, 9, 4, captions, &t->err) !=
        DLRT_OK)
        status = dlrt_trainer_fail(t, 1);
    free(images);
    return status;
}

/* One file's images for --predict: a line per image with its TOP_K classes. */
static int predict_file(DlrtTrainer *t, const char *file) {
    DlrtDataset ds;
    int inverted;
    if (dlrt_load_images(file, RAW_H, RAW_W, &ds, &inverted, &t->err) != DLRT_OK)
        return dlrt_trainer_fail(t, 1);
    float *logits = malloc(sizeof(float) * (size_t)(ds.n * CLASSES));
    if (!logits) {
        fprintf(t->errf, "%s: %s: out of memory for %lld images\n", t->prog, file, (long long)ds.n);
        dlrt_dataset_free(&ds);
        return 1;
    }
    logits_of(t, ds.x, ds.n, logits);
    for (int64_t i = 0; i < ds.n; i++) {
        int index[TOP_K];
        double prob[TOP_K];
        int k = dlrt_top_k(logits + i * CLASSES, CLASSES, TOP_K, index, prob);
        if (ds.n > 1)
            fprintf(t->out, "%s[%lld]:", file, (long long)i);
        else
            fprintf(t->out, "%s:", file);
        for (int j = 0; j < k; j++)
            fprintf(t->out, "%s %s %.4f", j ? "," : "", dlrt_fashion_mnist_class(index[j]), prob[j]);
        fprintf(t->out, "%s\n", inverted ? "  (inverted: a dark object on a light background)" : "");
    }
    free(logits);
    dlrt_dataset_free(&ds);
    return 0;
}

/* Every file is tried; a file that cannot be read is named and makes the status 1. */
int dlrt_trainer_predict(DlrtTrainer *t) {
    int status = 0;
    for (int f = 0; f < t->args.n_predict; f++)
        if (predict_file(t, t->args.predict[f]) != 0)
            status = 1;
    fflush(t->out);
    return status;
}
