// The CUDA model runner: GPT-2 forward on fp16/bf16 with an fp32 residual stream.
//
// One step:  upload metadata (one copy) -> attention plan() on the host -> forward -> sample ->
//            copy the sampled tokens back -> one stream sync.
// forward:   embedding + ln_1 | per layer: QKV GEMM (+bias) -> split q/k/v + append K/V at
//            slot_mapping (prefill rows; decode rows too unless the decode backend reads the QKV rows
//            and appends itself) -> attention (prefill rows, then decode rows) -> proj GEMM (+bias) ->
//            residual + ln_2 -> FC GEMM (+bias+gelu) -> proj GEMM (+bias) -> residual + next ln_1
//            | last residual + ln_f on the sampled rows only -> LM head (fp32 logits).
// Pure-decode steps, and lone sampled prefills, replay a captured graph of the whole step (cuda/bucket_graphs.h).
// defines: make_cuda_runner, cuda_runner_status
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "attn/backend.h"
#include "cuda/cuda_check.h"
#include "cuda/cuda_weights.h"        // defines: CudaWeights, upload_weights
#include "cuda/bucket_graphs.h"       // defines: BucketGraphs, decode_buckets
#include "cuda/device_buffer.h"
#include "cuda/gemm.h"                // defines: Gemm (cuBLASLt)
#include "cuda/step_inputs.h"         // defines: StepInputs, pad_decode_batch
#include "kernels/embedding.cuh"      // defines: embedding_forward
#include "kernels/kv_append.cuh"      // defines: qkv_split_kv_append
#include "kernels/layernorm.cuh"      // defines: residual_layernorm_forward
#include "kernels/logprobs.cuh"       // defines: target_logprob_forward
#include "kernels/sampling.cuh"       // defines: sample_forward
#include "kernels/top_logprobs.cuh"   // defines: top_logprobs_forward
#include "runner/model_runner.h"

namespace attnbench {

namespace {

class CudaRunner final : public ModelRunner {
 public:
  CudaRunner(const Gpt2Weights& w, const RunnerOptions& opt);
  ~CudaRunner() override;
  void step(const StepBatch& batch, std::vector<SampleResult>& out) override;
  void launch(const StepBatch& batch) override;
  void collect(std::vector<SampleResult>& out) override;
  std::vector<float> score(const std::vector<int32_t>& tokens) override;
  std::string device_name() const override { return device_name_; }
  void set_timing(bool on) override;
  RunnerStepTiming last_timing() const override { return timing_; }
  void collect_top_logprobs(const StepBatch& b, int k, std::vector<SampleResult>& out);

 private:
  // Enqueues the model on stream_ for the batch described by md; final LN + LM head on
  // `n_rows` rows (`rows` = device row indices, or null for rows 0..n_rows-1) into `logits`.
  void forward(const AttnMetadata& md, const int32_t* rows, int n_rows, float* logits);
  void enqueue_step(const AttnMetadata& md, int n_rows);  // forward + sampling
  AttnMetadata graph_metadata(const StepBatch& padded) const;
  AttnMetadata prefill_graph_metadata(const StepBatch& padded) const;
  void capture_graphs();
  void capture_prefill_graphs();
  void warm_gemms();
  size_t elt() const { return (size_t)dtype_bytes(dtype_); }
  template <class P = char> P* act(const DeviceBuffer& b, size_t elems) const { return (P*)(b.get<char>() + elems * elt()); }

  ModelConfig cfg_;
  RunnerOptions opt_;
  DType dtype_;
  int C_, H_, Hkv_, D_, I_, V_, qkv_N_;
  int Vld_ = 0;                     // logits_ row stride = the LM head GEMM's N: V padded (see vocab_pad)
  DeviceBuffer lm_head_pad_;        // [Vld_, C]: the LM head with zero rows past V (when Vld_ > V)
  const void* lm_w_ = nullptr;      // the LM head the step GEMM multiplies: lm_head_pad_ or w_.lm_head
  int lm_n_ = 0;                    // its rows: Vld_ when padded, else V
  int max_tokens_, max_seqs_;
  std::string device_name_;
  cudaStream_t stream_ = nullptr;
  CudaWeights w_;
  std::unique_ptr<Gemm> gemm_;
  std::unique_ptr<PrefillAttn> prefill_;
  std::unique_ptr<DecodeAttn> decode_;
  std::unique_ptr<StepInputs> in_;
  DeviceBuffer kv_;                 // [layer][K|V][blocks + 1, block_size, Hkv, D]
  std::vector<PagedKv> layer_kv_;
  int scratch_block_ = 0;           // the extra block pad rows of a graph write to
  DeviceBuffer x_;                  // fp32 residual [T, C]
  DeviceBuffer h_, qkv_, q_, k_, v_, att_, tmp_, fc_;
  DeviceBuffer logits_;             // fp32 [S, V]
  DeviceBuffer sampled_;            // int32 tokens [S] | fp32 logprobs [S]
  PinnedBuffer sampled_host_;
  DeviceBuffer top_;                // top_logprobs rows | ids | logprobs, grown the first time one is asked for
  std::vector<int> buckets_;        // decode batch sizes a pure-decode step is padded to
  BucketGraphs graphs_;
  // One-sequence prefill steps (a request arriving at an idle engine: the online TTFT case), one graph
  // per GEMM row bucket up to the context: eagerly such a step is ~110 launches and ~0.85 ms of host
  // time (H100 profile of a 256-token prefill step); TTFT p50 fell 3.27 -> 2.91 ms with these graphs
  // (docs/perf-notes.md). Only with a capturable() prefill backend.
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
  // Profiling only (ATTNBENCH_SKIP=attn,gemm,lmhead,sample,norm,append,embed): leave those parts out
  // of the forward to split a step's time by subtraction. Outputs are garbage then; never set it
  // outside cuda_offline_bench --breakdown.
  unsigned skip_ = 0;
  enum : unsigned { kSkipAttn = 1, kSkipGemm = 2, kSkipLmHead = 4, kSkipSample = 8, kSkipNorm = 16,
                    kSkipAppend = 32, kSkipEmbed = 64 };
};

// GEMM row counts are rounded up to a few buckets, so a step's token count (which varies freely in
// prefill and mixed steps) maps onto shapes whose cuBLASLt plans and kernels were made and loaded
// at start-up (warm_gemms): a new M used to cost a heuristic query and lazy kernel loads inside the
// step (engine profile, H100: ~20 ms of host launch time in the first prefill step and ~6 ms in
// each mixed step). Decode buckets (1, 2, 4, 8, 16..64 by 8, then by 16) map to themselves. The rows
// past M compute garbage into rows nothing reads; each row's result does not depend on the others.
int gemm_rows(int m) {
  if (m <= 8) { int p = 1; while (p < m) p <<= 1; return p; }
  if (m <= 64) return (m + 7) / 8 * 8;
  if (m <= 512) return (m + 15) / 16 * 16;
  return (m + 127) / 128 * 128;
}

unsigned parse_skip_env() {
  const char* e = std::getenv("ATTNBENCH_SKIP");
  if (!e) return 0;
  std::string v = e;
  unsigned m = 0;
  auto has = [&](const char* w) { return v.find(w) != std::string::npos; };
  if (has("attn")) m |= 1;
  if (has("gemm")) m |= 2;
  if (has("lmhead")) m |= 4;
  if (has("sample")) m |= 8;
  if (has("norm")) m |= 16;
  if (has("append")) m |= 32;
  if (has("embed")) m |= 64;
  return m;
}

void CudaRunner::set_timing(bool on) {
  timing_on_ = on;
  if (on && !ev0_) {
    CUDA_CHECK(cudaEventCreate(&ev0_));
    CUDA_CHECK(cudaEventCreate(&ev1_));
  }
}

CudaRunner::CudaRunner(const Gpt2Weights& w, const RunnerOptions& opt)
    : cfg_(w.config), opt_(opt), dtype_(opt.dtype == DType::F32 ? DType::F16 : opt.dtype) {
  if (opt.dtype == DType::F32) throw std::runtime_error("CUDA runner takes fp16 or bf16, not fp32");
  if (opt.num_kv_blocks <= 0) throw std::runtime_error("CUDA runner: num_kv_blocks must be resolved (> 0)");
  C_ = cfg_.n_embd; H_ = cfg_.n_head; Hkv_ = cfg_.n_kv_head > 0 ? cfg_.n_kv_head : H_; D_ = cfg_.head_dim();
  I_ = cfg_.n_inner > 0 ? cfg_.n_inner : 4 * C_; V_ = cfg_.vocab_size;
  qkv_N_ = (H_ + 2 * Hkv_) * D_;
  if (qkv_N_ != 3 * C_) throw std::runtime_error("CUDA runner: GPT-2 QKV layout needs n_kv_head == n_head");
  max_seqs_ = std::max(1, opt.max_num_seqs);
  max_tokens_ = std::max({opt.max_num_batched_tokens, max_seqs_, cfg_.n_ctx});

  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  device_name_ = prop.name;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));

  upload_weights(w_, w, dtype_);
  gemm_ = std::make_unique<Gemm>();

  AttnDims dims;
  dims.num_heads = H_;
  dims.num_kv_heads = Hkv_;
  dims.head_dim = D_;
  dims.scale = 1.0f / std::sqrt((float)D_);
  dims.block_size = opt.block_size;
  dims.dtype = dtype_;
  dims.cuda_graph = opt.cuda_graph;
  prefill_ = make_prefill_attn(opt.prefill_backend, Device::CUDA, dims);
  decode_ = make_decode_attn(opt.decode_backend, Device::CUDA, dims);

  StepCaps caps;
  caps.max_tokens = max_tokens_;
  caps.max_seqs = max_seqs_;
  caps.block_size = opt.block_size;
  caps.max_blocks_per_seq = (cfg_.n_ctx + opt.block_size - 1) / opt.block_size;
  in_ = std::make_unique<StepInputs>(caps);

  scratch_block_ = opt.num_kv_blocks;
  const int blocks = opt.num_kv_blocks + 1;
  const size_t per_tensor = (size_t)blocks * opt.block_size * Hkv_ * D_ * elt();
  kv_.resize(per_tensor * 2 * cfg_.n_layer);
  for (int l = 0; l < cfg_.n_layer; ++l) {
    PagedKv p;
    p.k = kv_.get<char>() + per_tensor * (2 * l);
    p.v = kv_.get<char>() + per_tensor * (2 * l + 1);
    p.num_blocks = blocks;
    layer_kv_.push_back(p);
  }
  const size_t T = gemm_rows(max_tokens_);  // GEMMs may run on rounded-up row counts
  x_.resize(T * C_ * sizeof(float));
  h_.resize(T * C_ * elt());
  qkv_.resize(T * qkv_N_ * elt());
  q_.resize(T * H_ * D_ * elt());
  k_.resize(T * Hkv_ * D_ * elt());
  v_.resize(T * Hkv_ * D_ * elt());
  att_.resize(T * C_ * elt());
  tmp_.resize(T * C_ * elt());
  fc_.resize(T * I_ * elt());
  // The LM head runs on a vocabulary padded to a multiple of 128 rows of zeros (llm.c's 50304 for
  // GPT-2): cuBLASLt at M = 128, N = 50257 (any ld) ran at ~75 TFLOPS, 130 us of a 1.23 ms decode
  // step (attnbench-gemm-bench, H100). Sampling reads the first V columns of each padded row.
  // ATTNBENCH_VOCAB_PAD=N pads to a multiple of N instead (1 = no padding rows, stride still 32).
  int pad = 128;
  if (const char* e = std::getenv("ATTNBENCH_VOCAB_PAD")) pad = std::max(1, std::atoi(e));
  Vld_ = (V_ + pad - 1) / pad * pad;
  if (Vld_ > V_) {
    lm_head_pad_.resize((size_t)Vld_ * C_ * elt());
    CUDA_CHECK(cudaMemset(lm_head_pad_.get(), 0, lm_head_pad_.bytes()));
    CUDA_CHECK(cudaMemcpy(lm_head_pad_.get(), w_.lm_head, (size_t)V_ * C_ * elt(), cudaMemcpyDeviceToDevice));
  }
  lm_w_ = Vld_ > V_ ? lm_head_pad_.get() : w_.lm_head;
  lm_n_ = Vld_;
  Vld_ = (Vld_ + 31) / 32 * 32;  // aligned row stride when not padding rows
  logits_.resize((size_t)gemm_rows(max_seqs_) * Vld_ * sizeof(float));
  for (DeviceBuffer* b : {&x_, &h_, &qkv_, &q_, &k_, &v_, &att_, &tmp_, &fc_, &logits_})
    CUDA_CHECK(cudaMemset(b->get(), 0, b->bytes()));  // rows past M are read by rounded GEMMs: no NaN bits
  sampled_.resize((size_t)max_seqs_ * 8);
  sampled_host_ = PinnedBuffer((size_t)max_seqs_ * 8);
  buckets_ = decode_buckets(max_seqs_);
  skip_ = parse_skip_env();
  warm_gemms();
  if (opt.cuda_graph) {
    capture_graphs();
    if (prefill_->capturable() && !std::getenv("ATTNBENCH_NO_PREFILL_GRAPHS")) capture_prefill_graphs();
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

void CudaRunner::forward(const AttnMetadata& md, const int32_t* rows, int n_rows, float* logits) {
  const int T = md.num_tokens;
  const int Tg = gemm_rows(T);  // GEMM rows (buffers hold gemm_rows(max_tokens_))
  // The LM head rounds too, but only into our own logits buffer (score() passes an exact one).
  const int lm_rows = logits == logits_.get<float>() ? gemm_rows(n_rows) : n_rows;
  const float eps = cfg_.layer_norm_epsilon;
  cudaStream_t s = stream_;
  const bool sk_attn = skip_ & kSkipAttn, sk_gemm = skip_ & kSkipGemm, sk_norm = skip_ & kSkipNorm,
             sk_app = skip_ & kSkipAppend;
  if (!(skip_ & kSkipEmbed))
    embedding_forward(x_.get<float>(), in_->tokens, in_->positions, w_.wte, w_.wpe, T, C_, dtype_, s);
  if (!sk_norm)
    residual_layernorm_forward(h_.get(), x_.get<float>(), nullptr, nullptr, T, C_, w_.layers[0].ln_1_w,
                               w_.layers[0].ln_1_b, eps, dtype_, s);
  const size_t dec_off = (size_t)md.num_prefill_tokens * H_ * D_;  // decode rows follow prefill rows
  // A decode backend that reads the QKV rows appends its own K/V: the split kernel then covers the
  // prefill rows only (none in a decode step).
  const bool dec_rows = md.num_decode_seqs > 0 && decode_->reads_qkv_rows();
  const int split_T = dec_rows ? md.num_prefill_tokens : T;
  DecodeQkvRows drows;
  drows.qkv = act(qkv_, (size_t)md.num_prefill_tokens * qkv_N_);
  drows.row_stride = qkv_N_;
  drows.slot_mapping = sk_app ? nullptr : in_->slot_mapping + md.num_prefill_tokens;
  for (int l = 0; l < cfg_.n_layer; ++l) {
    const CudaLayerWeights& L = w_.layers[l];
    if (!sk_gemm)
      gemm_->linear(s, qkv_.get(), h_.get(), L.qkv_w, L.qkv_b, Tg, qkv_N_, C_, dtype_, dtype_, GemmEpilogue::Bias);
    if (!sk_app)
      qkv_split_kv_append(q_.get(), k_.get(), v_.get(), layer_kv_[l].k, layer_kv_[l].v, qkv_.get(),
                          in_->slot_mapping, split_T, H_, Hkv_, D_, dtype_, s);
    if (md.num_prefill_seqs > 0 && !sk_attn)
      prefill_->run(l, q_.get(), k_.get(), v_.get(), layer_kv_[l], att_.get(), md, s);
    if (md.num_decode_seqs > 0 && !sk_attn) {
      if (dec_rows) decode_->run_qkv(l, drows, layer_kv_[l], act(att_, dec_off), md, s);
      else decode_->run(l, act(q_, dec_off), layer_kv_[l], act(att_, dec_off), md, s);
    }
    if (!sk_gemm)
      gemm_->linear(s, tmp_.get(), att_.get(), L.proj_w, L.proj_b, Tg, C_, C_, dtype_, dtype_, GemmEpilogue::Bias);
    if (!sk_norm)
      residual_layernorm_forward(h_.get(), x_.get<float>(), tmp_.get(), nullptr, T, C_, L.ln_2_w, L.ln_2_b, eps, dtype_, s);
    if (!sk_gemm) {
      gemm_->linear(s, fc_.get(), h_.get(), L.fc_w, L.fc_b, Tg, I_, C_, dtype_, dtype_, GemmEpilogue::BiasGelu);
      gemm_->linear(s, tmp_.get(), fc_.get(), L.fc_proj_w, L.fc_proj_b, Tg, C_, I_, dtype_, dtype_, GemmEpilogue::Bias);
    }
    // The residual add of this MLP, then the next LayerNorm: the next layer's ln_1, or ln_f on the
    // sampled rows only (the LM head needs no other row).
    const bool last = l + 1 == cfg_.n_layer;
    if (last && (skip_ & kSkipLmHead)) return;
    if (!sk_norm || last) {
      const float* nw = last ? w_.ln_f_w : w_.layers[l + 1].ln_1_w;
      const float* nb = last ? w_.ln_f_b : w_.layers[l + 1].ln_1_b;
      const int32_t* nrows = last ? rows : nullptr;
      const int nr = last ? n_rows : T;
      residual_layernorm_forward(h_.get(), x_.get<float>(), tmp_.get(), nrows, nr, C_, nw, nb, eps, dtype_, s);
    }
  }
  if (logits == logits_.get<float>()) {  // our buffer: the padded head (N = row stride)
    gemm_->linear(s, logits, h_.get(), lm_w_, nullptr, lm_rows, lm_n_, C_, dtype_, DType::F32, GemmEpilogue::None, Vld_);
  } else {  // score(): an exact [n, V] buffer
    gemm_->linear(s, logits, h_.get(), w_.lm_head, nullptr, lm_rows, V_, C_, dtype_, DType::F32, GemmEpilogue::None, V_);
  }
}

void CudaRunner::enqueue_step(const AttnMetadata& md, int n_rows) {
  forward(md, in_->sample_rows, n_rows, logits_.get<float>());
  int32_t* tok = sampled_.get<int32_t>();
  float* lp = reinterpret_cast<float*>(tok + max_seqs_);
  if (skip_ & kSkipSample) return;
  sample_forward(tok, lp, logits_.get<float>(), n_rows, V_, in_->sampling, stream_, Vld_);
}

// Every GEMM shape a step can use, run once before `ready`: plans (heuristic queries) made and
// kernels loaded outside the timed steps. ~100 row buckets x 5 shapes at max_num_batched_tokens 8192.
void CudaRunner::warm_gemms() {
  const CudaLayerWeights& L = w_.layers[0];
  int last = 0;
  for (int m = 1; m <= max_tokens_; ++m) {
    const int r = gemm_rows(m);
    if (r == last) continue;
    last = r;
    gemm_->linear(stream_, qkv_.get(), h_.get(), L.qkv_w, L.qkv_b, r, qkv_N_, C_, dtype_, dtype_, GemmEpilogue::Bias);
    gemm_->linear(stream_, tmp_.get(), att_.get(), L.proj_w, L.proj_b, r, C_, C_, dtype_, dtype_, GemmEpilogue::Bias);
    gemm_->linear(stream_, fc_.get(), h_.get(), L.fc_w, L.fc_b, r, I_, C_, dtype_, dtype_, GemmEpilogue::BiasGelu);
    gemm_->linear(stream_, tmp_.get(), fc_.get(), L.fc_proj_w, L.fc_proj_b, r, C_, I_, dtype_, dtype_, GemmEpilogue::Bias);
    if (r <= gemm_rows(max_seqs_))
      gemm_->linear(stream_, logits_.get<float>(), h_.get(), lm_w_, nullptr, r, lm_n_, C_, dtype_, DType::F32,
                    GemmEpilogue::None, Vld_);
  }
  SYNC_STREAM(stream_);
}

// Scalars a captured graph bakes in: they must not change between capture and replay.
AttnMetadata CudaRunner::graph_metadata(const StepBatch& padded) const {
  AttnMetadata md = in_->metadata(padded);
  md.max_q_len = 1;
  md.max_k_len = cfg_.n_ctx;
  md.bucketed = true;  // split-KV decode sizes its grid for the longest context, not the capture's pads
  return md;
}

AttnMetadata CudaRunner::prefill_graph_metadata(const StepBatch& padded) const {
  AttnMetadata md = in_->metadata(padded);
  md.max_q_len = padded.num_tokens();  // the bucket: q tiles past the real length exit at once
  md.max_k_len = cfg_.n_ctx;
  md.bucketed = true;
  return md;
}

// Every GEMM row bucket up to the longest one-sequence prompt (the context, within the token budget).
// The capture runs on a stand-in prompt whose keys all point at the scratch block and whose rows write
// no K/V (slot -1), so no live cache is touched.
void CudaRunner::capture_prefill_graphs() {
  const int longest = std::min(max_tokens_, cfg_.n_ctx);
  int last = 0;
  bool warmed = false;
  for (int m = 1; m <= longest; ++m) {
    const int rows = gemm_rows(m);
    if (rows == last) continue;
    last = rows;
    if (rows > max_tokens_) break;
    const int n = std::min(rows, longest);
    StepBatch b;
    b.num_prefill_seqs = 1;
    for (int i = 0; i < n; ++i) {
      b.tokens.push_back(0);
      b.positions.push_back(i);
      b.slot_mapping.push_back(-1);
    }
    b.cu_seqlens_q = {0, n};
    b.ctx_lens = {0};
    b.seq_lens_k = {n};
    b.max_blocks_per_seq = (n + opt_.block_size - 1) / opt_.block_size;
    b.block_tables.assign(b.max_blocks_per_seq, scratch_block_);
    SamplingParams greedy;
    greedy.temperature = 0.f;
    b.sample_seq = {0};
    b.sample_params = {greedy};
    b.sample_step = {0};
    StepBatch padded = pad_prefill_batch(b, rows);
    AttnMetadata md = prefill_graph_metadata(padded);
    in_->upload(padded, stream_);
    prefill_->plan(md);
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

void CudaRunner::capture_graphs() {
  for (int bucket : buckets_) {
    StepBatch empty;
    empty.num_decode_seqs = 0;
    StepBatch padded = pad_decode_batch(empty, bucket, scratch_block_, opt_.block_size);
    AttnMetadata md = graph_metadata(padded);
    in_->upload(padded, stream_);
    decode_->plan(md);
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
    decode_->plan(graph_metadata(padded));
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
    AttnMetadata md = prefill_graph_metadata(padded);
    in_->upload(padded, stream_);
    prefill_->plan(md);
    fl_.t1 = clk::now();
    prefill_graphs_.launch(prefill_bucket, stream_);
    fl_.prefill_graph = true;
    n_rows = 1;
  } else if (bucket > 0) {
    StepBatch padded = pad_decode_batch(b, bucket, scratch_block_, opt_.block_size);
    AttnMetadata md = graph_metadata(padded);
    in_->upload(padded, stream_);  // staged: `padded` may go out of scope after this
    decode_->plan(md);
    fl_.t1 = clk::now();
    if (opt_.cuda_graph)
      graphs_.launch(bucket, stream_);
    else
      enqueue_step(md, bucket);
    n_rows = bucket;
  } else {
    AttnMetadata md = in_->metadata(b);
    in_->upload(b, stream_);
    if (b.num_prefill_seqs > 0) prefill_->plan(md);
    if (b.num_decode_seqs > 0) decode_->plan(md);
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
  top_logprobs_forward(d_ids, d_lp, logits_.get<float>(), d_rows, n, V_, Vld_, k, stream_);
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
  if (n > cfg_.n_ctx || n > max_tokens_) throw std::runtime_error("score: sequence longer than the context");
  const int bs = opt_.block_size, nblk = (n + bs - 1) / bs;
  if (nblk > opt_.num_kv_blocks) throw std::runtime_error("score: not enough KV blocks");
  StepBatch b;
  b.tokens = tokens;
  for (int i = 0; i < n; ++i) { b.positions.push_back(i); b.slot_mapping.push_back(i); }
  b.cu_seqlens_q = {0, n};
  b.ctx_lens = {0};
  b.seq_lens_k = {n};
  b.max_blocks_per_seq = nblk;
  for (int i = 0; i < nblk; ++i) b.block_tables.push_back(i);
  b.num_prefill_seqs = 1;
  AttnMetadata md = in_->metadata(b);
  in_->upload(b, stream_);
  prefill_->plan(md);
  DeviceBuffer logits((size_t)n * V_ * sizeof(float)), lp(n * sizeof(float)), targets(n * sizeof(int32_t));
  CUDA_CHECK(cudaMemcpyAsync(targets.get(), tokens.data() + 1, (n - 1) * 4, cudaMemcpyHostToDevice, stream_));
  forward(md, nullptr, n - 1, logits.get<float>());
  target_logprob_forward(lp.get<float>(), logits.get<float>(), targets.get<int32_t>(), n - 1, V_, stream_);
  std::vector<float> out(n - 1);
  CUDA_CHECK(cudaMemcpyAsync(out.data(), lp.get(), (n - 1) * 4, cudaMemcpyDeviceToHost, stream_));
  SYNC_STREAM(stream_);
  return out;
}

}  // namespace

std::unique_ptr<ModelRunner> make_cuda_runner(const Gpt2Weights& w, const RunnerOptions& opt) {
  return std::make_unique<CudaRunner>(w, opt);
}

std::string cuda_runner_status() {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string("unavailable: ") + cudaGetErrorString(err);
  }
  if (n == 0) return "unavailable: no CUDA device";
  return "ok";
}

}  // namespace attnbench
