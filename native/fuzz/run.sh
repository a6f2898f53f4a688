#!/usr/bin/env bash
# Fuzzes the checkpoint loader (config.json + safetensors header) with N mutated checkpoints
# under ASan+UBSan, split over 2 processes. Exit code 0 = no crash.
# Usage: native/fuzz/run.sh [N=100000] [build-dir=build-fuzz]
set -euo pipefail
N=${1:-100000}
BUILD=${2:-build-fuzz}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
JOBS=${JOBS:-2}
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJET_FUZZ=ON \
  -DJET_SANITIZE=ON -DJET_BUILD_TESTS=OFF > "$BUILD.configure.log" 2>&1 \
  || { cat "$BUILD.configure.log"; exit 1; }
cmake --build "$BUILD" --target jet_loader_mutate -j 2
SEEDS=()
if [[ -d "$ROOT/../shared/fixtures/tiny-jet-a" ]]; then SEEDS+=("$ROOT/../shared/fixtures/tiny-jet-a"); fi
start=$(date +%s)
pids=()
for ((j = 0; j < JOBS; j++)); do
  n=$(( N / JOBS + (j < N % JOBS ? 1 : 0) ))
  "$BUILD/native/fuzz/jet_loader_mutate" -runs="$n" -seed="$((j + 1))" "${SEEDS[@]}" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
echo "fuzz: $N mutated checkpoints in $(( $(date +%s) - start )) s, exit $rc"
exit $rc
