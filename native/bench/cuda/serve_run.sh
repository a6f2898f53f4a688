#!/usr/bin/env bash
# serve_run.sh - on the GPU machine (run tool), from the repository root: the serving table of
# docs/serving.md. Builds libjet (CUDA) and jet_model_bench, writes a full-size random 2B
# checkpoint (with the Qwen tokenizer), starts `jetnative serve --device cuda` (the trimmed CLI
# of serve_pack.sh) and runs `jetnative bench serve` against it for each shape, then the engine's
# raw decode step at the same batch and context (jet_model_bench) for the ratio.
# Needs (carry): .serve/ (serve_pack.sh) and .carry/deps/prefix (nlohmann-json).
#   SHAPES="8192:256 65536:128" bash native/bench/cuda/serve_run.sh     (prompt:output tokens)
#   ENGINE_ONLY=1: the engine's step alone (no .NET, no server)
set -uo pipefail
ROOT=$PWD
OUT=${OUT:-$ROOT/out}; mkdir -p "$OUT"
B=/tmp/jet-serve-build
CLI=/tmp/jet-serve/cli/JetNative.Cli
SHAPES=${SHAPES:-"8192:256 65536:128"}
BATCH=${BATCH:-128}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,power.limit --format=csv | tee "$OUT/gpu.txt"
cmake -S . -B $B -G Ninja -DJET_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DJET_BUILD_TESTS=OFF \
  -DCMAKE_PREFIX_PATH="$ROOT/.carry/deps/prefix" > "$OUT/build.log" 2>&1 &&
  cmake --build $B --target jet jet_model_bench >> "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
[ "${ENGINE_ONLY:-0}" = 1 ] || { mkdir -p /tmp/jet-serve && tar -C /tmp/jet-serve -xJf .serve/cli.tar.xz && cp $B/native/libjet.so /tmp/jet-serve/cli/
M=/tmp/jet-2b
$CLI random-checkpoint -o $M --config 2b > "$OUT/checkpoint.log" 2>&1 || { cat "$OUT/checkpoint.log"; exit 1; }
xz -dc .serve/tokenizer/tokenizer.json.xz > $M/tokenizer.json && cp .serve/tokenizer/tokenizer_config.json $M/; }
for shape in $SHAPES; do
  P=${shape%%:*}; N=${shape##*:}; CTX=$((P + N + 64))
  if [ "${ENGINE_ONLY:-0}" = 1 ]; then
    $B/native/jet_model_bench --prefill $P --ctx $((P + N / 2)) --batches $BATCH --steps 16 \
      --out "$OUT/engine-$P.md" > /dev/null 2> "$OUT/engine-$P.log"
    grep -E "^\| tg" "$OUT/engine-$P.md"; continue
  fi
  $CLI serve -m $M --device cuda --port 8090 --max-seqs $BATCH -c $CTX --max-queue 1024 --timeout 1200 \
    > "$OUT/serve-$P.log" 2>&1 &
  pid=$!
  for i in $(seq 1 120); do curl -sf http://127.0.0.1:8090/health >/dev/null && break; sleep 1; done
  $CLI bench serve --base-url http://127.0.0.1:8090 --num-prompts $BATCH --input-len $P --output-len $N \
    --max-concurrency $BATCH --vocab-size 151643 --timeout 900 --json "$OUT/bench-serve-$P.json" 2>&1 | tee "$OUT/bench-serve-$P.txt"
  curl -s http://127.0.0.1:8090/metrics | grep -E "^jet" > "$OUT/metrics-$P.txt"
  # SIGTERM (a background job of a script ignores SIGINT) drains and stops the server.
  kill -TERM $pid; timeout 60 tail --pid=$pid -f /dev/null || kill -KILL $pid
  # The engine alone: one step of the same batch at the same context (graph replay, and with
  # sampling on the GPU), in the same call on the same GPU.
  $B/native/jet_model_bench --prefill $P --ctx $((P + N / 2)) --batches $BATCH --steps 16 \
    --out "$OUT/engine-$P.md" > /dev/null 2> "$OUT/engine-$P.log"
  grep -E "^\| tg" "$OUT/engine-$P.md"
done
