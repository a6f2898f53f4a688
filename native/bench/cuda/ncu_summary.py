#!/usr/bin/env python3
"""ncu_summary.py - sums an `ncu --csv` run (metrics gpu__time_duration.sum, dram__bytes_read.sum,
dram__bytes_write.sum) per kernel name: count, total time and DRAM bandwidth. Used to profile one
batch-1 decode step of the 2B on the GPU machine (docs/perf.md, "Where the time goes").
    python3 native/bench/cuda/ncu_summary.py ncu.csv [copy_bandwidth_GBps]"""
import csv
import re
import sys
from collections import defaultdict


def to_float(s):
    return float(s.replace(",", ""))


def main():
    rows = list(csv.DictReader(line for line in open(sys.argv[1]) if line.startswith('"')))
    copy_bw = float(sys.argv[2]) if len(sys.argv) > 2 else None
    units = {"ns": 1e-9, "us": 1e-6, "usecond": 1e-6, "nsecond": 1e-9, "msecond": 1e-3,
             "byte": 1, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9}
    agg = defaultdict(lambda: [set(), 0.0, 0.0])  # launch ids, seconds, bytes
    for r in rows:
        name = re.sub(r"\(.*", "", r["Kernel Name"]).replace("void ", "")
        name = re.sub(r"jet::cuda::(\(anonymous namespace\)|<unnamed>)::", "", name)
        val = to_float(r["Metric Value"]) * units.get(r["Metric Unit"], 1)
        a = agg[name]
        a[0].add(r["ID"])
        if r["Metric Name"] == "gpu__time_duration.sum":
            a[1] += val
        else:
            a[2] += val
    total_t = sum(a[1] for a in agg.values())
    total_b = sum(a[2] for a in agg.values())
    print("| kernel | launches | time (ms) | DRAM GB | GB/s" + (" | % of copy |" if copy_bw else " |"))
    print("|---|---:|---:|---:|---:" + ("|---:|" if copy_bw else "|"))
    for name, (ids, t, b) in sorted(agg.items(), key=lambda kv: -kv[1][1]):
        bw = b / t / 1e9 if t else 0
        extra = f" | {100 * bw / copy_bw:.0f}% |" if copy_bw else " |"
        print(f"| {name} | {len(ids)} | {t * 1e3:.3f} | {b / 1e9:.3f} | {bw:.0f}{extra}")
    bw = total_b / total_t / 1e9
    extra = f" | {100 * bw / copy_bw:.0f}% |" if copy_bw else " |"
    print(f"| total | {sum(len(a[0]) for a in agg.values())} | {total_t * 1e3:.3f} | "
          f"{total_b / 1e9:.3f} | {bw:.0f}{extra}")


if __name__ == "__main__":
    main()
