#include "kv/block_manager.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace attnbench {

namespace {

constexpr uint64_t kRootHash = 0x6a09e667f3bcc909ull;  // the "parent" of a sequence's first block

uint64_t mix64(uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t chain_hash(uint64_t parent, const Sequence& seq, int first, int n) {
  uint64_t h = mix64(parent);
  for (int i = 0; i < n; ++i) h = mix64(h ^ (uint64_t)(uint32_t)seq.token_at(first + i));
  return h ? h : 1;  // 0 means "not cached"
}

}  // namespace

BlockManager::BlockManager(int num_blocks, int block_size, bool enable_caching)
    : block_size_(block_size), caching_(enable_caching), pool_(num_blocks) {
  if (block_size < 1) throw std::invalid_argument("KV block size must be >= 1");
  if (caching_) {
    hash_.assign(num_blocks, 0);
    parent_.assign(num_blocks, 0);
    tokens_.assign((size_t)num_blocks * block_size, 0);
  }
}

uint64_t BlockManager::block_hash(Sequence& seq, int j) {
  auto& hs = seq.block_hashes;
  while ((int)hs.size() <= j) {
    const int k = (int)hs.size();
    if ((k + 1) * block_size_ > seq.num_tokens()) throw std::logic_error("block_hash: block is not full");
    hs.push_back(chain_hash(k ? hs[k - 1] : kRootHash, seq, k * block_size_, block_size_));
  }
  return hs[j];
}

bool BlockManager::holds_block_of(int32_t b, const Sequence& seq, int j) const {
  if (parent_[b] != (j ? seq.block_hashes[j - 1] : kRootHash)) return false;
  const int32_t* t = &tokens_[(size_t)b * block_size_];
  for (int i = 0; i < block_size_; ++i)
    if (t[i] != seq.token_at(j * block_size_ + i)) return false;
  return true;
}

void BlockManager::match_prefix(Sequence& seq, std::vector<int32_t>& hits) {
  hits.clear();
  if (!caching_) return;
  const int max_blocks = (seq.num_tokens() - 1) / block_size_;
  for (int j = 0; j < max_blocks; ++j) {
    auto it = index_.find(block_hash(seq, j));
    if (it == index_.end() || !holds_block_of(it->second, seq, j)) break;
    hits.push_back(it->second);
  }
}

int BlockManager::num_free_excluding(const std::vector<int32_t>& hits) const {
  int free_hits = 0;
  for (int32_t b : hits) free_hits += pool_.ref_count(b) == 0;
  return pool_.num_free() - free_hits;
}

void BlockManager::take(const std::vector<int32_t>& hits, std::vector<int32_t>& table) {
  for (int32_t b : hits) {
    pool_.add_ref(b);
    table.push_back(b);
  }
}

void BlockManager::evict(int32_t b) {
  auto it = index_.find(hash_[b]);
  if (it != index_.end() && it->second == b) index_.erase(it);
  hash_[b] = 0;
  ++stats_.evicted_blocks;
}

bool BlockManager::allocate(int n, std::vector<int32_t>& table) {
  if (n > pool_.num_free()) return false;
  for (int i = 0; i < n; ++i) {
    const int32_t b = pool_.take_front();
    if (caching_ && hash_[b] != 0) evict(b);
    table.push_back(b);
  }
  return true;
}

void BlockManager::release(std::vector<int32_t>& table) {
  for (auto it = table.rbegin(); it != table.rend(); ++it) pool_.drop_ref(*it, caching_ && hash_[*it] != 0);
  table.clear();
}

void BlockManager::register_computed(Sequence& seq) {
  if (!caching_) return;
  const int full = std::min(seq.num_computed / block_size_, (int)seq.block_table.size());
  for (int j = seq.num_registered_blocks; j < full; ++j) {
    const int32_t b = seq.block_table[j];
    if (hash_[b] != 0) continue;  // a hit, or registered earlier
    const uint64_t h = block_hash(seq, j);
    if (index_.count(h)) continue;  // the same content is cached in another block
    hash_[b] = h;
    parent_[b] = j ? seq.block_hashes[j - 1] : kRootHash;
    for (int i = 0; i < block_size_; ++i) tokens_[(size_t)b * block_size_ + i] = seq.token_at(j * block_size_ + i);
    index_.emplace(h, b);
  }
  seq.num_registered_blocks = std::max(seq.num_registered_blocks, full);
}

void BlockManager::record_admission(int tokens, int cached) {
  if (!caching_) return;
  stats_.hit_tokens += cached;
  stats_.miss_tokens += tokens - cached;
}

}  // namespace attnbench
