// defines: qkv_rope_kv_append
#pragma once
#include <cuda_runtime.h>
#include <cstdint>
#include "core/types.h"

namespace attnbench {
// The split/append of kernels/kv_append.cuh for models that transform q and k first: per head, an
// optional RMSNorm over head_dim (q_norm_w / k_norm_w, Qwen3; null = none), then the rotary embedding
// (rotate_half form, angle = positions[t] * inv_freq[i] in fp32, inv_freq [D/2] on the device), in
// fp32, stored in `dtype`. q [T, H, D], k and v [T, Hkv, D]; k and v also to the paged cache at
// slot_mapping[t] (negative: no cache write). One warp per (token, head).
void qkv_rope_kv_append(void* q, void* k, void* v, void* k_cache, void* v_cache, const void* qkv,
                        const int32_t* slot_mapping, const int32_t* positions, const float* inv_freq,
                        const float* q_norm_w, const float* k_norm_w, float norm_eps, int num_tokens, int H, int Hkv,
                        int D, DType dtype, cudaStream_t stream);
}  // namespace attnbench
