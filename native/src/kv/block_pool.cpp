#include "kv/block_pool.h"

#include <stdexcept>
#include <string>

namespace attnbench {

BlockPool::BlockPool(int num_blocks) : num_total_(num_blocks) {
  if (num_blocks < 1) throw std::invalid_argument("KV block pool needs at least 1 block, got " + std::to_string(num_blocks));
  free_.reserve(num_blocks);
  // Pushed in reverse so block 0 is handed out first: tables read naturally in logs and tests.
  for (int b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
}

bool BlockPool::allocate(int n, std::vector<int32_t>& table) {
  if (n > (int)free_.size()) return false;
  for (int i = 0; i < n; ++i) {
    table.push_back(free_.back());
    free_.pop_back();
  }
  return true;
}

void BlockPool::release(std::vector<int32_t>& table) {
  for (auto it = table.rbegin(); it != table.rend(); ++it) free_.push_back(*it);
  if ((int)free_.size() > num_total_) throw std::logic_error("KV block pool: more blocks freed than exist (double free)");
  table.clear();
}

}  // namespace attnbench
