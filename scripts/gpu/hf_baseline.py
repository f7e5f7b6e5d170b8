#!/usr/bin/env python3
"""Hugging Face transformers' own generate() on the offline seed workload, as the anchor the engine
is compared with: GPT-2 small shapes (random init, seeded), fp16, 128 prompts x 256 random token
ids -> 64 new tokens (min_new_tokens = max_new_tokens, so EOS never stops it), all 128 in one
batch, greedy. Times (warm: the first run of each configuration is not timed; median of --repeats;
torch.cuda.synchronize around each run):
  eager_s           default dynamic KV cache, eager attention
  static_compile_s  cache_implementation="static" (transformers compiles the forward itself)
Prints one JSON line.
"""
import argparse
import json
import statistics
import sys
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--num-prompts", type=int, default=128)
    ap.add_argument("--input-len", type=int, default=256)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-static", action="store_true")
    args = ap.parse_args()

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config()).half().cuda().eval()
    ids = torch.randint(0, 50257, (args.num_prompts, args.input_len), generator=torch.Generator().manual_seed(1)).cuda()
    mask = torch.ones_like(ids)

    def run(**kw) -> float:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(ids, attention_mask=mask, max_new_tokens=args.output_len,
                                 min_new_tokens=args.output_len, do_sample=False, pad_token_id=50256, **kw)
        torch.cuda.synchronize()
        assert out.shape[1] == args.input_len + args.output_len
        return time.perf_counter() - t0

    res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
           "workload": f"{args.num_prompts}x{args.input_len}->{args.output_len} fp16 greedy"}
    run()
    res["eager_s"] = round(statistics.median(run() for _ in range(args.repeats)), 4)
    if not args.skip_static:
        res["static_first_run_s"] = round(run(cache_implementation="static"), 2)
        res["static_compile_s"] = round(statistics.median(run(cache_implementation="static") for _ in range(args.repeats)), 4)
    res["output_tok_per_s_eager"] = round(args.num_prompts * args.output_len / res["eager_s"])
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
