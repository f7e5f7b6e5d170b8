#!/usr/bin/env python3
"""Short table for scripts/gpu/kernels-check.sh (the GPU host has no Node): attnbench-kernels'
JSON next to the PyTorch anchors of the same run, with ratios to FA2 and cuDNN. The full merge,
chart and outputs/kernels_<ts>/ come from `attnbench kernels --from` (src/commands/kernels.ts)."""
import json
import sys


def load(p):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"rows": []}


def main(native_path, anchors_path):
    native, anchors = load(native_path), load(anchors_path)
    anc = {(r["phase"], r["shape"], r["backend"]): r for r in anchors["rows"] if r.get("status") == "ok"}
    print(f"\n{'phase':<7} {'shape':<28} {'backend':<11} {'ms':>9} {'TFLOPS':>7} {'GB/s':>6} {'xFA2':>6} {'xcuDNN':>6} check")
    for r in native["rows"]:
        if r.get("status") != "ok":
            continue
        fa2, cud = anc.get((r["phase"], r["shape"], "torch_fa2")), anc.get((r["phase"], r["shape"], "torch_cudnn"))
        ratio = lambda a: f"{a['ms'] / r['ms']:6.2f}" if a else "     -"
        tf = f"{r['tflops']:7.1f}" if r.get("tflops") else "      -"
        gb = f"{r['gbps']:6.0f}" if r.get("gbps") else "     -"
        print(f"{r['phase']:<7} {r['shape']:<28} {r['backend']:<11} {r['ms']:9.4f} {tf} {gb} {ratio(fa2)} {ratio(cud)} "
              f"{'ok' if r.get('ok') else 'FAIL'}")
    for k, a in sorted(anc.items()):
        tf = f"{a['tflops']:7.1f}" if a.get("tflops") else "      -"
        gb = f"{a['gbps']:6.0f}" if a.get("gbps") else "     -"
        print(f"{k[0]:<7} {k[1]:<28} {k[2]:<11} {a['ms']:9.4f} {tf} {gb}  (anchor)")
    bad = [r for r in native["rows"] if r.get("status") == "ok" and not r.get("ok")]
    print(f"checks: {'all ok' if not bad else str(len(bad)) + ' FAILED'}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
