#!/usr/bin/env python3
"""Kernel times from Nsight Compute CSV at locked clocks, for comparing kernels whose boost-clock
times move with power and temperature (docs/kernels.md, "Locked-clock comparisons").

  ncu --clock-control base --metrics gpu__time_duration.sum,sm__cycles_elapsed.avg.per_second --csv \
      -k regex:<kernels> <command> > x.csv
  python3 scripts/gpu/ncu_times.py x.csv [--flops F] [--label L]

Prints one line per kernel name: launches, min and median duration (us), the SM clock, and with
--flops the TFLOPS of the median at that clock. --json appends the same as one JSON line per kernel.
"""
import argparse
import csv
import json
import statistics
import sys


def kernel_times(path):
    rows = [r for r in csv.reader(open(path, newline="")) if len(r) > 5]
    if not rows or "Kernel Name" not in rows[0]:
        raise ValueError(f"{path}: no Nsight Compute CSV header (did ncu profile any kernel?)")
    hdr = rows[0]
    ki, mi, vi, ui = (hdr.index(k) for k in ("Kernel Name", "Metric Name", "Metric Value", "Metric Unit"))
    times, clocks = {}, {}
    for r in rows[1:]:
        if len(r) <= max(ki, mi, vi, ui):
            continue
        try:
            v = float(r[vi].replace(",", ""))
        except ValueError:
            continue
        scale = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3}
        if r[mi] == "gpu__time_duration.sum":
            times.setdefault(r[ki], []).append(v * scale.get(r[ui], float("nan")))
        elif r[mi].startswith("sm__cycles_elapsed.avg.per_second"):
            unit = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}.get(r[ui].lower(), float("nan"))
            clocks.setdefault(r[ki], []).append(v * unit / 1e6)
    return times, clocks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--flops", type=float, default=0.0, help="FLOPs of one launch (TFLOPS column)")
    ap.add_argument("--label", default="")
    ap.add_argument("--json", default="", help="append one JSON line per kernel to this file")
    a = ap.parse_args()
    try:
        times, clocks = kernel_times(a.csv)
    except (OSError, ValueError) as e:
        print(f"ncu_times: {e}", file=sys.stderr)
        return 2
    for name, t in times.items():
        med = statistics.median(t)
        clk = statistics.median(clocks.get(name, [float("nan")]))
        tf = a.flops / med / 1e6 if a.flops and med > 0 else None
        short = name.split("(")[0][:70]
        print(f"{a.label:<16} {short:<70} n={len(t):<3} min={min(t):9.1f} us median={med:9.1f} us "
              f"clock={clk:6.0f} MHz" + (f" {tf:7.1f} TFLOPS" if tf else ""))
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps(dict(label=a.label, kernel=name[:300], launches=len(t), min_us=min(t), median_us=med,
                                        clock_mhz=clk, tflops=tf)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
