/* fuzz_import.c: libFuzzer target for `dlc import` (compiler/import_onnx.c), which parses ONNX files that come from
 * elsewhere.
 *
 * Each input is a file's bytes. import_onnx refuses it with messages, or converts it; a converted model goes through
 * import_check, which elaborates the .dlm text (a refusal is a bug here: the seeds are small) and dies unless the model
 * declares exactly the parameters (names and shapes) and outputs (shapes) the conversion computed. So any crash,
 * sanitizer report, die() or time-out is a bug, and so is a model the importer accepts but dlc does not. The seeds
 * (tests/fuzz/seeds-onnx/, written by tests/fuzz/onnx_seeds.py) use every operator and attribute form the importer
 * takes.
 *
 *   CC=clang meson setup /tmp/fz -Dfuzz=true && ninja -C /tmp/fz tests/fuzz/fuzz_import
 *   mkdir -p /tmp/fz-onnx && /tmp/fz/tests/fuzz/fuzz_import /tmp/fz-onnx tests/fuzz/seeds-onnx -max_total_time=600
 */
#include "dlc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        die("cannot open /dev/null");
    Ctx ctx;
    ctx_init(&ctx, devnull);
    Imported im;
    if (import_onnx(&ctx, data, size, "fuzz.onnx", "fuzz", &im) && !import_check(&ctx, &im, "fuzz"))
        die("dlc import accepted a model that dlc does not compile");
    ctx_free(&ctx);
    return 0;
}
