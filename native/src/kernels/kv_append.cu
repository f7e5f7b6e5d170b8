// QKV split + KV-cache append in one pass: each thread moves one 16-byte vector (8 halves), so
// reads of the QKV row and writes of q/k/v/cache are all coalesced. The cache layout
// [block, offset, head, dim] puts one token's heads contiguously: one slot = one Hkv*D run.
#include "kernels/kv_append.cuh"

#include <stdexcept>

#include "core/cuda_check.h"
#include "kernels/dtype.cuh"

namespace attnbench {

__global__ void qkv_split_kv_append_kernel(uint4* q, uint4* k, uint4* v, uint4* k_cache, uint4* v_cache,
                                           const uint4* qkv, const int32_t* slot_mapping, int num_tokens,
                                           int q_vecs, int kv_vecs) {
  int row_vecs = q_vecs + 2 * kv_vecs;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (long long)num_tokens * row_vecs) return;
  int t = (int)(i / row_vecs), c = (int)(i % row_vecs);
  uint4 val = qkv[i];
  if (c < q_vecs) {
    q[(long long)t * q_vecs + c] = val;
    return;
  }
  c -= q_vecs;
  bool is_v = c >= kv_vecs;
  if (is_v) c -= kv_vecs;
  (is_v ? v : k)[(long long)t * kv_vecs + c] = val;
  int slot = slot_mapping[t];
  if (slot >= 0) (is_v ? v_cache : k_cache)[(long long)slot * kv_vecs + c] = val;
}

void qkv_split_kv_append(void* q, void* k, void* v, void* k_cache, void* v_cache, const void* qkv,
                         const int32_t* slot_mapping, int num_tokens, int H, int Hkv, int D, DType dtype,
                         cudaStream_t stream) {
  if (num_tokens == 0) return;
  if (D % 8 != 0 || dtype == DType::F32) throw std::runtime_error("qkv_split_kv_append: 16-bit dtype and D % 8 == 0");
  int q_vecs = H * D / 8, kv_vecs = Hkv * D / 8;
  long long n = (long long)num_tokens * (q_vecs + 2 * kv_vecs);
  const int threads = 256;
  qkv_split_kv_append_kernel<<<(int)((n + threads - 1) / threads), threads, 0, stream>>>(
      (uint4*)q, (uint4*)k, (uint4*)v, (uint4*)k_cache, (uint4*)v_cache, (const uint4*)qkv, slot_mapping,
      num_tokens, q_vecs, kv_vecs);
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
