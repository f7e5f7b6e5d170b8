#!/usr/bin/env python3
"""Anchors for attnbench-kernels, measured in the same run: PyTorch's FlashAttention-2 and cuDNN
attention on the shapes of native/bench/bench_shapes.h (same names, same FLOP convention
4 * D * H * (q * ctx + q * q / 2) per sequence, fp16, causal).

  prefill  torch_fa2    SDPA flash backend on [B, H, L, D] (fixed length), or
                        aten._flash_attention_forward varlen (varlen / GQA / chunked rows)
           torch_cudnn  SDPA cuDNN backend on [B, H, L, D] (fixed length; GQA: K/V expanded
                        outside the timed region; chunked rows of one length: a bottom-right
                        causal mask, causal_lower_right); not run on varlen rows
  decode   torch_fa2 / torch_cudnn  SDPA with q_len 1 over contiguous K/V (not paged)

Timing: CUDA events around a batch of calls back to back (--batch-ms of GPU time, as
attnbench-kernels does; 0: one call, which also times Python's dispatch before the launch), 3
warm-up calls, median of --iters batches, input sets rotated so that together they exceed 200 MB
(or 4x L2). Writes JSON (--json) and prints one line per measurement.
"""
import argparse
import json
import math
import statistics
import sys

import torch
import torch.nn.functional as F


def varlen_lengths(n, lo, hi, seed):
    """Same 32-bit LCG as bench_shapes.h varlen()."""
    out, x = [], seed
    for _ in range(n):
        x = (x * 1664525 + 1013904223) & 0xFFFFFFFF
        out.append(lo + (x >> 8) % (hi - lo + 1))
    return out


def shapes(quick):
    P = lambda name, lens, H, Hkv, D, ctx=0: dict(phase="prefill", name=name, lens=lens, H=H, Hkv=Hkv, D=D, ctx=ctx)
    Dd = lambda name, B, L, H, Hkv, D: dict(phase="decode", name=name, lens=[L] * B, H=H, Hkv=Hkv, D=D, ctx=0)
    v = [P("128x256x12x64", [256] * 128, 12, 12, 64), P("16x2048x12x64", [2048] * 16, 12, 12, 64),
         P("8x4096x32x128", [4096] * 8, 32, 32, 128)]
    if not quick:
        v.append(P("1x16384x32x128", [16384], 32, 32, 128))
    v += [P("varlen16 256-2048 12x64", varlen_lengths(16, 256, 2048, 7), 12, 12, 64),
          P("gpt2 varlen64 32-1024 12x64", varlen_lengths(64, 32, 1024, 11), 12, 12, 64),
          P("llama 8x2048 32/8x128", [2048] * 8, 32, 8, 128)]
    if not quick:
        v += [P("16x2048x12x64 page2048", [2048] * 16, 12, 12, 64), P("chunk 8x(1024+1024) 32x128", [1024] * 8, 32, 32, 128, 1024)]
    v.append(Dd("64x2048x12x64 p16", 64, 2048, 12, 12, 64))
    if not quick:
        v += [Dd("64x2048x12x64 p1", 64, 2048, 12, 12, 64), Dd("64x2048x12x64 p256", 64, 2048, 12, 12, 64)]
    v += [Dd("16x8192x32x128 p16", 16, 8192, 32, 32, 128), Dd("1x32768x32x128 p16", 1, 32768, 32, 32, 128)]
    if not quick:
        v += [Dd("1x32768x32x128 p1", 1, 32768, 32, 32, 128), Dd("1x32768x32x128 p256", 1, 32768, 32, 32, 128),
              Dd("llama 64x4096 32/8x128 p16", 64, 4096, 32, 8, 128)]
    return v


BATCH_MS = 2.0  # --batch-ms


def median_ms(fn, n_sets, iters, calls_out=None):
    """Per-call ms: median over iters timings of `calls` back-to-back calls each, divided by calls
    (calls: enough for BATCH_MS of GPU time from one timed call, at most 64; 1 when BATCH_MS is 0)."""
    for i in range(3):
        fn(i % n_sets)
    torch.cuda.synchronize()
    nxt = [0]

    def timed(calls):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(calls):
            fn(nxt[0] % n_sets)
            nxt[0] += 1
        b.record()
        b.synchronize()
        return a.elapsed_time(b) / calls

    calls = 1
    if BATCH_MS > 0:
        calls = max(1, min(64, math.ceil(BATCH_MS / max(timed(1), 1e-3))))
    times = [timed(calls) for _ in range(iters)]
    if calls_out is not None:
        calls_out.append(calls)
    return statistics.median(times)


def n_sets_for(bytes_per_set, min_total):
    return max(1, min(8, math.ceil(min_total / max(bytes_per_set, 1))))


def flops_of(s):
    q_lens = [1] * len(s["lens"]) if s["phase"] == "decode" else s["lens"]
    ctx = [L - 1 for L in s["lens"]] if s["phase"] == "decode" else [s["ctx"]] * len(s["lens"])
    return sum(4.0 * s["D"] * s["H"] * (q * c + q * q / 2) for q, c in zip(q_lens, ctx))


def prefill_rows(s, iters, min_total, dev):
    H, Hkv, D, lens, ctx = s["H"], s["Hkv"], s["D"], s["lens"], s["ctx"]
    B, fixed = len(lens), len(set(lens)) == 1 and ctx == 0
    N, Nk = sum(lens), sum(L + ctx for L in lens)
    per_set = 2 * (2 * N * H * D + 2 * Nk * Hkv * D)
    n = n_sets_for(per_set, min_total)
    sets = [(torch.randn(N, H, D, device=dev, dtype=torch.half), torch.randn(Nk, Hkv, D, device=dev, dtype=torch.half),
             torch.randn(Nk, Hkv, D, device=dev, dtype=torch.half)) for _ in range(n)]
    cu_q = torch.tensor([0] + list(torch.tensor(lens).cumsum(0)), device=dev, dtype=torch.int32)
    cu_k = torch.tensor([0] + list(torch.tensor([L + ctx for L in lens]).cumsum(0)), device=dev, dtype=torch.int32)
    max_q, max_k = max(lens), max(lens) + ctx
    rows, flops = [], flops_of(s)

    def add(backend, fn, nsets):
        try:
            calls = []
            ms = median_ms(fn, nsets, iters, calls)
            rows.append(dict(phase="prefill", shape=s["name"], backend=backend, status="ok", ms=ms, tflops=flops / ms / 1e9,
                             gbps=None, flops=flops, input_sets=nsets, calls_per_timing=calls[0]))
        except Exception as e:  # noqa: BLE001 - report, never crash the run
            rows.append(dict(phase="prefill", shape=s["name"], backend=backend, status="unavailable: " + str(e).splitlines()[0][:200]))
        print(f"prefill {s['name']:<28} {backend:<12} {rows[-1].get('ms') or float('nan'):9.4f} ms "
              f"{rows[-1].get('tflops') or float('nan'):8.1f} TFLOPS {rows[-1]['status'] if rows[-1]['status'] != 'ok' else ''}", flush=True)

    if fixed and Hkv == H:
        bh = [tuple(t.view(B, lens[0], -1, D).transpose(1, 2) for t in st) for st in sets]
        from torch.nn.attention import SDPBackend, sdpa_kernel

        def sdpa(backend):
            def fn(i):
                with sdpa_kernel(backend):
                    F.scaled_dot_product_attention(*bh[i], is_causal=True)
            return fn
        add("torch_fa2", sdpa(SDPBackend.FLASH_ATTENTION), n)
        add("torch_cudnn", sdpa(SDPBackend.CUDNN_ATTENTION), n)
    else:
        def fa2(i):
            q, k, v = sets[i]
            torch.ops.aten._flash_attention_forward(q, k, v, cu_q, cu_k, max_q, max_k, 0.0, True, False)
        add("torch_fa2", fa2, n)
        if fixed:  # GQA: cuDNN on K/V expanded to all heads, outside the timing
            from torch.nn.attention import SDPBackend, sdpa_kernel
            ex = [(q.view(B, lens[0], H, D).transpose(1, 2), k.repeat_interleave(H // Hkv, 1).view(B, lens[0], H, D).transpose(1, 2),
                   v.repeat_interleave(H // Hkv, 1).view(B, lens[0], H, D).transpose(1, 2)) for q, k, v in sets]

            def cudnn(i):
                with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                    F.scaled_dot_product_attention(*ex[i], is_causal=True)
            add("torch_cudnn", cudnn, n)
        if ctx > 0 and len(set(lens)) == 1 and Hkv == H:
            # Chunked prefill (queries are the last L of L + ctx keys): the mask's diagonal ends at
            # the bottom right, which SDPA takes as a CausalBias (cuDNN where its build supports it).
            from torch.nn.attention import SDPBackend, sdpa_kernel
            from torch.nn.attention.bias import causal_lower_right
            L, Lk = lens[0], lens[0] + ctx
            mask = causal_lower_right(L, Lk)
            ch = [(q.view(B, L, H, D).transpose(1, 2), k.view(B, Lk, H, D).transpose(1, 2), v.view(B, Lk, H, D).transpose(1, 2))
                  for q, k, v in sets]

            def cudnn_chunk(i):
                with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                    F.scaled_dot_product_attention(*ch[i], attn_mask=mask)
            add("torch_cudnn", cudnn_chunk, n)
    return rows


def decode_rows(s, iters, min_total, dev):
    H, Hkv, D, lens = s["H"], s["Hkv"], s["D"], s["lens"]
    B, L = len(lens), lens[0]
    kv_bytes = 2.0 * B * L * Hkv * D * 2
    n = n_sets_for(kv_bytes, min_total)
    from torch.nn.attention import SDPBackend, sdpa_kernel
    sets = [(torch.randn(B, H, 1, D, device=dev, dtype=torch.half), torch.randn(B, Hkv, L, D, device=dev, dtype=torch.half),
             torch.randn(B, Hkv, L, D, device=dev, dtype=torch.half)) for _ in range(n)]
    rows = []
    for backend, kind in (("torch_fa2", SDPBackend.FLASH_ATTENTION), ("torch_cudnn", SDPBackend.CUDNN_ATTENTION)):
        def fn(i, kind=kind):
            with sdpa_kernel(kind):
                F.scaled_dot_product_attention(*sets[i], enable_gqa=Hkv != H)
        try:
            calls = []
            ms = median_ms(fn, n, iters, calls)
            rows.append(dict(phase="decode", shape=s["name"], backend=backend, status="ok", ms=ms, tflops=None,
                             gbps=kv_bytes / ms / 1e6, bytes=kv_bytes, input_sets=n, calls_per_timing=calls[0]))
        except Exception as e:  # noqa: BLE001
            rows.append(dict(phase="decode", shape=s["name"], backend=backend, status="unavailable: " + str(e).splitlines()[0][:200]))
        r = rows[-1]
        print(f"decode  {s['name']:<28} {backend:<12} {r.get('ms') or float('nan'):9.4f} ms {r.get('gbps') or float('nan'):8.0f} GB/s "
              f"{'' if r['status'] == 'ok' else r['status']}", flush=True)
    return rows


def main():
    global BATCH_MS
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default="kernels_anchors.json")
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--shape", default="", help="only shapes whose name contains this")
    ap.add_argument("--batch-ms", type=float, default=BATCH_MS,
                    help="GPU time of one timed batch of back-to-back calls (0: one call a timing)")
    ap.add_argument("--phase", default="all", choices=["all", "prefill", "decode"])
    a = ap.parse_args()
    if not 0 <= a.batch_ms <= 1000:
        ap.error(f"--batch-ms takes milliseconds in [0, 1000], got {a.batch_ms}")
    BATCH_MS = a.batch_ms
    if not torch.cuda.is_available():
        print("kernel_anchors: no CUDA device", file=sys.stderr)
        return 2
    dev = torch.device("cuda")
    props = torch.cuda.get_device_properties(dev)
    min_total = max(200e6, 4.0 * getattr(props, "L2_cache_size", 50 << 20))
    rows = []
    for s in shapes(a.quick):
        if a.phase != "all" and a.phase != s["phase"]:
            continue
        if a.shape and a.shape not in s["name"]:
            continue
        rows += prefill_rows(s, a.iters, min_total, dev) if s["phase"] == "prefill" else decode_rows(s, a.iters, min_total, dev)
        torch.cuda.empty_cache()
    doc = dict(schema="attnbench.kernels.anchors/1", device=props.name, torch=torch.__version__,
               cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(), rows=rows)
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"anchors: {len(rows)} rows -> {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
