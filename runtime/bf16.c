/* bf16.c: matrix products with bf16 inputs and f32 accumulation, for the trainers' --precision bf16.
 *
 * dlrt_gemm_bf16 computes what OpenBLAS's sgemm does for the generated code's gemm() (C = op(A) op(B), row-major,
 * added to C when accumulate), but rounds every element of A and B to bf16 (round to nearest even) first and
 * accumulates in f32. Debian's OpenBLAS 0.3.21 declares cblas_sbgemm in cblas.h but is built without it (the
 * library exports no sbgemm symbol), so the kernels are here:
 *
 *   AMX      TDPBF16PS on tiles: four 16x16 f32 accumulator tiles make a 32x32 block of C, fed by two tiles of A
 *            (16 rows x 32 bf16) and two of B (16 pairs of rows x 16 columns), 32 values of k a step. Linux
 *            hands out AMX's tile state only on request (arch_prctl ARCH_REQ_XCOMP_PERM), made once.
 *   AVX512   VDPBF16PS: 8 rows x 32 columns of C in 16 zmm registers, a pair of k values a step, A's pair
 *            broadcast, B's pairs loaded.
 *
 * Both read the same packed operands: op(A) as row-major bf16 [Mp][Kp] and op(B) as pairs [Kp / 2][Np][2] (the
 * layout both instructions multiply), zero-padded to Mp, Np multiples of 32 and Kp of 32, so no kernel tests a
 * bound inside its k loop. Packing converts each element once per call; the packed buffers are kept and grow to
 * the largest product's operands (the first training step allocates, later steps do not).
 *
 * Every element of C is summed over k in the same order whatever the thread count: threads take whole 32x32
 * blocks of C. The path (DLRT_BF16_AMX or _AVX512) is chosen by dlrt_bf16_enable at start-up; the environment
 * variable DLRT_BF16=amx|avx512 forces one the CPU has (tests run each). */
#define _DEFAULT_SOURCE 1 /* syscall(), for AMX's permission */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "dlrt.h"
#include "internal.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define BF16_X86 1
#include <cpuid.h>
#include <immintrin.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif
#else
#define BF16_X86 0
#endif

static DlrtBf16Path chosen = DLRT_BF16_NONE;

/* ---- the CPU ---- */

#if BF16_X86
/* CPUID leaf 7: AVX512-BF16 is subleaf 1's EAX bit 5; AMX-BF16 and AMX-TILE are subleaf 0's EDX bits 22 and 24.
 * The OS must save the ZMM state (XCR0 bits 5-7) and, for AMX, the tile state (bits 17-18). */
static void cpu_features(int *avx512bf16, int *amx) {
    unsigned a, b, c, d;
    *avx512bf16 = *amx = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return;
    int avx512f = (b >> 16) & 1, amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1;
    unsigned a1 = 0, b1, c1, d1;
    __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    unsigned eax, edx;
    __asm__("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    int zmm_os = (eax & 0xE6) == 0xE6, tiles_os = (eax & 0x60000) == 0x60000;
    *avx512bf16 = avx512f && ((a1 >> 5) & 1) && zmm_os;
    *amx = amx_bf16 && amx_tile && tiles_os && *avx512bf16;
}

/* Asks Linux for the AMX tile data state (XFEATURE_XTILEDATA, 18): without it the first tile instruction faults. */
static int amx_permitted(void) {
#ifdef __linux__
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18) == 0;
#else
    return 0;
#endif
}
#endif

int dlrt_bf16_enable(DlrtError *err) {
    chosen = DLRT_BF16_NONE;
    int avx512bf16 = 0, amx = 0;
#if BF16_X86
    cpu_features(&avx512bf16, &amx);
#endif
    const char *want = getenv("DLRT_BF16");
    if (want && !*want)
        want = NULL;
    if (want && strcmp(want, "amx") != 0 && strcmp(want, "avx512") != 0)
        return dlrt_fail(err, DLRT_EUSAGE, "DLRT_BF16=%s names no bf16 path (amx or avx512)", want);
    if (want && strcmp(want, "amx") == 0 && !amx)
        return dlrt_fail(err, DLRT_EUSAGE,
                         "--precision bf16: DLRT_BF16=amx, but this CPU (or its OS) lacks amx_bf16 and amx_tile");
    if (want && strcmp(want, "avx512") == 0 && !avx512bf16)
        return dlrt_fail(err, DLRT_EUSAGE, "--precision bf16: DLRT_BF16=avx512, but this CPU lacks avx512_bf16");
    if (!avx512bf16)
        return dlrt_fail(err, DLRT_EUSAGE,
                         "--precision bf16: this CPU has neither avx512_bf16 nor amx_bf16 with amx_tile, one of "
                         "which bf16 products need; train with --precision f32");
#if BF16_X86
    if (amx && !(want && strcmp(want, "avx512") == 0)) {
        if (amx_permitted()) {
            chosen = DLRT_BF16_AMX;
            return DLRT_OK;
        }
        if (want)
            return dlrt_fail(err, DLRT_EUSAGE, "--precision bf16: DLRT_BF16=amx, but the OS refused AMX's tile state");
    }
#endif
    chosen = DLRT_BF16_AVX512;
    return DLRT_OK;
}

DlrtBf16Path dlrt_bf16_path(void) { return chosen; }

/* ---- packing ---- */

/* f32 to bf16, rounding to nearest even; NaN stays NaN. */
static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1)) >> 16);
}

float dlrt_bf16_round(float f) {
    uint32_t u = (uint32_t)to_bf16(f) << 16;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

static uint16_t *packed;
static size_t packed_cap;

/* op(A) [m x k] into ap [mp][kp], zeros beyond. */
static void pack_a(int ta, int m, int k, const float *a, int lda, uint16_t *ap, int mp, int kp) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int i = 0; i < mp; i++) {
        uint16_t *row = ap + (size_t)i * (size_t)kp;
        int p = 0;
        if (i < m) {
            if (ta)
                for (; p < k; p++)
                    row[p] = to_bf16(a[(size_t)p * (size_t)lda + (size_t)i]);
            else
                for (const float *src = a + (size_t)i * (size_t)lda; p < k; p++)
                    row[p] = to_bf16(src[p]);
        }
        for (; p < kp; p++)
            row[p] = 0;
    }
}

/* op(B) [k x n] into bp [kp / 2][np][2], zeros beyond. */
static void pack_b(int tb, int k, int n, const float *b, int ldb, uint16_t *bp, int kp, int np) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int pair = 0; pair < kp / 2; pair++) {
        uint16_t *row = bp + (size_t)pair * (size_t)np * 2;
        for (int half = 0; half < 2; half++) {
            int p = 2 * pair + half, j = 0;
            if (p < k) {
                if (tb)
                    for (; j < n; j++)
                        row[2 * j + half] = to_bf16(b[(size_t)j * (size_t)ldb + (size_t)p]);
                else
                    for (const float *src = b + (size_t)p * (size_t)ldb; j < n; j++)
                        row[2 * j + half] = to_bf16(src[j]);
            }
            for (; j < np; j++)
                row[2 * j + half] = 0;
        }
    }
}

/* ---- kernels: a 32x32 block of C at (i0, j0) into out[32][32] ---- */

#if BF16_X86
#ifdef __clang__
#define BF16_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define BF16_AMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")))
#else
#define BF16_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define BF16_AMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")))
#endif

BF16_AVX512 static void block_avx512(const uint16_t *ap, const uint16_t *bp, int kp, int np, int i0, int j0,
                                     float out[32][32]) {
    for (int r0 = 0; r0 < 32; r0 += 8) {
        __m512 acc[8][2];
        for (int r = 0; r < 8; r++)
            acc[r][0] = acc[r][1] = _mm512_setzero_ps();
        const uint16_t *arow = ap + (size_t)(i0 + r0) * (size_t)kp;
        for (int pair = 0; pair < kp / 2; pair++) {
            const uint16_t *brow = bp + ((size_t)pair * (size_t)np + (size_t)j0) * 2;
            __m512bh b0 = (__m512bh)_mm512_loadu_si512(brow), b1 = (__m512bh)_mm512_loadu_si512(brow + 32);
            for (int r = 0; r < 8; r++) {
                int32_t two;
                memcpy(&two, arow + (size_t)r * (size_t)kp + 2 * (size_t)pair, sizeof two);
                __m512bh a = (__m512bh)_mm512_set1_epi32(two);
                acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
                acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
            }
        }
        for (int r = 0; r < 8; r++) {
            _mm512_storeu_ps(out[r0 + r], acc[r][0]);
            _mm512_storeu_ps(out[r0 + r] + 16, acc[r][1]);
        }
    }
}

/* The tile configuration: palette 1, tiles 0-3 C (16 rows x 64 bytes), 4-5 A, 6-7 B, every one 16 x 64 bytes. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((aligned(64))) TileConfig;

/* A constant, not a local filled in: GCC 12 drops the stores to a local that only LDTILECFG reads. */
static const TileConfig tile_config = {
    .palette = 1, .colsb = {64, 64, 64, 64, 64, 64, 64, 64}, .rows = {16, 16, 16, 16, 16, 16, 16, 16}};

BF16_AMX static void amx_configure(void) { _tile_loadconfig(&tile_config); }

BF16_AMX static void block_amx(const uint16_t *ap, const uint16_t *bp, int kp, int np, int i0, int j0,
                               float out[32][32]) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    size_t astride = (size_t)kp * 2, bstride = (size_t)np * 4;
    const uint16_t *a0 = ap + (size_t)i0 * (size_t)kp, *a1 = a0 + 16 * (size_t)kp;
    for (int p = 0; p < kp; p += 32) {
        const uint16_t *b0 = bp + ((size_t)(p / 2) * (size_t)np + (size_t)j0) * 2;
        _tile_loadd(4, a0 + p, astride);
        _tile_loadd(5, a1 + p, astride);
        _tile_loadd(6, b0, bstride);
        _tile_loadd(7, b0 + 32, bstride);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, &out[0][0], 128);
    _tile_stored(1, &out[0][16], 128);
    _tile_stored(2, &out[16][0], 128);
    _tile_stored(3, &out[16][16], 128);
}

BF16_AMX static void amx_release(void) { _tile_release(); }
#endif

/* ---- the product ---- */

void dlrt_gemm_bf16(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c,
                    int ldc, int accumulate) {
    int mp = (m + 31) / 32 * 32, np = (n + 31) / 32 * 32, kp = (k + 31) / 32 * 32;
    size_t need = (size_t)mp * (size_t)kp + (size_t)kp * (size_t)np;
    if (need > packed_cap) {
        free(packed);
        packed = aligned_alloc(64, (need * sizeof *packed + 63) / 64 * 64);
        packed_cap = packed ? need : 0;
    }
    if (!packed || chosen == DLRT_BF16_NONE) {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1, a, lda,
                    b, ldb, accumulate ? 1 : 0, c, ldc);
        return;
    }
    uint16_t *ap = packed, *bp = packed + (size_t)mp * (size_t)kp;
    pack_a(ta, m, k, a, lda, ap, mp, kp);
    pack_b(tb, k, n, b, ldb, bp, kp, np);
    int bm = mp / 32, bn = np / 32;
    DlrtBf16Path path = chosen;
#ifdef _OPENMP
#pragma omp parallel
#endif
    {
#if BF16_X86
        if (path == DLRT_BF16_AMX)
            amx_configure();
#endif
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int blk = 0; blk < bm * bn; blk++) {
            int i0 = blk / bn * 32, j0 = blk % bn * 32;
            float out[32][32];
#if BF16_X86
            if (path == DLRT_BF16_AMX)
                block_amx(ap, bp, kp, np, i0, j0, out);
            else
                block_avx512(ap, bp, kp, np, i0, j0, out);
#endif
            int rows = m - i0 < 32 ? m - i0 : 32, cols = n - j0 < 32 ? n - j0 : 32;
            for (int r = 0; r < rows; r++) {
                float *dst = c + (size_t)(i0 + r) * (size_t)ldc + (size_t)j0;
                if (accumulate)
                    for (int q = 0; q < cols; q++)
                        dst[q] += out[r][q];
                else
                    memcpy(dst, out[r], sizeof(float) * (size_t)cols);
            }
        }
#if BF16_X86
        if (path == DLRT_BF16_AMX)
            amx_release();
#endif
    }
}
