/* rng.c - PCG32 and the counter-based hash behind dropout masks. Freestanding: needs only <math.h>.
 * Every function is a fixed sequence of integer operations, so streams are identical on every host and a
 * restored DlrtRng continues exactly where the saved one stopped. */
#include <math.h>

#include "dlrt_core.h"

#define PCG_MULT 6364136223846793005ULL

uint32_t dlrt_rng_u32(DlrtRng *rng) {
    uint64_t old = rng->state;
    rng->state = old * PCG_MULT + rng->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

void dlrt_rng_seed(DlrtRng *rng, uint64_t seed, uint64_t stream) {
    rng->state = 0;
    rng->inc = (stream << 1u) | 1u;
    dlrt_rng_u32(rng);
    rng->state += seed;
    dlrt_rng_u32(rng);
}

float dlrt_rng_uniform(DlrtRng *rng) { return (float)(dlrt_rng_u32(rng) >> 8) * 0x1p-24f; }

double dlrt_rng_uniform_f64(DlrtRng *rng) {
    uint64_t hi = dlrt_rng_u32(rng) >> 5; /* 27 bits */
    uint64_t lo = dlrt_rng_u32(rng) >> 6; /* 26 bits */
    return (double)((hi << 26) | lo) * 0x1p-53;
}

uint32_t dlrt_rng_below(DlrtRng *rng, uint32_t bound) {
    if (bound <= 1)
        return 0;
    /* Values below 2^32 mod bound would make small results more likely; redraw them. */
    uint32_t threshold = (-bound) % bound;
    for (;;) {
        uint32_t r = dlrt_rng_u32(rng);
        if (r >= threshold)
            return r % bound;
    }
}

double dlrt_rng_normal(DlrtRng *rng, double mean, double std) {
    double u1 = 1.0 - dlrt_rng_uniform_f64(rng); /* (0, 1]: log stays finite */
    double u2 = dlrt_rng_uniform_f64(rng);
    return mean + std * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void dlrt_rng_fill_normal(DlrtRng *rng, float *x, size_t n, double mean, double std) {
    for (size_t i = 0; i < n; i++)
        x[i] = (float)dlrt_rng_normal(rng, mean, std);
}

void dlrt_rng_fill_uniform(DlrtRng *rng, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * dlrt_rng_uniform(rng);
}

uint32_t dlrt_hash32(uint64_t seed, uint64_t counter) {
    uint64_t z = seed + (counter + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z = z ^ (z >> 31);
    return (uint32_t)(z >> 32);
}

float dlrt_hash_uniform(uint64_t seed, uint64_t counter) { return (float)(dlrt_hash32(seed, counter) >> 8) * 0x1p-24f; }
