// Every available CUDA attention backend (naive, fused, flashattn, cudnn, flashinfer: prefill and
// decode, through the registry) against an fp32 CPU reference on a paged cache with shuffled blocks:
// prefill lengths 1, 17, 255, 1000, with and without context, mixed prefill + decode batches, block
// sizes 1 / 16 / 256, GQA, fp16 and bf16. A decode backend that reads the QKV rows (DecodeFromQkvRows::run_qkv) is
// checked a second time that way, with the newest keys' cache slots poisoned before the call: the
// output must not have read them and the backend must have written them. A prefill backend that
// supports CUDA graphs is also checked on lone prompts replayed from a graph captured for a bucket.
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "attn/backend.h"
#include "cuda_test_util.h"

using namespace attnbench;
using namespace attnbench::test;

static std::mt19937 rng(99);

struct Slice { int ctx, q; };  // q == 1 with ctx >= 1 after the prefill slices = decode

// fp32 reference: query i of slice s sees keys [0, ctx + i] (key j at its block-table slot).
static std::vector<float> reference(const StepBatch& b, const std::vector<float>& q, const std::vector<float>& kc,
                                    const std::vector<float>& vc, int bs, int H, int Hkv, int D, float scale) {
  const int S = b.num_seqs(), max_blocks = b.max_blocks_per_seq;
  const size_t row = (size_t)Hkv * D;
  std::vector<float> ref((size_t)b.cu_seqlens_q[S] * H * D);
  for (int s = 0; s < S; ++s)
    for (int i = 0; i < b.cu_seqlens_q[s + 1] - b.cu_seqlens_q[s]; ++i) {
      const int tok = b.cu_seqlens_q[s] + i, n_keys = b.ctx_lens[s] + i + 1;
      for (int h = 0; h < H; ++h) {
        const int kvh = h / (H / Hkv);
        std::vector<double> p(n_keys);
        double mx = -1e300, sum = 0;
        for (int j = 0; j < n_keys; ++j) {
          size_t slot = (size_t)b.block_tables[(size_t)s * max_blocks + j / bs] * bs + j % bs;
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += (double)q[((size_t)tok * H + h) * D + d] * kc[slot * row + kvh * D + d];
          p[j] = dot * scale;
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
  return ref;
}

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
  dims.exp = read_experiment_switches();  // ATTNBENCH_PREFILL_SM90 etc. pick the kernels under test

  const std::vector<float> ref = reference(b, q, kc, vc, bs, H, Hkv, D, dims.scale);

  // This step's new K/V rows, [num_tokens, Hkv, D] (prefill backends may read them instead of the cache),
  // and each token's cache slot.
  std::vector<float> knew((size_t)total_tokens * row), vnew((size_t)total_tokens * row);
  std::vector<int32_t> slots(total_tokens);
  for (int s = 0; s < S; ++s)
    for (int i = 0; i < slices[s].q; ++i) {
      const int tok = b.cu_seqlens_q[s] + i, pos = slices[s].ctx + i;
      slots[tok] = b.block_tables[(size_t)s * max_blocks + pos / bs] * bs + pos % bs;
      std::copy_n(kc.begin() + (size_t)slots[tok] * row, row, knew.begin() + (size_t)tok * row);
      std::copy_n(vc.begin() + (size_t)slots[tok] * row, row, vnew.begin() + (size_t)tok * row);
    }
  const std::vector<uint16_t> kc_bits = to_bits(kc, t), vc_bits = to_bits(vc, t);
  auto d_q = to_device(to_bits(q, t)), d_k = to_device(kc_bits), d_v = to_device(vc_bits);
  auto d_knew = to_device(to_bits(knew, t)), d_vnew = to_device(to_bits(vnew, t));
  auto d_out = poisoned16((size_t)total_tokens * H * D);
  auto d_cu = to_device(b.cu_seqlens_q), d_ctx = to_device(b.ctx_lens), d_seqk = to_device(b.seq_lens_k);
  auto d_bt = to_device(b.block_tables);
  AttnMetadata md;
  md.num_seqs = S; md.num_prefill_seqs = num_prefill; md.num_decode_seqs = S - num_prefill;
  md.num_tokens = total_tokens; md.num_prefill_tokens = b.cu_seqlens_q[num_prefill];
  md.max_q_len = b.max_q_len(); md.max_k_len = b.max_k_len(); md.max_blocks_per_seq = max_blocks;
  md.cu_seqlens_q = d_cu; md.ctx_lens = d_ctx; md.seq_lens_k = d_seqk; md.block_tables = d_bt; md.host = &b;
  PagedKv kv{d_k, d_v, blocks};
  const size_t elt = 2, n_pre = (size_t)md.num_prefill_tokens * H * D, dec_off = n_pre * elt;
  const std::vector<float> ref_pre(ref.begin(), ref.begin() + n_pre), ref_dec(ref.begin() + n_pre, ref.end());
  const double tol = t == DType::F16 ? 3e-3 : 2e-2;
  const std::string tag = " bs " + std::to_string(bs) + " " + dtype_name(t);
  auto out_rows = [&](size_t from, size_t n) {
    auto all = from_bits(to_host(d_out, ref.size()), t);
    return std::vector<float>(all.begin() + from, all.begin() + from + n);
  };
  auto poison_out = [&] { CUDA_CHECK(cudaMemset(d_out, 0xFF, ref.size() * elt)); };
  // A backend the registry refuses for these dims (head dim, dtype ...) is reported and skipped.
  auto made = [&](const std::string& what, auto make) -> decltype(make()) {
    try {
      return make();
    } catch (const std::exception& e) {
      std::printf("skip   %s%s: %.160s\n", what.c_str(), tag.c_str(), e.what());
      return nullptr;
    }
  };

  for (const BackendStatus& be : list_backends(Device::CUDA, AttnPhase::Prefill)) {
    if (!md.num_prefill_seqs || be.status != "ok") continue;
    auto prefill = made("prefill " + be.name + " " + name, [&] { return make_prefill_attn(be.name, Device::CUDA, dims); });
    if (!prefill) continue;
    poison_out();
    prefill->plan(md);
    prefill->run(0, d_q, d_knew, d_vnew, kv, d_out, md, nullptr);
    const double e = rel_l2(out_rows(0, n_pre), ref_pre);
    check(e < tol, "prefill " + be.name + " " + name + tag + fmt(" rel %.2e", e));
  }
  for (const BackendStatus& be : list_backends(Device::CUDA, AttnPhase::Decode)) {
    if (!md.num_decode_seqs || be.status != "ok") continue;
    auto decode = made("decode " + be.name + " " + name, [&] { return make_decode_attn(be.name, Device::CUDA, dims); });
    if (!decode) continue;
    poison_out();
    decode->plan(md);
    decode->run(0, (char*)d_q + dec_off, kv, (char*)d_out + dec_off, md, nullptr);
    double e = rel_l2(out_rows(n_pre, ref_dec.size()), ref_dec);
    check(e < tol, "decode " + be.name + " " + name + tag + fmt(" rel %.2e", e));
    auto* from_rows = dynamic_cast<DecodeFromQkvRows*>(decode.get());
    if (!from_rows || !from_rows->reads_qkv_rows()) continue;
    // QKV rows [q | k | v] per decode sequence; the newest key/value slots hold other values until
    // the backend appends them.
    const int nd = md.num_decode_seqs, stride = (H + 2 * Hkv) * D;
    std::vector<float> qkv((size_t)nd * stride);
    std::vector<int32_t> dslots(nd);
    std::vector<uint16_t> kpois = kc_bits, vpois = vc_bits;
    auto junk = to_bits(randn(row, rng), t);
    for (int i = 0; i < nd; ++i) {
      const int tok = md.num_prefill_tokens + i;
      dslots[i] = slots[tok];
      std::copy_n(q.begin() + (size_t)tok * H * D, H * D, qkv.begin() + (size_t)i * stride);
      std::copy_n(knew.begin() + (size_t)tok * row, row, qkv.begin() + (size_t)i * stride + H * D);
      std::copy_n(vnew.begin() + (size_t)tok * row, row, qkv.begin() + (size_t)i * stride + H * D + row);
      std::copy(junk.begin(), junk.end(), kpois.begin() + (size_t)dslots[i] * row);
      std::copy(junk.rbegin(), junk.rend(), vpois.begin() + (size_t)dslots[i] * row);
    }
    auto d_qkv = to_device(to_bits(qkv, t)), d_kp = to_device(kpois), d_vp = to_device(vpois);
    auto d_slots = to_device(dslots);
    PagedKv kvp{d_kp, d_vp, blocks};
    DecodeQkvRows rows_in{d_qkv, stride, d_slots};
    poison_out();
    decode->plan(md);
    from_rows->run_qkv(0, rows_in, kvp, (char*)d_out + dec_off, md, nullptr);
    e = rel_l2(out_rows(n_pre, ref_dec.size()), ref_dec);
    check(e < tol, "decode " + be.name + " (QKV rows) " + name + tag + fmt(" rel %.2e", e));
    bool appended = true;
    const auto kback = to_host(d_kp, kc_bits.size()), vback = to_host(d_vp, vc_bits.size());
    for (int i = 0; i < nd; ++i)
      for (size_t j = 0; j < row; ++j) {
        const size_t at = (size_t)dslots[i] * row + j;
        appended &= kback[at] == kc_bits[at] && vback[at] == vc_bits[at];
      }
    check(appended && kback == kc_bits && vback == vc_bits,
          "decode " + be.name + " (QKV rows) appends the new K/V, nothing else changes " + name + tag);
    if (from_rows->applies_qk_transform())
      for (bool norm : {false, true}) {
        // q and the new k as a rotary model's QKV GEMM leaves them: rotated back by their position's
        // angles, so the backend's rotation gives back the reference's q and k. With q/k norms the rows
        // are also divided by the norm weights; RMSNorm then returns them scaled by c = 1 / rms(z / w)
        // (it cannot give back an arbitrary row), so the expected q rows and new keys are c x the
        // reference's, and the decode reference is recomputed with them.
        std::vector<float> inv(D / 2), wq(D, 1.f), wk(D, 1.f);
        for (int i = 0; i < D / 2; ++i) inv[i] = (float)std::pow(10000.0, -2.0 * i / D);
        if (norm)
          for (int i = 0; i < D; ++i) wq[i] = 1.f + 0.2f * (float)randn(1, rng)[0], wk[i] = 1.f + 0.2f * (float)randn(1, rng)[0];
        auto unrotate = [&](const float* y, int pos, const std::vector<float>& w, float* x) {  // returns c
          std::vector<double> z(D);
          for (int i = 0; i < D / 2; ++i) {
            const double ang = (double)((float)pos * inv[i]), c = std::cos(ang), sn = std::sin(ang);
            z[i] = y[i] * c + y[i + D / 2] * sn;
            z[i + D / 2] = y[i + D / 2] * c - y[i] * sn;
          }
          double sq = 0;
          for (int i = 0; i < D; ++i) sq += (z[i] /= w[i]) * z[i];
          for (int i = 0; i < D; ++i) x[i] = (float)z[i];
          return norm ? 1.0 / std::sqrt(sq / D + 1e-6) : 1.0;
        };
        std::vector<float> qkv_raw = qkv;
        std::vector<int32_t> pos(nd);
        std::vector<double> cq((size_t)nd * H), ck((size_t)nd * Hkv);
        for (int i = 0; i < nd; ++i) {
          pos[i] = b.seq_lens_k[num_prefill + i] - 1;
          float* r = &qkv_raw[(size_t)i * stride];
          for (int h = 0; h < H; ++h) cq[(size_t)i * H + h] = unrotate(r + (size_t)h * D, pos[i], wq, r + (size_t)h * D);
          for (int h = 0; h < Hkv; ++h)
            ck[(size_t)i * Hkv + h] = unrotate(r + (size_t)(H + h) * D, pos[i], wk, r + (size_t)(H + h) * D);
        }
        std::vector<float> want_dec = ref_dec;
        if (norm)
          for (int i = 0; i < nd; ++i) {
            const int sq_i = num_prefill + i, tok = md.num_prefill_tokens + i, n_keys = b.seq_lens_k[sq_i];
            for (int h = 0; h < H; ++h) {
              const int kvh = h / (H / Hkv);
              std::vector<double> p(n_keys);
              double mx = -1e300, sum = 0;
              for (int j = 0; j < n_keys; ++j) {
                const size_t slot = (size_t)b.block_tables[(size_t)sq_i * max_blocks + j / bs] * bs + j % bs;
                const double kscale = j == n_keys - 1 ? ck[(size_t)i * Hkv + kvh] : 1.0;
                double dot = 0;
                for (int d = 0; d < D; ++d) dot += (double)q[((size_t)tok * H + h) * D + d] * kc[slot * row + kvh * D + d];
                p[j] = dot * cq[(size_t)i * H + h] * kscale * dims.scale;
                mx = std::max(mx, p[j]);
              }
              for (double& x : p) sum += (x = std::exp(x - mx));
              for (int d = 0; d < D; ++d) {
                double acc = 0;
                for (int j = 0; j < n_keys; ++j) {
                  const size_t slot = (size_t)b.block_tables[(size_t)sq_i * max_blocks + j / bs] * bs + j % bs;
                  acc += p[j] * vc[slot * row + kvh * D + d];
                }
                want_dec[((size_t)i * H + h) * D + d] = (float)(acc / sum);
              }
            }
          }
        auto d_raw = to_device(to_bits(round16(qkv_raw, t), t)), d_kp2 = to_device(kpois), d_vp2 = to_device(vpois);
        auto d_inv = to_device(inv), d_wq = to_device(wq), d_wk = to_device(wk);
        auto d_pos = to_device(pos);
        PagedKv kvp2{d_kp2, d_vp2, blocks};
        DecodeQkvRows rows_rope{d_raw, stride, d_slots};
        rows_rope.rope_inv_freq = d_inv;
        rows_rope.positions = d_pos;
        if (norm) rows_rope.q_norm_w = d_wq, rows_rope.k_norm_w = d_wk, rows_rope.norm_eps = 1e-6f;
        poison_out();
        decode->plan(md);
        from_rows->run_qkv(0, rows_rope, kvp2, (char*)d_out + dec_off, md, nullptr);
        e = rel_l2(out_rows(n_pre, want_dec.size()), want_dec);
        // One rounding more than the plain rows (the un-rotated rows are 16-bit too).
        check(e < 1.5 * tol, "decode " + be.name + " (QKV rows, rotary" + (norm ? " + q/k norm" : "") + ") " + name + tag +
                                 fmt(" rel %.2e", e));
        const auto k2 = from_bits(to_host(d_kp2, kc_bits.size()), t), kref_all = from_bits(kc_bits, t);
        const auto v2 = to_host(d_vp2, vc_bits.size());
        std::vector<float> k_got, k_want;
        bool v_ok = v2 == vc_bits;
        for (int i = 0; i < nd; ++i)
          for (size_t j = 0; j < row; ++j) {
            const size_t at = (size_t)dslots[i] * row + j;
            k_got.push_back(k2[at]);
            k_want.push_back((float)(kref_all[at] * ck[(size_t)i * Hkv + j / D]));
          }
        const double ek = rel_l2(k_got, k_want);
        check(ek < tol && v_ok, "decode " + be.name + " (QKV rows, rotary" + (norm ? " + q/k norm" : "") +
                                    ") appends the rotated K and the V " + name + tag + fmt(" k rel %.2e", ek));
        for (void* p : {(void*)d_raw, (void*)d_kp2, (void*)d_vp2, (void*)d_inv, (void*)d_wq, (void*)d_wk, (void*)d_pos})
          cudaFree(p);
      }
    for (void* p : {(void*)d_qkv, (void*)d_kp, (void*)d_vp, (void*)d_slots}) cudaFree(p);
  }
  for (void* p : {(void*)d_q, (void*)d_k, (void*)d_v, (void*)d_knew, (void*)d_vnew, (void*)d_out, (void*)d_cu,
                  (void*)d_ctx, (void*)d_seqk, (void*)d_bt})
    cudaFree(p);
}

// A lone prompt replayed from a captured graph, as the runner does (cuda/cuda_runner.cu): the
// backend plans for a bucket of `rows` rows, the step is captured on a stand-in prompt of `rows`
// tokens without context, then the device metadata at the same addresses becomes this prompt's
// (ctx cached keys + q new ones, q <= rows; rows past q hold finite padding, like the runner's pad
// rows computed from token 0) and the graph is replayed. Only backends that support graphs.
static void run_graph_case(int ctx, int q_len, int rows, int bs, int H, int Hkv, int D, DType t, const std::string& name) {
  const int nblk = (ctx + q_len + bs - 1) / bs, width = std::max(nblk, (rows + bs - 1) / bs);
  const int blocks = nblk + 3;
  std::vector<int> perm(blocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  const size_t row = (size_t)Hkv * D;
  auto kc = round16(randn((size_t)blocks * bs * row, rng), t), vc = round16(randn((size_t)blocks * bs * row, rng), t);
  auto q = round16(randn((size_t)rows * H * D, rng), t);  // rows past q_len: padding
  auto knew = round16(randn((size_t)rows * row, rng), t), vnew = round16(randn((size_t)rows * row, rng), t);
  StepBatch b;  // the real step
  b.num_prefill_seqs = 1;
  b.max_blocks_per_seq = width;
  b.cu_seqlens_q = {0, q_len};
  b.ctx_lens = {ctx};
  b.seq_lens_k = {ctx + q_len};
  for (int i = 0; i < width; ++i) b.block_tables.push_back(perm[std::min(i, nblk - 1)]);
  for (int i = 0; i < q_len; ++i) {
    const int pos = ctx + i;
    const size_t slot = (size_t)b.block_tables[pos / bs] * bs + pos % bs;
    std::copy_n(kc.begin() + slot * row, row, knew.begin() + (size_t)i * row);
    std::copy_n(vc.begin() + slot * row, row, vnew.begin() + (size_t)i * row);
  }
  StepBatch cap = b;  // the stand-in the graph is captured on: rows tokens, no context
  cap.cu_seqlens_q = {0, rows};
  cap.ctx_lens = {0};
  cap.seq_lens_k = {rows};
  AttnDims dims;
  dims.num_heads = H; dims.num_kv_heads = Hkv; dims.head_dim = D; dims.scale = 1.f / std::sqrt((float)D);
  dims.block_size = bs; dims.dtype = t;
  dims.exp = read_experiment_switches();
  const std::vector<float> ref = reference(b, q, kc, vc, bs, H, Hkv, D, dims.scale);

  auto d_q = to_device(to_bits(q, t)), d_k = to_device(to_bits(kc, t)), d_v = to_device(to_bits(vc, t));
  auto d_knew = to_device(to_bits(knew, t)), d_vnew = to_device(to_bits(vnew, t));
  auto d_out = poisoned16((size_t)rows * H * D);
  auto d_cu = to_device(cap.cu_seqlens_q), d_ctx = to_device(cap.ctx_lens), d_seqk = to_device(cap.seq_lens_k);
  auto d_bt = to_device(cap.block_tables);
  auto metadata = [&](const StepBatch& x) {
    AttnMetadata md;
    md.num_seqs = 1; md.num_prefill_seqs = 1; md.num_decode_seqs = 0;
    md.num_tokens = rows; md.num_prefill_tokens = x.cu_seqlens_q[1];
    md.max_q_len = rows; md.max_k_len = ctx + rows; md.max_blocks_per_seq = width;
    md.cu_seqlens_q = d_cu; md.ctx_lens = d_ctx; md.seq_lens_k = d_seqk; md.block_tables = d_bt; md.host = &x;
    return md;
  };
  PagedKv kv{d_k, d_v, blocks};
  cudaStream_t st;
  CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  const double tol = t == DType::F16 ? 3e-3 : 2e-2;
  const std::string tag = " bs " + std::to_string(bs) + " " + dtype_name(t);
  for (const BackendStatus& be : list_backends(Device::CUDA, AttnPhase::Prefill)) {
    if (be.status != "ok") continue;
    std::unique_ptr<PrefillAttn> pre;
    try {
      pre = make_prefill_attn(be.name, Device::CUDA, dims);
    } catch (const std::exception& e) {
      std::printf("skip   prefill graph %s %s%s: %.160s\n", be.name.c_str(), name.c_str(), tag.c_str(), e.what());
      continue;
    }
    if (!pre->supports_graph()) continue;
    CUDA_CHECK(cudaMemcpy(d_cu, cap.cu_seqlens_q.data(), 2 * sizeof(int32_t), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(d_ctx, cap.ctx_lens.data(), sizeof(int32_t), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(d_seqk, cap.seq_lens_k.data(), sizeof(int32_t), cudaMemcpyHostToDevice));
    const AttnMetadata md_cap = metadata(cap);
    pre->prepare_for_capture(md_cap);
    pre->run(0, d_q, d_knew, d_vnew, kv, d_out, md_cap, st);  // warm-up outside the capture (attributes, modules)
    CUDA_CHECK(cudaStreamSynchronize(st));
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    CUDA_CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    pre->run(0, d_q, d_knew, d_vnew, kv, d_out, md_cap, st);
    CUDA_CHECK(cudaStreamEndCapture(st, &graph));
    CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    CUDA_CHECK(cudaMemcpy(d_cu, b.cu_seqlens_q.data(), 2 * sizeof(int32_t), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(d_ctx, b.ctx_lens.data(), sizeof(int32_t), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(d_seqk, b.seq_lens_k.data(), sizeof(int32_t), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemset(d_out, 0xFF, (size_t)rows * H * D * 2));
    pre->prepare_for_replay(metadata(b));
    CUDA_CHECK(cudaGraphLaunch(exec, st));
    CUDA_CHECK(cudaStreamSynchronize(st));
    auto all = from_bits(to_host(d_out, (size_t)rows * H * D), t);
    const double e = rel_l2(std::vector<float>(all.begin(), all.begin() + (size_t)q_len * H * D), ref);
    check(e < tol, "prefill graph " + be.name + " " + name + tag + fmt(" rel %.2e", e));
    CUDA_CHECK(cudaGraphExecDestroy(exec));
    CUDA_CHECK(cudaGraphDestroy(graph));
  }
  CUDA_CHECK(cudaStreamDestroy(st));
  for (void* p : {(void*)d_q, (void*)d_k, (void*)d_v, (void*)d_knew, (void*)d_vnew, (void*)d_out, (void*)d_cu,
                  (void*)d_ctx, (void*)d_seqk, (void*)d_bt})
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
    // GPT-2 heads, decode lengths around the split chunk (64 / 256 keys) and a long one that splits.
    run_case({{63, 1}, {64, 1}, {255, 1}, {256, 1}, {289, 1}, {2047, 1}}, 0, 16, 12, 12, 64, DType::F16,
             "decode 12 heads ragged");
    run_case({{0, 33}, {200, 1}, {999, 1}}, 1, 7, 8, 2, 128, DType::BF16, "GQA 8/2 hd128 bf16 page 7");
    run_case({{0, 20}, {9, 1}}, 1, 16, 2, 1, 8, DType::F16, "hd8 GQA 2/1 mixed");
    // Prefill steps without cached context, several slices of odd lengths: on sm_90a the Hopper
    // kernel reads K/V from the step's own rows (kSm90Ragged), where a tile past a slice's end holds
    // the next slice's keys; head dim 64 from 1024-token slices on. Plus a decode row after them.
    run_case({{0, 1}, {0, 130}, {0, 700}, {0, 257}, {50, 1}}, 4, 16, 8, 2, 128, DType::F16,
             "no-context prefill GQA 8/2 hd128 + decode");
    run_case({{0, 1100}, {0, 37}, {0, 129}}, 3, 16, 6, 3, 64, DType::BF16, "no-context prefill hd64 bf16 1100/37/129");
    // Head dim 64 from 1024-token slices on: three consumer warpgroups (192-row query tiles), GQA 8/2,
    // odd lengths, one slice shorter than a tile.
    run_case({{0, 2000}, {0, 5}, {0, 1025}}, 3, 16, 8, 2, 64, DType::F16, "no-context prefill hd64 GQA 8/2 2000/5/1025");
    // Slices with and without context in one step: the Hopper kernel picks rows or cache per slice.
    run_case({{0, 300}, {100, 50}, {0, 129}, {20, 1}}, 3, 16, 8, 2, 128, DType::BF16,
             "prefill with and without context GQA 8/2 hd128 bf16 + decode");
    // GQA groups of 8 and 16 query heads a KV head (one tensor-core decode CTA serves the group):
    // page 1 and a long context that splits, bf16; and 16 heads a CTA at head dim 64.
    run_case({{0, 5}, {4095, 1}, {30, 1}, {0, 1}}, 1, 1, 16, 2, 128, DType::BF16, "GQA 16/2 hd128 bf16 page 1");
    run_case({{600, 1}, {1998, 1}, {69, 1}}, 0, 16, 32, 2, 64, DType::F16, "GQA 32/2 hd64 decode");
    // More (sequence, head group, split) items than CTA slots, so that the persistent decode kernel
    // (ATTNBENCH_DECODE_TCP=1|2) gives a CTA several: 300 sequences of MHA hd64 at page 1 (no split);
    // 25 ragged sequences that split (some have fewer splits than the longest: items with nothing).
    {
      std::vector<Slice> many(300), ragged(25);
      for (Slice& s : many) s = {1 + (int)(rng() % 400), 1};
      for (Slice& s : ragged) s = {1 + (int)(rng() % 3000), 1};
      run_case(many, 0, 1, 12, 12, 64, DType::F16, "decode 300 seqs hd64 page 1");
      run_case(ragged, 0, 16, 8, 8, 128, DType::BF16, "decode 25 ragged seqs hd128 bf16");
    }
    // Lone prompts replayed from a graph captured on a stand-in of the bucket's rows: without
    // context (a tile past the prompt reads the padding rows), with context (the cache), GQA, both
    // dtypes, head dims 128 and 64, a prompt that fills its bucket.
    run_graph_case(0, 300, 384, 16, 8, 2, 128, DType::BF16, "lone prompt 300 of 384 rows GQA 8/2 hd128");
    run_graph_case(200, 129, 256, 16, 8, 2, 128, DType::F16, "lone prompt 129 after 200 cached, 256 rows");
    run_graph_case(0, 1100, 1152, 16, 6, 3, 64, DType::F16, "lone prompt 1100 of 1152 rows hd64");
    run_graph_case(0, 256, 256, 16, 4, 4, 128, DType::BF16, "lone prompt filling its 256 rows");
  } catch (const std::exception& e) {
    std::printf("NOT OK exception: %s\n", e.what());
    return 1;
  }
  std::printf("cuda_attn_test: %d failure(s)\n", g_failures);
  return g_failures ? 1 : 0;
}
