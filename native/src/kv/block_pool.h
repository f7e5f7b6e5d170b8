// Host bookkeeping of the paged KV cache: which block ids are free and how many sequences hold each
// one. The runner owns the K/V memory itself ([num_blocks, block_size, n_kv_heads, head_dim] per
// layer); a sequence holds the ids in its block table until it finishes, is aborted or is preempted.
//
// The free blocks form one ordered list. Allocation takes from the front. A freed block goes to the
// front when it holds nothing worth keeping (it is reused first, as a stack would) or to the back
// when the prefix cache may still hit it, so the front of the cached part is always the least
// recently freed: LRU eviction among the blocks no sequence holds.
//
//   front                                               back
//   [ uncached ... uncached | cached (oldest) ... cached (newest) ]
#pragma once
#include "core/step_batch.h"  // blocks_for_tokens
#include <cstdint>
#include <vector>

namespace attnbench {

class BlockPool {
 public:
  explicit BlockPool(int num_blocks);
  int num_total() const { return num_total_; }
  int num_free() const { return num_free_; }
  int ref_count(int32_t block) const { return ref_[block]; }

  // Takes the front free block (ref count 1); -1 when none is free.
  int32_t take_front();
  // One more holder of `block`; a free block leaves the free list (a prefix-cache hit).
  void add_ref(int32_t block);
  // One holder fewer; at zero the block is free again, at the back when `keep` (cached content,
  // evicted last) else at the front. Throws std::logic_error on a block nobody holds (double free).
  void drop_ref(int32_t block, bool keep);

  // Appends `n` blocks to `table`; returns false and changes nothing when fewer are free.
  bool allocate(int n, std::vector<int32_t>& table);
  // Drops `table`'s hold on each of its blocks (last block first) and clears it.
  void release(std::vector<int32_t>& table);

 private:
  void unlink(int32_t b);
  void link_front(int32_t b);
  void link_back(int32_t b);

  int num_total_;
  int num_free_ = 0;
  std::vector<int32_t> ref_;
  // Doubly linked free list over block ids (-1 = none), so a hit can take a block from its middle.
  std::vector<int32_t> prev_, next_;
  int32_t head_ = -1, tail_ = -1;
};


}  // namespace attnbench
