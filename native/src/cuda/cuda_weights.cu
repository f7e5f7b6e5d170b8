// Weight upload: one arena, each tensor 256-byte aligned (cuBLASLt's fastest algorithms want
// aligned operands); fp32 host data goes through one staging buffer and kernels/cast.cu; tensors of a
// synthetic model that are still recipes are generated in place (kernels/synthetic_fill.cu).
#include "cuda/cuda_weights.h"

#include <algorithm>
#include <stdexcept>

#include "core/cuda_check.h"
#include "kernels/cast.cuh"
#include "kernels/synthetic_fill.cuh"

namespace attnbench {

namespace {

// A tensor to place: host source [rows, cols] fp32, stored type, where its device pointer goes.
struct Item {
  const Tensor* src;
  int rows, cols;
  DType type;
  const void** dst;
  size_t offset = 0;
};

}  // namespace

void upload_weights(CudaWeights& out, const ModelWeights& w, DType dtype) {
  const ModelConfig& c = w.config;
  out.dtype = dtype;
  out.layers.assign(c.num_layers, CudaLayerWeights{});
  std::vector<Item> items;
  auto add = [&](const Tensor& src, int rows, int cols, DType t, const void** dst) {
    if (src.numel() != (size_t)rows * cols)
      throw std::runtime_error("upload_weights: tensor of " + std::to_string(src.numel()) + " floats, expected " +
                               std::to_string((size_t)rows * cols));
    items.push_back({&src, rows, cols, t, dst});
  };
  auto norm = [&](const NormWeights& n, int size, CudaNorm& d) {
    add(n.w, 1, size, DType::F32, reinterpret_cast<const void**>(&d.w));
    if (n.b.present()) add(n.b, 1, size, DType::F32, reinterpret_cast<const void**>(&d.b));
  };
  auto linear = [&](const LinearWeights& l, CudaLinear& d) {
    d.out = l.out;
    d.in = l.in;
    add(l.w, l.out, l.in, dtype, &d.w);
    if (l.b.present()) add(l.b, 1, l.out, dtype, &d.b);
  };
  add(w.tok_emb, c.vocab_size, c.hidden_size, dtype, &out.tok_emb);
  if (w.pos_emb.present()) add(w.pos_emb, c.max_context, c.hidden_size, dtype, &out.pos_emb);
  if (w.lm_head.present()) add(w.lm_head, c.vocab_size, c.hidden_size, dtype, &out.lm_head);
  norm(w.final_norm, c.hidden_size, out.final_norm);
  for (int l = 0; l < c.num_layers; ++l) {
    const LayerWeights& s = w.layers[l];
    CudaLayerWeights& d = out.layers[l];
    norm(s.attn_norm, c.hidden_size, d.attn_norm);
    norm(s.mlp_norm, c.hidden_size, d.mlp_norm);
    if (c.qk_norm) {
      norm(s.q_norm, c.head_dim, d.q_norm);
      norm(s.k_norm, c.head_dim, d.k_norm);
    }
    linear(s.qkv, d.qkv);
    linear(s.attn_out, d.attn_out);
    linear(s.up, d.up);
    linear(s.down, d.down);
  }
  size_t total = 0, staging = 0;
  for (Item& it : items) {
    it.offset = total;
    total += round_up((size_t)it.rows * it.cols * dtype_bytes(it.type), 256);
    if (!it.src->recipe) staging = std::max(staging, (size_t)it.rows * it.cols * sizeof(float));
  }
  out.arena.resize(total);
  out.bytes = total;
  DeviceBuffer stage(staging);
  for (Item& it : items) {
    void* dst = out.arena.get<char>() + it.offset;
    if (const auto& r = it.src->recipe) {
      synthetic_fill_forward(dst, r->n, r->seed, r->id, r->mean, r->std, it.type, 0);
    } else {
      CUDA_CHECK(cudaMemcpy(stage.get(), it.src->data(), it.src->size() * sizeof(float), cudaMemcpyHostToDevice));
      cast_f32_forward(dst, stage.get<float>(), it.rows, it.cols, /*transpose=*/false, it.type, 0);
    }
    *it.dst = dst;
  }
  if (!out.lm_head) out.lm_head = out.tok_emb;
  CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace attnbench
