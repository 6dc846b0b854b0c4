#!/usr/bin/env bash
# setup.sh: installs what dlc needs that the machine lacks (Debian packages), then configures and builds.
#   scripts/setup.sh [BUILD_DIR] [meson options...]
# Used by demo.sh and test.sh, so a fresh machine and CI go through the same steps.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(gcc meson ninja-build flex bison pkg-config libopenblas-dev libcunit1-dev zlib1g-dev libpng-dev
          dataset-fashion-mnist clang-format clang scdoc cmake
          python3-numpy python3-torch python3-onnx   # the interop test's other side (tests/test_interop.c)
          libonnx-dev protobuf-c-compiler libprotobuf-c-dev   # dlc export: onnx.proto and protobuf-c
          openmpi-bin libopenmpi-dev   # dlc build --mpi: libdlrt-mpi and mpirun (tests/test_mpi.c)
          gcc-multilib gcc-arm-none-eabi libnewlib-arm-none-eabi)   # check --infer's 32-bit sizes (tests/test_cli.c)
# ONNX Runtime comes from npm (tests/test_interop.c installs it into the build tree); Debian's node and npm only
# where there is no node at all, since a node from elsewhere brings its own npm, which Debian's npm conflicts with
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

build=${1:-build}
shift || true
log=$(mktemp)
if [ ! -f "$build/build.ninja" ] && ! meson setup "$build" "$@" >"$log" 2>&1; then
    tail -30 "$log"
    echo "setup: meson setup $build failed" >&2
    exit 1
fi
if ! ninja -C "$build" >"$log" 2>&1; then
    grep -E -A12 'FAILED|error' "$log" | head -60
    echo "setup: building $build failed" >&2
    exit 1
fi
rm -f "$log"
