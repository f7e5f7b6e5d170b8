#!/usr/bin/env python3
"""Teacher-forced logprobs of the CUDA engine (fp16) against Hugging Face transformers (fp32) on
GPT-2-small shapes with seeded random weights.

Builds GPT2LMHeadModel(GPT2Config()) with torch.manual_seed(seed), save_pretrained()s it, scores
random token sequences with HF and with the engine's cuda_score binary (which links attnbench_core
and calls make_cuda_runner + ModelRunner::score), and checks max |diff| <= tol.
Prints one JSON line per length and a final OK / NOT OK line; exit code 1 on failure.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine-score", default="native/build-gpu/cuda_score")
    ap.add_argument("--model-dir", default="/tmp/attnbench-hf-gpt2")
    ap.add_argument("--lengths", default="17,128,1024")
    ap.add_argument("--tol", type=float, default=5e-2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="fp16")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    model = GPT2LMHeadModel(GPT2Config()).eval()
    os.makedirs(args.model_dir, exist_ok=True)
    model.save_pretrained(args.model_dir, safe_serialization=True)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    model = model.to(dev)
    gen = torch.Generator().manual_seed(args.seed + 1)
    ok = True
    for length in [int(x) for x in args.lengths.split(",")]:
        ids = torch.randint(0, model.config.vocab_size, (length,), generator=gen)
        with torch.no_grad():
            logits = model(ids[None].to(dev)).logits[0].double()
        ref = torch.log_softmax(logits[:-1], -1).gather(1, ids[1:, None].to(dev))[:, 0].cpu()
        t0 = time.perf_counter()
        p = subprocess.run([args.engine_score, "--model", args.model_dir, "--dtype", args.dtype,
                            "--tokens", ",".join(map(str, ids.tolist()))], capture_output=True, text=True)
        wall_s = time.perf_counter() - t0
        if p.returncode != 0:
            print(json.dumps({"length": length, "error": p.stderr.strip()[-500:]}))
            ok = False
            continue
        got = torch.tensor(json.loads(p.stdout)["logprobs"], dtype=torch.float64)
        diff = (got - ref).abs()
        row = {"length": length, "max_abs_diff": round(diff.max().item(), 5), "mean_abs_diff": round(diff.mean().item(), 6),
               "mean_logprob_hf": round(ref.mean().item(), 4), "engine_wall_s": round(wall_s, 2), "tol": args.tol}
        print(json.dumps(row))
        ok &= bool(diff.max().item() <= args.tol)
    print(("OK" if ok else "NOT OK") + f" hf_check: engine {args.dtype} teacher-forced logprobs vs HF fp32, tol {args.tol}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
