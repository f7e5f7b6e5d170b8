// attnbench-kernels: the shape grid (fp16, causal). Prefill: PERF.md's anchor rows, a GPT-2 varlen
// mix, Llama-like GQA rows, chunked prefill over earlier context, and one "contiguous" row (a page
// as long as the sequence) to price paging. Decode: KV working sets far above L2 at page 1/16/256,
// and bs 1 at 32k (split-KV).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_problem.cuh"

namespace attnbench::bench {

inline Shape prefill(const std::string& name, std::vector<int> lens, int H, int Hkv, int D, int page = 16,
                     int ctx = 0) {
  Shape s;
  s.name = name;
  s.q_lens = lens;
  s.ctx_lens.assign(lens.size(), ctx);
  s.heads = H, s.kv_heads = Hkv, s.head_dim = D, s.page = page;
  return s;
}
inline Shape decode(const std::string& name, int B, int L, int H, int Hkv, int D, int page) {
  Shape s;
  s.name = name;
  s.decode = true;
  s.q_lens.assign(B, 1);
  s.ctx_lens.assign(B, L - 1);
  s.heads = H, s.kv_heads = Hkv, s.head_dim = D, s.page = page;
  return s;
}

// Sequence lengths in [lo, hi] from a 32-bit LCG with a fixed seed: the same list every run, and
// the same as scripts/gpu/kernel_anchors.py's varlen_lengths (keep the two in step).
inline std::vector<int> varlen(int n, int lo, int hi, uint32_t seed) {
  std::vector<int> v;
  uint32_t x = seed;
  for (int i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    v.push_back(lo + (int)((x >> 8) % (uint32_t)(hi - lo + 1)));
  }
  return v;
}

inline std::vector<Shape> benchmark_shapes(bool quick) {
  std::vector<Shape> v;
  v.push_back(prefill("128x256x12x64", std::vector<int>(128, 256), 12, 12, 64));
  v.push_back(prefill("16x2048x12x64", std::vector<int>(16, 2048), 12, 12, 64));
  v.push_back(prefill("8x4096x32x128", std::vector<int>(8, 4096), 32, 32, 128));
  if (!quick) v.push_back(prefill("1x16384x32x128", std::vector<int>(1, 16384), 32, 32, 128));
  v.push_back(prefill("varlen16 256-2048 12x64", varlen(16, 256, 2048, 7), 12, 12, 64));
  v.push_back(prefill("gpt2 varlen64 32-1024 12x64", varlen(64, 32, 1024, 11), 12, 12, 64));
  v.push_back(prefill("llama 8x2048 32/8x128", std::vector<int>(8, 2048), 32, 8, 128));
  if (!quick) {
    v.push_back(prefill("16x2048x12x64 page2048", std::vector<int>(16, 2048), 12, 12, 64, 2048));
    v.push_back(prefill("chunk 8x(1024+1024) 32x128", std::vector<int>(8, 1024), 32, 32, 128, 16, 1024));
  }
  v.push_back(decode("64x2048x12x64 p16", 64, 2048, 12, 12, 64, 16));
  // The engine's own decode shapes: the offline seed workload mid-decode (128 x ~290 keys) and a
  // light online step (2 sequences of ~930 keys), both GPT-2 small.
  v.push_back(decode("gpt2 seed 128x290x12x64 p16", 128, 290, 12, 12, 64, 16));
  v.push_back(decode("gpt2 online 2x930x12x64 p16", 2, 930, 12, 12, 64, 16));
  if (!quick) {
    v.push_back(decode("64x2048x12x64 p1", 64, 2048, 12, 12, 64, 1));
    v.push_back(decode("64x2048x12x64 p256", 64, 2048, 12, 12, 64, 256));
  }
  v.push_back(decode("16x8192x32x128 p16", 16, 8192, 32, 32, 128, 16));
  v.push_back(decode("1x32768x32x128 p16", 1, 32768, 32, 32, 128, 16));
  if (!quick) {
    v.push_back(decode("1x32768x32x128 p1", 1, 32768, 32, 32, 128, 1));
    v.push_back(decode("1x32768x32x128 p256", 1, 32768, 32, 32, 128, 256));
    v.push_back(decode("llama 64x4096 32/8x128 p16", 64, 4096, 32, 8, 128, 16));
  }
  return v;
}

}  // namespace attnbench::bench
