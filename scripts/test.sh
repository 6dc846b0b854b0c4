#!/usr/bin/env bash
# test.sh: the whole test suite. Builds and runs every test (the accuracy runs on all of Fashion-MNIST
# included), then builds again with -fsanitize=address,undefined and runs every test there but the long
# accuracy runs, the interop tests and the install test (which builds a plain dlc of its own). Ends with one
# line: "N passed, N failed", counted over the CUnit tests of both passes. Last, the fuzz targets' short runs.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build -Dwerror=true || exit 1
scripts/setup.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true || exit 1

status=0
meson test -C build --print-errorlogs || status=1
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --no-suite slow --no-suite interop --no-suite install --no-suite mpi --print-errorlogs || status=1

# The libFuzzer targets (tests/fuzz: the front end, IDX and images, checkpoints, .npz, CSV, ONNX import), built with clang,
# run over their seeds and for a short deterministic run each
# (a failed set-up or build is shown and fails the run, which still ends with its count line)
if { [ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true >build-fuzz.log 2>&1; } &&
    ninja -C build-fuzz tests/fuzz/fuzz_frontend tests/fuzz/fuzz_idx tests/fuzz/fuzz_checkpoint tests/fuzz/fuzz_npz \
        tests/fuzz/fuzz_csv tests/fuzz/fuzz_import >>build-fuzz.log 2>&1; then
    meson test -C build-fuzz --no-rebuild --print-errorlogs fuzz-seeds fuzz-npz-seeds fuzz-idx-seeds fuzz-npz fuzz-idx \
        fuzz-checkpoint fuzz-csv fuzz-import-seeds fuzz-import ||
        status=1
else
    tail -n 40 build-fuzz.log
    echo "test.sh: the fuzz targets did not build (build-fuzz.log)" >&2
    status=1
fi

# CUnit's run summaries ("tests  TOTAL  RAN  PASSED  FAILED  INACTIVE") from both passes' logs
read -r passed failed < <(cat build/meson-logs/testlog.txt build-asan/meson-logs/testlog.txt |
    awk '$1 == "tests" && NF >= 6 { p += $4; f += $5 } END { print p + 0, f + 0 }')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1 # a test program crashed or timed out before CUnit could count
fi
echo "$passed passed, $failed failed"
exit $status
