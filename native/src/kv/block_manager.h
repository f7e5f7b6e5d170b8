// KV blocks for the scheduler, with optional prefix caching (--enable-prefix-caching).
//
// A full block is identified by a chained hash of its token ids: hash(parent block's hash, the
// block's tokens), so equal hashes mean equal prefixes up to and including that block. Once a
// sequence has computed a full block (its K/V are in the cache), the block is registered under its
// hash; a later sequence whose leading blocks hash the same holds those blocks (reference counts)
// instead of computing them again. Registered blocks stay cached after their last holder lets go,
// at the back of the pool's free list, and are evicted, least recently freed first, only when a
// block is allocated and no uncached one is free (kv/block_pool.h).
//
//   seq A tokens [ a0..a15 | a16..a31 | a32..a40 ]         (block size 16)
//   hashes        h0 = H(root, a0..15)   h1 = H(h0, a16..31)   (the partial block is never cached)
//   seq B tokens [ a0..a15 | a16..a31 | b32 ... ]          -> holds A's two blocks: 32 cached tokens
//
// A hit is checked token by token against the registered block (and its parent hash), so a hash
// collision can cost a miss, never a wrong answer. Shared blocks are full, and a sequence only
// writes K/V past its cached prefix, so no block is written while another sequence reads it.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "kv/block_pool.h"
#include "sched/sequence.h"

namespace attnbench {

struct PrefixCacheStats {
  uint64_t hit_tokens = 0;      // tokens served from the cache at admissions
  uint64_t miss_tokens = 0;     // tokens of admitted sequences that had to be computed
  uint64_t evicted_blocks = 0;  // cached blocks reused for other content
};

class BlockManager {
 public:
  BlockManager(int num_blocks, int block_size, bool enable_caching);

  bool caching() const { return caching_; }
  int num_total() const { return pool_.num_total(); }
  // Blocks no sequence holds, cached ones included (they are evicted when needed).
  int num_free() const { return pool_.num_free(); }
  // Blocks registered in the prefix cache, held or not.
  int num_cached() const { return (int)index_.size(); }
  int ref_count(int32_t block) const { return pool_.ref_count(block); }
  const PrefixCacheStats& stats() const { return stats_; }

  // The longest run of `seq`'s leading full blocks that is cached, at most the blocks that end
  // before its last token (that token is always computed, so that a next token can be sampled).
  // Fills `hits` with their block ids; holds nothing yet. Empty when caching is off.
  void match_prefix(Sequence& seq, std::vector<int32_t>& hits);
  // Free blocks that would remain after take(hits): hits that are free no longer count.
  int num_free_excluding(const std::vector<int32_t>& hits) const;
  // Holds each hit block and appends it to `table`.
  void take(const std::vector<int32_t>& hits, std::vector<int32_t>& table);
  // Appends `n` fresh blocks to `table` (evicting cached ones if it must); false, and nothing
  // changed, when fewer than `n` are free.
  bool allocate(int n, std::vector<int32_t>& table);
  // Drops `table`'s hold on its blocks (last first, so a sequence's leading blocks, the likeliest
  // to be shared, are evicted last) and clears it.
  void release(std::vector<int32_t>& table);
  // After a step: registers `seq`'s newly computed full blocks under their hashes. A block whose
  // content is already cached in another block stays private.
  void register_computed(Sequence& seq);
  // One admission of `tokens` tokens of which `cached` came from the cache.
  void record_admission(int tokens, int cached);

 private:
  uint64_t block_hash(Sequence& seq, int j);  // hashes blocks 0..j of seq as needed
  bool holds_block_of(int32_t block, const Sequence& seq, int j) const;
  void evict(int32_t block);

  int block_size_;
  bool caching_;
  BlockPool pool_;
  // Per block id, when caching: its hash (0 = not cached), its parent's hash, its tokens.
  std::vector<uint64_t> hash_, parent_;
  std::vector<int32_t> tokens_;
  std::unordered_map<uint64_t, int32_t> index_;  // hash -> block id
  PrefixCacheStats stats_;
};

}  // namespace attnbench
