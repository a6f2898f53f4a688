#!/usr/bin/env bash
# threads_bench.sh - decode/prefill rates of `jetnative bench` at 1, 2, 4 and 8 threads and the
# default, on an otherwise idle machine and beside one busy process (`yes > /dev/null`), to show
# that the CPU pool neither spins against the scheduler nor collapses when threads outnumber
# the free cores. Prints one markdown table; see native/bench/README.md for measured figures.
#   native/bench/threads_bench.sh [path/to/jetnative] [model]
# Environment: THREADS (default "1 2 4 8 0"; 0 = the default), BENCH_ARGS (default
# "-p 128 -n 128 -d 0 -r 3").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cli="${1:-$root/src/JetNative.Cli/bin/Release/net10.0/jetnative}"
model="${2:-$root/models/jetnative-demo}"
threads="${THREADS:-1 2 4 8 0}"
read -r -a bench_args <<< "${BENCH_ARGS:--p 128 -n 128 -d 0 -r 3}"
[[ -x "$cli" ]] || { echo "error: jetnative not found at $cli (build it: ./build.sh managed)" >&2; exit 1; }

busy_pid=""
stop_busy() { if [[ -n "$busy_pid" ]]; then kill "$busy_pid" 2>/dev/null || true; wait "$busy_pid" 2>/dev/null || true; busy_pid=""; fi; }
trap stop_busy EXIT

# Prints "pp t/s | tg t/s" from one bench run.
rates() {
    local t="$1" out
    local targs=()
    [[ "$t" != 0 ]] && targs=(-t "$t")
    out="$("$cli" bench -m "$model" "${targs[@]}" "${bench_args[@]}" 2>/dev/null)" || { echo "failed | failed"; return; }
    local pp tg
    pp="$(awk -F'|' '$8 ~ /pp/ { gsub(/^ +| +$/, "", $9); print $9 }' <<< "$out")"
    tg="$(awk -F'|' '$8 ~ /tg/ { gsub(/^ +| +$/, "", $9); print $9 }' <<< "$out")"
    echo "${pp:--} | ${tg:--}"
}

echo "| load | threads | pp t/s | tg t/s |"
echo "| ---- | ------: | -----: | -----: |"
for load in idle busy; do
    if [[ "$load" == busy ]]; then yes > /dev/null & busy_pid=$!; sleep 0.5; fi
    for t in $threads; do
        label="$t"; [[ "$t" == 0 ]] && label="default"
        echo "| $load | $label | $(rates "$t") |"
    done
    stop_busy
done
echo "(load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs)"
