// Kernel lab: Hopper (sm_90a) causal varlen prefill over a paged KV cache, against the FA2-style
// kernel of attention_prefill.cu.
//
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -I../src attention_prefill_sm90.cu -o attention_prefill_sm90
//   ./attention_prefill_sm90 check V      correctness of version V on every case (one process per
//                                          version, so a fault in one does not hide the others)
//   ./attention_prefill_sm90 sweep V...   TFLOPS of the given versions on the benchmark shapes
//   ./attention_prefill_sm90 prof V R [N] version V on benchmark row R (0-based), 1 + N launches
//                                          (for ncu: profile the last one)
//
// Versions (checked against the fp32 CPU reference on fresh random inputs, poisoned outputs):
//   9   FA2-style production kernel (attention_prefill.cu v9: mma.sync, cp.async 2-stage, 4 warps)
//   11  v9 + per-warp skip of hidden key tiles (attention_prefill.cu v11)
//   13  attn/fused_prefill_sm90.cuh: producer warpgroup (cp.async gather through the block table,
//       mbarrier full/empty rings) + two consumer warpgroups of 64 rows (wgmma, S_j overlapped with
//       PV_{j-1}), setmaxnreg 56 / 224; BN 128, 2 stages
//   14  v13 with 3 stages
//   15  v13 with BN 64 and 4 stages (what ATTNBENCH_PREFILL_SM90=1 runs)
//   16  v15 + ping-pong: the consumer warpgroups take turns issuing their GEMMs (named barriers),
//       so one's softmax runs under the other's GEMMs (no per-warpgroup tile skip) -- compile-checked
//       only, not yet run on a GPU
//   17  v13 + ping-pong -- compile-checked only
//   18  v15 + one proxy fence per iteration (K_j and V_{j-1} waited together) + descriptors built
//       once from a warp-uniform base (kSm90OneFence | kSm90UniformDesc)
//   19  v16 + the same two (ping-pong, BN 64)
//   20  probe: v15 + uniform descriptors + no proxy fence at all (what the fences cost; not a
//       candidate without TMA, see kSm90NoProxyFence)
//   21  probe: v16 + uniform descriptors + no proxy fence
//   22  v17 + one fence + uniform descriptors (ping-pong, BN 128, 2 stages)
//   23  v22 with K/V by TMA (kSm90TmaKV: one producer warp, one box per page and 64-column panel,
//       the tile holding the last key by cp.async with zero fill); pages that TMA does not take
//       (not a power of two, or < 8 keys) run v22's kernel, as a dispatcher would
//   24  TMA + ping-pong, BN 64, 4 stages (v19 with TMA; else v19)
//   25  TMA, BN 64, 4 stages, no ping-pong (v18 with TMA; else v18)
//   26  v23 with 3 stages
//   27  v23 + kSm90TmaTail (the last tile's whole pages by TMA, only the partial page's rows by
//       cp.async, block-table entries a tile ahead)
//   28  v25 + kSm90TmaTail (BN 64, 4 stages, no ping-pong)
//   29  v24 + kSm90TmaTail (BN 64, 4 stages, ping-pong)
//   30  v27 without ping-pong (BN 128, 2 stages)
//   31  v27 with K/V from the step's own contiguous rows (kSm90Ragged: one box of 128 rows per
//       panel, no block table, no gathered last tile) where no slice has cached context; v27
//       elsewhere, as the fused backend dispatches
//   32  v31 + the Q tile by TMA (kSm90TmaQ); with context v33
//   33  v27 + the Q tile by TMA
//   34  v32 persistent (kSm90Persistent: one CTA an SM takes items from a global counter; the
//       producer loads the next item's Q and tiles under the current one's last PV and O store);
//       with context v33
//   35  v33 + kSm90Ragged per slice: slices without context read the step's own rows (as v32), the
//       others the cache (as v33) -- production on TMA-able pages
//   36  v34 with 3 stages (BN 128: 224 KB of K/V ring and Q at head dim 128)
//   37  v34 with BN 64 and 4 stages
//   38  v34 with three consumer warpgroups (kSm90ThreeWG: BM 192, turns round robin) at head dim 64;
//       v34 at 128
//   39  v32 with three consumer warpgroups at head dim 64; v32 at 128
#include "dev_common.cuh"
#include "attn/fused_prefill_cuda.cuh"
#include "attn/fused_prefill_sm90.cuh"

using namespace attnbench;

// The step's K/V as contiguous rows [tokens, Hkv, D] (what the engine passes as k_new / v_new),
// gathered once per problem from its paged cache through the block table.
__global__ void gather_rows_kernel(uint16_t* dst, const uint16_t* cache, const int32_t* slots, int n, int row) {
  for (int t = blockIdx.x; t < n; t += gridDim.x)
    for (int i = threadIdx.x; i < row; i += blockDim.x) dst[(size_t)t * row + i] = cache[(size_t)slots[t] * row + i];
}
struct RaggedKv {
  uint64_t problem = 0;  // the problem (lab::Problem::id) they were gathered for
  void *k = nullptr, *v = nullptr;
};
static const RaggedKv& ragged_kv(const lab::Problem& pb) {
  static RaggedKv r;
  if (r.problem == pb.id) return r;
  if (r.k) {
    CK(cudaFree(r.k));
    CK(cudaFree(r.v));
  }
  std::vector<int32_t> slots(pb.num_tokens);
  for (size_t b = 0; b < pb.q_lens.size(); ++b)
    for (int i = 0; i < pb.q_lens[b]; ++i) {
      const int t = pb.ctx_lens[b] + i;
      slots[pb.cu_q[b] + i] = pb.bt[b * pb.max_blocks + t / pb.block_size] * pb.block_size + t % pb.block_size;
    }
  int32_t* dslots = nullptr;
  const int row = pb.Hkv * pb.D;
  CK(cudaMalloc(&dslots, slots.size() * 4));
  CK(cudaMemcpy(dslots, slots.data(), slots.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMalloc(&r.k, (size_t)pb.num_tokens * row * 2));
  CK(cudaMalloc(&r.v, (size_t)pb.num_tokens * row * 2));
  gather_rows_kernel<<<1024, 256>>>((uint16_t*)r.k, (const uint16_t*)pb.dk, dslots, pb.num_tokens, row);
  CK(cudaGetLastError());
  gather_rows_kernel<<<1024, 256>>>((uint16_t*)r.v, (const uint16_t*)pb.dv, dslots, pb.num_tokens, row);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  CK(cudaFree(dslots));
  r.problem = pb.id;
  return r;
}

template <typename T, int D>
static void run_version(int ver, const FusedPrefillParams& p, const lab::Problem& pb) {
  const int B = (int)pb.q_lens.size();
  const long long slots = (long long)pb.num_blocks * pb.block_size;
  bool no_ctx = true;
  for (int c : pb.ctx_lens) no_ctx &= c == 0;
  if (D != 64 && (ver == 38 || ver == 39)) ver = ver == 38 ? 34 : 32;
  auto ragged_ver = [&] { return ver == 31 || ver == 32 || ver == 34 || ver == 36 || ver == 37 || ver == 38 || ver == 39; };
  if (ragged_ver() && !no_ctx) ver = ver == 31 ? 27 : 33;  // what the backend dispatches
  if (ver == 33 && !sm90_tma_kv_ok(pb.block_size, slots)) ver = 22;
  if constexpr (D == 64) {
    if (ver == 38 || ver == 39) {  // BM 192: the Q map's boxes are 192 rows
      Sm90Maps maps{};
      const RaggedKv& r = ragged_kv(pb);
      CK((make_sm90_ragged_maps<T, D, 128>(r.k, r.v, pb.num_tokens, pb.Hkv, &maps)));
      CK((make_sm90_q_map<T, D, 192>(pb.dq, pb.num_tokens, pb.H, &maps)));
      constexpr int k3 = kSm90Ragged | kSm90PingPong | kSm90UniformDesc | kSm90TmaQ | kSm90ThreeWG;
      if (ver == 39) {
        CK((launch_fused_prefill_sm90<T, D, 128, 2, k3>(p, B, pb.max_q, 0, &maps)));
      } else {
        static int* counter = nullptr;
        if (!counter) CK(cudaMalloc(&counter, sizeof(int)));
        CK((launch_fused_prefill_sm90<T, D, 128, 2, k3 | kSm90Persistent>(p, B, pb.max_q, 0, &maps, counter)));
      }
      return;
    }
  }
  if (ver == 37) {  // BN 64: maps with 64-row boxes
    Sm90Maps maps{};
    const RaggedKv& r = ragged_kv(pb);
    CK((make_sm90_ragged_maps<T, D, 64>(r.k, r.v, pb.num_tokens, pb.Hkv, &maps)));
    CK((make_sm90_q_map<T, D>(pb.dq, pb.num_tokens, pb.H, &maps)));
    static int* counter = nullptr;
    if (!counter) CK(cudaMalloc(&counter, sizeof(int)));
    constexpr int kP = kSm90Ragged | kSm90PingPong | kSm90UniformDesc | kSm90TmaQ | kSm90Persistent;
    CK((launch_fused_prefill_sm90<T, D, 64, 4, kP>(p, B, pb.max_q, 0, &maps, counter)));
    return;
  }
  if (ragged_ver()) {
    Sm90Maps maps{};
    const RaggedKv& r = ragged_kv(pb);
    CK((make_sm90_ragged_maps<T, D, 128>(r.k, r.v, pb.num_tokens, pb.Hkv, &maps)));
    CK((make_sm90_q_map<T, D>(pb.dq, pb.num_tokens, pb.H, &maps)));
    constexpr int kR = kSm90Ragged | kSm90PingPong | kSm90UniformDesc;
    if (ver == 31) CK((launch_fused_prefill_sm90<T, D, 128, 2, kR>(p, B, pb.max_q, 0, &maps)));
    else if (ver == 32) CK((launch_fused_prefill_sm90<T, D, 128, 2, kR | kSm90TmaQ>(p, B, pb.max_q, 0, &maps)));
    else {
      static int* counter = nullptr;
      if (!counter) CK(cudaMalloc(&counter, sizeof(int)));
      if (ver == 36) CK((launch_fused_prefill_sm90<T, D, 128, 3, kR | kSm90TmaQ | kSm90Persistent>(p, B, pb.max_q, 0, &maps, counter)));
      else CK((launch_fused_prefill_sm90<T, D, 128, 2, kR | kSm90TmaQ | kSm90Persistent>(p, B, pb.max_q, 0, &maps, counter)));
    }
    return;
  }
  if (ver == 35 && !sm90_tma_kv_ok(pb.block_size, slots)) ver = 22;
  if (ver == 33 || ver == 35) {
    Sm90Maps maps{};
    CK((make_sm90_kv_maps<T, D, 128>(p, slots, &maps)));
    CK((make_sm90_q_map<T, D>(pb.dq, pb.num_tokens, pb.H, &maps)));
    constexpr int kO = kSm90TmaKV | kSm90TmaTail | kSm90PingPong | kSm90UniformDesc | kSm90TmaQ;
    if (ver == 33) {
      CK((launch_fused_prefill_sm90<T, D, 128, 2, kO>(p, B, pb.max_q, 0, &maps)));
    } else {
      const RaggedKv& r = ragged_kv(pb);
      CK((make_sm90_ragged_maps<T, D, 128>(r.k, r.v, pb.num_tokens, pb.Hkv, &maps)));
      CK((launch_fused_prefill_sm90<T, D, 128, 2, kO | kSm90Ragged>(p, B, pb.max_q, 0, &maps)));
    }
    return;
  }
  // TMA versions on pages they do not take (1, 2, 7): the same options without TMA (what a
  // dispatcher would pick), so every check case still runs.
  if (ver >= 23 && ver <= 30 && !sm90_tma_kv_ok(pb.block_size, slots)) {
    static const int fallback[8] = {22, 19, 18, 22, 22, 18, 19, 18};  // v23..v30 without TMA
    ver = fallback[ver - 23];
  }
  constexpr int kTmaT = kSm90TmaKV | kSm90TmaTail;
  // Tensor maps for the TMA versions (box rows = min(page, BN): BN 128 for v23, v26, v27, v30).
  Sm90Maps maps{};
  if (ver >= 23 && ver <= 30) {
    const bool bn128 = ver == 23 || ver == 26 || ver == 27 || ver == 30;
    CK((bn128 ? make_sm90_kv_maps<T, D, 128>(p, slots, &maps) : make_sm90_kv_maps<T, D, 64>(p, slots, &maps)));
  }
  switch (ver) {
    case 9: CK((launch_fused_prefill<T, D, 4, 64, 2, kFusedPrefillOptV9>(p, B, pb.max_q, 0))); break;
    case 11: CK((launch_fused_prefill<T, D, 4, 64, 2, kFusedPrefillOptV11>(p, B, pb.max_q, 0))); break;
    case 13: CK((launch_fused_prefill_sm90<T, D, 128, 2>(p, B, pb.max_q, 0))); break;
    case 14: CK((launch_fused_prefill_sm90<T, D, 128, 3>(p, B, pb.max_q, 0))); break;
    case 15: CK((launch_fused_prefill_sm90<T, D, 64, 4>(p, B, pb.max_q, 0))); break;
    case 16: CK((launch_fused_prefill_sm90<T, D, 64, 4, kSm90PingPong>(p, B, pb.max_q, 0))); break;
    case 17: CK((launch_fused_prefill_sm90<T, D, 128, 2, kSm90PingPong>(p, B, pb.max_q, 0))); break;
    case 18: CK((launch_fused_prefill_sm90<T, D, 64, 4, kSm90OneFence | kSm90UniformDesc>(p, B, pb.max_q, 0))); break;
    case 19: CK((launch_fused_prefill_sm90<T, D, 64, 4, kSm90PingPong | kSm90OneFence | kSm90UniformDesc>(p, B, pb.max_q, 0))); break;
    case 20: CK((launch_fused_prefill_sm90<T, D, 64, 4, kSm90NoProxyFence | kSm90UniformDesc>(p, B, pb.max_q, 0))); break;
    case 21: CK((launch_fused_prefill_sm90<T, D, 64, 4, kSm90PingPong | kSm90NoProxyFence | kSm90UniformDesc>(p, B, pb.max_q, 0))); break;
    case 22: CK((launch_fused_prefill_sm90<T, D, 128, 2, kSm90PingPong | kSm90OneFence | kSm90UniformDesc>(p, B, pb.max_q, 0))); break;
    case 23: CK((launch_fused_prefill_sm90<T, D, 128, 2, kSm90TmaKV | kSm90PingPong | kSm90UniformDesc>(p, B, pb.max_q, 0, &maps))); break;
    case 24: CK((launch_fused_prefill_sm90<T, D, 64, 4, kSm90TmaKV | kSm90PingPong | kSm90UniformDesc>(p, B, pb.max_q, 0, &maps))); break;
    case 25: CK((launch_fused_prefill_sm90<T, D, 64, 4, kSm90TmaKV | kSm90UniformDesc>(p, B, pb.max_q, 0, &maps))); break;
    case 26: CK((launch_fused_prefill_sm90<T, D, 128, 3, kSm90TmaKV | kSm90PingPong | kSm90UniformDesc>(p, B, pb.max_q, 0, &maps))); break;
    case 27: CK((launch_fused_prefill_sm90<T, D, 128, 2, kTmaT | kSm90PingPong | kSm90UniformDesc>(p, B, pb.max_q, 0, &maps))); break;
    case 28: CK((launch_fused_prefill_sm90<T, D, 64, 4, kTmaT | kSm90UniformDesc>(p, B, pb.max_q, 0, &maps))); break;
    case 29: CK((launch_fused_prefill_sm90<T, D, 64, 4, kTmaT | kSm90PingPong | kSm90UniformDesc>(p, B, pb.max_q, 0, &maps))); break;
    case 30: CK((launch_fused_prefill_sm90<T, D, 128, 2, kTmaT | kSm90UniformDesc>(p, B, pb.max_q, 0, &maps))); break;
    default: fprintf(stderr, "no version %d\n", ver); std::exit(2);
  }
}

static FusedPrefillParams params_of(const lab::Problem& pb) {
  FusedPrefillParams p{};
  p.q = pb.dq, p.k = pb.dk, p.v = pb.dv, p.out = pb.dout;
  p.cu_seqlens_q = pb.dcu, p.ctx_lens = pb.dctx, p.block_tables = pb.dbt;
  p.max_blocks_per_seq = pb.max_blocks, p.block_size = pb.block_size;
  p.block_shift = (pb.block_size & (pb.block_size - 1)) == 0 ? __builtin_ctz(pb.block_size) : -1;
  p.num_heads = pb.H, p.num_kv_heads = pb.Hkv;
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

static bool check(int ver) {
  const Case cases[] = {
      {"varlen d64 bs16", {1, 17, 64, 129, 255}, {0, 0, 0, 0, 0}, 4, 4, 64, 16, false},
      {"chunked ctx d64 bs16", {33, 64, 7}, {100, 5, 300}, 4, 4, 64, 16, false},
      {"page1 d128", {70, 200}, {0, 31}, 4, 4, 128, 1, false},
      {"page7 gqa d128 bf16", {90, 150, 3}, {13, 0, 250}, 8, 2, 128, 7, true},
      {"page256 d64 bf16", {300, 2}, {0, 600}, 2, 1, 64, 256, true},
      {"gqa4 d64", {128, 129}, {64, 0}, 8, 2, 64, 16, false},
      {"long d128 gqa4 page16", {1000, 513}, {0, 700}, 8, 2, 128, 16, false},
      {"long d128 bf16 page32", {777}, {129}, 4, 4, 128, 32, true},
      {"page2 d64 ctx", {300, 65}, {37, 1000}, 2, 2, 64, 2, false},
      // No cached context (the ragged versions read the step's own rows): odd lengths, GQA.
      {"no ctx d128 gqa4 bf16 page7", {1000, 513, 1, 129}, {0, 0, 0, 0}, 8, 2, 128, 7, true},
      {"no ctx d128 page16", {127, 128, 129, 300}, {0, 0, 0, 0}, 4, 4, 128, 16, false},
      {"no ctx d64 gqa3 page1", {700, 33}, {0, 0}, 6, 2, 64, 1, true},
  };
  bool ok_all = true;
  uint64_t seed = 4321 + ver;
  for (const Case& c : cases) {
    lab::Problem pb;
    pb.H = c.H, pb.Hkv = c.Hkv, pb.D = c.D, pb.block_size = c.bs, pb.bf16 = c.bf16;
    pb.q_lens = c.q_lens, pb.ctx_lens = c.ctx_lens;
    pb.build(seed++);
    pb.upload();
    std::vector<float> ref;
    pb.reference(ref);
    pb.poison_out();
    dispatch(ver, pb);
    CK(cudaDeviceSynchronize());
    std::vector<uint16_t> out(pb.q_elems());
    CK(cudaMemcpy(out.data(), pb.dout, out.size() * 2, cudaMemcpyDeviceToHost));
    const double err = lab::rel_error(out, ref, pb.bf16);
    const bool ok = err <= (pb.bf16 ? 1e-2 : 2e-3);
    ok_all &= ok;
    printf("v%-3d %-24s %4s rel err %9.2e %s\n", ver, c.name, c.bf16 ? "bf16" : "fp16", err, ok ? "ok" : "FAIL");
    fflush(stdout);
    pb.free_device();
  }
  printf("v%d prefill check: %s\n", ver, ok_all ? "OK" : "NOT OK");
  return ok_all;
}

struct Row { const char* name; int H, Hkv, D; std::vector<int> q_lens, ctx_lens; };
static std::vector<Row> bench_rows() {
  std::vector<Row> rows = {
      {"128x256x12x64", 12, 12, 64, std::vector<int>(128, 256), {}},
      {"16x2048x12x64", 12, 12, 64, std::vector<int>(16, 2048), {}},
      {"8x4096x32x128", 32, 32, 128, std::vector<int>(8, 4096), {}},
      {"1x16384x32x128", 32, 32, 128, std::vector<int>(1, 16384), {}},
      {"llama 8x2048 32/8x128", 32, 8, 128, std::vector<int>(8, 2048), {}},
      {"chunk 8x(1024+1024) 32x128", 32, 32, 128, std::vector<int>(8, 1024), std::vector<int>(8, 1024)},
      {"varlen16 256-2048 12x64", 12, 12, 64, {}, {}},
  };
  std::mt19937 rng(7);
  for (int i = 0; i < 16; ++i) rows.back().q_lens.push_back(256 + (int)(rng() % 1793));
  return rows;
}

static lab::Problem bench_problem(const Row& r) {
  lab::Problem pb;
  pb.H = r.H, pb.Hkv = r.Hkv, pb.D = r.D, pb.block_size = 16;
  pb.q_lens = r.q_lens;
  pb.ctx_lens = r.ctx_lens.empty() ? std::vector<int>(r.q_lens.size(), 0) : r.ctx_lens;
  pb.build(99, false);
  pb.upload();
  return pb;
}

// For a profiler: version V on bench row R (index into bench_rows), one warm-up then N launches.
static void prof(int ver, int row, int n) {
  const std::vector<Row> rows = bench_rows();
  lab::Problem pb = bench_problem(rows.at(row));
  for (int i = 0; i <= n; ++i) dispatch(ver, pb);
  CK(cudaDeviceSynchronize());
  printf("prof v%d %s: %d launches\n", ver, rows[row].name, n + 1);
  pb.free_device();
}

static void sweep(const std::vector<int>& vers) {
  const std::vector<Row> rows = bench_rows();
  printf("\n%-28s %7s", "TFLOPS (fp16, causal, page16)", "GFLOP");
  for (int v : vers) printf("    v%-3d", v);
  printf("  max rel diff vs v%d\n", vers[0]);
  for (const Row& r : rows) {
    lab::Problem pb = bench_problem(r);
    double flops = 0;
    for (size_t i = 0; i < pb.q_lens.size(); ++i) {
      const double q = pb.q_lens[i], c = pb.ctx_lens[i];
      flops += 4.0 * r.D * r.H * (q * c + q * q / 2);
    }
    printf("%-28s %7.1f", r.name, flops / 1e9);
    std::vector<uint16_t> base(pb.q_elems()), o(pb.q_elems());
    double worst = 0;
    for (size_t k = 0; k < vers.size(); ++k) {
      const float ms = lab::median_ms([&] { dispatch(vers[k], pb); }, 2, 20);
      printf(" %7.1f", flops / ms / 1e9);
      fflush(stdout);
      // Same function on these device-filled inputs: every version against the first.
      pb.poison_out();
      dispatch(vers[k], pb);
      CK(cudaDeviceSynchronize());
      CK(cudaMemcpy((k == 0 ? base : o).data(), pb.dout, o.size() * 2, cudaMemcpyDeviceToHost));
      if (k > 0) {
        std::vector<float> ref(base.size());
        for (size_t i = 0; i < base.size(); ++i) ref[i] = lab::bits_to_float(base[i], false);
        const double e = lab::rel_error(o, ref, false);
        worst = std::isnan(e) || e > worst ? e : worst;
      }
    }
    printf("  %9.2e\n", worst);
    pb.free_device();
  }
}

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "check") == 0) return check(std::atoi(argv[2])) ? 0 : 1;
  if (argc >= 3 && std::strcmp(argv[1], "sweep") == 0) {
    std::vector<int> vers;
    for (int i = 2; i < argc; ++i) vers.push_back(std::atoi(argv[i]));
    sweep(vers);
    return 0;
  }
  if (argc >= 4 && std::strcmp(argv[1], "prof") == 0) {
    prof(std::atoi(argv[2]), std::atoi(argv[3]), argc >= 5 ? std::atoi(argv[4]) : 1);
    return 0;
  }
  fprintf(stderr, "usage: attention_prefill_sm90 check VERSION | sweep VERSION... | prof VERSION ROW [N]\n");
  return 2;
}
