#!/usr/bin/env python3
"""Golden fixtures for the native engine: tiny checkpoints of each model family (GPT-2, Llama, Mistral,
Qwen2, Qwen3) made by Hugging Face transformers, with HF's own greedy tokens and logprobs, for
native/tests/test_golden.cpp (and cuda_runner_test on the GPU host).

Needs torch + transformers + safetensors (CPU torch is enough):
    python3 -m venv .venv && .venv/bin/pip install torch transformers safetensors
    .venv/bin/python scripts/make-fixtures.py            # or: bash scripts/make-fixtures.sh
    .venv/bin/python scripts/make-fixtures.py llama-gqa  # only the named fixtures

Writes native/tests/fixtures/<name>/{config.json, model.safetensors (or shards + index), expected.json}.
The fixtures are committed; rerun only when changing them. Each checkpoint stays well under 1 MB.

expected.json:
  {"greedy": [{"prompt": [...], "tokens": [...], "logprobs": [...]}, ...],
   "teacher_forced": [{"tokens": [...], "logprobs": [...]}]}     # logprobs[i] = log p(tokens[i+1] | ..i)
Greedy = argmax of the fp32 logits (lowest index on ties), EOS never stops it; logprob = log_softmax of
the raw logits at the chosen token. Models saved in fp16/bf16 are evaluated by HF in fp32 after loading,
so the golden values test our loading of those dtypes, not half-precision arithmetic.
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import (AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM,
                          MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config,
                          Qwen3ForCausalLM)
from transformers.utils import logging as hf_logging

hf_logging.disable_progress_bar()

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "native", "tests", "fixtures")
NEW_TOKENS = 12


LLAMA_BASE = dict(vocab_size=256, max_position_embeddings=128, hidden_size=64, intermediate_size=96,
                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, initializer_range=0.1,
                  rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=1, tie_word_embeddings=False)
FAMILIES = {
    "gpt2": (GPT2Config, GPT2LMHeadModel, dict(vocab_size=256, n_positions=128, n_embd=64, n_layer=2, n_head=4,
                                                initializer_range=0.1, activation_function="gelu_new",
                                                resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0,
                                                eos_token_id=1)),
    "llama": (LlamaConfig, LlamaForCausalLM, LLAMA_BASE),
    "mistral": (MistralConfig, MistralForCausalLM, dict(LLAMA_BASE, sliding_window=None)),
    "qwen2": (Qwen2Config, Qwen2ForCausalLM, dict(LLAMA_BASE, rms_norm_eps=1e-6, tie_word_embeddings=True)),
    "qwen3": (Qwen3Config, Qwen3ForCausalLM, dict(LLAMA_BASE, rms_norm_eps=1e-6, head_dim=32)),
}


def make_model(seed, family="gpt2", **cfg):
    torch.manual_seed(seed)
    config_cls, model_cls, base = FAMILIES[family]
    base = dict(base)
    base.update(cfg)
    model = model_cls(config_cls(**base)).eval()
    # HF initialises biases to 0 and layer-norm weights to 1; perturb everything so a loader that
    # drops a bias or a norm weight cannot pass.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def prompts_for(vocab, n_ctx, seed):
    g = torch.Generator().manual_seed(seed)
    lengths = [1, 7, 13, min(31, n_ctx - NEW_TOKENS)]
    return [torch.randint(0, vocab, (n,), generator=g).tolist() for n in lengths]


@torch.no_grad()
def greedy(model, prompt):
    ids = list(prompt)
    tokens, logprobs, min_gap = [], [], float("inf")
    for _ in range(NEW_TOKENS):
        logits = model(torch.tensor([ids])).logits[0, -1].double()
        top2 = torch.topk(logits, 2).values
        min_gap = min(min_gap, float(top2[0] - top2[1]))
        tok = int(torch.argmax(logits))  # first maximal index on ties
        tokens.append(tok)
        logprobs.append(float(torch.log_softmax(logits, -1)[tok]))
        ids.append(tok)
    return tokens, logprobs, min_gap


@torch.no_grad()
def teacher_forced(model, tokens):
    logits = model(torch.tensor([tokens])).logits[0].double()
    lp = torch.log_softmax(logits[:-1], -1).gather(1, torch.tensor(tokens[1:])[:, None])[:, 0]
    return lp.tolist()


def write_expected(out_dir, model, seed):
    cfg = model.config
    model = model.float()
    greedy_cases, gaps = [], []
    n_ctx = cfg.max_position_embeddings if hasattr(cfg, "max_position_embeddings") else cfg.n_positions
    for prompt in prompts_for(cfg.vocab_size, n_ctx, seed):
        toks, lps, gap = greedy(model, prompt)
        greedy_cases.append({"prompt": prompt, "tokens": toks, "logprobs": lps})
        gaps.append(gap)
    g = torch.Generator().manual_seed(seed + 1)
    tf_tokens = torch.randint(0, cfg.vocab_size, (min(40, n_ctx),), generator=g).tolist()
    expected = {"greedy": greedy_cases,
                "teacher_forced": [{"tokens": tf_tokens, "logprobs": teacher_forced(model, tf_tokens)}]}
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f)
    # A near-tie could flip under fp32 reordering; make sure the fixture has clear winners.
    return min(gaps)


def save(name, model, dtype=None, **kw):
    out = os.path.join(ROOT, name)
    shutil.rmtree(out, ignore_errors=True)
    saved = model.to(dtype) if dtype is not None else model
    saved.save_pretrained(out, safe_serialization=True, **kw)
    for junk in ("generation_config.json",):
        if os.path.exists(os.path.join(out, junk)):
            os.remove(os.path.join(out, junk))
    # Golden values from the weights as stored (fp16/bf16 rounded), evaluated in fp32.
    reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    return out, reloaded


def hub_style(out, m):
    """Rewrites the checkpoint like hub GPT-2 files: no "transformer." prefix, no lm_head (tied), and
    the old attn.bias / attn.masked_bias buffers, which the loader must ignore."""
    path = os.path.join(out, "model.safetensors")
    hub = {}
    for k, v in load_file(path).items():
        if k.startswith("lm_head."):
            continue
        hub[k[len("transformer."):] if k.startswith("transformer.") else k] = v.contiguous()
    n_ctx = m.config.n_positions
    for layer in range(m.config.n_layer):
        hub[f"h.{layer}.attn.bias"] = torch.tril(torch.ones(n_ctx, n_ctx)).view(1, 1, n_ctx, n_ctx)
        hub[f"h.{layer}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(hub, path, metadata={"format": "pt"})


def hub_rope_style(out, m):
    """config.json as hub Llama 3 checkpoints write it: rope_theta + rope_scaling ("rope_type"), a list of
    eos ids, torch_dtype, no rope_parameters (what transformers >= 5 writes)."""
    path = os.path.join(out, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    rp = cfg.pop("rope_parameters")
    cfg["rope_theta"] = rp.pop("rope_theta")
    cfg["rope_scaling"] = rp if rp.get("rope_type", "default") != "default" else None
    cfg["torch_dtype"] = cfg.pop("dtype", "float32")
    cfg["eos_token_id"] = [1, 2]
    cfg["pretraining_tp"] = 1
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)


LLAMA3_ROPE = dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                   original_max_position_embeddings=64)

# name -> (model kwargs, saved dtype, save_pretrained kwargs, post-processing)
CASES = {
    "gpt2-fp32": ({}, None, {}, None),
    "gpt2-fp16": ({}, torch.float16, {}, None),
    "gpt2-bf16": ({}, torch.bfloat16, {}, None),
    "gpt2-hub-style": ({}, None, {}, hub_style),
    # Odd shapes: 3 heads of 16, explicit n_inner, short context, small eps, odd vocab, untied lm_head.
    "gpt2-odd": (dict(vocab_size=211, n_positions=64, n_embd=48, n_layer=3, n_head=3, n_inner=80,
                      layer_norm_epsilon=1e-6, tie_word_embeddings=False, eos_token_id=7), None, {}, None),
    # Sharded: model.safetensors.index.json + several files.
    "gpt2-sharded": ({}, None, {"max_shard_size": "150KB"}, None),
    # Llama: GQA 4/2, untied, default rope (rope_parameters, as transformers 5 writes it).
    "llama-gqa": (dict(family="llama"), None, {}, None),
    # Llama 3 style: llama3 rope scaling (original context 64, so scaling acts inside 128 positions),
    # bf16, config in the hub's older spelling (rope_theta + rope_scaling, eos list, torch_dtype).
    "llama3-bf16-hub": (dict(family="llama", rope_parameters=LLAMA3_ROPE), torch.bfloat16, {}, hub_rope_style),
    # Mistral: explicit head_dim 32 != hidden / heads, MQA, no sliding window.
    "mistral-mqa": (dict(family="mistral", head_dim=32, num_key_value_heads=1), None, {}, None),
    # Qwen2: q/k/v biases, tied embeddings, GQA 4/1, fp16.
    "qwen2-fp16": (dict(family="qwen2", num_key_value_heads=1), torch.float16, {}, None),
    # Qwen3: q/k norms, head_dim 64 (so the CUDA fused backends run it too), sharded, odd vocab.
    "qwen3-sharded": (dict(family="qwen3", head_dim=64, vocab_size=251), None, {"max_shard_size": "100KB"}, None),
}


def main():
    os.makedirs(ROOT, exist_ok=True)
    only = set(sys.argv[1:])  # names to (re)make; default: all
    unknown = only - set(CASES)
    if unknown:
        sys.exit(f"unknown fixture(s) {sorted(unknown)}; known: {sorted(CASES)}")
    for i, (name, (cfg, dtype, save_kw, post)) in enumerate(CASES.items()):
        if only and name not in only:
            continue
        # A near-tie between the top two logits could flip under fp32 reordering: take the first seed
        # whose greedy steps all have clear winners.
        for attempt in range(50):
            seed = 100 * (i + 1) + attempt
            m = make_model(seed, **cfg)
            out, ref = save(name, m, dtype, **save_kw)
            if post:
                post(out, m)
            gap = write_expected(out, ref, seed)
            if gap >= 2e-3:
                break
        else:
            sys.exit(f"{name}: no seed gave a greedy top-2 logit gap >= 2e-3")
        size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
        print(f"{name}: seed {seed}, {size / 1024:.0f} KiB, min greedy top-2 logit gap {gap:.4f}")


if __name__ == "__main__":
    main()
