// The CUDA model runner: the step machinery around a model's forward (cuda/cuda_forward.h does the math).
//
// One step:  upload metadata (one copy) -> attention plan on the host -> forward -> sample -> copy the
//            sampled tokens back -> one stream sync.
// Pure-decode steps, and lone sampled prefills, replay a captured graph of the whole step
// (cuda/bucket_graphs.h), planned through the backends' capture/replay hooks (attn/backend.h).
// defines: make_cuda_runner
#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/bucket_graphs.h"       // defines: BucketGraphs, decode_buckets
#include "core/cuda_check.h"
#include "cuda/cuda_forward.h"        // defines: CudaForward, gemm_rows
#include "core/device_buffer.h"
#include "core/pdl.cuh"               // defines: pdl_requested
#include "cuda/step_inputs.h"         // defines: StepInputs, pad_decode_batch, pad_prefill_batch
#include "kernels/logprobs.cuh"       // defines: target_logprob_forward
#include "kernels/sampling.cuh"       // defines: sample_forward
#include "kernels/top_logprobs.cuh"   // defines: top_logprobs_forward
#include "models/registry.h"
#include "runner/model_runner.h"

namespace attnbench {

namespace {

using ForwardFn = void (*)(const ModelConfig&, ForwardOps&);

class CudaRunner final : public ModelRunner {
 public:
  CudaRunner(const ModelWeights& w, const RunnerOptions& opt);
  ~CudaRunner() override;
  void step(const StepBatch& batch, std::vector<SampleResult>& out) override;
  void launch(const StepBatch& batch) override;
  void collect(std::vector<SampleResult>& out) override;
  std::vector<float> score(const std::vector<int32_t>& tokens) override;
  std::string device_name() const override { return device_name_; }
  int num_kv_blocks() const override { return num_kv_blocks_; }
  size_t kv_cache_bytes() const override { return kv_.bytes(); }
  void set_timing(bool on) override;
  RunnerStepTiming last_timing() const override { return timing_; }

 private:
  void collect_top_logprobs(const StepBatch& b, int k, std::vector<SampleResult>& out);
  // Binds the step described by md and runs the model's forward on stream_; the final norm and LM
  // head on `n_rows` rows (`rows` = device row indices, or null for rows 0..n_rows-1) into `logits`
  // (our padded buffer, or an exact [n, V] one).
  void forward(const AttnMetadata& md, const int32_t* rows, int n_rows, float* logits);
  void enqueue_step(const AttnMetadata& md, int n_rows);  // forward + sampling
  // Scalars a captured graph bakes in: they must not change between capture and replay.
  AttnMetadata decode_bucket_metadata(const StepBatch& padded) const;
  AttnMetadata prefill_bucket_metadata(const StepBatch& padded) const;
  void capture_decode_graphs();
  void capture_prefill_graphs();
  int blocks_from_memory(double utilization) const;
  bool skip(unsigned part) const { return (opt_.exp.skip & part) != 0; }

  ModelConfig cfg_;
  RunnerOptions opt_;
  DType dtype_;
  ForwardFn model_forward_;
  int max_tokens_, max_seqs_;
  std::string device_name_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<CudaForward> fwd_;
  std::unique_ptr<StepInputs> in_;
  DeviceBuffer kv_;                 // [layer][K|V][blocks + 1, block_size, Hkv, D]
  std::vector<PagedKv> layer_kv_;
  int num_kv_blocks_ = 0;           // the scheduler's pool (without the scratch block)
  int scratch_block_ = 0;           // the extra block pad rows of a graph write to
  int Vld_ = 0;                     // logits_ row stride
  DeviceBuffer logits_;             // fp32 [S, Vld_]
  DeviceBuffer sampled_;            // int32 tokens [S] | fp32 logprobs [S]
  PinnedBuffer sampled_host_;
  DeviceBuffer top_;                // top_logprobs rows | ids | logprobs, grown the first time one is asked for
  std::vector<int> buckets_;        // decode batch sizes a pure-decode step is padded to
  BucketGraphs graphs_;
  // One-sequence prefill steps (a request arriving at an idle engine: the online TTFT case), one graph
  // per GEMM row bucket up to the context: eagerly such a step is ~110 launches and ~0.85 ms of host
  // time (H100 profile of a 256-token prefill step); TTFT p50 fell 3.27 -> 2.91 ms with these graphs
  // (docs/perf-notes.md). Only with a prefill backend that supports graphs.
  BucketGraphs prefill_graphs_;
  bool timing_on_ = false;
  cudaEvent_t ev0_ = nullptr, ev1_ = nullptr;
  RunnerStepTiming timing_;
  // Between launch() and collect(): the step in flight.
  struct InFlight {
    const StepBatch* batch = nullptr;
    int bucket = 0, n_rows = 0;
    bool prefill_graph = false;
    std::chrono::steady_clock::time_point t0, t1, t2;
  } fl_;
};

void CudaRunner::set_timing(bool on) {
  timing_on_ = on;
  if (on && !ev0_) {
    CUDA_CHECK(cudaEventCreate(&ev0_));
    CUDA_CHECK(cudaEventCreate(&ev1_));
  }
}

CudaRunner::CudaRunner(const ModelWeights& w, const RunnerOptions& opt)
    : cfg_(w.config), opt_(opt), dtype_(opt.dtype), model_forward_(model_family(w.config.family).forward) {
  if (opt.dtype == DType::F32) throw std::runtime_error("CUDA runner takes fp16 or bf16, not fp32");
  // Process-wide settings of the CUDA helpers, from the engine's switches (core/experiments.h).
  pdl_requested() = opt.exp.pdl;
  gpu_timeout_setting() = opt.exp.gpu_timeout_s;
  max_seqs_ = std::max(1, opt.max_num_seqs);
  // Activation buffers and GEMM warm-up cover a step's token budget (not the context: at 128k a
  // context-sized step would need tens of GB of activations); score() takes at most this many tokens.
  max_tokens_ = std::max(opt.max_num_batched_tokens, max_seqs_);

  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  device_name_ = prop.name;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));

  fwd_ = std::make_unique<CudaForward>(w, dtype_, opt, max_tokens_, max_seqs_);
  Vld_ = fwd_->vocab_stride();

  StepCaps caps;
  caps.max_tokens = max_tokens_;
  caps.max_seqs = max_seqs_;
  caps.block_size = opt.block_size;
  caps.max_blocks_per_seq = (cfg_.max_context + opt.block_size - 1) / opt.block_size;
  in_ = std::make_unique<StepInputs>(caps);

  logits_.resize((size_t)gemm_rows(max_seqs_) * Vld_ * sizeof(float));
  CUDA_CHECK(cudaMemset(logits_.get(), 0, logits_.bytes()));
  sampled_.resize((size_t)max_seqs_ * 8);
  sampled_host_ = PinnedBuffer((size_t)max_seqs_ * 8);
  num_kv_blocks_ = opt.num_kv_blocks > 0 ? opt.num_kv_blocks : blocks_from_memory(opt.gpu_memory_utilization);
  scratch_block_ = num_kv_blocks_;
  const int blocks = num_kv_blocks_ + 1;
  const size_t per_tensor = (size_t)blocks * opt.block_size * cfg_.kv_dim() * dtype_bytes(dtype_);
  kv_.resize(per_tensor * 2 * cfg_.num_layers);
  for (int l = 0; l < cfg_.num_layers; ++l) {
    PagedKv p;
    p.k = kv_.get<char>() + per_tensor * (2 * l);
    p.v = kv_.get<char>() + per_tensor * (2 * l + 1);
    p.num_blocks = blocks;
    layer_kv_.push_back(p);
  }
  buckets_ = decode_buckets(max_seqs_);
  fwd_->warm_gemms(stream_);
  if (opt.cuda_graph) {
    capture_decode_graphs();
    if (fwd_->prefill().supports_graph() && opt.exp.prefill_graphs) capture_prefill_graphs();
  }
}

CudaRunner::~CudaRunner() {
  if (stream_) {
    // Bounded: a hung kernel must not hang the process at exit.
    try { SYNC_STREAM(stream_); } catch (...) {}
    cudaStreamDestroy(stream_);
  }
  if (ev0_) cudaEventDestroy(ev0_);
  if (ev1_) cudaEventDestroy(ev1_);
}

// vLLM's rule: `utilization` of the GPU's whole memory is this engine's; what is in use now (weights,
// activation buffers, workspaces, and anything else on the device) is subtracted, and a reserve for
// what comes after the pool (captured graphs, cuBLASLt's lazily loaded kernels, allocator slack) is
// kept back. The rest becomes KV blocks (plus the scratch block).
int CudaRunner::blocks_from_memory(double utilization) const {
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  const double budget = utilization * (double)total_b - (double)(total_b - free_b);
  const double reserve = std::max(512.0 * (1 << 20), 0.01 * (double)total_b);
  const double per_block = (double)kv_bytes_per_block(cfg_, opt_.block_size, dtype_);
  const double blocks = (budget - reserve) / per_block - 1;
  if (blocks < 1)
    throw std::runtime_error("--gpu-memory-utilization " + std::to_string(utilization) + ": " +
                             std::to_string((long long)((total_b - free_b) >> 20)) + " MiB of " +
                             std::to_string((long long)(total_b >> 20)) +
                             " MiB in use after the weights and buffers leave no room for a KV block (raise it, or "
                             "give --kv-cache-gb / --num-kv-blocks)");
  return (int)std::min(blocks, (double)(1 << 30));
}

void CudaRunner::forward(const AttnMetadata& md, const int32_t* rows, int n_rows, float* logits) {
  CudaStepView v;
  v.md = md;
  v.tokens = in_->tokens;
  v.positions = in_->positions;
  v.slot_mapping = in_->slot_mapping;
  v.lm_rows = rows;
  v.n_lm_rows = n_rows;
  v.logits = logits;
  v.padded_logits = logits == logits_.get<float>();
  v.cache = &layer_kv_;
  v.stream = stream_;
  fwd_->bind(v);
  model_forward_(cfg_, *fwd_);
}

void CudaRunner::enqueue_step(const AttnMetadata& md, int n_rows) {
  forward(md, in_->sample_rows, n_rows, logits_.get<float>());
  int32_t* tok = sampled_.get<int32_t>();
  float* lp = reinterpret_cast<float*>(tok + max_seqs_);
  if (skip(ExperimentSwitches::kSkipSample)) return;
  sample_forward(tok, lp, logits_.get<float>(), n_rows, cfg_.vocab_size, in_->sampling, stream_, Vld_);
}

AttnMetadata CudaRunner::decode_bucket_metadata(const StepBatch& padded) const {
  AttnMetadata md = in_->metadata(padded);
  md.max_q_len = 1;
  md.max_k_len = cfg_.max_context;  // split-KV decode sizes its grid for the longest context, not the capture's pads
  return md;
}

AttnMetadata CudaRunner::prefill_bucket_metadata(const StepBatch& padded) const {
  AttnMetadata md = in_->metadata(padded);
  md.max_q_len = padded.num_tokens();  // the bucket: q tiles past the real length exit at once
  md.max_k_len = cfg_.max_context;
  return md;
}

// Every GEMM row bucket up to the longest one-sequence prompt (the context, within the token budget).
// The capture runs on a stand-in prompt whose keys all point at the scratch block and whose rows write
// no K/V (slot -1), so no live cache is touched.
void CudaRunner::capture_prefill_graphs() {
  const int longest = std::min(max_tokens_, cfg_.max_context);
  SamplingParams greedy;
  greedy.temperature = 0.f;
  int last = 0;
  bool warmed = false;
  for (int m = 1; m <= longest; ++m) {
    const int rows = gemm_rows(m);
    if (rows == last) continue;
    last = rows;
    if (rows > max_tokens_) break;
    const int n = std::min(rows, longest);
    const std::vector<int32_t> table((n + opt_.block_size - 1) / opt_.block_size, scratch_block_);
    const StepBatch b = one_sequence_prefill(std::vector<int32_t>(n, 0), table, opt_.block_size, /*write_kv=*/false, &greedy);
    StepBatch padded = pad_prefill_batch(b, rows);
    AttnMetadata md = prefill_bucket_metadata(padded);
    in_->upload(padded, stream_);
    fwd_->prefill().prepare_for_capture(md);
    if (!warmed) {  // kernel attributes and modules outside the capture
      enqueue_step(md, 1);
      SYNC_STREAM(stream_);
      warmed = true;
    }
    prefill_graphs_.capture(rows, stream_, [&] { enqueue_step(md, 1); });
    prefill_graphs_.launch(rows, stream_);  // the first launch uploads the graph: not in a timed step
    SYNC_STREAM(stream_);
  }
}

void CudaRunner::capture_decode_graphs() {
  if (!fwd_->decode().supports_graph())
    throw std::runtime_error("CUDA graphs: decode backend \"" + opt_.decode_backend + "\" does not support them (use --no-cuda-graph)");
  for (int bucket : buckets_) {
    StepBatch empty;
    StepBatch padded = pad_decode_batch(empty, bucket, scratch_block_, opt_.block_size);
    AttnMetadata md = decode_bucket_metadata(padded);
    in_->upload(padded, stream_);
    fwd_->decode().prepare_for_capture(md);
    enqueue_step(md, bucket);  // eager warm-up: loads modules, fills the GEMM plan cache
    SYNC_STREAM(stream_);
    graphs_.capture(bucket, stream_, [&] { enqueue_step(md, bucket); });
  }
  // Replay every graph once before `ready`: the first launch of an instantiated graph uploads it,
  // which should not land in the first timed decode step.
  for (int bucket : buckets_) {
    StepBatch empty;
    StepBatch padded = pad_decode_batch(empty, bucket, scratch_block_, opt_.block_size);
    in_->upload(padded, stream_);
    fwd_->decode().prepare_for_replay(decode_bucket_metadata(padded));
    graphs_.launch(bucket, stream_);
    SYNC_STREAM(stream_);
  }
}

void CudaRunner::step(const StepBatch& b, std::vector<SampleResult>& out) {
  launch(b);
  collect(out);
}

void CudaRunner::launch(const StepBatch& b) {
  using clk = std::chrono::steady_clock;
  if (fl_.batch) throw std::runtime_error("CudaRunner::launch: the previous step was not collected");
  fl_ = InFlight{};
  fl_.batch = &b;
  const int n_samp = (int)b.sample_seq.size();
  if (b.num_tokens() == 0) return;
  fl_.t0 = clk::now();
  fl_.t1 = fl_.t0;
  if (timing_on_) CUDA_CHECK(cudaEventRecord(ev0_, stream_));
  // Pure-decode steps run padded to a bucket with or without graphs: the same GEMM shapes (so the
  // same cuBLASLt algorithms) either way, hence identical outputs with --no-cuda-graph.
  const bool pure_decode = b.num_prefill_seqs == 0 && b.num_decode_seqs > 0;
  int bucket = 0;
  if (pure_decode)
    for (int n : buckets_)
      if (n >= b.num_seqs()) { bucket = n; break; }
  int n_rows = n_samp;
  // A lone sampled prefill (no decode rows): the captured graph of its row bucket, when there is one.
  // Same GEMM row count as the eager path (the bucket is gemm_rows of the prompt), so the same outputs
  // with --no-cuda-graph.
  const bool lone_prefill = b.num_prefill_seqs == 1 && b.num_decode_seqs == 0 && n_samp == 1;
  const int prefill_bucket = lone_prefill && prefill_graphs_.has(gemm_rows(b.num_tokens())) ? gemm_rows(b.num_tokens()) : 0;
  if (prefill_bucket > 0) {
    StepBatch padded = pad_prefill_batch(b, prefill_bucket);
    AttnMetadata md = prefill_bucket_metadata(padded);
    in_->upload(padded, stream_);
    fwd_->prefill().prepare_for_replay(md);
    fl_.t1 = clk::now();
    prefill_graphs_.launch(prefill_bucket, stream_);
    fl_.prefill_graph = true;
    n_rows = 1;
  } else if (bucket > 0) {
    StepBatch padded = pad_decode_batch(b, bucket, scratch_block_, opt_.block_size);
    AttnMetadata md = decode_bucket_metadata(padded);
    in_->upload(padded, stream_);  // staged: `padded` may go out of scope after this
    fwd_->decode().prepare_for_replay(md);
    fl_.t1 = clk::now();
    if (opt_.cuda_graph)
      graphs_.launch(bucket, stream_);
    else
      enqueue_step(md, bucket);
    n_rows = bucket;
  } else {
    AttnMetadata md = in_->metadata(b);
    in_->upload(b, stream_);
    if (b.num_prefill_seqs > 0) fwd_->prefill().plan(md);
    if (b.num_decode_seqs > 0) fwd_->decode().plan(md);
    fl_.t1 = clk::now();
    if (n_samp == 0) {  // a step of mid-prompt chunks only: still run the model to fill the cache
      forward(md, in_->sample_rows, 0, logits_.get<float>());
    } else {
      enqueue_step(md, n_samp);
    }
  }
  int32_t* host = sampled_host_.get<int32_t>();
  if (n_rows > 0) {
    CUDA_CHECK(cudaMemcpyAsync(host, sampled_.get(), (size_t)n_rows * 4, cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaMemcpyAsync(host + max_seqs_, sampled_.get<int32_t>() + max_seqs_, (size_t)n_rows * 4,
                               cudaMemcpyDeviceToHost, stream_));
  }
  if (timing_on_) CUDA_CHECK(cudaEventRecord(ev1_, stream_));
  fl_.bucket = bucket;
  fl_.n_rows = n_rows;
  fl_.t2 = clk::now();
}

void CudaRunner::collect(std::vector<SampleResult>& out) {
  using clk = std::chrono::steady_clock;
  auto ms = [](clk::time_point a, clk::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  if (!fl_.batch) throw std::runtime_error("CudaRunner::collect: no step in flight");
  const StepBatch& b = *fl_.batch;
  fl_.batch = nullptr;
  const int n_samp = (int)b.sample_seq.size();
  out.resize(n_samp);
  if (b.num_tokens() == 0) return;
  SYNC_STREAM(stream_);
  if (timing_on_) {
    const clk::time_point t3 = clk::now();
    float g = 0.f;
    CUDA_CHECK(cudaEventElapsedTime(&g, ev0_, ev1_));
    timing_.prep_ms = ms(fl_.t0, fl_.t1);
    timing_.launch_ms = ms(fl_.t1, fl_.t2);
    timing_.wait_ms = ms(fl_.t2, t3);
    timing_.gpu_ms = g;
    timing_.graph = (fl_.bucket > 0 && opt_.cuda_graph) || fl_.prefill_graph;
    timing_.padded_rows = fl_.bucket;
  }
  const int32_t* host = sampled_host_.get<int32_t>();
  const float* lp = reinterpret_cast<const float*>(host + max_seqs_);
  for (int j = 0; j < n_samp; ++j) {
    const int r = fl_.bucket > 0 ? b.sample_seq[j] : j;  // graph rows are slices; eager rows are samples
    out[j].token = host[r];
    out[j].logprob = lp[r];
  }
  int k = 0;
  for (int j = 0; j < n_samp; ++j) k = std::max(k, b.sample_params[j].top_logprobs);
  if (k > 0) collect_top_logprobs(b, k, out);
}

// top_logprobs, only when a request asks for it: the k best tokens of each sampled row's logits, which
// logits_ still holds after the step (rows as in collect: graph rows are slices, eager rows samples).
void CudaRunner::collect_top_logprobs(const StepBatch& b, int k, std::vector<SampleResult>& out) {
  const int n = (int)b.sample_seq.size();
  std::vector<int32_t> rows(n);
  for (int j = 0; j < n; ++j) rows[j] = fl_.bucket > 0 ? b.sample_seq[j] : j;
  top_.resize((size_t)max_seqs_ * (1 + 2 * kMaxTopLogprobs) * 4);
  int32_t* d_rows = top_.get<int32_t>();
  int32_t* d_ids = d_rows + max_seqs_;
  float* d_lp = reinterpret_cast<float*>(d_ids + (size_t)max_seqs_ * kMaxTopLogprobs);
  std::vector<int32_t> ids((size_t)n * k);
  std::vector<float> lps((size_t)n * k);
  CUDA_CHECK(cudaMemcpyAsync(d_rows, rows.data(), (size_t)n * 4, cudaMemcpyHostToDevice, stream_));
  top_logprobs_forward(d_ids, d_lp, logits_.get<float>(), d_rows, n, cfg_.vocab_size, Vld_, k, stream_);
  CUDA_CHECK(cudaMemcpyAsync(ids.data(), d_ids, ids.size() * 4, cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaMemcpyAsync(lps.data(), d_lp, lps.size() * 4, cudaMemcpyDeviceToHost, stream_));
  SYNC_STREAM(stream_);
  for (int j = 0; j < n; ++j)
    for (int t = 0; t < std::min(k, b.sample_params[j].top_logprobs); ++t)
      if (ids[(size_t)j * k + t] >= 0) out[j].top.emplace_back(ids[(size_t)j * k + t], lps[(size_t)j * k + t]);
}

// One prefill of the whole sequence in KV blocks [0, n / block_size]; overwrites those blocks, so
// call it only while no request is live (it is a check path).
std::vector<float> CudaRunner::score(const std::vector<int32_t>& tokens) {
  const int n = (int)tokens.size();
  if (n < 2) return {};
  if (n > cfg_.max_context) throw std::runtime_error("score: sequence longer than the context");
  if (n > max_tokens_)
    throw std::runtime_error("score: " + std::to_string(n) + " tokens exceed the step budget (max_num_batched_tokens " +
                             std::to_string(max_tokens_) + ")");
  const int bs = opt_.block_size, nblk = (n + bs - 1) / bs;
  if (nblk > opt_.num_kv_blocks) throw std::runtime_error("score: not enough KV blocks");
  std::vector<int32_t> table(nblk);
  for (int i = 0; i < nblk; ++i) table[i] = i;
  const StepBatch b = one_sequence_prefill(tokens, table, bs);
  AttnMetadata md = in_->metadata(b);
  in_->upload(b, stream_);
  fwd_->prefill().plan(md);
  const int V = cfg_.vocab_size;
  DeviceBuffer logits((size_t)n * V * sizeof(float)), lp(n * sizeof(float)), targets(n * sizeof(int32_t));
  CUDA_CHECK(cudaMemcpyAsync(targets.get(), tokens.data() + 1, (n - 1) * 4, cudaMemcpyHostToDevice, stream_));
  forward(md, nullptr, n - 1, logits.get<float>());
  target_logprob_forward(lp.get<float>(), logits.get<float>(), targets.get<int32_t>(), n - 1, V, stream_);
  std::vector<float> out(n - 1);
  CUDA_CHECK(cudaMemcpyAsync(out.data(), lp.get(), (n - 1) * 4, cudaMemcpyDeviceToHost, stream_));
  SYNC_STREAM(stream_);
  return out;
}

}  // namespace

std::unique_ptr<ModelRunner> make_cuda_runner(const ModelWeights& w, const RunnerOptions& opt) {
  return std::make_unique<CudaRunner>(w, opt);
}

}  // namespace attnbench
