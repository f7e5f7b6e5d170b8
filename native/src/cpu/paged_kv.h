// Reading the paged KV cache on the host. Each layer's K (and V) is
// [num_blocks, block_size, num_kv_heads, head_dim]; token `pos` of a sequence lives in block
// table[pos / block_size] at offset pos % block_size:
//
//   block table [7, 2, 9]   block_size 4   pos 5 -> block 2, offset 1 -> slot 2*4+1 = 9
#pragma once
#include <cstddef>
#include <cstdint>

namespace attnbench {

struct PagedView {
  const float* base = nullptr;  // K or V of one layer
  const int32_t* table = nullptr;  // this sequence's block table
  int block_size = 16, num_kv_heads = 1, head_dim = 64;

  const float* row(int pos, int kv_head) const {
    const size_t slot = (size_t)table[pos / block_size] * block_size + pos % block_size;
    return base + (slot * num_kv_heads + kv_head) * head_dim;
  }
};

// The slot of a token, as the scheduler writes it into slot_mapping.
inline size_t kv_offset(int32_t slot, int num_kv_heads, int head_dim) { return (size_t)slot * num_kv_heads * head_dim; }

}  // namespace attnbench
