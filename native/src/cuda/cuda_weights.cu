// Weight upload: one arena, each tensor 256-byte aligned (cuBLASLt's fastest algorithms want
// aligned operands); fp32 host data goes through one staging buffer and kernels/cast.cu.
#include "cuda/cuda_weights.h"

#include <algorithm>
#include <functional>
#include <stdexcept>

#include "cuda/cuda_check.h"
#include "kernels/cast.cuh"

namespace attnbench {

namespace {

// A tensor to place: host source [rows, cols] fp32, whether to transpose, stored type.
struct Item {
  const std::vector<float>* src;
  int rows, cols;
  bool transpose;
  DType type;
  const void** dst;
  size_t offset = 0;
};

}  // namespace

void upload_weights(CudaWeights& out, const Gpt2Weights& w, DType dtype) {
  const ModelConfig& c = w.config;
  const int C = c.n_embd, V = c.vocab_size, I = c.n_inner;
  out.dtype = dtype;
  out.layers.assign(c.n_layer, CudaLayerWeights{});
  std::vector<Item> items;
  auto add = [&](const std::vector<float>& src, int rows, int cols, bool tr, DType t, const void** dst) {
    if (src.size() != (size_t)rows * cols)
      throw std::runtime_error("upload_weights: tensor of " + std::to_string(src.size()) + " floats, expected " +
                               std::to_string((size_t)rows * cols));
    items.push_back({&src, rows, cols, tr, t, dst});
  };
  auto addf = [&](const std::vector<float>& src, int n, const float** dst) {
    add(src, 1, n, false, DType::F32, reinterpret_cast<const void**>(dst));
  };
  add(w.wte, V, C, false, dtype, &out.wte);
  add(w.wpe, c.n_ctx, C, false, dtype, &out.wpe);
  if (!w.lm_head.empty()) add(w.lm_head, V, C, false, dtype, &out.lm_head);
  addf(w.ln_f_w, C, &out.ln_f_w);
  addf(w.ln_f_b, C, &out.ln_f_b);
  for (int l = 0; l < c.n_layer; ++l) {
    const Gpt2Layer& s = w.layers[l];
    CudaLayerWeights& d = out.layers[l];
    addf(s.ln_1_w, C, &d.ln_1_w);
    addf(s.ln_1_b, C, &d.ln_1_b);
    addf(s.ln_2_w, C, &d.ln_2_w);
    addf(s.ln_2_b, C, &d.ln_2_b);
    add(s.attn_c_attn_w, C, 3 * C, true, dtype, &d.qkv_w);
    add(s.attn_c_attn_b, 1, 3 * C, false, dtype, &d.qkv_b);
    add(s.attn_c_proj_w, C, C, true, dtype, &d.proj_w);
    add(s.attn_c_proj_b, 1, C, false, dtype, &d.proj_b);
    add(s.mlp_c_fc_w, C, I, true, dtype, &d.fc_w);
    add(s.mlp_c_fc_b, 1, I, false, dtype, &d.fc_b);
    add(s.mlp_c_proj_w, I, C, true, dtype, &d.fc_proj_w);
    add(s.mlp_c_proj_b, 1, C, false, dtype, &d.fc_proj_b);
  }
  size_t total = 0, staging = 0;
  for (Item& it : items) {
    it.offset = total;
    total += round_up((size_t)it.rows * it.cols * dtype_bytes(it.type), 256);
    staging = std::max(staging, (size_t)it.rows * it.cols * sizeof(float));
  }
  out.arena.resize(total);
  out.bytes = total;
  DeviceBuffer stage(staging);
  for (Item& it : items) {
    void* dst = out.arena.get<char>() + it.offset;
    CUDA_CHECK(cudaMemcpy(stage.get(), it.src->data(), it.src->size() * sizeof(float), cudaMemcpyHostToDevice));
    cast_f32_forward(dst, stage.get<float>(), it.rows, it.cols, it.transpose, it.type, 0);
    *it.dst = dst;
  }
  if (!out.lm_head) out.lm_head = out.wte;
  CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace attnbench
