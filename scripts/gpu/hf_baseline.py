#!/usr/bin/env python3
"""Hugging Face transformers' own generate() on an offline workload, as the anchor the engine is
compared with: GPT-2 small shapes (default, fp16) or --model llama-3.1-8b (Llama 3.1 8B's shapes, bf16),
random init (seeded), --num-prompts x --input-len random token ids -> --output-len new tokens
(min_new_tokens = max_new_tokens, so EOS never stops it), all prompts in one batch, greedy. Times (warm: the first run of each configuration is not timed; median of --repeats;
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
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM


def make_model(name):
    if name == "gpt2":
        return GPT2LMHeadModel(GPT2Config()).half().cuda().eval(), torch.float16, 50256
    if name == "llama-3.1-8b":
        cfg = LlamaConfig(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                          num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=131072,
                          rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=128000, eos_token_id=128001,
                          rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                                               high_freq_factor=4.0, original_max_position_embeddings=8192))
        with torch.device("cuda"):
            model = LlamaForCausalLM(cfg).to(torch.bfloat16)
        return model.eval(), torch.bfloat16, 128001
    raise SystemExit(f"unknown --model {name} (gpt2, llama-3.1-8b)")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--num-prompts", type=int, default=128)
    ap.add_argument("--input-len", type=int, default=256)
    ap.add_argument("--output-len", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-static", action="store_true")
    ap.add_argument("--skip-eager", action="store_true")
    ap.add_argument("--model", default="gpt2")
    args = ap.parse_args()

    torch.manual_seed(0)
    model, dtype, pad_id = make_model(args.model)
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (args.num_prompts, args.input_len), generator=torch.Generator().manual_seed(1)).cuda()
    mask = torch.ones_like(ids)

    def run(**kw) -> float:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(ids, attention_mask=mask, max_new_tokens=args.output_len,
                                 min_new_tokens=args.output_len, do_sample=False, pad_token_id=pad_id, **kw)
        torch.cuda.synchronize()
        assert out.shape[1] == args.input_len + args.output_len
        return time.perf_counter() - t0

    import transformers
    res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "transformers": transformers.__version__,
           "model": args.model, "workload": f"{args.num_prompts}x{args.input_len}->{args.output_len} {str(dtype)[6:]} greedy"}
    if not args.skip_eager:
        run()
        res["eager_s"] = round(statistics.median(run() for _ in range(args.repeats)), 4)
        res["output_tok_per_s_eager"] = round(args.num_prompts * args.output_len / res["eager_s"])
    if not args.skip_static:
        res["static_first_run_s"] = round(run(cache_implementation="static"), 2)
        res["static_compile_s"] = round(statistics.median(run(cache_implementation="static") for _ in range(args.repeats)), 4)
    times = [v for k, v in res.items() if k in ("eager_s", "static_compile_s")]
    res["fastest_s"] = min(times) if times else None
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
