#!/usr/bin/env bash
# model_run.sh - one GPU-machine call for the CUDA backend: build (CMake + Ninja, sm_90; with nvcc
# >= 12 cmake/JetCuda.cmake builds it as sm_90a, the wgmma kernels), the
# CUDA backend's tests, compute-sanitizer memcheck on them, and the full-size 2B benchmark.
# Logs and the benchmark table go to $OUT (or ./out). Needs, under .carry/ (git-ignored, named in
# `carry`): deps/prefix (nlohmann-json), deps/googletest-src, shared/fixtures/tiny-jet-a.
#   bash native/bench/cuda/model_run.sh [build] [test] [memcheck] [bench]   (default: all)
set -u
cd "$(dirname "$0")/../../.."
OUT=${OUT:-$PWD/out}; mkdir -p "$OUT"
STEPS=${*:-build test memcheck bench}
B=/tmp/jet-cudabe
export JET_SHARED_DIR=$PWD/.carry/shared
FILTER='Cuda*'  # every CUDA test: the backend's and the kernels'
has() { [[ " $STEPS " == *" $1 "* ]]; }

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.limit \
  --format=csv | tee "$OUT/gpu.txt"
if has build; then
  if [ ! -f /tmp/gtest/lib/libgtest.a ] && [ ! -f /tmp/gtest/lib64/libgtest.a ]; then
    cmake -S .carry/deps/googletest-src -B /tmp/gtest-build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DBUILD_GMOCK=OFF -DCMAKE_INSTALL_PREFIX=/tmp/gtest >/dev/null && cmake --build /tmp/gtest-build \
      --target install >/dev/null || { echo "error: googletest build failed"; exit 1; }
  fi
  cmake -S . -B $B -G Ninja -DJET_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DJET_BUILD_TESTS=ON \
    -DCMAKE_PREFIX_PATH="$PWD/.carry/deps/prefix;/tmp/gtest" > "$OUT/build.log" 2>&1 &&
  cmake --build $B --target jet_tests jet_model_bench >> "$OUT/build.log" 2>&1
  rc=$?; grep -E "error|warning" "$OUT/build.log" | head -30; echo "build rc=$rc"
  [ $rc -eq 0 ] || { tail -40 "$OUT/build.log"; exit 1; }
fi
if has test; then
  timeout ${TEST_TIMEOUT:-150} $B/native/tests/jet_tests --gtest_filter="$FILTER" 2>&1 | tee "$OUT/tests.txt" | \
    grep -vE '^\[ +(RUN|OK) ' | tail -60
fi
if has memcheck; then
  timeout ${MEMCHECK_TIMEOUT:-150} compute-sanitizer --tool memcheck --error-exitcode 3 $B/native/tests/jet_tests \
    --gtest_filter="$FILTER:-CudaBackendErrors*:*Long*:*Golden*" > "$OUT/memcheck.txt" 2>&1
  echo "memcheck rc=$? ($(grep -c 'Invalid' "$OUT/memcheck.txt") invalid accesses)"; tail -4 "$OUT/memcheck.txt"
fi
if has bench; then
  timeout ${BENCH_TIMEOUT:-240} $B/native/jet_model_bench --out "$OUT/perf_table.md" ${BENCH_ARGS:-} 2> "$OUT/bench.log"
  echo "bench rc=$?"; tail -5 "$OUT/bench.log"
fi
