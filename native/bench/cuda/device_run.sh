#!/usr/bin/env bash
# device_run.sh - on the GPU machine (run tool), from the repository root: builds the mixer
# kernels (native/src/cuda/kernels.h) and their GoogleTests standalone with nvcc + g++ (so a
# half-finished file elsewhere in the tree cannot block them), runs the tests, runs them again
# under compute-sanitizer memcheck (long cases excluded), then the benchmark script.
#   bash native/bench/cuda/device_run.sh [all|build|test|memcheck|bench|racecheck]...
# (racecheck: racecheck + synccheck on SAN_FILTER's tests, only when named.)
# Needs .carry/deps (googletest source, nlohmann json headers) and .carry/shared/fixtures/kernels
# (copied from ../shared here, since ../shared does not travel). ARCH defaults to 90a (sm_90a:
# the wgmma kernels; JET_CUDA_SM90A is defined for it). KERNELS (default: all five) limits the
# build, the tests and the benchmark to some kernels, e.g. KERNELS=attention_prefill; KERNELS=gemm
# (not in the default) builds the GEMV / weight-only FP8 GEMM with their tests and bench rows.
set -uo pipefail
ROOT=$(pwd)
OUT=${OUT:-/tmp/jet-out}
B=${BUILD:-/tmp/jetk}
ARCH=${ARCH:-90a}
KERNELS=${KERNELS:-attention_prefill attention_decode gated_delta_chunk gated_delta_step dynamic_conv}
JOBS=${JOBS:-16}
STEPS=${*:-all}
mkdir -p "$B/obj" "$OUT"
export PYTHONUNBUFFERED=1
FILTER='Cuda*'  # the tests of the kernels built (KERNELS)
want() { [[ " $STEPS " == *" all "* || " $STEPS " == *" $1 "* ]]; }

if want build; then
  t0=$SECONDS
  if [ ! -f "$B/gtp/include/gtest/gtest.h" ]; then
    cmake -S .carry/deps/googletest-src -B "$B/gt" -DCMAKE_BUILD_TYPE=Release -DBUILD_GMOCK=OFF \
      -DCMAKE_INSTALL_PREFIX="$B/gtp" >/dev/null && cmake --build "$B/gt" -j "$JOBS" --target install >/dev/null \
      || { echo "googletest build failed"; exit 1; }
  fi
  CUDA_INC=$(dirname "$(dirname "$(which nvcc)")")/include
  INC=(-I native/src -I native/include -I .carry/deps/prefix/include -I "$B/gtp/include" -I "$CUDA_INC")
  DEFS=(-DJET_BUILD "-DJET_VERSION_STRING=\"0\"" "-DJET_SHARED_DIR=\"$ROOT/../shared\""
        "-DJET_TEST_FIXTURES_DIR=\"$ROOT/tests/fixtures\"")
  [[ $ARCH == *a ]] && DEFS+=(-DJET_CUDA_SM90A=1)
  NV=(nvcc -O3 -std=c++17 --expt-relaxed-constexpr -lineinfo "-gencode=arch=compute_$ARCH,code=sm_$ARCH" -Xptxas -v)
  : > "$OUT/ptxas.txt"
  pids=()
  rm -f "$B"/obj/*.o "$B"/obj/*.ptxas
  # jet_prep.cu: jetblock_decode_step's test compares with jet_qk_gates (cuda/kernels.h).
  # gemm (gemm*.cu: the GEMVs, cuBLAS, the FP8/INT8 weight-only GEMM) needs the unfused prologue ops.
  extra=$([[ " $KERNELS " == *" gemm "* ]] && echo rmsnorm activations)
  for k in $KERNELS jet_prep $extra; do
    for f in native/src/cuda/$k*.cu; do  # attention_prefill*.cu: the mma.sync and the sm90 kernels
      n=$(basename "$f" .cu)
      "${NV[@]}" "${INC[@]}" "${DEFS[@]}" -c "$f" -o "$B/obj/$n.o" 2> "$B/obj/$n.ptxas" &
      pids+=($!)
    done
  done
  srcs=(native/src/cuda/check.cpp native/src/error.cpp native/src/platform.cpp native/src/safetensors.cpp
        native/src/cpu/*.cpp)  # platform.cpp: cpu/threads.cpp and safetensors.cpp use it
  for k in $KERNELS; do srcs+=(native/tests/cuda/${k}*_test.cpp); done  # gemm: + gemm_wq_test.cpp
  for s in "${srcs[@]}"; do
    o="$B/obj/$(echo "$s" | tr / _).o"
    g++ -O2 -std=c++17 -fopenmp-simd -fno-math-errno -fno-trapping-math -Wall -Wextra "${INC[@]}" "${DEFS[@]}" \
      -c "$s" -o "$o" &
    pids+=($!)
  done
  fail=0
  for p in "${pids[@]}"; do wait "$p" || fail=1; done
  cat "$B"/obj/*.ptxas >> "$OUT/ptxas.txt"
  grep -iE "error|warning" "$B"/obj/*.ptxas
  [ $fail -eq 0 ] || { echo "compile failed"; exit 1; }
  GT_LIB=$(dirname "$(find "$B/gtp" -name 'libgtest.a' | head -1)")
  nvcc -o "$B/jet_kernel_tests" "$B"/obj/*.o -L"$GT_LIB" -lgtest_main -lgtest -lcublas -Xcompiler -pthread \
    || { echo "link failed"; exit 1; }
  mkdir -p "$ROOT/../shared/fixtures" && cp -r .carry/shared/fixtures/kernels "$ROOT/../shared/fixtures/" 2>/dev/null
  echo "::: build ok in $((SECONDS - t0))s"
fi

if want test; then
  t0=$SECONDS
  "$B/jet_kernel_tests" --gtest_filter="$FILTER" 2>&1 | tee "$OUT/tests.txt" | grep -vE '^\[ +(RUN|OK) '
  echo "::: tests in $((SECONDS - t0))s"
fi

if want memcheck; then
  t0=$SECONDS
  compute-sanitizer --tool memcheck --error-exitcode 3 "$B/jet_kernel_tests" \
    --gtest_filter="$FILTER:-*Long*:*Golden*" > "$OUT/memcheck.txt" 2>&1
  echo "::: memcheck rc=$? in $((SECONDS - t0))s"; grep -E "ERROR SUMMARY|PASSED|FAILED" "$OUT/memcheck.txt" | tail -5
fi

# Only when named (not part of all): racecheck and synccheck on a few short tests (SAN_FILTER).
if [[ " $STEPS " == *" racecheck "* ]]; then
  for tool in racecheck synccheck; do
    t0=$SECONDS
    compute-sanitizer --tool "$tool" --error-exitcode 3 "$B/jet_kernel_tests" \
      --gtest_filter="${SAN_FILTER:-CudaGatedDeltaChunk.LengthsAroundTheChunk:CudaGatedDeltaChunk.HeadSizes}" \
      > "$OUT/$tool.txt" 2>&1
    echo "::: $tool rc=$? in $((SECONDS - t0))s"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|PASSED|FAILED" "$OUT/$tool.txt" | tail -4
  done
fi

if want bench; then
  t0=$SECONDS
  python3 native/bench/cuda/bench_kernels.py --arch "$ARCH" --only "$(echo $KERNELS | tr ' ' ,)" \
    --out "$OUT/bench.md" ${BENCH_ARGS:-}
  echo "::: bench in $((SECONDS - t0))s"
fi
