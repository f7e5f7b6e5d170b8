// defines: StepInputs (per-step metadata: one pinned buffer, two host->device copies), pad_decode_batch,
//          pad_prefill_batch
//
// Device layout (int32 words, fixed offsets from the capacities, so captured graphs keep reading
// the same addresses every step):
//   tokens[T] positions[T] slot_mapping[T] cu_seqlens_q[S+1] ctx_lens[S] seq_lens_k[S]
//   sample_rows[S] temperature[S] top_p[S] top_k[S] seed_lo[S] seed_hi[S] sample_step[S]
//   block_tables[S * B]        (last, so a step copies only the rows it uses)
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "attn/backend.h"
#include "core/device_buffer.h"
#include "core/step_batch.h"
#include "kernels/sampling.cuh"

namespace attnbench {

struct StepCaps {
  int max_tokens = 0;          // T
  int max_seqs = 0;            // S
  int max_blocks_per_seq = 0;  // B: block table stride on the device
  int block_size = 16;
};

class StepInputs {
 public:
  explicit StepInputs(const StepCaps& caps);
  // Packs `b` into the pinned buffer and enqueues its copies (the block tables at their used width). The pinned buffer is reused
  // next step: callers synchronise the stream at the end of each step (the runner does).
  // Sampled row j reads token row cu_seqlens_q[sample_seq[j] + 1] - 1.
  void upload(const StepBatch& b, cudaStream_t stream);
  // Device views for attention (md.host = &b; the scalars come from b; max_blocks_per_seq = B).
  AttnMetadata metadata(const StepBatch& b) const;

  const StepCaps caps;
  const int32_t *tokens, *positions, *slot_mapping, *cu_seqlens_q, *ctx_lens, *seq_lens_k, *sample_rows,
      *block_tables;
  SampleParamsDev sampling;

 private:
  size_t off_block_tables_ = 0;
  size_t words_ = 0;
  PinnedBuffer host_;
  DeviceBuffer dev_;
};

// A one-sequence prefill step padded to `rows` tokens for a captured prefill graph: pad rows carry
// token 0 at position 0 and slot -1; cu_seqlens_q still ends at the real length, so attention and
// sampling see only the real rows.
StepBatch pad_prefill_batch(const StepBatch& b, int rows);

// A pure-decode batch padded to `rows` slices for a captured graph. Pad slices hold one token at
// position 0 whose key goes to `scratch_block` and whose block table points only there, so they
// read and write no live cache. Every row samples (sample_seq = 0..rows-1): real rows with their
// request's parameters, pad rows greedily; result row r belongs to slice r.
StepBatch pad_decode_batch(const StepBatch& b, int rows, int scratch_block, int block_size);

}  // namespace attnbench
