/* gemm.c: dlc's own single-precision matrix product, the trainers' f32 products with the instruction set chosen
 * at run time, so a trainer's speed no longer hangs on which kernels OpenBLAS picked (OPENBLAS_CORETYPE=Haswell
 * ran AlexNet at half speed on an AVX-512 CPU).
 *
 * dlrt_sgemm computes the generated code's gemm(): C [m x n] = op(A) op(B), plus C when accumulate, row-major.
 * It is a GotoBLAS/BLIS-shaped product: for each NC-wide panel of B and each KC-deep slice of k, op(B)'s panel is
 * packed into NR-wide slivers [KC][NR] (it stays in L3 and each sliver in L1); for each MC-tall block of op(A),
 * the block is packed into MR-tall slivers [KC][MR] (it stays in L2); a microkernel then multiplies one A sliver by
 * one B sliver into an MR x NR tile of C held in registers:
 *
 *   avx512    12 x 32: 24 zmm accumulators, two zmm of B and one broadcast of A per row a step (27 registers)
 *   avx2       6 x 16: 12 ymm accumulators, two ymm of B, one broadcast
 *   portable   4 x 16: plain C that compilers vectorise as they can
 *
 * 24 (or 12) independent accumulators cover the 4-cycle FMA latency of two FMA pipes. Packing zero-pads the
 * slivers to MR and NR, so the kernels never test a bound; a tile that overhangs C is computed into a buffer
 * and its valid part stored or added. Each element of C is summed the same way wherever its tile lies: the kernel
 * sums a KC slice from zero, one FMA per k, then stores it (the first slice of a product that does not accumulate)
 * or adds it to C. So the AVX2 and AVX-512 kernels give the same bits. Threads (OpenMP) split the packing and the
 * tiles of C, or take whole blocks of C's columns (own_columns), never k, so the result is the same bits whatever
 * the thread count.
 *
 * The path: the best one the CPU has (avx512: AVX512F, avx2: AVX2 and FMA), or the one DLRT_ISA=avx512|avx2|
 * portable names when the CPU has it (the same variable that picks the generated code's kernels).
 *
 * dlrt_gemm_f32, the product the trainers install with <name>_set_gemm, picks per call between dlrt_sgemm and
 * OpenBLAS's sgemm (DLRT_GEMM=dlc|blas forces one; docs/trainer.md gives the rule and the measurements). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "dlrt.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define GEMM_X86 1
#include <immintrin.h>
#else
#define GEMM_X86 0
#endif

enum { KC = 384, MC = 192, NC = 1024, MAX_MR = 12, MAX_NR = 32 };

/* C [mr x nr] = the kc-step product of the slivers, plus C when add */
typedef void (*Kernel)(int kc, const float *ap, const float *bp, float *c, int ldc, int add);

/* dst[p * ds + r] = src[r * stride + p] for r < rows, p < count: packing the operand whose slivers run across
 * its memory (op(A) not transposed, op(B) transposed) */
typedef void (*Transpose)(const float *src, size_t stride, int rows, int count, float *dst, int ds);

typedef struct {
    DlrtGemmIsa isa;
    int mr, nr;
    Kernel kernel;
    Transpose transpose;
} Path;

/* ---- microkernels ---- */

#if GEMM_X86
__attribute__((target("avx512f,fma"))) static void kernel_avx512(int kc, const float *ap, const float *bp, float *c,
                                                                 int ldc, int add) {
    __m512 acc[12][2];
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) {
        /* C's tile is wanted only at the end: fetch it while the FMAs run */
        _mm_prefetch((const char *)(c + (size_t)i * (size_t)ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * (size_t)ldc + 31), _MM_HINT_T0);
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    }
    for (int p = 0; p < kc; p++, ap += 12, bp += 32) {
        __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) {
            __m512 a = _mm512_set1_ps(ap[i]);
            acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) {
        float *row = c + (size_t)i * (size_t)ldc;
        if (add) {
            acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(row), acc[i][0]);
            acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(row + 16), acc[i][1]);
        }
        _mm512_storeu_ps(row, acc[i][0]);
        _mm512_storeu_ps(row + 16, acc[i][1]);
    }
}

__attribute__((target("avx2,fma"))) static void kernel_avx2(int kc, const float *ap, const float *bp, float *c, int ldc,
                                                            int add) {
    __m256 acc[6][2];
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * (size_t)ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * (size_t)ldc + 15), _MM_HINT_T0);
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    }
    for (int p = 0; p < kc; p++, ap += 6, bp += 16) {
        __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) {
            __m256 a = _mm256_broadcast_ss(ap + i);
            acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
        float *row = c + (size_t)i * (size_t)ldc;
        if (add) {
            acc[i][0] = _mm256_add_ps(_mm256_loadu_ps(row), acc[i][0]);
            acc[i][1] = _mm256_add_ps(_mm256_loadu_ps(row + 8), acc[i][1]);
        }
        _mm256_storeu_ps(row, acc[i][0]);
        _mm256_storeu_ps(row + 8, acc[i][1]);
    }
}
#endif

static void kernel_portable(int kc, const float *ap, const float *bp, float *c, int ldc, int add) {
    float acc[4][16] = {{0}};
    for (int p = 0; p < kc; p++, ap += 4, bp += 16)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 16; j++)
                acc[i][j] += ap[i] * bp[j];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 16; j++)
            c[(size_t)i * (size_t)ldc + (size_t)j] =
                add ? c[(size_t)i * (size_t)ldc + (size_t)j] + acc[i][j] : acc[i][j];
}

/* ---- transposing copies: gathers down a column of rows, where the vector path has them ---- */

static void transpose_portable(const float *src, size_t stride, int rows, int count, float *dst, int ds) {
    for (int r = 0; r < rows; r++)
        for (int p = 0; p < count; p++)
            dst[(size_t)p * (size_t)ds + (size_t)r] = src[(size_t)r * stride + (size_t)p];
}

#if GEMM_X86
/* (row offsets are 32-bit lane indices: a stride too long for them takes the portable copy) */
__attribute__((target("avx512f"))) static void transpose_avx512(const float *src, size_t stride, int rows, int count,
                                                                float *dst, int ds) {
    if (stride > 0x7FFFFFF) {
        transpose_portable(src, stride, rows, count, dst, ds);
        return;
    }
    __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                     _mm512_set1_epi32((int)stride));
    for (int r0 = 0; r0 < rows; r0 += 16) {
        int w = rows - r0 < 16 ? rows - r0 : 16;
        __mmask16 lanes = (__mmask16)((1u << w) - 1);
        const float *s = src + (size_t)r0 * stride;
        for (int p = 0; p < count; p++)
            _mm512_mask_storeu_ps(dst + (size_t)p * (size_t)ds + (size_t)r0, lanes,
                                  _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, idx, s + p, 4));
    }
}

__attribute__((target("avx2,fma"))) static void transpose_avx2(const float *src, size_t stride, int rows, int count,
                                                               float *dst, int ds) {
    if (stride > 0x7FFFFFF) {
        transpose_portable(src, stride, rows, count, dst, ds);
        return;
    }
    __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)stride));
    for (int r0 = 0; r0 < rows; r0 += 8) {
        int w = rows - r0 < 8 ? rows - r0 : 8;
        __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(w), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const float *s = src + (size_t)r0 * stride;
        for (int p = 0; p < count; p++)
            _mm256_maskstore_ps(
                dst + (size_t)p * (size_t)ds + (size_t)r0, lanes,
                _mm256_mask_i32gather_ps(_mm256_setzero_ps(), s + p, idx, _mm256_castsi256_ps(lanes), 4));
    }
}
#endif

/* ---- the path ---- */

static const Path paths[] = {
    {DLRT_GEMM_PORTABLE, 4, 16, kernel_portable, transpose_portable},
#if GEMM_X86
    {DLRT_GEMM_AVX2, 6, 16, kernel_avx2, transpose_avx2},
    {DLRT_GEMM_AVX512, 12, 32, kernel_avx512, transpose_avx512},
#endif
};

static const char *const isa_names[] = {"portable", "avx2", "avx512"};

const char *dlrt_gemm_isa_name(DlrtGemmIsa isa) {
    return isa >= DLRT_GEMM_PORTABLE && isa <= DLRT_GEMM_AVX512 ? isa_names[isa] : "?";
}

int dlrt_gemm_isa_supported(DlrtGemmIsa isa) {
    switch (isa) {
    case DLRT_GEMM_PORTABLE:
        return 1;
#if GEMM_X86
    case DLRT_GEMM_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case DLRT_GEMM_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#endif
    default:
        return 0;
    }
}

static int chosen = -1; /* the DlrtGemmIsa in use, or -1 before the first product */
static int route = -1;  /* the DlrtGemmRoute DLRT_GEMM asks for, or -1 before the first product */

DlrtGemmIsa dlrt_gemm_select(void) {
    int isa = dlrt_gemm_isa_supported(DLRT_GEMM_AVX512) ? DLRT_GEMM_AVX512
              : dlrt_gemm_isa_supported(DLRT_GEMM_AVX2) ? DLRT_GEMM_AVX2
                                                        : DLRT_GEMM_PORTABLE;
    const char *want = getenv("DLRT_ISA");
    for (int i = DLRT_GEMM_PORTABLE; want && i <= DLRT_GEMM_AVX512; i++)
        if (strcmp(want, isa_names[i]) == 0 && dlrt_gemm_isa_supported((DlrtGemmIsa)i))
            isa = i;
    __atomic_store_n(&chosen, isa, __ATOMIC_RELAXED);
    __atomic_store_n(&route, -1, __ATOMIC_RELAXED);
    return (DlrtGemmIsa)isa;
}

DlrtGemmIsa dlrt_gemm_isa(void) {
    int isa = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    return isa >= 0 ? (DlrtGemmIsa)isa : dlrt_gemm_select();
}

static const Path *path_of(DlrtGemmIsa isa) {
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (paths[i].isa == isa)
            return &paths[i];
    return &paths[0];
}

/* The part of the product's loops that one thread takes: thread id of count. The loops below split their
 * iterations in count contiguous blocks (a static schedule); {0, 1} is the whole loop. */
typedef struct {
    int id, count;
} Share;

/* [*lo, *hi), this thread's block of n iterations */
static void share_range(Share sh, int n, int *lo, int *hi) {
    *lo = (int)((long long)n * sh.id / sh.count);
    *hi = (int)((long long)n * (sh.id + 1) / sh.count);
}

/* ---- packing ---- */

/* op(A)'s rows i0.. (mc of them) and columns p0.. (kc) as MR-tall slivers [kc][mr], zero rows beyond mc. */
static void pack_a(const Path *P, int ta, const float *a, int lda, int i0, int mc, int p0, int kc, float *ap,
                   Share sh) {
    int mr = P->mr, slivers = (mc + mr - 1) / mr, lo, hi;
    share_range(sh, slivers, &lo, &hi);
    for (int s = lo; s < hi; s++) {
        float *dst = ap + (size_t)s * (size_t)kc * (size_t)mr;
        int rows = mc - s * mr < mr ? mc - s * mr : mr;
        /* the loop that reads op(A) runs along its memory, the one that writes strides in the small sliver */
        if (ta)
            for (int p = 0; p < kc; p++) {
                const float *src = a + (size_t)(p0 + p) * (size_t)lda + (size_t)(i0 + s * mr);
                for (int r = 0; r < rows; r++)
                    dst[(size_t)p * (size_t)mr + (size_t)r] = src[r];
            }
        else
            P->transpose(a + (size_t)(i0 + s * mr) * (size_t)lda + (size_t)p0, (size_t)lda, rows, kc, dst, mr);
        for (int r = rows; r < mr; r++)
            for (int p = 0; p < kc; p++)
                dst[(size_t)p * (size_t)mr + (size_t)r] = 0;
    }
}

/* op(B)'s rows p0.. (kc) and columns j0.. (nc) as NR-wide slivers [kc][nr], zero columns beyond nc. */
static void pack_b(const Path *P, int tb, const float *b, int ldb, int p0, int kc, int j0, int nc, float *bp,
                   Share sh) {
    int nr = P->nr, slivers = (nc + nr - 1) / nr, lo, hi;
    share_range(sh, slivers, &lo, &hi);
    for (int s = lo; s < hi; s++) {
        float *dst = bp + (size_t)s * (size_t)kc * (size_t)nr;
        int cols = nc - s * nr < nr ? nc - s * nr : nr;
        size_t j = (size_t)(j0 + s * nr);
        if (tb)
            P->transpose(b + j * (size_t)ldb + (size_t)p0, (size_t)ldb, cols, kc, dst, nr);
        else
            for (int p = 0; p < kc; p++)
                memcpy(dst + (size_t)p * (size_t)nr, b + (size_t)(p0 + p) * (size_t)ldb + j,
                       sizeof(float) * (size_t)cols);
        for (int p = 0; p < kc && cols < nr; p++)
            memset(dst + (size_t)p * (size_t)nr + cols, 0, sizeof(float) * (size_t)(nr - cols));
    }
}

/* ---- the product ---- */

/* Packed operands, kept between calls: they grow to the largest product's (the first training step allocates,
 * later ones do not). One buffer per calling thread, so that products called from several threads at once (an
 * application's own threads) do not share it; the OpenMP threads of one product share their caller's. */
static _Thread_local float *packed;
static _Thread_local size_t packed_cap;

static int reserve(size_t floats) {
    if (floats <= packed_cap)
        return 1;
    size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p)
        return 0;
    free(packed);
    packed = p;
    packed_cap = bytes / sizeof(float);
    return 1;
}

/* C's rows i0.. (mc) and columns j0.. (nc) = the packed slivers' product, plus C when add. Threads take runs of
 * tiles, column by column: a thread keeps one B sliver in L1 down its run, and a product with few columns (a
 * linear layer of 10 or 84 outputs is one to three slivers) still gives every thread tiles. Each tile is the
 * same computation whoever runs it. */
static void multiply(const Path *P, int kc, const float *ap, const float *bp, float *c, int ldc, int mc, int nc,
                     int add, Share sh) {
    int mr = P->mr, nr = P->nr;
    int row_slivers = (mc + mr - 1) / mr, col_slivers = (nc + nr - 1) / nr, lo, hi;
    share_range(sh, col_slivers * row_slivers, &lo, &hi);
    for (int ts = lo; ts < hi; ts++) {
        int t = ts / row_slivers, s = ts % row_slivers;
        const float *b = bp + (size_t)t * (size_t)kc * (size_t)nr;
        int cols = nc - t * nr < nr ? nc - t * nr : nr;
        const float *a = ap + (size_t)s * (size_t)kc * (size_t)mr;
        int rows = mc - s * mr < mr ? mc - s * mr : mr;
        float *ct = c + (size_t)(s * mr) * (size_t)ldc + (size_t)(t * nr);
        if (rows == mr && cols == nr) {
            P->kernel(kc, a, b, ct, ldc, add);
            continue;
        }
        _Alignas(64) float tile[MAX_MR * MAX_NR];
        P->kernel(kc, a, b, tile, nr, 0);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                float *e = ct + (size_t)i * (size_t)ldc + (size_t)j;
                *e = add ? *e + tile[i * nr + j] : tile[i * nr + j];
            }
    }
}

/* Where the blocked product's operands come from: two matrices (dlrt_sgemm) or a convolution's kernel and images
 * (dlrt_conv_f32, below); each packs its panels as the kernels read them. */
typedef struct Operands {
    void (*pack_a)(const Path *P, const void *from, int i0, int mc, int p0, int kc, float *ap, Share sh);
    void (*pack_b)(const Path *P, const void *from, int p0, int kc, int j0, int nc, float *bp, Share sh);
    const void *from;
} Operands;

/* Floats of packed operands for a product of up to mc_max rows, nc_max columns and kc_max of k; B's slivers start
 * 64-byte aligned, as the kernels' aligned loads need, *a_floats after A's. */
static size_t packed_floats(const Path *P, int mc_max, int nc_max, int kc_max, size_t *a_floats) {
    int mr = P->mr, nr = P->nr;
    *a_floats = ((size_t)((mc_max + mr - 1) / mr * mr) * (size_t)kc_max + 15) / 16 * 16;
    return *a_floats + (size_t)((nc_max + nr - 1) / nr * nr) * (size_t)kc_max;
}

/* C's columns j_lo..j_hi of A . B, plus C when accumulate, over packed panels: NC columns of B at a time, KC rows
 * of k, MC rows of A, packed into ap and bp. The threads of sh share each panel's packing and split its tiles
 * (multiply), waiting for each other between packing and multiplying; a share of {0, 1} runs alone. */
static void panels(const Path *P, const Operands *o, int m, int j_lo, int j_hi, int k, float *c, int ldc,
                   int accumulate, float *ap, float *bp, Share sh) {
    for (int j0 = j_lo; j0 < j_hi; j0 += NC) {
        int nc = j_hi - j0 < NC ? j_hi - j0 : NC;
        for (int p0 = 0; p0 < k; p0 += KC) {
            int kc = k - p0 < KC ? k - p0 : KC;
            o->pack_b(P, o->from, p0, kc, j0, nc, bp, sh);
            for (int i0 = 0; i0 < m; i0 += MC) {
                int mc = m - i0 < MC ? m - i0 : MC;
                o->pack_a(P, o->from, i0, mc, p0, kc, ap, sh);
#ifdef _OPENMP
                if (sh.count > 1) {
#pragma omp barrier
                }
#endif
                /* the first slice of k stores into C unless the product adds to it */
                multiply(P, kc, ap, bp, c + (size_t)i0 * (size_t)ldc + (size_t)j0, ldc, mc, nc, accumulate || p0 > 0,
                         sh);
#ifdef _OPENMP
                if (sh.count > 1) {
#pragma omp barrier
                }
#endif
            }
        }
    }
}

#ifdef _OPENMP
/* Products of at least this many multiply-adds are shared among the threads; below it the fork, the join and
 * the waits between packing and multiplying cost more than they save. The split changes no bits, only the time. */
#define SHARED_FROM 2e5

/* Columns of C per thread from which each thread takes its own columns whole (packing its own panels, with no
 * waits inside the product) rather than sharing every panel: below it, every thread would pack all of A for a
 * narrow panel. */
#define OWN_COLUMNS_FROM 512

/* The product on threads that each compute their own block of C's columns, whole NR slivers, into their own
 * packed operands (reserve's, one per thread). Each tile is the same computation as on one thread. 0 (C
 * untouched) when a thread's operands cannot be allocated. */
static int own_columns(const Path *P, const Operands *o, int m, int n, int k, float *c, int ldc, int accumulate,
                       int threads) {
    int failed = 0;
#pragma omp parallel num_threads(threads)
    {
        Share sh = {omp_get_thread_num(), omp_get_num_threads()};
        int lo, hi, nr = P->nr;
        share_range(sh, (n + nr - 1) / nr, &lo, &hi);
        int j_lo = lo * nr, j_hi = hi * nr < n ? hi * nr : n, cols = j_hi - j_lo;
        size_t a_floats, floats = packed_floats(P, m < MC ? m : MC, cols < NC ? cols : NC, k < KC ? k : KC, &a_floats);
        if (cols > 0 && !reserve(floats)) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp barrier
        int stop;
#pragma omp atomic read
        stop = failed;
        if (!stop && cols > 0)
            panels(P, o, m, j_lo, j_hi, k, c, ldc, accumulate, packed, packed + a_floats, (Share){0, 1});
    }
    return !failed;
}
#endif

/* C[m x n] = A . B, plus C when accumulate: on one thread, on threads that share every panel, or on threads that
 * take their own columns (own_columns), whichever the shape suits; the same bits on any of them. 0 (C untouched)
 * when the packed operands cannot be allocated. */
static int blocked_product(const Path *P, const Operands *o, int m, int n, int k, float *c, int ldc, int accumulate) {
#ifdef _OPENMP
    int threads = (double)m * n * k < SHARED_FROM ? 1 : omp_get_max_threads();
    if (threads > 1 && n >= threads * OWN_COLUMNS_FROM && own_columns(P, o, m, n, k, c, ldc, accumulate, threads))
        return 1;
#endif
    size_t a_floats, floats = packed_floats(P, m < MC ? m : MC, n < NC ? n : NC, k < KC ? k : KC, &a_floats);
    if (!reserve(floats))
        return 0;
    float *ap = packed, *bp = packed + a_floats;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    panels(P, o, m, 0, n, k, c, ldc, accumulate, ap, bp, (Share){omp_get_thread_num(), omp_get_num_threads()});
#else
    panels(P, o, m, 0, n, k, c, ldc, accumulate, ap, bp, (Share){0, 1});
#endif
    return 1;
}

/* dlrt_sgemm's operands: op(A) and op(B) as they lie */
typedef struct Mats {
    int ta, tb, lda, ldb;
    const float *a, *b;
} Mats;

static void pack_a_mats(const Path *P, const void *from, int i0, int mc, int p0, int kc, float *ap, Share sh) {
    const Mats *x = from;
    pack_a(P, x->ta, x->a, x->lda, i0, mc, p0, kc, ap, sh);
}

static void pack_b_mats(const Path *P, const void *from, int p0, int kc, int j0, int nc, float *bp, Share sh) {
    const Mats *x = from;
    pack_b(P, x->tb, x->b, x->ldb, p0, kc, j0, nc, bp, sh);
}

void dlrt_sgemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c,
                int ldc, int accumulate) {
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        for (int i = 0; i < m && !accumulate; i++)
            memset(c + (size_t)i * (size_t)ldc, 0, sizeof(float) * (size_t)n);
        return;
    }
    Mats x = {ta, tb, lda, ldb, a, b};
    if (!blocked_product(path_of(dlrt_gemm_isa()), &(Operands){pack_a_mats, pack_b_mats, &x}, m, n, k, c, ldc,
                         accumulate))
        /* no memory for the packed operands: OpenBLAS's */
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1, a, lda,
                    b, ldb, accumulate ? 1 : 0, c, ldc);
}

/* ---- the trainers' product: dlc's or OpenBLAS's ---- */

DlrtGemmRoute dlrt_gemm_route(void) {
    int r = __atomic_load_n(&route, __ATOMIC_RELAXED);
    if (r >= 0)
        return (DlrtGemmRoute)r;
    const char *want = getenv("DLRT_GEMM");
    r = want && strcmp(want, "dlc") == 0    ? DLRT_ROUTE_DLC
        : want && strcmp(want, "blas") == 0 ? DLRT_ROUTE_BLAS
                                            : DLRT_ROUTE_AUTO;
    __atomic_store_n(&route, r, __ATOMIC_RELAXED);
    return (DlrtGemmRoute)r;
}

/* The rule, one thread pool: dlc's kernel takes every product of more than one row wherever it has a vector path
 * (AVX-512, or AVX2 and FMA), and OpenBLAS runs on one thread. OpenBLAS's kernels were 6% faster than dlc's at
 * AlexNet's shapes on one thread (docs/trainer.md), but on two its idle threads spin on sched_yield against the
 * generated code's OpenMP ones (32% of LeNet's time in the scheduler), and its bits depend on its thread count for
 * some shapes, so it could not take the cores without a trainer's results depending on --threads. The rule
 * depends only on the CPU, never on the thread count. OpenBLAS keeps one-row products (sgemv, which packs
 * nothing) and every product where dlc has only its portable C kernel. */
int dlrt_gemm_uses_blas(int m, int n, int k) {
    (void)n;
    (void)k;
    DlrtGemmRoute forced = dlrt_gemm_route();
    if (forced != DLRT_ROUTE_AUTO)
        return forced == DLRT_ROUTE_BLAS;
    return m == 1 || dlrt_gemm_isa() == DLRT_GEMM_PORTABLE;
}

void dlrt_gemm_f32(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c,
                   int ldc, int accumulate) {
    if (!dlrt_gemm_uses_blas(m, n, k)) {
        dlrt_sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        return;
    }
    if (m == 1)
        cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? n : k, tb ? k : n, 1, b, ldb, a, ta ? lda : 1,
                    accumulate ? 1 : 0, c, 1);
    else
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1, a, lda,
                    b, ldb, accumulate ? 1 : 0, c, ldc);
}

/* ---- convolutions as implicit products: the columns packed straight from the images ----
 *
 * dlrt_conv_f32 runs a chunk of images' convolution as one product on the kernels above, but packs the operand
 * that im2col would have laid out (the columns) straight from the images into its slivers: no column buffer, and
 * the images are read once per panel instead of written out and read back. Three products:
 *
 *   forward  out [K x g*P*Q] = w [K x C*R*S] . columns of x [g, C, H, W]
 *   dx       out [C x g*H*W] = the columns of dy [g, K, P, Q] for a forward convolution with the kernel turned by
 *            180 degrees and its channel axes swapped, padding R-1-ph (stride 1 only: no col2im pass)
 *   dw       out [K x C*R*S] (+)= dy [K x g*P*Q], read in the images' layout, . the columns of x, transposed
 *
 * Both packed operands are functions of their indices: an element of the columns is image[o_row + o_col] where
 * (h_row + h_col, w_row + w_col) lies inside the image, else zero padding. The row and column parts are
 * computed once per sliver, so packing is one gather per vector of the sliver. The product's sums run as in
 * dlrt_sgemm (a KC slice from zero, one FMA per k, threads over columns): the same bits on any thread count. */

typedef struct {
    int op; /* DLRT_CONV_FWD, DLRT_CONV_DX, DLRT_CONV_DW */
    int m, n, k;
    /* the image the columns read and the convolution they serve, as a forward one: [g, ci, hi, wi] read by an
     * r x s kernel at stride sh, sw and padding ph, pw into ho x wo outputs */
    int ci, hi, wi, r, s, ho, wo, sh, sw, ph, pw;
    const float *a;     /* w (forward, dx) or dy (dw) */
    const float *image; /* x (forward, dw) or dy (dx) */
} Conv;

/* The parts (offset, h, w) of `count` consecutive indices of the columns from `first`: of windows, the column
 * indices (i, p, q) of the forward product, the window's corner; or of offsets, the row indices (c, r, s), the
 * offset inside it. One division for the first, then the index's three digits counted on. */
static void parts(const Conv *cv, int windows, int first, int count, int *off, int *h, int *w) {
    int n1 = windows ? cv->ho : cv->r, n2 = windows ? cv->wo : cv->s;
    int a = first / (n1 * n2), b = first / n2 % n1, c = first % n2;
    for (int t = 0; t < count; t++) {
        if (windows) {
            h[t] = b * cv->sh - cv->ph, w[t] = c * cv->sw - cv->pw;
            off[t] = (a * cv->ci * cv->hi + h[t]) * cv->wi + w[t];
        } else {
            h[t] = b, w[t] = c;
            off[t] = (a * cv->hi + b) * cv->wi + c;
        }
        if (++c == n2) {
            c = 0;
            if (++b == n1)
                b = 0, a++;
        }
    }
}

/* dst[p * nr + j] = image[orow[p] + ocol[j]] where (hrow[p] + hcol[j], wrow[p] + wcol[j]) lies in hi x wi, else
 * 0, for p < kc and j < nr. */
typedef struct {
    const float *image;
    int hi, wi;
    const int *orow, *hrow, *wrow, *ocol, *hcol, *wcol;
} Gather;

static void gather_portable(const Gather *g, int kc, int nr, float *dst) {
    for (int p = 0; p < kc; p++)
        for (int j = 0; j < nr; j++) {
            int h = g->hrow[p] + g->hcol[j], w = g->wrow[p] + g->wcol[j];
            dst[(size_t)p * (size_t)nr + (size_t)j] =
                (unsigned)h < (unsigned)g->hi && (unsigned)w < (unsigned)g->wi ? g->image[g->orow[p] + g->ocol[j]] : 0;
        }
}

#if GEMM_X86
__attribute__((target("avx512f"))) static void gather_avx512(const Gather *g, int kc, int nr, float *dst) {
    __m512i hi = _mm512_set1_epi32(g->hi), wi = _mm512_set1_epi32(g->wi);
    __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (int j0 = 0; j0 < nr; j0 += 16) {
        __m512i oc = _mm512_loadu_si512(g->ocol + j0), hc = _mm512_loadu_si512(g->hcol + j0),
                wc = _mm512_loadu_si512(g->wcol + j0);
        /* columns at consecutive offsets (windows along one output row at stride 1): a masked load, whose
         * masked-off lanes read nothing, takes the same elements as the gather in a fraction of its time */
        int run = _mm512_cmpeq_epi32_mask(oc, _mm512_add_epi32(_mm512_set1_epi32(g->ocol[j0]), iota)) == 0xFFFF;
        for (int p = 0; p < kc; p++) {
            __m512i h = _mm512_add_epi32(hc, _mm512_set1_epi32(g->hrow[p]));
            __m512i w = _mm512_add_epi32(wc, _mm512_set1_epi32(g->wrow[p]));
            __mmask16 in = _mm512_cmplt_epu32_mask(h, hi) & _mm512_cmplt_epu32_mask(w, wi);
            float *to = dst + (size_t)p * (size_t)nr + (size_t)j0;
            if (run)
                _mm512_store_ps(to, _mm512_maskz_loadu_ps(in, g->image + (ptrdiff_t)g->orow[p] + g->ocol[j0]));
            else
                _mm512_store_ps(to, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), in,
                                                             _mm512_add_epi32(oc, _mm512_set1_epi32(g->orow[p])),
                                                             g->image, 4));
        }
    }
}

__attribute__((target("avx2,fma"))) static void gather_avx2(const Gather *g, int kc, int nr, float *dst) {
    /* unsigned h < hi as signed compares: h >= 0 and h < hi */
    __m256i hi = _mm256_set1_epi32(g->hi), wi = _mm256_set1_epi32(g->wi), neg = _mm256_set1_epi32(-1);
    __m256i iota = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    for (int j0 = 0; j0 < nr; j0 += 8) {
        __m256i oc = _mm256_loadu_si256((const __m256i *)(g->ocol + j0)),
                hc = _mm256_loadu_si256((const __m256i *)(g->hcol + j0)),
                wc = _mm256_loadu_si256((const __m256i *)(g->wcol + j0));
        /* consecutive offsets: a masked load (gather_avx512) */
        int run = _mm256_movemask_ps(_mm256_castsi256_ps(
                      _mm256_cmpeq_epi32(oc, _mm256_add_epi32(_mm256_set1_epi32(g->ocol[j0]), iota)))) == 0xFF;
        for (int p = 0; p < kc; p++) {
            __m256i h = _mm256_add_epi32(hc, _mm256_set1_epi32(g->hrow[p]));
            __m256i w = _mm256_add_epi32(wc, _mm256_set1_epi32(g->wrow[p]));
            __m256i in = _mm256_and_si256(_mm256_and_si256(_mm256_cmpgt_epi32(h, neg), _mm256_cmpgt_epi32(hi, h)),
                                          _mm256_and_si256(_mm256_cmpgt_epi32(w, neg), _mm256_cmpgt_epi32(wi, w)));
            float *to = dst + (size_t)p * (size_t)nr + (size_t)j0;
            if (run)
                _mm256_store_ps(to, _mm256_maskload_ps(g->image + (ptrdiff_t)g->orow[p] + g->ocol[j0], in));
            else
                _mm256_store_ps(to, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), g->image,
                                                             _mm256_add_epi32(oc, _mm256_set1_epi32(g->orow[p])),
                                                             _mm256_castsi256_ps(in), 4));
        }
    }
}
#endif

static void gather(const Path *P, const Gather *g, int kc, float *dst) {
#if GEMM_X86
    if (P->isa == DLRT_GEMM_AVX512) {
        gather_avx512(g, kc, P->nr, dst);
        return;
    }
    if (P->isa == DLRT_GEMM_AVX2) {
        gather_avx2(g, kc, P->nr, dst);
        return;
    }
#endif
    gather_portable(g, kc, P->nr, dst);
}

/* The product's B, rows p0.. (kc) and columns j0.. (nc), as NR-wide slivers: the columns of the image (forward,
 * dx: rows are kernel offsets, columns windows), or their transpose (dw: rows are windows, columns offsets). */
static void pack_b_conv(const Path *P, const void *from, int p0, int kc, int j0, int nc, float *bp, Share sh) {
    const Conv *cv = from;
    int nr = P->nr, slivers = (nc + nr - 1) / nr, dw = cv->op == DLRT_CONV_DW, lo, hi;
    /* the rows' parts serve every sliver: each thread computes them once */
    int orow[KC], hrow[KC], wrow[KC];
    parts(cv, dw, p0, kc, orow, hrow, wrow);
    share_range(sh, slivers, &lo, &hi);
    for (int sl = lo; sl < hi; sl++) {
        int ocol[MAX_NR], hcol[MAX_NR], wcol[MAX_NR], cols = nc - sl * nr < nr ? nc - sl * nr : nr;
        parts(cv, !dw, j0 + sl * nr, cols, ocol, hcol, wcol);
        /* a column beyond the product reads as padding */
        for (int j = cols; j < nr; j++)
            ocol[j] = 0, hcol[j] = -0x20000000, wcol[j] = 0;
        Gather g = {cv->image, cv->hi, cv->wi, orow, hrow, wrow, ocol, hcol, wcol};
        gather(P, &g, kc, bp + (size_t)sl * (size_t)kc * (size_t)nr);
    }
}

/* The product's A, rows i0.. (mc) and columns p0.. (kc), as MR-tall slivers: w as it lies (forward), w turned
 * and transposed (dx: A[c][(k, r, s)] = w[k][c][R-1-r][S-1-s]), or dy in the images' layout (dw: A[k][(i, pq)] =
 * dy[i][k][pq]). */
static void pack_a_conv(const Path *P, const void *from, int i0, int mc, int p0, int kc, float *ap, Share sh) {
    const Conv *cv = from;
    if (cv->op == DLRT_CONV_FWD) {
        pack_a(P, 0, cv->a, cv->k, i0, mc, p0, kc, ap, sh);
        return;
    }
    int mr = P->mr, slivers = (mc + mr - 1) / mr, rs = cv->r * cv->s, pq = cv->ho * cv->wo, lo, hi;
    share_range(sh, slivers, &lo, &hi);
    for (int sl = lo; sl < hi; sl++) {
        float *dst = ap + (size_t)sl * (size_t)kc * (size_t)mr;
        int rows = mc - sl * mr < mr ? mc - sl * mr : mr, first = i0 + sl * mr;
        /* the rows of a sliver lie R*S (dx) or P*Q (dw) apart: the path's transposing copy gathers them */
        if (cv->op == DLRT_CONV_DX)
            for (int p = 0; p < kc; p++) {
                /* column (k, r, s) of the turned kernel reads w[k][c][R-1-r][S-1-s]: one column at a time, as the
                 * columns run backwards through w */
                int col = p0 + p, k = col / rs, turned = rs - 1 - col % rs;
                P->transpose(cv->a + ((size_t)k * (size_t)cv->m + (size_t)first) * (size_t)rs + (size_t)turned,
                             (size_t)rs, rows, 1, dst + (size_t)p * (size_t)mr, mr);
            }
        else
            for (int p = 0; p < kc;) {
                /* columns (i, pq) of dy: a run of them within one image at a time */
                int col = p0 + p, i = col / pq, count = pq - col % pq < kc - p ? pq - col % pq : kc - p;
                P->transpose(cv->a + ((size_t)i * (size_t)cv->m + (size_t)first) * (size_t)pq + (size_t)(col % pq),
                             (size_t)pq, rows, count, dst + (size_t)p * (size_t)mr, mr);
                p += count;
            }
        for (int r = rows; r < mr; r++)
            for (int p = 0; p < kc; p++)
                dst[(size_t)p * (size_t)mr + (size_t)r] = 0;
    }
}

int dlrt_conv_f32(int op, int g, int K, int C, int H, int W, int R, int S, int P, int Q, int sh, int sw, int ph, int pw,
                  const float *a, const float *image, float *out, int accumulate) {
    if (dlrt_gemm_route() == DLRT_ROUTE_BLAS || g <= 0 || (op == DLRT_CONV_DX && (sh != 1 || sw != 1)))
        return 0;
    Conv cv;
    if (op == DLRT_CONV_DX)
        cv = (Conv){op, C, g * H * W, K * R * S, K, P, Q, R, S, H, W, 1, 1, R - 1 - ph, S - 1 - pw, a, image};
    else {
        int fwd = op == DLRT_CONV_FWD, cols = fwd ? g * P * Q : C * R * S, depth = fwd ? C * R * S : g * P * Q;
        cv = (Conv){op, K, cols, depth, C, H, W, R, S, P, Q, sh, sw, ph, pw, a, image};
    }
    /* the gathers' offsets are 32-bit */
    if ((double)g * cv.ci * cv.hi * cv.wi > 0x7FFFFFFF || (double)cv.m * cv.k > 0x7FFFFFFF)
        return 0;
    return blocked_product(path_of(dlrt_gemm_isa()), &(Operands){pack_a_conv, pack_b_conv, &cv}, cv.m, cv.n, cv.k, out,
                           cv.n, accumulate);
}
