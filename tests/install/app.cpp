// app.cpp: a C++ application that embeds the C dlc generates for models/mlp.dlm, built out of tree by the
// projects beside it (Make, CMake, meson) against an installed dlc and `pkg-config dlrt` (tests/test_install.c).
//
// usage: app CHECKPOINT
// Loads the checkpoint a trainer wrote, runs the model on 8 inputs drawn from libdlrt's generator (seed 1) and
// prints the 80 logits, one per line, then the predicted classes. Built with -DAPP_TRAIN against the training
// code (`dlc compile`), it then takes 20 training steps on those inputs and prints the loss before and after.
// A batch of 0 or MLP_MAX_BATCH + 1 must be refused (MLP_BAD_BATCH, or a NaN loss) with the block unchanged;
// the inference build's mlp_predict_shared, run by two threads on one copy of the weights, must give
// mlp_forward's logits bit for bit and leave the weights unchanged; the training build's mlp_save, given the
// checkpoint's epoch, step and generator, must write the checkpoint's bytes. The program exits 1 otherwise.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "dlrt.h"
#include "mlp.h"

static_assert(MLP_MAX_BATCH >= 8, "the projects compile mlp with --batch 8");

namespace {

constexpr int n = 8;

// One block of `bytes`, aligned as the header asks; freed at scope exit.
struct Block {
    void *p;
    explicit Block(size_t bytes) : p(std::aligned_alloc(MLP_ALIGN, (bytes + MLP_ALIGN - 1) / MLP_ALIGN * MLP_ALIGN)) {}
    ~Block() { std::free(p); }
};

#ifdef APP_TRAIN
constexpr size_t block_bytes = MLP_STATE_BYTES;
#else
constexpr size_t block_bytes = MLP_WORKSPACE_BYTES;
#endif

} // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CHECKPOINT\n", argv[0]);
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    std::vector<char> ckpt((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Block block(block_bytes);
    if (!block.p || ckpt.empty())
        return 1;
    if (mlp_load(block.p, ckpt.data(), ckpt.size() / 2) != MLP_LOAD_TRUNCATED) {
        std::fprintf(stderr, "half a checkpoint was not refused as truncated\n");
        return 1;
    }
    int rc = mlp_load(block.p, ckpt.data(), ckpt.size());
    if (rc != MLP_LOAD_OK) {
        std::fprintf(stderr, "mlp_load: %d\n", rc);
        return 1;
    }

    // the metadata: the layout hash is the checkpoint's (bytes 16..23), the table agrees with the macros
    uint64_t hash = 0;
    for (int i = 7; i >= 0; i--)
        hash = hash << 8 | static_cast<unsigned char>(ckpt[16 + size_t(i)]);
    const int64_t x_shape[] = MLP_INPUT_X_SHAPE;
    int64_t x_elems = 1;
    for (int d = 1; d < MLP_INPUT_X_RANK; d++)
        x_elems *= x_shape[d];
    if (hash != MLP_LAYOUT_HASH || x_elems != MLP_INPUT_X_SIZE || std::strcmp(mlp_inputs[0].name, "x") != 0 ||
        std::strcmp(mlp_inputs[0].dtype, MLP_INPUT_X_DTYPE) != 0 || mlp_inputs[0].dims[0] != MLP_MAX_BATCH ||
        mlp_outputs[0].dims[1] != MLP_OUTPUT_LOGITS_SIZE || mlp_max_batch() != MLP_MAX_BATCH ||
        std::strcmp(mlp_class_names[9], "ankle boot") != 0) {
        std::fprintf(stderr, "the metadata disagrees with itself or the checkpoint\n");
        return 1;
    }
#ifdef APP_TRAIN
    if (mlp_state_bytes() != MLP_STATE_BYTES)
        return 1;
#else
    if (mlp_workspace_bytes() != MLP_WORKSPACE_BYTES || mlp_weights_bytes() + mlp_scratch_bytes() != block_bytes)
        return 1;
#endif

    std::vector<mlp_real> x(size_t{n} * MLP_INPUT_X_SIZE);
    DlrtRng rng;
    dlrt_rng_seed(&rng, 1, 0);
    dlrt_rng_fill_uniform(&rng, x.data(), x.size(), 0.0f, 1.0f);
    // refused batches touch nothing
    std::vector<unsigned char> before(static_cast<unsigned char *>(block.p),
                                      static_cast<unsigned char *>(block.p) + block_bytes);
    for (int bad : {0, MLP_MAX_BATCH + 1}) {
        bool refused = mlp_forward(block.p, bad, x.data()) == MLP_BAD_BATCH;
#ifdef APP_TRAIN
        std::vector<int32_t> labels(n);
        refused = refused && std::isnan(mlp_train_step(block.p, bad, x.data(), labels.data(), 0.1f, nullptr));
        refused = refused && mlp_backward(block.p, bad, x.data(), labels.data()) == MLP_BAD_BATCH;
#else
        std::vector<mlp_real> out(10);
        refused = refused && mlp_predict_batch(block.p, bad, x.data(), out.data()) == MLP_BAD_BATCH;
#endif
        if (!refused || std::memcmp(before.data(), block.p, block_bytes) != 0) {
            std::fprintf(stderr, "a batch of %d was not refused, or the block changed\n", bad);
            return 1;
        }
    }

    if (mlp_forward(block.p, n, x.data()) != 0)
        return 1;
    const mlp_real *logits = mlp_output_logits(block.p);
    for (int i = 0; i < n * MLP_OUTPUT_LOGITS_SIZE; i++)
        std::printf("%.9g\n", static_cast<double>(logits[i]));
    for (int i = 0; i < n; i++)
        std::printf("%s%d", i ? " " : "classes ", dlrt_argmax(logits + i * MLP_OUTPUT_LOGITS_SIZE, 10));
    std::printf("\n");

#ifndef APP_TRAIN
    // one read-only copy of the weights (the block's first MLP_WEIGHTS_BYTES), two threads with a scratch each
    static_assert(MLP_WORKSPACE_BYTES == MLP_WEIGHTS_BYTES + MLP_SCRATCH_BYTES, "the block is weights + scratch");
    Block weights(MLP_WEIGHTS_BYTES), scratch[2] = {Block(MLP_SCRATCH_BYTES), Block(MLP_SCRATCH_BYTES)};
    if (mlp_load(weights.p, ckpt.data(), ckpt.size()) != MLP_LOAD_OK)
        return 1;
    std::vector<unsigned char> loaded(static_cast<unsigned char *>(weights.p),
                                      static_cast<unsigned char *>(weights.p) + MLP_WEIGHTS_BYTES);
    std::vector<mlp_real> shared[2];
    int status[2];
    std::thread threads[2];
    for (int t = 0; t < 2; t++)
        threads[t] = std::thread([&, t] {
            shared[t].resize(size_t{n} * MLP_OUTPUT_LOGITS_SIZE);
            status[t] = mlp_predict_shared(weights.p, scratch[t].p, n, x.data(), shared[t].data());
        });
    for (auto &t : threads)
        t.join();
    for (int t = 0; t < 2; t++)
        if (status[t] != 0 || std::memcmp(shared[t].data(), logits, shared[t].size() * sizeof(mlp_real)) != 0) {
            std::fprintf(stderr, "mlp_predict_shared in thread %d: status %d, or other logits\n", t, status[t]);
            return 1;
        }
    if (std::memcmp(loaded.data(), weights.p, MLP_WEIGHTS_BYTES) != 0) {
        std::fprintf(stderr, "mlp_predict_shared wrote into the weights\n");
        return 1;
    }
#endif

#ifdef APP_TRAIN
    // the trainer's --save wrote PARM, TRAN (epochs, step) and RNGS (state, inc) last: 36 bytes each
    auto u64 = [&](size_t at) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
            v = v << 8 | static_cast<unsigned char>(ckpt[at + size_t(i)]);
        return v;
    };
    const size_t tran = ckpt.size() - 72 + 16, rngs = ckpt.size() - 36 + 16;
    *mlp_step_counter(block.p) = u64(tran + 8);
    const uint64_t generator[2] = {u64(rngs), u64(rngs + 8)};
    std::vector<char> saved(MLP_CHECKPOINT_BYTES);
    size_t len = mlp_save(block.p, u64(tran), generator, saved.data(), saved.size());
    if (len != ckpt.size() || saved != ckpt) {
        std::fprintf(stderr, "mlp_save wrote %zu bytes, not the trainer's %zu\n", len, ckpt.size());
        return 1;
    }
    std::printf("mlp_save: the trainer's %zu bytes\n", len);

    std::vector<int32_t> y(n);
    for (int i = 0; i < n; i++)
        y[size_t(i)] = i % 10;
    mlp_real first = 0, last = 0;
    for (int step = 0; step < 20; step++) {
        last = mlp_train_step(block.p, n, x.data(), y.data(), 0.1f, nullptr);
        if (step == 0)
            first = last;
    }
    std::printf("loss %.9g %.9g\n", static_cast<double>(first), static_cast<double>(last));
#endif
    return 0;
}
