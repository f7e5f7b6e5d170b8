// Host bookkeeping of the paged KV cache: which block ids are free. The runner owns the K/V memory
// itself ([num_blocks, block_size, n_kv_heads, head_dim] per layer); a sequence owns the ids in its
// block table until it finishes, is aborted or is preempted.
#pragma once
#include <cstdint>
#include <vector>

namespace attnbench {

class BlockPool {
 public:
  explicit BlockPool(int num_blocks);
  int num_total() const { return num_total_; }
  int num_free() const { return (int)free_.size(); }
  // Appends `n` block ids to `table`; returns false and changes nothing when fewer are free.
  bool allocate(int n, std::vector<int32_t>& table);
  // Returns every block of `table` to the pool and clears it.
  void release(std::vector<int32_t>& table);

 private:
  int num_total_;
  std::vector<int32_t> free_;  // a stack: the most recently freed block is reused first
};

inline int blocks_for_tokens(int num_tokens, int block_size) { return (num_tokens + block_size - 1) / block_size; }

}  // namespace attnbench
