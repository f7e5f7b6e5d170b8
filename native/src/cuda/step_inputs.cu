// Step metadata packing (host) and its upload (two copies: the fixed-size arrays, then the block tables).
#include "cuda/step_inputs.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/cuda_check.h"

namespace attnbench {

StepInputs::StepInputs(const StepCaps& c) : caps(c) {
  const size_t T = c.max_tokens, S = c.max_seqs;
  off_block_tables_ = 3 * T + (S + 1) + 9 * S;
  words_ = off_block_tables_ + S * c.max_blocks_per_seq;
  host_ = PinnedBuffer(words_ * 4);
  dev_.resize(words_ * 4);
  const int32_t* d = dev_.get<int32_t>();
  size_t o = 0;
  auto take = [&](size_t n) { const int32_t* p = d + o; o += n; return p; };
  tokens = take(T);
  positions = take(T);
  slot_mapping = take(T);
  cu_seqlens_q = take(S + 1);
  ctx_lens = take(S);
  seq_lens_k = take(S);
  sample_rows = take(S);
  sampling.temperature = reinterpret_cast<const float*>(take(S));
  sampling.top_p = reinterpret_cast<const float*>(take(S));
  sampling.top_k = take(S);
  sampling.seed_lo = reinterpret_cast<const uint32_t*>(take(S));
  sampling.seed_hi = reinterpret_cast<const uint32_t*>(take(S));
  sampling.step = reinterpret_cast<const uint32_t*>(take(S));
  block_tables = take(0);
}

void StepInputs::upload(const StepBatch& b, cudaStream_t stream) {
  const int T = caps.max_tokens, S = caps.max_seqs, B = caps.max_blocks_per_seq;
  const int nt = b.num_tokens(), ns = b.num_seqs(), nsamp = (int)b.sample_seq.size();
  if (nt > T || ns > S || nsamp > S)
    throw std::runtime_error("step of " + std::to_string(nt) + " tokens / " + std::to_string(ns) +
                             " seqs exceeds the runner's capacity (" + std::to_string(T) + " / " + std::to_string(S) + ")");
  int32_t* h = host_.get<int32_t>();
  auto put = [](int32_t* dst, const std::vector<int32_t>& v) { std::memcpy(dst, v.data(), v.size() * 4); };
  put(h, b.tokens);
  put(h + T, b.positions);
  put(h + 2 * T, b.slot_mapping);
  int32_t* cu = h + 3 * T;
  put(cu, b.cu_seqlens_q);
  int32_t* ctx = cu + S + 1;
  put(ctx, b.ctx_lens);
  int32_t* seqk = ctx + S;
  put(seqk, b.seq_lens_k);
  int32_t* rows = seqk + S;
  float* temp = reinterpret_cast<float*>(rows + S);
  float* top_p = temp + S;
  int32_t* top_k = reinterpret_cast<int32_t*>(top_p + S);
  uint32_t* seed_lo = reinterpret_cast<uint32_t*>(top_k + S);
  uint32_t* seed_hi = seed_lo + S;
  uint32_t* step = seed_hi + S;
  for (int j = 0; j < nsamp; ++j) {
    const SamplingParams& p = b.sample_params[j];
    rows[j] = b.cu_seqlens_q[b.sample_seq[j] + 1] - 1;
    temp[j] = p.temperature;
    top_p[j] = p.top_p;
    top_k[j] = p.top_k;
    seed_lo[j] = (uint32_t)p.seed;
    seed_hi[j] = (uint32_t)(p.seed >> 32);
    step[j] = b.sample_step[j];
  }
  // Block tables: only the step's own width w of each row moves (one 2D copy at the device's stride B);
  // entries past a sequence's blocks are never read, so they are not cleared. With a 128k context B is
  // 8192: a full-width copy would be 4 MB for a 128-sequence decode step.
  int32_t* bt = h + off_block_tables_;
  const int src_w = b.max_blocks_per_seq, w = std::min(src_w, B);
  for (int s = 0; s < ns; ++s) {
    if (b.seq_lens_k[s] > B * caps.block_size)
      throw std::runtime_error("sequence of " + std::to_string(b.seq_lens_k[s]) + " keys exceeds the block table");
    std::memcpy(bt + (size_t)s * w, b.block_tables.data() + (size_t)s * src_w, (size_t)w * 4);
  }
  CUDA_CHECK(cudaMemcpyAsync(dev_.get(), h, off_block_tables_ * 4, cudaMemcpyHostToDevice, stream));
  if (ns > 0 && w > 0)
    CUDA_CHECK(cudaMemcpy2DAsync(dev_.get<int32_t>() + off_block_tables_, (size_t)B * 4, bt, (size_t)w * 4, (size_t)w * 4,
                                 ns, cudaMemcpyHostToDevice, stream));
}

AttnMetadata StepInputs::metadata(const StepBatch& b) const {
  // Counts from the host batch; arrays from the device copies (fixed addresses, graph-safe), and the
  // block-table row stride of the device buffer rather than the batch's own.
  AttnMetadata md = host_attn_metadata(b);
  md.max_blocks_per_seq = caps.max_blocks_per_seq;
  md.cu_seqlens_q = cu_seqlens_q;
  md.ctx_lens = ctx_lens;
  md.seq_lens_k = seq_lens_k;
  md.block_tables = block_tables;
  return md;
}

StepBatch pad_prefill_batch(const StepBatch& b, int rows) {
  if (b.num_seqs() != 1 || b.num_prefill_seqs != 1 || b.num_tokens() > rows)
    throw std::runtime_error("pad_prefill_batch: one prefill sequence of at most " + std::to_string(rows) + " tokens");
  StepBatch p = b;
  p.tokens.resize(rows, 0);
  p.positions.resize(rows, 0);
  p.slot_mapping.resize(rows, -1);  // pad rows write no K/V (qkv_split_kv_append skips slot < 0)
  return p;
}

StepBatch pad_decode_batch(const StepBatch& b, int rows, int scratch_block, int block_size) {
  const int n = b.num_seqs();
  StepBatch p;
  p.max_blocks_per_seq = std::max(1, b.max_blocks_per_seq);
  p.num_prefill_seqs = 0;
  p.num_decode_seqs = rows;
  p.tokens.assign(rows, 0);
  p.positions.assign(rows, 0);
  p.slot_mapping.assign(rows, scratch_block * block_size);
  p.ctx_lens.assign(rows, 0);
  p.seq_lens_k.assign(rows, 1);
  p.block_tables.assign((size_t)rows * p.max_blocks_per_seq, scratch_block);
  p.cu_seqlens_q.resize(rows + 1);
  for (int i = 0; i <= rows; ++i) p.cu_seqlens_q[i] = i;
  for (int i = 0; i < n; ++i) {
    p.tokens[i] = b.tokens[i];
    p.positions[i] = b.positions[i];
    p.slot_mapping[i] = b.slot_mapping[i];
    p.ctx_lens[i] = b.ctx_lens[i];
    p.seq_lens_k[i] = b.seq_lens_k[i];
    std::copy(b.block_tables.begin() + (size_t)i * b.max_blocks_per_seq,
              b.block_tables.begin() + (size_t)(i + 1) * b.max_blocks_per_seq,
              p.block_tables.begin() + (size_t)i * p.max_blocks_per_seq);
  }
  SamplingParams greedy;
  greedy.temperature = 0.f;
  p.sample_seq.resize(rows);
  p.sample_params.assign(rows, greedy);
  p.sample_step.assign(rows, 0);
  for (int r = 0; r < rows; ++r) p.sample_seq[r] = r;
  for (size_t j = 0; j < b.sample_seq.size(); ++j) {
    p.sample_params[b.sample_seq[j]] = b.sample_params[j];
    p.sample_step[b.sample_seq[j]] = b.sample_step[j];
  }
  return p;
}

}  // namespace attnbench
