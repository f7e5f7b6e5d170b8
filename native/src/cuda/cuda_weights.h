// defines: CudaWeights, CudaLayerWeights, CudaLinear, upload_weights
// A model's weights on the device: matrices and biases in the activation dtype, [out, in] (the TN
// GEMM's layout, models/model_weights.h); norm weights (and LayerNorm biases) in fp32, read in fp32 math.
#pragma once
#include <vector>

#include "core/types.h"
#include "core/device_buffer.h"
#include "models/model_weights.h"

namespace attnbench {

struct CudaLinear {
  const void* w = nullptr;  // [out, in]
  const void* b = nullptr;  // [out], or null
  int out = 0, in = 0;
};

struct CudaNorm {
  const float* w = nullptr;
  const float* b = nullptr;  // null: RMSNorm, or a LayerNorm without bias
};

struct CudaLayerWeights {
  CudaNorm attn_norm, mlp_norm;
  CudaNorm q_norm, k_norm;  // [head_dim], only with qk_norm
  CudaLinear qkv, attn_out, up, down;
};

struct CudaWeights {
  DType dtype = DType::F16;
  const void* tok_emb = nullptr;  // [V, C]
  const void* pos_emb = nullptr;  // [max_context, C], or null
  const void* lm_head = nullptr;  // [V, C] (== tok_emb when tied)
  CudaNorm final_norm;
  std::vector<CudaLayerWeights> layers;
  DeviceBuffer arena;             // owns everything above
  size_t bytes = 0;
};

// Converts and uploads once (synchronous; start-up only).
void upload_weights(CudaWeights& out, const ModelWeights& w, DType dtype);

}  // namespace attnbench
