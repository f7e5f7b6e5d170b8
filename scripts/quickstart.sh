#!/usr/bin/env bash
# README quick start, command 1: set up, then run the main job on the embedded default
# (CPU engine, synthetic:tiny model): an offline and an online benchmark of the naive and fused
# backends, with figures and markdown summaries under outputs/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
trace=traces/AzureLLMInferenceTrace_conv.csv   # shipped in the repo (traces/README.md)
echo "[quickstart] bench offline (synthetic:tiny, cpu)"
node bin/attnbench.js bench offline --model synthetic:tiny --device cpu --backends naive,fused \
  --num-prompts 32 --input-len 64 --output-len 32 --repeats 3
echo "[quickstart] bench online ($trace, cpu)"
node bin/attnbench.js bench online --model synthetic:tiny --device cpu --backends naive,fused \
  --trace "$trace" --num-prompts 40 --scales 0.5,1.0 --max-input-len 192 --max-output-len 32 --ignore-eos
echo "[quickstart] done: results and figures are under outputs/"
