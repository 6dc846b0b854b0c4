/* dlrt_core.h - the freestanding part of libdlrt.
 *
 * Error codes, the random number generators, tensor descriptors and the checkpoint codec over memory buffers.
 * Everything declared here needs only <stdint.h>, <stddef.h>, <string.h> and (for normal deviates) <math.h>:
 * no stdio, no malloc. Embedded inference code can compile rng.c and checkpoint_core.c with this header alone
 * and load weights from a buffer linked into the program. Trainers include dlrt.h, which includes this.
 */
#ifndef DLRT_CORE_H
#define DLRT_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------- */
/* Errors                                                                                                     */
/* ---------------------------------------------------------------------------------------------------------- */

/* Every fallible call returns one of these (0 = success) and, unless err is NULL, writes a one-line message
 * into err->msg that names the file (or buffer) involved and says what was expected and what was found.
 * Trainers exit 2 on DLRT_EUSAGE and 1 on any other error. */
typedef enum {
    DLRT_OK = 0,
    DLRT_EIO = 1,       /* a file is missing, unreadable or could not be written */
    DLRT_EUSAGE = 2,    /* bad command line */
    DLRT_EFORMAT = 3,   /* a file's contents are malformed: bad magic, truncated, CRC mismatch, bad values */
    DLRT_EMISMATCH = 4, /* a well-formed checkpoint written for another model (layout differs) */
    DLRT_ENOMEM = 5,    /* allocation failed (only ever at start-up) */
    DLRT_EINVAL = 6,    /* the caller passed inconsistent arguments (a bug in the calling code) */
} DlrtStatus;

typedef struct {
    char msg[1024]; /* room for a NumPy archive's differences from the model, each named (npz.c) */
} DlrtError;

/* ---------------------------------------------------------------------------------------------------------- */
/* Random numbers (rng.c)                                                                                     */
/* ---------------------------------------------------------------------------------------------------------- */

/* PCG32 (O'Neill's PCG-XSH-RR 64/32): 64-bit LCG state, 32-bit output. The struct is plain data, so copying it
 * snapshots the stream exactly; checkpoints store both fields. Sequences are identical on every platform. */
typedef struct {
    uint64_t state;
    uint64_t inc; /* stream selector, always odd */
} DlrtRng;

/* Seeds as pcg32_srandom_r(rng, seed, stream): distinct streams from one seed are independent sequences. */
void dlrt_rng_seed(DlrtRng *rng, uint64_t seed, uint64_t stream);

/* Next 32 uniformly distributed bits. */
uint32_t dlrt_rng_u32(DlrtRng *rng);

/* Uniform float in [0, 1): the top 24 bits of one draw times 2^-24, so every value is exactly representable. */
float dlrt_rng_uniform(DlrtRng *rng);

/* Uniform double in [0, 1) with 53 random bits, from two draws (first draw gives the high 27 bits). */
double dlrt_rng_uniform_f64(DlrtRng *rng);

/* Uniform integer in [0, bound), unbiased (PCG's rejection of the low 2^32 mod bound values). bound >= 1. */
uint32_t dlrt_rng_below(DlrtRng *rng, uint32_t bound);

/* A normal deviate N(mean, std^2) by the Box-Muller transform: u1 = 1 - uniform_f64 (in (0, 1]),
 * u2 = uniform_f64, z = sqrt(-2 ln u1) * cos(2 pi u2). The sine twin is discarded so each call consumes exactly
 * two uniform_f64 draws (four u32 draws) and the stream position never depends on a cached value. */
double dlrt_rng_normal(DlrtRng *rng, double mean, double std);

/* Fills x[0..n) with float(dlrt_rng_normal(rng, mean, std)), in order. */
void dlrt_rng_fill_normal(DlrtRng *rng, float *x, size_t n, double mean, double std);

/* Fills x[0..n) with lo + (hi - lo) * dlrt_rng_uniform(rng), in order. */
void dlrt_rng_fill_uniform(DlrtRng *rng, float *x, size_t n, float lo, float hi);

/* A stateless counter-based hash for dropout masks: element i of step t uses dlrt_hash32(seed, counter) with a
 * counter the generated code derives from (t, i), so masks need no state and backward can recompute forward's.
 * Generated code inlines its own copy; it must stay bit-identical to this definition (SplitMix64's output
 * function applied to the state seed + (counter + 1) * golden gamma, upper 32 bits kept):
 *
 *     uint64_t z = seed + (counter + 1) * 0x9E3779B97F4A7C15;   // arithmetic mod 2^64
 *     z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
 *     z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
 *     z = z ^ (z >> 31);
 *     return (uint32_t)(z >> 32);
 *
 * To turn it into a uniform float in [0, 1) use (h >> 8) * 0x1p-24f (see dlrt_hash_uniform); dropout keeps an
 * element when that value is >= p. */
uint32_t dlrt_hash32(uint64_t seed, uint64_t counter);

/* (dlrt_hash32(seed, counter) >> 8) * 2^-24. */
float dlrt_hash_uniform(uint64_t seed, uint64_t counter);

/* ---------------------------------------------------------------------------------------------------------- */
/* Tensor descriptors                                                                                         */
/* ---------------------------------------------------------------------------------------------------------- */

typedef enum {
    DLRT_F32 = 1,
    DLRT_F64 = 2,
    DLRT_I64 = 3, /* NumPy archives only (batch norm's num_batches_tracked); the checkpoint format holds floats */
} DlrtDtype;

enum { DLRT_MAX_RANK = 8 };

/* One named tensor in the caller's memory (parameters, optimizer state). Generated code emits a static table of
 * these with names, dtypes and shapes known at compile time and points data into its state block at start-up.
 * Elements are contiguous, row-major. rank 0 is a scalar (one element). */
typedef struct {
    const char *name;
    int dtype;                   /* DlrtDtype */
    int rank;                    /* 0 .. DLRT_MAX_RANK */
    int64_t dims[DLRT_MAX_RANK]; /* dims[0 .. rank) */
    void *data;
} DlrtTensorDesc;

/* Number of elements of d (1 for a scalar). */
int64_t dlrt_tensor_count(const DlrtTensorDesc *d);

/* ---------------------------------------------------------------------------------------------------------- */
/* Checkpoints over memory (checkpoint_core.c); the byte layout is in docs/checkpoint.md                       */
/* ---------------------------------------------------------------------------------------------------------- */

/* What a checkpoint holds. Writers fill it in; readers pass the same descriptors (pointing at the memory to
 * load into) and get the optional sections' presence back in has_optim, has_epoch and has_rng. */
typedef struct {
    DlrtTensorDesc *params; /* required: the model's parameters, in the model's order */
    int n_params;
    DlrtTensorDesc *optim; /* optimizer state (momentum, Adam moments); NULL/0 = none */
    int n_optim;
    int has_optim; /* write: ignored (written when optim != NULL); read: set if the file had it */
    int has_epoch; /* training progress section: epochs completed and the step counter */
    int64_t epoch;
    uint64_t step;
    int has_rng; /* the trainer's RNG state */
    DlrtRng rng;
    uint64_t ranks; /* the data-parallel run that wrote it: its world size when its summation order depended on
                       it (a DIST section when above 1); read: 1 when the file has none, 0 for the canonical order */
    uint64_t chunk; /* a data-parallel run in the canonical order: its examples per chunk (a DIST section); read:
                       0 when the file has none */
    int has_best;   /* --save-best: the best validation score so far (a BEST section) and its epoch */
    int64_t best_epoch;
    double best_score; /* finite: the accuracy, or minus the loss for a model without one */
} DlrtCheckpoint;

/* Reading flags. */
enum {
    /* --resume: refuse a file without optimizer state (if ck->optim is set), epoch and RNG sections. */
    DLRT_CKPT_RESUME = 1,
    /* The values must fit in f32 even where the descriptors are f64: dlc compile --weights reads in f64 for a
     * model it compiles in f32. */
    DLRT_CKPT_F32_VALUES = 2,
};

/* FNV-1a 64 of the parameter layout: for each parameter in order, its name bytes, one 0 byte, rank as 4 bytes
 * little-endian, then each dim as 8 bytes little-endian. Dtype is excluded: an f64 checkpoint loads into the f32
 * build of the same model (values are converted). */
uint64_t dlrt_layout_hash(const DlrtTensorDesc *params, int n_params);

/* CRC-32 as zlib's crc32() (reflected polynomial 0xEDB88320): start with crc = 0, chain calls over pieces. */
uint32_t dlrt_crc32(uint32_t crc, const void *data, size_t n);

/* A byte consumer for the streaming encoder: write returns 0 on success. The runtime's file and memory writers
 * are sinks; the encoder calls nothing else. */
typedef struct DlrtSink DlrtSink;
struct DlrtSink {
    int (*write)(DlrtSink *self, const void *bytes, size_t n);
};

/* Size in bytes of the encoding of ck, or 0 if ck is invalid (bad dtype, rank, dims or missing data). */
uint64_t dlrt_checkpoint_size(const DlrtCheckpoint *ck);

/* Streams the encoding of ck into sink. Tensor data is read, never modified. */
int dlrt_checkpoint_encode(const DlrtCheckpoint *ck, DlrtSink *sink, DlrtError *err);

/* Encodes ck into buf[0 .. cap); *len receives the size. DLRT_EINVAL if cap is too small. */
int dlrt_checkpoint_write_mem(const DlrtCheckpoint *ck, void *buf, size_t cap, size_t *len, DlrtError *err);

/* Decodes a checkpoint from buf[0 .. len) into the descriptors' memory. `source` names the buffer in messages
 * (a path, or e.g. "embedded weights"). Everything is validated before anything is written: the magic, the
 * version, the size (truncation), every section's bounds, the layout hash and every tensor's name and shape
 * against ck->params (DLRT_EMISMATCH naming the first differing tensor), every tensor's CRC (DLRT_EFORMAT
 * naming the tensor), and every value: a NaN, an infinity, or an f64 value beyond f32's range where it will become
 * an f32 (DLRT_EFORMAT naming the tensor and the first bad index), and the epoch (at most 2^40, as --epochs). On
 * any error the caller's tensors are untouched. */
int dlrt_checkpoint_read_mem(const void *buf, size_t len, const char *source, DlrtCheckpoint *ck, unsigned flags,
                             DlrtError *err);

#ifdef __cplusplus
}
#endif

#endif
