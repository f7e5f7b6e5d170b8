// Kernel lab: causal varlen prefill over a paged KV cache.
//
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -I../src attention_prefill.cu -o attention_prefill
//   ./attention_prefill            correctness on small cases (all versions), then the size sweep
//   ./attention_prefill check      correctness only
//
// Versions (each checked against the fp32 CPU reference on fresh random inputs, poisoned outputs):
//   1  one warp per (query, head), scalar fp32, online softmax: the simple correct baseline
//   2  FA2-style tensor-core kernel (mma.sync m16n8k16 + ldmatrix + cp.async 2-stage), 4 warps, BM 64
//   3  same kernel, 8 warps, BM 128 (K/V tiles shared by twice the rows)
//   4  8 warps with BN 128 (D 64) or BN 32 (D 128)
//   5  4 warps, each 2 m-tiles (32 rows; BM 128): K/V fragments feed two MMAs; D 128 re-reads Q from smem
//   6  8 warps, each 2 m-tiles (BM 256)
//   7  v5 + grid (q tiles, heads, seqs): one head's tiles run together, its K/V is reused from L2
//   8  v7 + O through smem (16-byte stores) + lazy O rescale (skipped when no row max moved)
//   9  v8 + consecutive K/V rows per thread: one block-table load per tile, prefetched a tile ahead
//  10  v9 with BN 32 (half the S registers; twice the softmax passes per key)
//  11  v9 + per-warp skip of key tiles hidden from all its rows (and of rows past q_len), per-warp mask
//  12  v11 without the L2 grid order (heaviest tiles of all heads first, as v5)
// (git history keeps the first tensor-core kernel; the header now holds the tuned one, see docs/perf-notes.md)
// Production (attn/fused_prefill_cuda.cu) takes the winner per head dim.
#include "dev_common.cuh"
#include "attn/fused_prefill_cuda.cuh"

using namespace attnbench;

// ---- version 1: scalar ----
template <typename T, int D>
__global__ void prefill_v1(FusedPrefillParams p, int num_tokens) {
  const int warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
  const int tok = warp / p.num_heads, h = warp % p.num_heads;
  if (tok >= num_tokens) return;
  int s = 0;
  while (p.cu_seqlens_q[s + 1] <= tok) ++s;
  const int qpos = p.ctx_lens[s] + tok - p.cu_seqlens_q[s];
  const int hk = h / (p.num_heads / p.num_kv_heads);
  constexpr int E = D / 32;
  const T* q = static_cast<const T*>(p.q) + ((size_t)tok * p.num_heads + h) * D + lane * E;
  float qv[E], acc[E];
  for (int e = 0; e < E; ++e) qv[e] = (float)q[e] * p.scale_log2, acc[e] = 0.f;
  float m = -INFINITY, l = 0.f;
  const int32_t* bt = p.block_tables + (size_t)s * p.max_blocks_per_seq;
  for (int t = 0; t <= qpos; ++t) {
    const size_t off = (((size_t)bt[t / p.block_size] * p.block_size + t % p.block_size) * p.num_kv_heads + hk) * D + lane * E;
    const T* k = static_cast<const T*>(p.k) + off;
    const T* v = static_cast<const T*>(p.v) + off;
    float dot = 0.f;
    for (int e = 0; e < E; ++e) dot += qv[e] * (float)k[e];
    for (int o = 16; o; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    const float m_new = fmaxf(m, dot), alpha = exp2f(m - m_new), pr = exp2f(dot - m_new);
    l = l * alpha + pr;
    for (int e = 0; e < E; ++e) acc[e] = acc[e] * alpha + pr * (float)v[e];
    m = m_new;
  }
  T* out = static_cast<T*>(p.out) + ((size_t)tok * p.num_heads + h) * D + lane * E;
  for (int e = 0; e < E; ++e) out[e] = (T)(acc[e] / l);
}

template <typename T, int D>
static void run_version(int ver, const FusedPrefillParams& p, const lab::Problem& pb) {
  if (ver == 1) {
    const long warps = (long)pb.num_tokens * pb.H;
    prefill_v1<T, D><<<(unsigned)((warps * 32 + 255) / 256), 256>>>(p, pb.num_tokens);
    CK(cudaGetLastError());
  } else if (ver == 2) {
    CK((launch_fused_prefill<T, D, 4>(p, (int)pb.q_lens.size(), pb.max_q, 0)));
  } else if (ver == 3) {
    CK((launch_fused_prefill<T, D, 8>(p, (int)pb.q_lens.size(), pb.max_q, 0)));
  } else if (ver == 4) {  // longer key tiles for D 64, shorter for D 128
    CK((launch_fused_prefill<T, D, 8, D == 64 ? 128 : 32>(p, (int)pb.q_lens.size(), pb.max_q, 0)));
  } else if (ver == 5) {  // 4 warps x 2 m-tiles (BM 128)
    CK((launch_fused_prefill<T, D, 4, 64, 2>(p, (int)pb.q_lens.size(), pb.max_q, 0)));
  } else if (ver == 6) {  // 8 warps x 2 m-tiles (BM 256)
    CK((launch_fused_prefill<T, D, 8, 64, 2>(p, (int)pb.q_lens.size(), pb.max_q, 0)));
  } else if (ver == 7) {
    CK((launch_fused_prefill<T, D, 4, 64, 2, kOptL2Order>(p, (int)pb.q_lens.size(), pb.max_q, 0)));
  } else if (ver == 8) {
    CK((launch_fused_prefill<T, D, 4, 64, 2, kOptL2Order | kOptSmemEpilogue | kOptLazyRescale>(p, (int)pb.q_lens.size(), pb.max_q, 0)));
  } else if (ver == 9) {
    CK((launch_fused_prefill<T, D, 4, 64, 2, kFusedPrefillOptV9>(p, (int)pb.q_lens.size(), pb.max_q, 0)));
  } else if (ver == 10) {
    CK((launch_fused_prefill<T, D, 4, 32, 2, kFusedPrefillOptV9>(p, (int)pb.q_lens.size(), pb.max_q, 0)));
  } else if (ver == 11) {
    CK((launch_fused_prefill<T, D, 4, 64, 2, kFusedPrefillOptV11>(p, (int)pb.q_lens.size(), pb.max_q, 0)));
  } else {  // 12
    CK((launch_fused_prefill<T, D, 4, 64, 2, kFusedPrefillOptV12>(p, (int)pb.q_lens.size(), pb.max_q, 0)));
  }
}

static FusedPrefillParams params_of(const lab::Problem& pb) {
  FusedPrefillParams p{};
  p.q = pb.dq;
  p.k = pb.dk;
  p.v = pb.dv;
  p.out = pb.dout;
  p.cu_seqlens_q = pb.dcu;
  p.ctx_lens = pb.dctx;
  p.block_tables = pb.dbt;
  p.max_blocks_per_seq = pb.max_blocks;
  p.block_size = pb.block_size;
  p.num_heads = pb.H;
  p.num_kv_heads = pb.Hkv;
  p.scale_log2 = 1.4426950408889634f / std::sqrt((float)pb.D);
  return p;
}

static void dispatch(int ver, const lab::Problem& pb) {
  const FusedPrefillParams p = params_of(pb);
  if (pb.D == 64) pb.bf16 ? run_version<__nv_bfloat16, 64>(ver, p, pb) : run_version<__half, 64>(ver, p, pb);
  else pb.bf16 ? run_version<__nv_bfloat16, 128>(ver, p, pb) : run_version<__half, 128>(ver, p, pb);
}

struct Case {
  const char* name;
  std::vector<int> q_lens, ctx_lens;
  int H, Hkv, D, bs;
  bool bf16;
};

constexpr int kVersions = 12;

static bool check_all() {
  const Case cases[] = {
      {"varlen d64 bs16", {1, 17, 64, 129, 255}, {0, 0, 0, 0, 0}, 4, 4, 64, 16, false},
      {"chunked ctx d64 bs16", {33, 64, 7}, {100, 5, 300}, 4, 4, 64, 16, false},
      {"page1 d128", {70, 200}, {0, 31}, 4, 4, 128, 1, false},
      {"page7 gqa d128 bf16", {90, 150, 3}, {13, 0, 250}, 8, 2, 128, 7, true},
      {"page256 d64 bf16", {300, 2}, {0, 600}, 2, 1, 64, 256, true},
      {"gqa4 d64", {128, 129}, {64, 0}, 8, 2, 64, 16, false},
  };
  bool ok_all = true;
  uint64_t seed = 1234;
  printf("%-24s %4s", "case", "dt");
  for (int ver = 1; ver <= kVersions; ++ver) printf("       v%-3d", ver);
  printf("\n");
  for (const Case& c : cases) {
    lab::Problem pb;
    pb.H = c.H, pb.Hkv = c.Hkv, pb.D = c.D, pb.block_size = c.bs, pb.bf16 = c.bf16;
    pb.q_lens = c.q_lens, pb.ctx_lens = c.ctx_lens;
    pb.build(seed++);
    pb.upload();
    std::vector<float> ref;
    pb.reference(ref);
    printf("%-24s %4s", c.name, c.bf16 ? "bf16" : "fp16");
    for (int ver = 1; ver <= kVersions; ++ver) {
      pb.poison_out();
      dispatch(ver, pb);
      CK(cudaDeviceSynchronize());
      std::vector<uint16_t> out(pb.q_elems());
      CK(cudaMemcpy(out.data(), pb.dout, out.size() * 2, cudaMemcpyDeviceToHost));
      const double err = lab::rel_error(out, ref, pb.bf16);
      const bool ok = err <= (pb.bf16 ? 1e-2 : 2e-3);
      ok_all &= ok;
      printf(" %9.2e%s", err, ok ? " " : "!");
      fflush(stdout);
    }
    printf("\n");
    pb.free_device();
  }
  printf("prefill check: %s\n", ok_all ? "OK" : "NOT OK");
  return ok_all;
}

static void sweep() {
  struct Row { const char* name; int B, L, H, D; std::vector<int> lens; };
  std::vector<Row> rows = {
      {"128x256x12x64", 128, 256, 12, 64, {}},  {"16x2048x12x64", 16, 2048, 12, 64, {}},
      {"8x4096x32x128", 8, 4096, 32, 128, {}}, {"1x16384x32x128", 1, 16384, 32, 128, {}},
      {"varlen16 256-2048 12x64", 0, 0, 12, 64, {}},
  };
  std::mt19937 rng(7);
  for (int i = 0; i < 16; ++i) rows.back().lens.push_back(256 + (int)(rng() % 1793));
  printf("\n%-26s %7s %8s", "shape (fp16, causal, page16)", "GFLOP", "v1 ms");
  for (int ver = 2; ver <= kVersions; ++ver) printf("  v%-2d TF", ver);
  printf(" %9s\n", "v11 vs v2");
  for (const Row& r : rows) {
    lab::Problem pb;
    pb.H = pb.Hkv = r.H, pb.D = r.D, pb.block_size = 16;
    pb.q_lens = r.lens.empty() ? std::vector<int>(r.B, r.L) : r.lens;
    pb.ctx_lens.assign(pb.q_lens.size(), 0);
    pb.build(99, false);
    pb.upload();
    double flops = 0;
    for (int L : pb.q_lens) flops += 4.0 * L * L * r.D * r.H / 2;
    std::vector<float> t(kVersions + 1, NAN);
    for (int ver = (flops < 2e11 ? 1 : 2); ver <= kVersions; ++ver) t[ver] = lab::median_ms([&] { dispatch(ver, pb); }, 2, ver == 1 ? 3 : 20);
    // v2 and v11 tile and order the work differently: their outputs must agree to rounding.
    std::vector<uint16_t> o2(pb.q_elems()), o3(pb.q_elems());
    for (int ver : {2, 11}) {
      pb.poison_out();
      dispatch(ver, pb);
      CK(cudaDeviceSynchronize());
      CK(cudaMemcpy((ver == 2 ? o2 : o3).data(), pb.dout, o2.size() * 2, cudaMemcpyDeviceToHost));
    }
    std::vector<float> ref2(o2.size());
    for (size_t i = 0; i < o2.size(); ++i) ref2[i] = lab::bits_to_float(o2[i], false);
    const double err = lab::rel_error(o3, ref2, false);
    printf("%-26s %7.1f %8.3f", r.name, flops / 1e9, t[1]);
    for (int ver = 2; ver <= kVersions; ++ver) printf(" %7.1f", flops / t[ver] / 1e9);
    printf(" %9.2e\n", err);
    fflush(stdout);
    pb.free_device();
  }
}

int main(int argc, char** argv) {
  const bool check_only = argc > 1 && std::strcmp(argv[1], "check") == 0;
  const bool ok = check_all();
  if (!check_only) sweep();
  return ok ? 0 : 1;
}
