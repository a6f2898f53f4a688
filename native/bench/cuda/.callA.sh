set -o pipefail; export OUT PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
KERNELS="attention_decode gated_delta_chunk" timeout 170 bash native/bench/cuda/device_run.sh build test > $OUT/k_tests.log 2>&1; echo "kernel tests rc=$?"; grep -E "FAILED|PASSED|error|::: " $OUT/k_tests.log | head -20; grep -E "^\[ (attn decode|gdc)" $OUT/k_tests.log | head -30
timeout 200 python3 native/bench/cuda/bench_kernels.py --only attention_prefill,attention_decode,gated_delta_chunk --profile --out $OUT/kbench.md > $OUT/kbench.log 2>&1; echo "kbench rc=$?"; grep -v "^+" $OUT/kbench.log | tail -30
BENCH_ARGS="--prefill 65536 --batches 1,128,max --steps 12" BENCH_TIMEOUT=200 timeout 215 bash native/bench/cuda/model_run.sh build bench > $OUT/model.log 2>&1; echo "model rc=$?"; tail -5 $OUT/model.log; cat $OUT/perf_table.md 2>/dev/null
