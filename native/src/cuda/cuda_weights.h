// defines: CudaWeights, upload_weights
// GPT-2 weights on the device: matrices in the activation dtype, transposed from HF's Conv1D
// [in, out] to [out, in] for the TN GEMM; LayerNorm parameters stay fp32 (read in fp32 math).
#pragma once
#include <vector>

#include "core/types.h"
#include "cuda/device_buffer.h"
#include "model/gpt2_weights.h"

namespace attnbench {

struct CudaLayerWeights {
  const float *ln_1_w, *ln_1_b, *ln_2_w, *ln_2_b;  // [C] fp32
  const void* qkv_w;   // [3C, C]
  const void* qkv_b;   // [3C]
  const void* proj_w;  // [C, C]
  const void* proj_b;  // [C]
  const void* fc_w;    // [n_inner, C]
  const void* fc_b;    // [n_inner]
  const void* fc_proj_w;  // [C, n_inner]
  const void* fc_proj_b;  // [C]
};

struct CudaWeights {
  DType dtype = DType::F16;
  const void* wte = nullptr;      // [V, C]
  const void* wpe = nullptr;      // [n_ctx, C]
  const void* lm_head = nullptr;  // [V, C] (== wte when tied)
  const float *ln_f_w = nullptr, *ln_f_b = nullptr;
  std::vector<CudaLayerWeights> layers;
  DeviceBuffer arena;             // owns everything above
  size_t bytes = 0;
};

// Converts and uploads once (synchronous; start-up only).
void upload_weights(CudaWeights& out, const Gpt2Weights& w, DType dtype);

}  // namespace attnbench
