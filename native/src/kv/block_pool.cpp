#include "kv/block_pool.h"

#include <stdexcept>
#include <string>

namespace attnbench {

BlockPool::BlockPool(int num_blocks)
    : num_total_(num_blocks), ref_(num_blocks > 0 ? num_blocks : 0, 0), prev_(ref_.size(), -1), next_(ref_.size(), -1) {
  if (num_blocks < 1) throw std::invalid_argument("KV block pool needs at least 1 block, got " + std::to_string(num_blocks));
  // Block 0 at the front, so it is handed out first: tables read naturally in logs and tests.
  for (int32_t b = 0; b < num_blocks; ++b) link_back(b);
}

void BlockPool::unlink(int32_t b) {
  (prev_[b] >= 0 ? next_[prev_[b]] : head_) = next_[b];
  (next_[b] >= 0 ? prev_[next_[b]] : tail_) = prev_[b];
  prev_[b] = next_[b] = -1;
  --num_free_;
}

void BlockPool::link_front(int32_t b) {
  prev_[b] = -1;
  next_[b] = head_;
  (head_ >= 0 ? prev_[head_] : tail_) = b;
  head_ = b;
  ++num_free_;
}

void BlockPool::link_back(int32_t b) {
  next_[b] = -1;
  prev_[b] = tail_;
  (tail_ >= 0 ? next_[tail_] : head_) = b;
  tail_ = b;
  ++num_free_;
}

int32_t BlockPool::take_front() {
  if (head_ < 0) return -1;
  const int32_t b = head_;
  unlink(b);
  ref_[b] = 1;
  return b;
}

void BlockPool::add_ref(int32_t b) {
  if (ref_[b]++ == 0) unlink(b);
}

void BlockPool::drop_ref(int32_t b, bool keep) {
  if (b < 0 || b >= num_total_) throw std::logic_error("KV block pool: block id " + std::to_string(b) + " out of range");
  if (ref_[b] <= 0) throw std::logic_error("KV block pool: block " + std::to_string(b) + " freed twice (double free)");
  if (--ref_[b] > 0) return;
  if (keep) link_back(b);
  else link_front(b);
}

bool BlockPool::allocate(int n, std::vector<int32_t>& table) {
  if (n > num_free_) return false;
  for (int i = 0; i < n; ++i) table.push_back(take_front());
  return true;
}

void BlockPool::release(std::vector<int32_t>& table) {
  // Last block first: pushed to the front in turn, the table's first block ends up reused first.
  for (auto it = table.rbegin(); it != table.rend(); ++it) drop_ref(*it, false);
  table.clear();
}

}  // namespace attnbench
