// defines: qkv_split_kv_append
#pragma once
#include <cuda_runtime.h>
#include <cstdint>
#include "core/types.h"

namespace attnbench {
// Splits the fused QKV projection qkv [T, (H + 2 Hkv) * D] (q | k | v along columns) into
// contiguous q [T, H, D], k [T, Hkv, D], v [T, Hkv, D] (what the attention backends take) and
// writes k, v into the paged cache at slot_mapping[t] (cache [blocks, block_size, Hkv, D]; slot
// s -> block s / block_size, offset s % block_size; a negative slot writes no cache).
// D must be a multiple of 8 (16-byte vectors).
void qkv_split_kv_append(void* q, void* k, void* v, void* k_cache, void* v_cache, const void* qkv,
                         const int32_t* slot_mapping, int num_tokens, int H, int Hkv, int D, DType dtype,
                         cudaStream_t stream);
}  // namespace attnbench
