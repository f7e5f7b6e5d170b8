// CUDA graphs for decode steps: for a model this small, ~150 kernel launches a step cost more than
// the kernels themselves, so each batch bucket's whole step (embedding .. sampling) is captured
// once and replayed. Inputs come from fixed device buffers (cuda/step_inputs.h).
#include "cuda/bucket_graphs.h"

#include <stdexcept>

#include "core/cuda_check.h"

namespace attnbench {

std::vector<int> decode_buckets(int max_seqs) {
  std::vector<int> b;
  for (int n : {1, 2, 4, 8}) if (n <= max_seqs) b.push_back(n);
  for (int n = 16; n <= 64 && n <= max_seqs; n += 8) b.push_back(n);
  for (int n = 80; n <= max_seqs; n += 16) b.push_back(n);
  if (b.empty() || b.back() < max_seqs) b.push_back(max_seqs);
  return b;
}

BucketGraphs::~BucketGraphs() {
  for (auto& [n, e] : execs_) cudaGraphExecDestroy(e);
  for (cudaGraph_t g : graphs_) cudaGraphDestroy(g);
}

void BucketGraphs::capture(int bucket, cudaStream_t stream, const std::function<void()>& enqueue) {
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    enqueue();
  } catch (...) {
    cudaStreamEndCapture(stream, &graph);  // leave the stream usable
    if (graph) cudaGraphDestroy(graph);
    throw;
  }
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec = nullptr;
  CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  graphs_.push_back(graph);
  execs_[bucket] = exec;
}

void BucketGraphs::launch(int bucket, cudaStream_t stream) const {
  auto it = execs_.find(bucket);
  if (it == execs_.end()) throw std::runtime_error("no decode graph for bucket " + std::to_string(bucket));
  CUDA_CHECK(cudaGraphLaunch(it->second, stream));
}

}  // namespace attnbench
