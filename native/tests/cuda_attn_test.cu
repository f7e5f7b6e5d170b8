// The naive CUDA attention backend (through the registry) against an fp32 CPU reference on a
// paged cache with shuffled blocks: prefill lengths 1, 17, 255, 1000, with and without context,
// mixed prefill + decode batches, block sizes 1 / 16 / 256, GQA, fp16 and bf16.
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "attn/backend.h"
#include "cuda_test_util.h"

using namespace attnbench;
using namespace attnbench::test;

static std::mt19937 rng(99);

struct Slice { int ctx, q; };  // q == 1 with ctx >= 1 after the prefill slices = decode

static void run_case(const std::vector<Slice>& slices, int num_prefill, int bs, int H, int Hkv, int D, DType t,
                     const std::string& name) {
  const int S = (int)slices.size();
  std::vector<int> nblk(S);
  int total_blocks = 0, max_blocks = 0, total_tokens = 0;
  for (int s = 0; s < S; ++s) {
    nblk[s] = (slices[s].ctx + slices[s].q + bs - 1) / bs;
    total_blocks += nblk[s];
    max_blocks = std::max(max_blocks, nblk[s]);
    total_tokens += slices[s].q;
  }
  const int blocks = total_blocks + 3;
  std::vector<int> perm(blocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  const size_t row = (size_t)Hkv * D;
  auto kc = round16(randn((size_t)blocks * bs * row, rng), t), vc = round16(randn((size_t)blocks * bs * row, rng), t);
  auto q = round16(randn((size_t)total_tokens * H * D, rng), t);

  StepBatch b;
  b.num_prefill_seqs = num_prefill;
  b.num_decode_seqs = S - num_prefill;
  b.max_blocks_per_seq = max_blocks;
  b.cu_seqlens_q.push_back(0);
  int next = 0;
  for (int s = 0; s < S; ++s) {
    b.cu_seqlens_q.push_back(b.cu_seqlens_q.back() + slices[s].q);
    b.ctx_lens.push_back(slices[s].ctx);
    b.seq_lens_k.push_back(slices[s].ctx + slices[s].q);
    for (int i = 0; i < max_blocks; ++i) b.block_tables.push_back(i < nblk[s] ? perm[next + i] : 0);
    next += nblk[s];
  }
  AttnDims dims;
  dims.num_heads = H; dims.num_kv_heads = Hkv; dims.head_dim = D; dims.scale = 1.f / std::sqrt((float)D);
  dims.block_size = bs; dims.dtype = t;

  // fp32 reference: query i of slice s sees keys [0, ctx + i].
  std::vector<float> ref((size_t)total_tokens * H * D);
  for (int s = 0; s < S; ++s)
    for (int i = 0; i < slices[s].q; ++i) {
      const int tok = b.cu_seqlens_q[s] + i, n_keys = slices[s].ctx + i + 1;
      for (int h = 0; h < H; ++h) {
        const int kvh = h / (H / Hkv);
        std::vector<double> p(n_keys);
        double mx = -1e300, sum = 0;
        for (int j = 0; j < n_keys; ++j) {
          size_t slot = (size_t)b.block_tables[(size_t)s * max_blocks + j / bs] * bs + j % bs;
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += (double)q[((size_t)tok * H + h) * D + d] * kc[slot * row + kvh * D + d];
          p[j] = dot * dims.scale;
          mx = std::max(mx, p[j]);
        }
        for (double& x : p) sum += (x = std::exp(x - mx));
        for (int d = 0; d < D; ++d) {
          double acc = 0;
          for (int j = 0; j < n_keys; ++j) {
            size_t slot = (size_t)b.block_tables[(size_t)s * max_blocks + j / bs] * bs + j % bs;
            acc += p[j] * vc[slot * row + kvh * D + d];
          }
          ref[((size_t)tok * H + h) * D + d] = (float)(acc / sum);
        }
      }
    }

  auto d_q = to_device(to_bits(q, t)), d_k = to_device(to_bits(kc, t)), d_v = to_device(to_bits(vc, t));
  auto d_out = poisoned16((size_t)total_tokens * H * D);
  auto d_cu = to_device(b.cu_seqlens_q), d_ctx = to_device(b.ctx_lens), d_seqk = to_device(b.seq_lens_k);
  auto d_bt = to_device(b.block_tables);
  AttnMetadata md;
  md.num_seqs = S; md.num_prefill_seqs = num_prefill; md.num_decode_seqs = S - num_prefill;
  md.num_tokens = total_tokens; md.num_prefill_tokens = b.cu_seqlens_q[num_prefill];
  md.max_q_len = b.max_q_len(); md.max_k_len = b.max_k_len(); md.max_blocks_per_seq = max_blocks;
  md.cu_seqlens_q = d_cu; md.ctx_lens = d_ctx; md.seq_lens_k = d_seqk; md.block_tables = d_bt; md.host = &b;
  PagedKv kv{d_k, d_v, blocks};
  auto prefill = make_prefill_attn("naive", Device::CUDA, dims);
  auto decode = make_decode_attn("naive", Device::CUDA, dims);
  const size_t elt = 2, dec_off = (size_t)md.num_prefill_tokens * H * D * elt;
  if (md.num_prefill_seqs) { prefill->plan(md); prefill->run(0, d_q, nullptr, nullptr, kv, d_out, md, nullptr); }
  if (md.num_decode_seqs) {
    decode->plan(md);
    decode->run(0, (char*)d_q + dec_off, kv, (char*)d_out + dec_off, md, nullptr);
  }
  auto out = from_bits(to_host(d_out, ref.size()), t);
  double e = rel_l2(out, ref);
  check(e < (t == DType::F16 ? 3e-3 : 2e-2), name + " bs " + std::to_string(bs) + " " + dtype_name(t) + fmt(" rel %.2e", e));
  for (void* p : {(void*)d_q, (void*)d_k, (void*)d_v, (void*)d_out, (void*)d_cu, (void*)d_ctx, (void*)d_seqk, (void*)d_bt})
    cudaFree(p);
}

int main() {
  try {
    for (int bs : {1, 16, 256}) {
      run_case({{0, 1}, {0, 17}, {0, 255}, {0, 1000}}, 4, bs, 4, 4, 64, DType::F16, "prefill 1/17/255/1000");
      run_case({{5, 17}, {300, 1}, {250, 7}, {33, 1}, {1000, 1}, {2, 1}}, 3, bs, 4, 4, 64, DType::F16,
               "mixed prefill-with-context + decode");
    }
    run_case({{0, 1}, {0, 1}, {0, 1}}, 3, 16, 2, 2, 64, DType::F16, "prefill of single tokens");
    run_case({{1, 1}, {16, 1}, {17, 1}, {511, 1}}, 0, 16, 4, 4, 64, DType::F16, "decode only");
    run_case({{7, 40}, {100, 1}, {64, 1}}, 1, 16, 8, 2, 128, DType::F16, "GQA 8/2 hd128 mixed");
    run_case({{0, 129}, {12, 1}}, 1, 16, 4, 4, 64, DType::BF16, "mixed");
    run_case({{3, 30}, {40, 1}}, 1, 16, 4, 4, 16, DType::F16, "hd16 (synthetic:tiny) mixed");
    run_case({{0, 20}, {9, 1}}, 1, 16, 2, 1, 8, DType::F16, "hd8 GQA 2/1 mixed");
  } catch (const std::exception& e) {
    std::printf("NOT OK exception: %s\n", e.what());
    return 1;
  }
  std::printf("cuda_attn_test: %d failure(s)\n", g_failures);
  return g_failures ? 1 : 0;
}
