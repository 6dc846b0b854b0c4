/* save_check.c: <name>_save against libdlrt's checkpoint encoder, which the trainer's --save uses
 * (tests/test_install.c builds it against `pkg-config dlrt` and a model's generated training code).
 *
 *   cc -DMODEL=house_prices -DMODEL_UC=HOUSE_PRICES [-DLABELS] -I GEN save_check.c GEN/house_prices.c \
 *      $(pkg-config --cflags --libs dlrt)
 *
 * Initialises the model, takes three training steps on random data (so Adam's moments or momentum buffers are not
 * zero), then writes the state with <name>_save, with and without a generator state, and the same state through
 * dlrt_checkpoint_write_mem with descriptors made from <name>_params as the trainer makes them; the bytes must be
 * identical, and <name>_load must read the file back. Prints one line and exits 0 when they are, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

#define STR2(x) #x
#define STR(x) STR2(x)
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(suffix) CAT(MODEL, suffix)
#define UC(suffix) CAT(MODEL_UC, suffix)
#include STR(MODEL.h)

#ifdef LABELS
typedef int32_t label;
#else
typedef float label;
#endif

int main(void) {
    enum { N = 4 };
    size_t state_bytes = (UC(_STATE_BYTES) + 63) / 64 * 64;
    unsigned char *st = aligned_alloc(64, state_bytes), *back = aligned_alloc(64, state_bytes);
    float *x = malloc(sizeof(float) * N * UC(_INPUT_X_SIZE));
    label *y = malloc(sizeof(label) * N * UC(_INPUT_Y_SIZE));
    if (!st || !back || !x || !y)
        return 1;
    DlrtRng rng;
    dlrt_rng_seed(&rng, 5, 0);
    dlrt_rng_fill_uniform(&rng, x, (size_t)N * UC(_INPUT_X_SIZE), 0.0f, 1.0f);
    for (int i = 0; i < N * UC(_INPUT_Y_SIZE); i++)
        y[i] = (label)dlrt_rng_below(&rng, 10);
    FN(_init)(st, 7);
    for (int step = 0; step < 3; step++)
        FN(_train_step)(st, N, x, y, 0.01f, NULL);

    /* the trainer's descriptors (runtime/train.c, describe) */
    static DlrtTensorDesc params[UC(_PARAM_COUNT) + 1], optim[2 * UC(_PARAM_COUNT) + 1];
    static char names[2 * UC(_PARAM_COUNT) + 1][300];
    int n_optim = 0;
    for (int i = 0; i < UC(_PARAM_COUNT); i++) {
        const FN(_param_info) *p = &FN(_params)[i];
        params[i] = (DlrtTensorDesc){.name = p->name, .dtype = DLRT_F32, .rank = p->rank, .data = st + p->offset};
        memcpy(params[i].dims, p->dims, sizeof(int64_t) * (size_t)p->rank);
        for (int k = 0; k < 2; k++) {
            if (p->opt_offset[k] < 0)
                continue;
            snprintf(names[n_optim], sizeof names[n_optim], "%s#%s", p->name,
                     p->opt_offset[1] >= 0 ? (k ? "adam_v" : "adam_m") : "momentum");
            optim[n_optim] = params[i];
            optim[n_optim].name = names[n_optim];
            optim[n_optim].data = st + p->opt_offset[k];
            n_optim++;
        }
    }
    uint64_t gen[2] = {0x853c49e6748fea9bu, 0xda3e39cb94b95bdbu};
    for (int with_gen = 0; with_gen < 2; with_gen++) {
        DlrtCheckpoint ck = {.params = params,
                             .n_params = UC(_PARAM_COUNT),
                             .optim = n_optim ? optim : NULL,
                             .n_optim = n_optim,
                             .has_epoch = 1,
                             .epoch = 3,
                             .step = *FN(_step_counter)(st),
                             .has_rng = with_gen,
                             .rng = {gen[0], gen[1]}};
        size_t want = FN(_save)(st, 3, with_gen ? gen : NULL, NULL, 0);
        unsigned char *ours = malloc(want), *ref = malloc(want + 64);
        size_t ref_len = 0;
        DlrtError err;
        if (!ours || !ref || FN(_save)(st, 3, with_gen ? gen : NULL, ours, want - 1) != want ||
            FN(_save)(st, 3, with_gen ? gen : NULL, ours, want) != want ||
            dlrt_checkpoint_write_mem(&ck, ref, want + 64, &ref_len, &err) != DLRT_OK) {
            fprintf(stderr, "save or the reference failed\n");
            return 1;
        }
        if (ref_len != want || memcmp(ours, ref, want) != 0) {
            size_t at = 0;
            while (at < want && at < ref_len && ours[at] == ref[at])
                at++;
            fprintf(stderr, "%s generator: %zu bytes against libdlrt's %zu, first difference at byte %zu\n",
                    with_gen ? "with" : "without", want, ref_len, at);
            return 1;
        }
        if (FN(_load)(back, ours, want) != 0) {
            fprintf(stderr, "the saved checkpoint does not load\n");
            return 1;
        }
        printf("%s generator: %zu bytes identical to libdlrt's, %d optimizer tensors\n", with_gen ? "with" : "without",
               want, n_optim);
        free(ours);
        free(ref);
    }
    free(st);
    free(back);
    free(x);
    free(y);
    return 0;
}
