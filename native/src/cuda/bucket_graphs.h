// defines: BucketGraphs (one captured CUDA graph per bucket: decode batch sizes, prefill row counts), decode_buckets
#pragma once
#include <cuda_runtime.h>

#include <functional>
#include <map>
#include <vector>

namespace attnbench {

// 1, 2, 4, 8, then steps of 8 up to 64, then steps of 16, the last bucket = max_seqs.
std::vector<int> decode_buckets(int max_seqs);

class BucketGraphs {
 public:
  BucketGraphs() = default;
  ~BucketGraphs();
  BucketGraphs(const BucketGraphs&) = delete;
  BucketGraphs& operator=(const BucketGraphs&) = delete;

  // Captures `enqueue` (which must only enqueue work on `stream`) as the graph for `bucket`.
  void capture(int bucket, cudaStream_t stream, const std::function<void()>& enqueue);
  bool has(int bucket) const { return execs_.count(bucket) > 0; }
  void launch(int bucket, cudaStream_t stream) const;

 private:
  std::map<int, cudaGraphExec_t> execs_;
  std::vector<cudaGraph_t> graphs_;
};

}  // namespace attnbench
