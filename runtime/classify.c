/* classify.c - from a classifier's logits to answers: the argmax (--show-predictions) and the top classes with
 * their softmax probabilities (--predict). The trainer reads logits from the model's output and calls these. */
#include <math.h>

#include "dlrt.h"

int dlrt_argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best] || (isnan(v[best]) && !isnan(v[i])))
            best = i;
    return best;
}

int dlrt_top_k(const float *logits, int classes, int k, int *index, double *prob) {
    if (classes < 1)
        return 0;
    if (k > classes)
        k = classes;
    if (k < 1)
        k = 1;
    double mx = logits[dlrt_argmax(logits, classes)], sum = 0;
    for (int i = 0; i < classes; i++)
        sum += exp((double)logits[i] - mx);
    /* selection of the k largest: k is small (3), classes modest (10, 1000) */
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < classes; i++) {
            int taken = 0;
            for (int t = 0; t < j; t++)
                taken |= index[t] == i;
            if (!taken && (best < 0 || logits[i] > logits[best] || (isnan(logits[best]) && !isnan(logits[i]))))
                best = i;
        }
        index[j] = best;
        prob[j] = exp((double)logits[best] - mx) / sum;
    }
    return k;
}
