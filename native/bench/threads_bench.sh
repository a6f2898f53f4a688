#!/usr/bin/env bash
# threads_bench.sh - decode/prefill rates of `jetnative bench` at 1, 2, 4 and 8 threads and the
# default, on an otherwise idle machine and beside one busy process (`yes > /dev/null`), to show
# that the CPU pool neither spins against the scheduler nor collapses when threads outnumber
# the free cores. Several builds (e.g. before/after) are measured interleaved, row by row, so
# that they see the same machine load. Prints one markdown table; figures in README.md here.
#   native/bench/threads_bench.sh [LABEL=path/to/jetnative ...]
# Default: this checkout's CLI (src/JetNative.Cli/bin/Release/net10.0/jetnative).
# Environment: MODEL (default models/jetnative-demo), THREADS (default "1 2 4 8 0"; 0 = the
# default), BENCH_ARGS (default "-p 64 -n 64 -d 0 -r 3").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
model="${MODEL:-$root/models/jetnative-demo}"
threads="${THREADS:-1 2 4 8 0}"
read -r -a bench_args <<< "${BENCH_ARGS:--p 64 -n 64 -d 0 -r 3}"
[[ $# -gt 0 ]] || set -- "this=$root/src/JetNative.Cli/bin/Release/net10.0/jetnative"
labels=(); clis=()
for arg in "$@"; do
    labels+=("${arg%%=*}"); clis+=("${arg#*=}")
    [[ -x "${arg#*=}" ]] || { echo "error: jetnative not found at ${arg#*=} (build it: ./build.sh managed)" >&2; exit 1; }
done

busy_pid=""
stop_busy() { if [[ -n "$busy_pid" ]]; then kill "$busy_pid" 2>/dev/null || true; wait "$busy_pid" 2>/dev/null || true; busy_pid=""; fi; }
trap stop_busy EXIT

# rates CLI THREADS: prints "pp t/s | tg t/s" of one bench run.
rates() {
    local cli="$1" t="$2" out pp tg
    local targs=()
    [[ "$t" != 0 ]] && targs=(-t "$t")
    out="$("$cli" bench -m "$model" "${targs[@]}" "${bench_args[@]}" 2>/dev/null)" || { echo "failed | failed"; return; }
    pp="$(awk -F'|' '$8 ~ /pp/ { gsub(/^ +| +$/, "", $9); print $9 }' <<< "$out")"
    tg="$(awk -F'|' '$8 ~ /tg/ { gsub(/^ +| +$/, "", $9); print $9 }' <<< "$out")"
    echo "${pp:--} | ${tg:--}"
}

header="| load | threads |"; rule="| ---- | ------: |"
for l in "${labels[@]}"; do header+=" pp t/s $l | tg t/s $l |"; rule+=" ---: | ---: |"; done
echo "$header"; echo "$rule"
for load in idle busy; do
    if [[ "$load" == busy ]]; then yes > /dev/null & busy_pid=$!; sleep 0.5; fi
    for t in $threads; do
        label="$t"; [[ "$t" == 0 ]] && label="default"
        row="| $load | $label |"
        for cli in "${clis[@]}"; do row+=" $(rates "$cli" "$t") |"; done
        echo "$row"
    done
    stop_busy
done
echo "(load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; bench ${bench_args[*]})"
