#!/usr/bin/env python3
"""Llama-family numerics on the GPU host: the engine's fp16/bf16 teacher-forced logprobs against HF
transformers in fp32, next to HF's own fp16/bf16 forward against the same fp32 reference (issue 14:
the engine's error must not exceed 1.5x HF's own in that dtype), and greedy tokens across attention
backends (identical, except at a measured near tie).

Models: the committed tiny fixtures of each family (native/tests/fixtures/{llama,mistral,qwen}*) and
"8B-shaped" checkpoints made here with seeded random weights: Llama-3.1-8B's and Qwen3-8B's exact layer
shapes, vocabularies and rope settings, with --layers layers (default 4; the full depth only multiplies
the same shapes). Each is saved in bf16 (as hub checkpoints are) and HF runs those stored values.

Prints one JSON line per (model, dtype, backend) and per greedy comparison, then a table and
OK / NOT OK; exit code 1 on failure. Writes $OUT/llama_check.json when OUT is set.
  python3 scripts/gpu/llama_check.py --engine-score native/build/cuda_score --engine native/build/attnbench-engine
"""
import argparse
import json
import os
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(ROOT, "native", "tests", "fixtures")
TORCH_DTYPE = {"fp16": torch.float16, "bf16": torch.bfloat16}


def eight_b_shaped(kind, layers, out_dir, seed):
    torch.manual_seed(seed)
    if kind == "llama-3.1-8b":
        cfg = LlamaConfig(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=layers,
                          num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=131072,
                          rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=128000,
                          eos_token_id=[128001, 128008, 128009],
                          rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                                               high_freq_factor=4.0, original_max_position_embeddings=8192))
        cls = LlamaForCausalLM
    else:
        cfg = Qwen3Config(vocab_size=151936, hidden_size=4096, intermediate_size=12288, num_hidden_layers=layers,
                          num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
                          rms_norm_eps=1e-6, tie_word_embeddings=False, eos_token_id=151645,
                          rope_parameters=dict(rope_type="default", rope_theta=1000000.0))
        cls = Qwen3ForCausalLM
    with torch.device("cuda"):
        model = cls(cfg)
    model.to(torch.bfloat16).save_pretrained(out_dir, safe_serialization=True)
    del model
    torch.cuda.empty_cache()
    return out_dir


def hf_logprobs(model, ids):
    with torch.no_grad():
        logits = model(ids[None].cuda()).logits[0].double()
    return torch.log_softmax(logits[:-1], -1).gather(1, ids[1:, None].cuda())[:, 0].cpu()


def engine_logprobs(binary, model_dir, ids, dtype, backend):
    p = subprocess.run([binary, "--model", model_dir, "--dtype", dtype, "--prefill-attn-backend", backend,
                        "--tokens", ",".join(map(str, ids.tolist()))], capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip()[-300:]
    return torch.tensor(json.loads(p.stdout)["logprobs"], dtype=torch.float64), None


def engine_greedy(binary, model_dir, prompt, n, dtype, backend):
    p = subprocess.run([binary, "--model", model_dir, "--device", "cuda", "--dtype", dtype, "--kv-cache-gb", "2",
                        "--prefill-attn-backend", backend, "--decode-attn-backend", backend if backend in ("naive", "fused", "flashinfer") else "fused",
                        "--generate", "--prompt-ids", ",".join(map(str, prompt)), "--max-tokens", str(n),
                        "--temperature", "0", "--ignore-eos"], capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip()[-300:]
    return json.loads(p.stdout.strip().splitlines()[-1]), None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine-score", default="native/build/cuda_score")
    ap.add_argument("--engine", default="native/build/attnbench-engine")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--lengths", default="300,2000")
    ap.add_argument("--backends", default="naive,fused,flashattn,cudnn,flashinfer")
    ap.add_argument("--backends-8b", default="fused,flashattn,cudnn", help="backends for the 8B-shaped checkpoints")
    ap.add_argument("--ratio", type=float, default=1.5)
    ap.add_argument("--skip-8b", action="store_true")
    args = ap.parse_args()

    models = [os.path.join(FIXTURES, d) for d in sorted(os.listdir(FIXTURES))
              if not d.startswith("gpt2") and os.path.exists(os.path.join(FIXTURES, d, "config.json"))]
    if not args.skip_8b:
        for kind in ("llama-3.1-8b", "qwen3-8b"):
            models.append(eight_b_shaped(kind, args.layers, f"/tmp/attnbench-{kind}-{args.layers}l", 7))
    rows, ok = [], True
    gen = torch.Generator().manual_seed(11)
    for model_dir in models:
        name = os.path.basename(model_dir)
        backends = (args.backends_8b if "8b" in name else args.backends).split(",")
        ref_model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).cuda().eval()
        vocab, n_ctx = ref_model.config.vocab_size, ref_model.config.max_position_embeddings
        seqs = [torch.randint(0, vocab, (min(L, n_ctx),), generator=gen) for L in map(int, args.lengths.split(","))]
        refs = [hf_logprobs(ref_model, ids) for ids in seqs]
        del ref_model
        torch.cuda.empty_cache()
        for dtype in ("fp16", "bf16"):
            half = AutoModelForCausalLM.from_pretrained(model_dir, dtype=TORCH_DTYPE[dtype]).cuda().eval()
            hf_err = [float((hf_logprobs(half, ids) - ref).abs().mean()) for ids, ref in zip(seqs, refs)]
            del half
            torch.cuda.empty_cache()
            for backend in backends:
                errs, problem = [], None
                for ids, ref in zip(seqs, refs):
                    got, problem = engine_logprobs(args.engine_score, model_dir, ids, dtype, backend)
                    if got is None:
                        break
                    errs.append(float((got - ref).abs().mean()))
                if problem and "unavailable" in problem:
                    rows.append(dict(model=name, dtype=dtype, backend=backend, status="unavailable", why=problem[-120:]))
                    continue
                row = dict(model=name, dtype=dtype, backend=backend, lengths=[len(s) for s in seqs],
                           engine_mean_abs_err=[round(e, 6) for e in errs], hf_mean_abs_err=[round(e, 6) for e in hf_err])
                if problem:
                    row.update(status="FAIL", why=problem)
                    ok = False
                else:
                    worst = max(e / max(h, 1e-9) for e, h in zip(errs, hf_err))
                    passed = all(e <= args.ratio * h + 1e-5 for e, h in zip(errs, hf_err))
                    row.update(ratio_to_hf=round(worst, 3), status="ok" if passed else "FAIL")
                    ok &= passed
                rows.append(row)
                print(json.dumps(row), flush=True)
        # Greedy across backends (bf16 for the 8B shapes, fp16 for the fixtures), from one prompt.
        dtype = "bf16" if "8b" in name else "fp16"
        prompt = torch.randint(0, vocab, (min(200, n_ctx - 40),), generator=gen).tolist()
        base = None
        for backend in backends:
            out, problem = engine_greedy(args.engine, model_dir, prompt, 32, dtype, backend)
            if out is None:
                if "unavailable" not in (problem or ""):
                    ok = False
                    rows.append(dict(model=name, greedy=backend, status="FAIL", why=problem))
                continue
            if base is None:
                base = (backend, out)
                continue
            a, b = base[1], out
            k = next((i for i, (x, y) in enumerate(zip(a["tokens"], b["tokens"])) if x != y), None)
            if k is None:
                rows.append(dict(model=name, greedy=f"{base[0]} vs {backend}", status="identical"))
            else:
                gap = abs(a["logprobs"][k] - b["logprobs"][k])
                near_tie = gap < 0.05
                rows.append(dict(model=name, greedy=f"{base[0]} vs {backend}", diverge_at=k, chosen_logprob_gap=round(gap, 4),
                                 status="near tie" if near_tie else "FAIL"))
                ok &= near_tie
            print(json.dumps(rows[-1]), flush=True)
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "llama_check.json"), "w") as f:
            json.dump(rows, f, indent=1)
    print("\nmodel                 dtype backend     engine err (mean |dlogp|)   HF own err     ratio  status")
    for r in rows:
        if "engine_mean_abs_err" in r:
            print(f"{r['model'][:21]:21s} {r['dtype']:5s} {r['backend']:11s} {str(r['engine_mean_abs_err']):27s} "
                  f"{str(r['hf_mean_abs_err']):22s} {r.get('ratio_to_hf', '-')!s:6s} {r['status']}")
    print(("OK" if ok else "NOT OK") + f" llama_check: engine error <= {args.ratio}x HF's own in fp16/bf16; greedy across backends")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
