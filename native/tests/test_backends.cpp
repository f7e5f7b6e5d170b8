// Backend equivalence: naive and fused CPU attention against a plain double-precision reference on
// contiguous K/V, for fresh random inputs (never zeros), mixed prefill/decode batches, prefill with
// cached context (chunked prefill), GQA, odd head counts and block sizes 1, 16 and 256. Blocks are
// scattered (shuffled block ids) and the rest of the pool holds garbage, so a wrong table read shows.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "attn/backend.h"
#include "test_util.h"

using namespace attnbench;

namespace {

struct Case {
  const char* name;
  int H, Hkv, D, block_size;
  std::vector<std::pair<int, int>> prefills;  // (ctx_len, q_len)
  std::vector<int> decodes;                   // k_len (>= 2: context + the new token)
};

struct SeqData {
  int ctx, q;
  std::vector<float> k, v;  // [ctx + q, Hkv, D], contiguous
  std::vector<float> qv;    // [q, H, D]
  std::vector<int32_t> table;
};

// out[i] for query i at position ctx + i over keys [0, ctx + i], in double.
void reference(const SeqData& s, int H, int Hkv, int D, float scale, std::vector<double>& out) {
  out.assign((size_t)s.q * H * D, 0.0);
  for (int i = 0; i < s.q; ++i)
    for (int h = 0; h < H; ++h) {
      const int kvh = h / (H / Hkv), n = s.ctx + i + 1;
      std::vector<double> sc(n);
      double mx = -1e300;
      for (int j = 0; j < n; ++j) {
        double acc = 0;
        for (int d = 0; d < D; ++d) acc += (double)s.qv[((size_t)i * H + h) * D + d] * s.k[((size_t)j * Hkv + kvh) * D + d];
        sc[j] = acc * scale;
        mx = std::max(mx, sc[j]);
      }
      double sum = 0;
      for (double& x : sc) sum += (x = std::exp(x - mx));
      for (int j = 0; j < n; ++j)
        for (int d = 0; d < D; ++d)
          out[((size_t)i * H + h) * D + d] += sc[j] / sum * s.v[((size_t)j * Hkv + kvh) * D + d];
    }
}

void run_case(const Case& c, std::mt19937& rng) {
  std::uniform_real_distribution<float> U(-2.0f, 2.0f);
  auto fill = [&](std::vector<float>& v, size_t n) {
    v.resize(n);
    for (auto& x : v) x = U(rng);
  };
  AttnDims dims;
  dims.num_heads = c.H;
  dims.num_kv_heads = c.Hkv;
  dims.head_dim = c.D;
  dims.scale = 1.0f / std::sqrt((float)c.D);
  dims.block_size = c.block_size;

  std::vector<SeqData> seqs;
  for (auto [ctx, q] : c.prefills) seqs.push_back({ctx, q, {}, {}, {}, {}});
  for (int k_len : c.decodes) seqs.push_back({k_len - 1, 1, {}, {}, {}, {}});
  int total_blocks = 0;
  for (auto& s : seqs) total_blocks += (s.ctx + s.q + c.block_size - 1) / c.block_size;
  const int num_blocks = total_blocks + 3;
  std::vector<int32_t> ids(num_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  const size_t row = (size_t)c.Hkv * c.D;
  std::vector<float> kpool, vpool;
  fill(kpool, (size_t)num_blocks * c.block_size * row);  // garbage everywhere a table does not point
  fill(vpool, kpool.size());

  StepBatch b;
  b.cu_seqlens_q.push_back(0);
  b.num_prefill_seqs = (int)c.prefills.size();
  b.num_decode_seqs = (int)c.decodes.size();
  size_t next = 0;
  for (auto& s : seqs) {
    const int len = s.ctx + s.q;
    fill(s.k, (size_t)len * row);
    fill(s.v, (size_t)len * row);
    fill(s.qv, (size_t)s.q * c.H * c.D);
    for (int i = 0; i < (len + c.block_size - 1) / c.block_size; ++i) s.table.push_back(ids[next++]);
    for (int p = 0; p < len; ++p) {
      const size_t slot = (size_t)s.table[p / c.block_size] * c.block_size + p % c.block_size;
      std::copy(&s.k[p * row], &s.k[p * row] + row, &kpool[slot * row]);
      std::copy(&s.v[p * row], &s.v[p * row] + row, &vpool[slot * row]);
    }
    b.max_blocks_per_seq = std::max(b.max_blocks_per_seq, (int)s.table.size());
  }
  std::vector<float> q_all, knew, vnew;
  for (auto& s : seqs) {
    for (int i = 0; i < s.q; ++i) {
      b.tokens.push_back(0);
      b.positions.push_back(s.ctx + i);
      b.slot_mapping.push_back(s.table[(s.ctx + i) / c.block_size] * c.block_size + (s.ctx + i) % c.block_size);
    }
    b.cu_seqlens_q.push_back(b.num_tokens());
    b.ctx_lens.push_back(s.ctx);
    b.seq_lens_k.push_back(s.ctx + s.q);
    for (int j = 0; j < b.max_blocks_per_seq; ++j) b.block_tables.push_back(j < (int)s.table.size() ? s.table[j] : 0);
    q_all.insert(q_all.end(), s.qv.begin(), s.qv.end());
    knew.insert(knew.end(), s.k.begin() + (size_t)s.ctx * row, s.k.end());
    vnew.insert(vnew.end(), s.v.begin() + (size_t)s.ctx * row, s.v.end());
  }
  const AttnMetadata md = host_attn_metadata(b);
  const PagedKv cache{kpool.data(), vpool.data(), num_blocks};
  const int Tp = b.num_prefill_tokens();
  const size_t tok_row = (size_t)c.H * c.D;

  for (const char* backend : {"naive", "fused"}) {
    auto prefill = make_prefill_attn(backend, Device::CPU, dims);
    auto decode = make_decode_attn(backend, Device::CPU, dims);
    std::vector<float> out((size_t)b.num_tokens() * tok_row, std::numeric_limits<float>::quiet_NaN());  // poison
    prefill->plan(md);
    decode->plan(md);
    if (b.num_prefill_seqs) prefill->run(0, q_all.data(), knew.data(), vnew.data(), cache, out.data(), md, nullptr);
    if (b.num_decode_seqs) decode->run(0, q_all.data() + Tp * tok_row, cache, out.data() + Tp * tok_row, md, nullptr);
    for (size_t si = 0; si < seqs.size(); ++si) {
      std::vector<double> want;
      reference(seqs[si], c.H, c.Hkv, c.D, dims.scale, want);
      double worst = 0;
      const float* got = out.data() + (size_t)b.cu_seqlens_q[si] * tok_row;
      for (size_t i = 0; i < want.size(); ++i) {
        const double err = std::fabs(got[i] - want[i]);
        worst = std::isnan(err) ? INFINITY : std::max(worst, err);
      }
      const bool is_prefill = (int)si < b.num_prefill_seqs;
      CHECK(worst <= 2e-5, std::string(c.name) + " " + backend + (is_prefill ? " prefill" : " decode") + " ctx " +
                               std::to_string(seqs[si].ctx) + " q " + std::to_string(seqs[si].q) + ": max error " +
                               std::to_string(worst));
    }
  }
}

}  // namespace

int main() {
  attnbench_test::init();
  std::mt19937 rng(1234);
  const std::vector<Case> cases = {
      {"mha bs16", 4, 4, 64, 16, {{0, 1}, {0, 17}, {0, 255}, {40, 17}, {200, 55}}, {2, 17, 255, 300}},
      {"gqa 8/2 bs1", 8, 2, 32, 1, {{0, 17}, {33, 31}}, {2, 65, 129}},
      {"mqa 2/1 bs256", 2, 1, 16, 256, {{0, 255}, {255, 1}, {10, 250}}, {256, 257, 70}},
      {"3 heads bs16", 3, 3, 16, 16, {{0, 1}, {5, 1}}, {16, 17, 64, 65}},
      {"prefill only bs7", 4, 2, 24, 7, {{0, 100}, {13, 13}}, {}},
      {"decode only bs16", 4, 4, 64, 16, {}, {3, 1000}},
  };
  for (const auto& c : cases) run_case(c, rng);
  return attnbench_test::finish("test_backends");
}
