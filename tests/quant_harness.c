/* quant_harness.c: the driver test_quantize compiles with one --infer --weights build of a model (f32 or int8).
 *
 * The model is named by macros, as for embed_harness.c: MODEL (`lenet`), MODEL_UC (`LENET`), MODEL_H ("lenet.h");
 * it has one input `x` and one output `logits`. Usage:
 *   quant_harness IMAGES LABELS [REPEAT]
 * IMAGES is raw f32 (<NAME>_INPUT_X_SIZE values per example), LABELS raw int32. Runs <name>_predict (batch 1) on
 * every example and prints `accuracy A seconds S`: the fraction whose largest logit is the label's, and the CPU
 * seconds one pass over the examples took (the fastest of REPEAT passes, default 1). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(suffix) CAT(MODEL, suffix)
#define M(suffix) CAT(MODEL_UC, suffix)

#define IN_SIZE M(_INPUT_X_SIZE)
#define OUT_SIZE M(_OUTPUT_LOGITS_SIZE)

static _Alignas(64) unsigned char ctx[M(_WORKSPACE_BYTES)];

static void *slurp(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0 || (*len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        return NULL;
    void *p = malloc((size_t)*len + 1);
    if (!p || fread(p, 1, (size_t)*len, f) != (size_t)*len)
        return NULL;
    fclose(f);
    return p;
}

int main(int argc, char **argv) {
    long xlen, ylen;
    if (argc < 3)
        return 2;
    const float *x = slurp(argv[1], &xlen);
    const int32_t *y = slurp(argv[2], &ylen);
    int repeat = argc > 3 ? atoi(argv[3]) : 1;
    if (!x || !y || repeat < 1) {
        printf("cannot read the examples\n");
        return 1;
    }
    long n = ylen / (long)sizeof(int32_t);
    if (xlen != n * (long)(sizeof(float) * IN_SIZE)) {
        printf("%ld labels but %ld bytes of images\n", n, xlen);
        return 1;
    }
    long right = 0;
    double best = 1e30;
    for (int r = 0; r < repeat; r++) {
        clock_t t0 = clock();
        right = 0;
        for (long i = 0; i < n; i++) {
            float out[OUT_SIZE];
            FN(_predict)(ctx, x + i * IN_SIZE, out);
            int arg = 0;
            for (int k = 1; k < OUT_SIZE; k++)
                if (out[k] > out[arg])
                    arg = k;
            right += arg == y[i];
        }
        double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
        best = s < best ? s : best;
    }
    printf("accuracy %.4f seconds %.6f\n", (double)right / (double)n, best);
    return 0;
}
