/* synthetic.c - the synthetic regression data of D2L chapters 3 and 4, drawn from the seeded PCG32 so a run is
 * reproducible from --seed alone. Draw order is part of the contract (documented in dlrt.h): changing it
 * changes every trainer's numbers. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Allocates a regression dataset of n examples with `features` inputs and one target each. */
static int alloc_regression(DlrtDataset *ds, int64_t n, int64_t features, DlrtError *err) {
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->rank = 1;
    ds->dims[0] = features;
    ds->features = features;
    ds->target_dim = 1;
    /* +1 so a zero-sized split still gets non-NULL pointers */
    ds->x = malloc((size_t)(n * features + 1) * sizeof *ds->x);
    ds->targets = malloc((size_t)(n + 1) * sizeof *ds->targets);
    if (!ds->x || !ds->targets) {
        dlrt_dataset_free(ds);
        return dlrt_fail(err, DLRT_ENOMEM, "synthetic data: out of memory for %lld examples", (long long)n);
    }
    return DLRT_OK;
}

/* X ~ N(0, 1), then y = X w + b, then y += N(0, noise^2): torch's order in D2L's synthetic_data. */
static void draw_linear(DlrtDataset *ds, const float *w, float w_all, float b, float noise, DlrtRng *rng) {
    int64_t d = ds->features;
    dlrt_rng_fill_normal(rng, ds->x, (size_t)(ds->n * d), 0.0, 1.0);
    for (int64_t i = 0; i < ds->n; i++) {
        double y = b;
        for (int64_t k = 0; k < d; k++)
            y += (double)(w ? w[k] : w_all) * ds->x[i * d + k];
        ds->targets[i] = (float)y;
    }
    for (int64_t i = 0; i < ds->n; i++)
        ds->targets[i] += (float)dlrt_rng_normal(rng, 0.0, noise);
}

int dlrt_synthetic_linear(const float *w, int d, float b, float noise, int64_t n, DlrtRng *rng, DlrtDataset *out,
                          DlrtError *err) {
    if (d < 1 || n < 0 || !w)
        return dlrt_fail(err, DLRT_EINVAL, "synthetic_linear: need d >= 1 weights and n >= 0, got d = %d, n = %lld", d,
                         (long long)n);
    int rc = alloc_regression(out, n, d, err);
    if (!rc)
        draw_linear(out, w, 0.0f, b, noise, rng);
    return rc;
}

int dlrt_synthetic_high_dim(int d, int64_t n_train, int64_t n_test, float noise, DlrtRng *rng, DlrtDataset *train,
                            DlrtDataset *test, DlrtError *err) {
    if (d < 1 || n_train < 0 || n_test < 0)
        return dlrt_fail(err, DLRT_EINVAL, "high_dim: need d >= 1 and non-negative sizes, got d = %d", d);
    int rc = alloc_regression(train, n_train, d, err);
    if (rc)
        return rc;
    rc = alloc_regression(test, n_test, d, err);
    if (rc) {
        dlrt_dataset_free(train);
        return rc;
    }
    draw_linear(train, NULL, 0.01f, 0.05f, noise, rng);
    draw_linear(test, NULL, 0.01f, 0.05f, noise, rng);
    return DLRT_OK;
}

int dlrt_synthetic_polynomial(int max_degree, int kept, const float *coeffs, int n_coeffs, float noise, int64_t n_train,
                              int64_t n_test, DlrtRng *rng, DlrtDataset *train, DlrtDataset *test, DlrtError *err) {
    if (max_degree < 1 || max_degree > 64 || kept < 1 || kept > max_degree || n_coeffs < 0 || n_coeffs > max_degree ||
        n_train < 0 || n_test < 0)
        return dlrt_fail(err, DLRT_EINVAL,
                         "polynomial: need 1 <= features kept (%d) <= degree (%d) <= 64, at most degree "
                         "coefficients (%d) and non-negative sizes",
                         kept, max_degree, n_coeffs);
    int rc = alloc_regression(train, n_train, kept, err);
    if (rc)
        return rc;
    rc = alloc_regression(test, n_test, kept, err);
    if (rc) {
        dlrt_dataset_free(train);
        return rc;
    }
    /* All x first, then labels from every degree, then the noise: D2L's order. The labels use every feature
     * although the model sees only `kept` of them; that mismatch is the point of the underfitting demo. */
    int64_t n = n_train + n_test;
    for (int64_t i = 0; i < n; i++) {
        DlrtDataset *ds = i < n_train ? train : test;
        int64_t row = i < n_train ? i : i - n_train;
        ds->x[row * kept] = (float)dlrt_rng_normal(rng, 0.0, 1.0); /* x itself, turned into features below */
    }
    for (int64_t i = 0; i < n; i++) {
        DlrtDataset *ds = i < n_train ? train : test;
        float *feat = ds->x + (i < n_train ? i : i - n_train) * kept;
        double x = feat[0], term = 1.0, y = 0.0; /* term = x^k / k! */
        for (int k = 0; k < max_degree; k++) {
            if (k > 0)
                term *= x / k;
            if (k < kept)
                feat[k] = (float)term;
            if (k < n_coeffs)
                y += (double)coeffs[k] * term;
        }
        ds->targets[i < n_train ? i : i - n_train] = (float)y;
    }
    for (int64_t i = 0; i < n; i++) {
        DlrtDataset *ds = i < n_train ? train : test;
        ds->targets[i < n_train ? i : i - n_train] += (float)dlrt_rng_normal(rng, 0.0, noise);
    }
    return DLRT_OK;
}
