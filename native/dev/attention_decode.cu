// Kernel lab: paged decode (one query per sequence over its whole paged context).
//
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -I../src attention_decode.cu -o attention_decode
//   ./attention_decode            correctness on small cases, the read/copy ceilings, then the bandwidth sweep
//   ./attention_decode sweep N    the same, the sweep from version N (v1 takes seconds on the large rows)
//   ./attention_decode sweep 10,17,20   the same, the sweep of the listed versions only
//   ./attention_decode check      correctness only
//
// Versions (checked against the fp32 CPU reference, fresh random inputs, poisoned outputs):
//   1  one warp per (sequence, head), no split, scalar loads: the simple baseline
//   2  split-KV (flash-decoding), 16-byte loads, 4 keys per lane group in flight, GQA group per CTA,
//      LSE merge kernel (attn/fused_decode_cuda.cuh)
//   3  version 2 with 8 keys in flight per lane group
//   4  version 2 with the CTAs of one sequence's heads launched together (heads_inner, production)
//   5  version 4 with 8 keys in flight per lane group
//   6  tensor cores (attn/fused_decode_tc_cuda.cuh): the G query heads of a KV head are the rows of
//      an mma.sync m16n8k16 tile, each warp streams its own key tiles (KW = 16 keys) through a
//      private 4-stage cp.async ring (no barrier in the loop), block-table entries looked up one
//      lane per key two tiles ahead; 4 warps
//   7  version 6 with 3 stages (2 CTAs per SM at D 128 instead of 1)
//   8  version 6 with 32-key tiles and 3 stages
//   9  version 6 with 6 stages (1 CTA per SM at D 128, 5 tiles in flight per warp)
//  10  v7 at D 128, v6 at D 64, with half the splits where few (sequence, head-group) CTAs split
//      8 x SMs deep (choose_decode_tc_splits; bs 1 x 32k: ~2 waves of ~2k-key CTAs instead of ~4
//      of ~1k): production
//  11  production with at least 2 splits (twice the CTAs: shorter tail wave, one merge more)
// Session 6 (issue 15): fused_decode_tcp_kernel (attn/fused_decode_tc_cuda.cuh), items of (sequence,
// head group, split), a warp's cp.async ring running on across a CTA's items, Q fragments from global:
//  12  the new kernel launched one item a CTA with v10's splits (control: should match v10)
//  13  persistent (SMs x CTAs an SM slots, items strided over them), no split where (sequence,
//      head group) pairs >= 2 x SMs (no merge kernel), else v10's splits (choose_decode_tcp_splits)
//  14  v13 with two KV heads packed per CTA at D 64 (one 256-byte row a key, block-diagonal Q)
//  15  persistent with v10's splits (what persistence alone does)
//  16  v14 with the deep (not halved) splits where pairs are few
//  17  v13 with the block-table look-ahead's slot formed a tile after its load (LATE; written after
//      run 1, which showed the new kernel's control v12 8-10 % under v10 at page 1; not yet run)
// Session 7 (issue 15):
//  18, 19  retired: stream-K (every CTA slot streams an equal range of tiles, a second kernel merges
//      the items a range cuts), 7-8 % under v10 at page 16 / 256 and -36 % on the online row (session
//      7, docs/perf-notes.md); the kernel was removed, commit 9e13978 has it
//  20  v10 with the block ids through the cp.async groups (BTR) instead of a register look-ahead
// Session 6 run 1 (H200, docs/perf-notes.md): v12 8-10 % under v10 at page 1 (D 128), 1-3 % at 16 /
// 256; v13 +2-5 % over v12 on Llama, +16 % on the seed row, but over v10 only on Llama page 16 / 256
// and the seed row; v14 / v16 (two heads a CTA) 8-18 % under v13 on 64x2048 (fewer bytes in flight).
// (A v6 capped registers for 12 CTAs per SM (__launch_bounds__(128, 12)) so the seed shape's 1536
//  CTAs fit one wave: 1.91 vs 2.22 TB/s for v4 on the H100, spills; dropped. Note that even
//  __launch_bounds__(128, 1) is not neutral: it let ptxas take 77 registers instead of 56.)
// Bandwidth = bytes of K and V actually read (sum of lengths x kv heads x D x 2 x 2) / time.
#include "dev_common.cuh"
#include "attn/fused_decode_cuda.cuh"
#include "attn/fused_decode_tc_cuda.cuh"

using namespace attnbench;

template <typename T, int D>
__global__ void decode_v1(FusedDecodeParams p) {
  const int seq = blockIdx.x, h = blockIdx.y, lane = threadIdx.x;
  const int hk = h / (p.num_heads / p.num_kv_heads), len = p.seq_lens[seq];
  constexpr int E = D / 32;
  const T* q = static_cast<const T*>(p.q) + ((size_t)seq * p.num_heads + h) * D + lane * E;
  float qv[E], acc[E];
  for (int e = 0; e < E; ++e) qv[e] = (float)q[e] * p.scale_log2, acc[e] = 0.f;
  float m = -INFINITY, l = 0.f;
  const int32_t* bt = p.block_tables + (size_t)seq * p.max_blocks_per_seq;
  for (int t = 0; t < len; ++t) {
    const size_t off = (((size_t)bt[t / p.block_size] * p.block_size + t % p.block_size) * p.num_kv_heads + hk) * D + lane * E;
    float dot = 0.f;
    for (int e = 0; e < E; ++e) dot += qv[e] * (float)static_cast<const T*>(p.k)[off + e];
    for (int o = 16; o; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    const float m_new = fmaxf(m, dot), alpha = exp2f(m - m_new), pr = exp2f(dot - m_new);
    l = l * alpha + pr;
    for (int e = 0; e < E; ++e) acc[e] = acc[e] * alpha + pr * (float)static_cast<const T*>(p.v)[off + e];
    m = m_new;
  }
  T* out = static_cast<T*>(p.out) + ((size_t)seq * p.num_heads + h) * D + lane * E;
  for (int e = 0; e < E; ++e) out[e] = (T)(acc[e] / l);
}

struct Workspace {
  float* o = nullptr;
  float* lse = nullptr;
  size_t floats = 0;  // capacity of o, in floats (rows x D): a D 128 problem after a D 64 one needs more
  void ensure(size_t need_rows, int D) {
    if (need_rows * D <= floats) return;
    if (o) {
      CK(cudaFree(o));
      CK(cudaFree(lse));
    }
    CK(cudaMalloc(&o, need_rows * D * 4));
    CK(cudaMalloc(&lse, need_rows * 4));
    floats = need_rows * D;
  }
};
static Workspace g_ws;
static int g_sms = 132;

template <typename T, int D, int U>
static cudaError_t launch_u(const FusedDecodeParams& p, int B) {
  switch (decode_group_tile(p.num_heads, p.num_kv_heads)) {
    case 8: return launch_fused_decode_g<T, D, 8, U>(p, B, 0);
    case 4: return launch_fused_decode_g<T, D, 4, U>(p, B, 0);
    case 2: return launch_fused_decode_g<T, D, 2, U>(p, B, 0);
    default: return launch_fused_decode_g<T, D, 1, U>(p, B, 0);
  }
}

constexpr int kVersions = 20;
constexpr bool retired(int ver) { return ver == 18 || ver == 19; }  // removed kernels: skipped everywhere

// split_mode 0: choose_decode_splits; 1: choose_decode_tc_splits (production, half the splits when
// they were 8 x SMs deep); 2: at least 2.
template <typename T, int D, int KW, int STAGES, int WARPS, bool BTR = false>
static void run_tc(FusedDecodeParams p, int B, int max_len, int split_mode = 0) {
  const int g = decode_tc_group_tile(p.num_heads, p.num_kv_heads);
  p.num_splits = split_mode == 1 ? choose_decode_tc_splits(B, p.num_heads, g, max_len, g_sms)
                                 : choose_decode_splits(B, p.num_heads, g, max_len, g_sms);
  if (split_mode == 2) p.num_splits = std::min(kDecodeMaxSplits, std::max(2, p.num_splits));
  p.min_chunk = decode_min_chunk(B, p.num_heads, g, g_sms);
  g_ws.ensure((size_t)B * p.num_heads * p.num_splits, D);
  p.partial_o = g_ws.o;
  p.partial_lse = g_ws.lse;
  CK((launch_fused_decode_tc<T, D, KW, STAGES, WARPS, BTR>(p, B, 0)));
}

// split_mode 0: choose_decode_tcp_splits; 1: v10's (choose_decode_tc_splits over the group tile);
// 2: choose_decode_tcp_splits deep.
template <typename T, int D>
static void run_tcp(FusedDecodeParams p, int B, int max_len, bool pack, int split_mode, int max_per, bool late = false) {
  const int g = decode_tc_group_tile(p.num_heads, p.num_kv_heads);
  const int hp = decode_tcp_heads_packed(D, p.num_heads, p.num_kv_heads, pack);
  const int rows = split_mode == 1 ? g : hp * g;
  p.num_splits = split_mode == 1 ? choose_decode_tc_splits(B, p.num_heads, g, max_len, g_sms)
                                 : choose_decode_tcp_splits(B, p.num_heads, rows, max_len, g_sms, split_mode == 2);
  p.min_chunk = decode_min_chunk(B, p.num_heads, rows, g_sms);
  g_ws.ensure((size_t)B * p.num_heads * p.num_splits, D);
  p.partial_o = g_ws.o;
  p.partial_lse = g_ws.lse;
  if (hp == 2)
    CK((launch_fused_decode_tcp_hp2<T, D, 16, 3, 4>(p, B, 0, max_per)));
  else if (late)
    CK((launch_fused_decode_tcp<T, D, 16, D == 128 ? 3 : 4, 4, true>(p, B, 0, max_per)));
  else
    CK((launch_fused_decode_tcp<T, D, 16, D == 128 ? 3 : 4, 4>(p, B, 0, max_per)));
}

template <typename T, int D>
static void run_version(int ver, FusedDecodeParams p, int B, int max_len) {
  switch (ver) {
    case 20: return run_tc<T, D, 16, D == 128 ? 3 : 4, 4, true>(p, B, max_len, 1);
    case 12: return run_tcp<T, D>(p, B, max_len, false, 1, 1);
    case 13: return run_tcp<T, D>(p, B, max_len, false, 0, kDecodeTcMaxItems);
    case 14: return run_tcp<T, D>(p, B, max_len, true, 0, kDecodeTcMaxItems);
    case 15: return run_tcp<T, D>(p, B, max_len, false, 1, kDecodeTcMaxItems);
    case 16: return run_tcp<T, D>(p, B, max_len, true, 2, kDecodeTcMaxItems);
    case 17: return run_tcp<T, D>(p, B, max_len, false, 0, kDecodeTcMaxItems, true);
    case 6: return run_tc<T, D, 16, 4, 4>(p, B, max_len);
    case 7: return run_tc<T, D, 16, 3, 4>(p, B, max_len);
    case 8: return run_tc<T, D, 32, 3, 4>(p, B, max_len);
    case 9: return run_tc<T, D, 16, 6, 4>(p, B, max_len);
    case 10: return run_tc<T, D, 16, D == 128 ? 3 : 4, 4>(p, B, max_len, 1);
    case 11: return run_tc<T, D, 16, D == 128 ? 3 : 4, 4>(p, B, max_len, 2);
    default: break;
  }
  if (ver == 1) {
    decode_v1<T, D><<<dim3(B, p.num_heads), 32>>>(p);
    CK(cudaGetLastError());
    return;
  }
  p.num_splits = choose_decode_splits(B, p.num_heads, decode_group_tile(p.num_heads, p.num_kv_heads), max_len, g_sms);
  p.min_chunk = decode_min_chunk(B, p.num_heads, decode_group_tile(p.num_heads, p.num_kv_heads), g_sms);
  g_ws.ensure((size_t)B * p.num_heads * p.num_splits, D);
  p.partial_o = g_ws.o;
  p.partial_lse = g_ws.lse;
  p.heads_inner = ver >= 4;
  CK(ver == 2 || ver == 4 ? (launch_u<T, D, 4>(p, B)) : (launch_u<T, D, 8>(p, B)));
}

static void dispatch(int ver, const lab::Problem& pb) {
  FusedDecodeParams p{};
  p.q = pb.dq, p.k = pb.dk, p.v = pb.dv, p.out = pb.dout;
  p.seq_lens = pb.dlens, p.block_tables = pb.dbt;
  p.max_blocks_per_seq = pb.max_blocks, p.block_size = pb.block_size;
  p.num_heads = pb.H, p.num_kv_heads = pb.Hkv;
  p.scale_log2 = 1.4426950408889634f / std::sqrt((float)pb.D);
  const int B = (int)pb.q_lens.size();
  const int max_len = *std::max_element(pb.seq_lens.begin(), pb.seq_lens.end());
  if (pb.D == 64) pb.bf16 ? run_version<__nv_bfloat16, 64>(ver, p, B, max_len) : run_version<__half, 64>(ver, p, B, max_len);
  else pb.bf16 ? run_version<__nv_bfloat16, 128>(ver, p, B, max_len) : run_version<__half, 128>(ver, p, B, max_len);
}

static lab::Problem decode_problem(const std::vector<int>& lens, int H, int Hkv, int D, int bs, bool bf16, bool host) {
  lab::Problem pb;
  pb.H = H, pb.Hkv = Hkv, pb.D = D, pb.block_size = bs, pb.bf16 = bf16;
  pb.q_lens.assign(lens.size(), 1);
  for (int L : lens) pb.ctx_lens.push_back(L - 1);
  pb.build(4321 + lens.size() * 7 + bs, host);
  pb.upload();
  return pb;
}

static bool check_all() {
  struct Case { const char* name; std::vector<int> lens; int H, Hkv, D, bs; bool bf16; };
  std::vector<Case> cases = {
      {"mix d64 bs16", {1, 2, 17, 300, 1000, 4097}, 4, 4, 64, 16, false},
      {"page1 d128", {5, 700, 2500}, 4, 4, 128, 1, false},
      {"gqa8 page256 d128 bf16", {3000, 1, 257}, 16, 2, 128, 256, true},
      {"gqa4 page7 d64", {600, 33, 9000}, 8, 2, 64, 7, false},
      {"gqa3 (tile 1) d64 bf16", {400, 1300}, 6, 2, 64, 16, true},
      {"gqa4 page1 d128", {4097, 31, 1, 700}, 8, 2, 128, 1, false},
      {"gqa16 page16 d128 bf16", {2049, 100, 17}, 32, 2, 128, 16, true},
      {"gqa8 page1 d64 bf16", {999, 3}, 16, 2, 64, 1, true},
      {"gqa2 page256 d64", {513, 2000, 77}, 4, 2, 64, 256, false},
  };
  {  // many sequences: enough CTAs that most sequences take one split (the direct-output path)
    std::mt19937 rng(7);
    std::vector<int> lens(150);
    for (int& L : lens) L = 1 + (int)(rng() % 700);
    cases.push_back({"150 seqs gqa4 d128", lens, 8, 2, 128, 16, false});
  }
  {  // session 6: more items than CTA slots, so persistent CTAs take several items (and, with
     // splits and mixed lengths, items of splits a short sequence does not have)
    std::mt19937 rng(11);
    std::vector<int> a(300), b(200), c(25), d(40);
    for (int& L : a) L = 1 + (int)(rng() % 400);
    for (int& L : b) L = 1 + (int)(rng() % 300);
    for (int& L : c) L = 1 + (int)(rng() % 3000);
    for (int& L : d) L = 1 + (int)(rng() % 3000);
    cases.push_back({"300 seqs mha page1 d64", a, 12, 12, 64, 1, false});
    cases.push_back({"200 seqs gqa4 page7 d64", b, 16, 4, 64, 7, true});
    cases.push_back({"25 seqs splits d128", c, 8, 8, 128, 16, false});
    cases.push_back({"40 seqs splits page1 d64", d, 8, 8, 64, 1, true});
  }
  bool ok_all = true;
  printf("%-24s %4s", "case", "dt");
  for (int ver = 1; ver <= kVersions; ++ver)
    if (!retired(ver)) printf("        v%d", ver);
  printf("\n");
  for (const Case& c : cases) {
    lab::Problem pb = decode_problem(c.lens, c.H, c.Hkv, c.D, c.bs, c.bf16, true);
    std::vector<float> ref;
    pb.reference(ref);
    printf("%-24s %4s", c.name, c.bf16 ? "bf16" : "fp16");
    for (int ver = 1; ver <= kVersions; ++ver) {
      if (retired(ver)) continue;
      // Session 1's run 4 saw an illegal address for U = 8 on the page-7 case; session 3 ran every
      // version on it again, also under compute-sanitizer memcheck: 0 errors, all within tolerance.
      // Possibly the workspace overflow fixed in 65df3f7 (sized without D); nothing is skipped now.
      pb.poison_out();
      dispatch(ver, pb);
      CK(cudaDeviceSynchronize());
      std::vector<uint16_t> out(pb.q_elems());
      CK(cudaMemcpy(out.data(), pb.dout, out.size() * 2, cudaMemcpyDeviceToHost));
      const double err = lab::rel_error(out, ref, pb.bf16);
      const bool ok = err <= (pb.bf16 ? 1e-2 : 2e-3);
      ok_all &= ok;
      printf(" %9.2e%s", err, ok ? " " : "!");
    }
    printf("\n");
    pb.free_device();
  }
  printf("decode check: %s\n", ok_all ? "OK" : "NOT OK");
  return ok_all;
}

// The read ceiling: every 16-byte word of a buffer far larger than L2 read once (summed so the
// loads stay), and a device-to-device copy (bytes read + written).
__global__ void read_kernel(const uint4* x, size_t n, unsigned* sink) {
  unsigned acc = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const uint4 v = __ldcs(x + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u) *sink = acc;
}
static void ceilings() {
  const size_t bytes = (size_t)2 << 30;
  void *a = nullptr, *b = nullptr;
  unsigned* sink = nullptr;
  CK(cudaMalloc(&a, bytes));
  CK(cudaMalloc(&b, bytes));
  CK(cudaMalloc(&sink, 4));
  lab::device_fill(a, bytes / 2, 5, false);
  const float t_read = lab::median_ms([&] { read_kernel<<<g_sms * 8, 512>>>((const uint4*)a, bytes / 16, sink); }, 2, 10);
  const float t_copy = lab::median_ms([&] { CK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice)); }, 2, 10);
  printf("ceilings: read %.0f GB/s (2 GiB, 16-byte streaming loads), copy %.0f GB/s (read + write)\n",
         bytes / t_read / 1e6, 2.0 * bytes / t_copy / 1e6);
  CK(cudaFree(a));
  CK(cudaFree(b));
  CK(cudaFree(sink));
}

static void sweep(const std::vector<int>& vers) {
  struct Row { const char* name; int B, L, H, Hkv, D; };
  const Row rows[] = {
      {"llama 64x4096 32/8x128", 64, 4096, 32, 8, 128}, {"64x2048x12x64", 64, 2048, 12, 12, 64},
      {"16x8192x32x128", 16, 8192, 32, 32, 128},        {"1x32768x32x128", 1, 32768, 32, 32, 128},
      {"128x4096 gqa32/8x128", 128, 4096, 32, 8, 128},   {"gpt2 seed 128x290x12x64", 128, 290, 12, 12, 64},
      {"gpt2 online 2x930x12x64", 2, 930, 12, 12, 64},
  };
  printf("\n%-24s %5s %6s", "decode GB/s (fp16)", "page", "KV MB");
  for (int ver : vers) printf("   v%d", ver);
  printf("  v%d err vs v2\n", kVersions);
  for (const Row& r : rows) {
    for (int bs : {1, 16, 256}) {
      if (r.L < 1000 && bs != 16) continue;  // the small engine shapes: page 16 only
      lab::Problem pb = decode_problem(std::vector<int>(r.B, r.L), r.H, r.Hkv, r.D, bs, false, false);
      const double bytes = (double)r.B * r.L * r.Hkv * r.D * 2 * 2;
      printf("%-24s %5d %6.0f", r.name, bs, bytes / 1e6);
      for (int ver : vers)
        printf(" %4.0f", bytes / lab::median_ms([&] { dispatch(ver, pb); }, 2, ver == 1 ? 5 : 30) / 1e6);
      // The last version against v2 on these (device-filled) inputs: same function, large shapes.
      std::vector<uint16_t> o1(pb.q_elems()), o2(pb.q_elems());
      for (int ver : {2, kVersions}) {
        pb.poison_out();
        dispatch(ver, pb);
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy((ver == 2 ? o1 : o2).data(), pb.dout, o1.size() * 2, cudaMemcpyDeviceToHost));
      }
      std::vector<float> ref(o1.size());
      for (size_t i = 0; i < o1.size(); ++i) ref[i] = lab::bits_to_float(o1[i], false);
      printf("  %.1e\n", lab::rel_error(o2, ref, false));
      fflush(stdout);
      pb.free_device();
    }
  }
}

int main(int argc, char** argv) {
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  g_sms = prop.multiProcessorCount;
  const bool check_only = argc > 1 && std::strcmp(argv[1], "check") == 0;
  const bool ok = check_all();
  // ./attention_decode [check | sweep FIRST_VERSION]: v1 (one warp per head, no split) takes
  // seconds on the large rows; the default sweep starts at v2.
  if (!check_only) {
    ceilings();
    // sweep N: versions N .. last; sweep A,B,C: those versions (a comma makes it a list).
    std::vector<int> vers;
    if (argc > 2 && std::strchr(argv[2], ',')) {
      for (const char* c = argv[2]; *c; c = std::strchr(c, ',') ? std::strchr(c, ',') + 1 : c + std::strlen(c))
        if (!retired(std::atoi(c))) vers.push_back(std::atoi(c));
    } else {
      for (int ver = argc > 2 ? std::atoi(argv[2]) : 2; ver <= kVersions; ++ver)
        if (!retired(ver)) vers.push_back(ver);
    }
    sweep(vers);
  }
  return ok ? 0 : 1;
}
