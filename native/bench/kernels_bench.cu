// attnbench-kernels: every available CUDA attention backend (naive, fused, flashattn, cudnn,
// flashinfer; prefill and decode) on a grid of shapes, through the same registry and interface the
// engine uses. Per (shape, backend): one checked call (poisoned output, fp32 reference on sampled
// rows, every element finite), then timing per docs/kernels.md: CUDA events around a batch of
// run() calls back to back (--batch-ms of GPU time; 0: one call), warm-up, median of --iters
// batches, input sets rotated so that together they exceed L2 several times.
//
//   attnbench-kernels [--json PATH] [--phase prefill|decode|all] [--backends a,b] [--quick] [--iters N]
//                     [--batch-ms MS] [--shape SUBSTR]
//
// Prints one line per measurement as it goes, the table last; writes JSON (schema in docs/kernels.md).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "attn/backend.h"
#include "bench/bench_problem.cuh"
#include "bench/bench_shapes.h"

using namespace attnbench;
using namespace attnbench::bench;

namespace {

struct Options {
  std::string json = "kernels_native.json";
  std::string phase = "all";
  std::vector<std::string> backends;  // empty = all
  std::string shape;                   // only shapes whose name contains this (empty = all)
  bool quick = false;
  int iters = 30;
  // GPU time a timed batch aims at. Calls enqueued back to back keep the GPU busy while the host
  // prepares the next one, as the engine's steps do; one call between two events (0) also times the
  // host's work before its launch (the PyTorch anchors' Python dispatch: tens of microseconds).
  double batch_ms = 2.0;
};

struct Result {
  std::string phase, shape, backend, status;
  int batch = 0, heads = 0, kv_heads = 0, head_dim = 0, page = 0;
  double ms = NAN, tflops = NAN, gbps = NAN, rel_err = NAN, flops = 0, bytes = 0;
  unsigned long long nonfinite = 0;
  int sets = 0;
  int calls_per_timing = 0;  // calls between the two events of one timing (ms is per call)
  bool ok = false;
};

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if ((unsigned char)c < 0x20) { o += ' '; continue; }
    o += c;
  }
  return o;
}
std::string num(double x) {
  if (!std::isfinite(x)) return "null";
  std::ostringstream os;
  os.precision(6);
  os << x;
  return os.str();
}

// Per-call time: median over `iters` timings of `calls` back-to-back calls each, divided by `calls`.
// calls: enough for batch_ms of GPU time (from one timed call after the warm-up), at most 64;
// one when batch_ms is 0.
template <class F>
double median_ms(F&& call, int n_sets, int iters, double batch_ms, int* calls_out) {
  for (int i = 0; i < 3; ++i) call(i % n_sets);
  CUDA_CHECK(cudaDeviceSynchronize());
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  auto timed = [&](int calls, int& next_set) {
    CUDA_CHECK(cudaEventRecord(a));
    for (int c = 0; c < calls; ++c) call(next_set++ % n_sets);
    CUDA_CHECK(cudaEventRecord(b));
    CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0.f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    return (double)ms / calls;
  };
  int next_set = 0;
  int calls = 1;
  if (batch_ms > 0) calls = std::max(1, std::min(64, (int)std::ceil(batch_ms / std::max(timed(1, next_set), 1e-3))));
  std::vector<double> ms(iters);
  for (int i = 0; i < iters; ++i) ms[i] = timed(calls, next_set);
  CUDA_CHECK(cudaEventDestroy(a));
  CUDA_CHECK(cudaEventDestroy(b));
  std::sort(ms.begin(), ms.end());
  *calls_out = calls;
  return ms[iters / 2];
}

bool wanted(const Options& o, const std::string& name) {
  return o.backends.empty() || std::find(o.backends.begin(), o.backends.end(), name) != o.backends.end();
}

void measure(const Options& opt, Problem& pb, const std::string& name, Result& r) {
  const Shape& sh = pb.shape;
  const AttnPhase phase = sh.decode ? AttnPhase::Decode : AttnPhase::Prefill;
  std::unique_ptr<PrefillAttn> pre;
  std::unique_ptr<DecodeAttn> dec;
  if (sh.decode) dec = make_decode_attn(name, Device::CUDA, pb.dims);
  else pre = make_prefill_attn(name, Device::CUDA, pb.dims);
  (void)phase;
  auto call = [&](int set) {
    const DeviceSet& d = pb.sets[set];
    PagedKv kv{d.k, d.v, pb.num_blocks};
    if (sh.decode) dec->run(0, d.q, kv, d.out, pb.md, nullptr);
    else pre->run(0, d.q, d.k_new, d.v_new, kv, d.out, pb.md, nullptr);
  };
  if (sh.decode) dec->plan(pb.md);
  else pre->plan(pb.md);
  // Checked first call: poisoned output (0xff.. is NaN in fp16 and bf16).
  CUDA_CHECK(cudaMemset(pb.sets[0].out, 0xff, pb.q_elems() * 2));
  call(0);
  CUDA_CHECK(cudaDeviceSynchronize());
  const Problem::Check c = pb.check();
  r.rel_err = c.rel_err;
  r.nonfinite = c.nonfinite;
  const double tol = sh.dtype == DType::BF16 ? 1e-2 : 2e-3;
  r.ok = c.nonfinite == 0 && std::isfinite(c.rel_err) && c.rel_err <= tol;
  r.ms = median_ms(call, (int)pb.sets.size(), opt.iters, opt.batch_ms, &r.calls_per_timing);
  r.sets = (int)pb.sets.size();
  if (!sh.decode) r.tflops = r.flops / r.ms / 1e9;
  r.gbps = (sh.decode ? pb.kv_bytes() : pb.min_bytes()) / r.ms / 1e6;
}

void write_json(const Options& opt, const std::vector<Result>& rows) {
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  int rt = 0, drv = 0;
  cudaRuntimeGetVersion(&rt);
  cudaDriverGetVersion(&drv);
  std::ofstream f(opt.json);
  f << "{\n  \"schema\": \"attnbench.kernels.native/1\",\n  \"device\": \"" << json_escape(prop.name)
    << "\",\n  \"sm_count\": " << prop.multiProcessorCount << ",\n  \"cuda_runtime\": " << rt
    << ",\n  \"driver\": " << drv << ",\n  \"rows\": [\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Result& r = rows[i];
    f << "    {\"phase\": \"" << r.phase << "\", \"shape\": \"" << json_escape(r.shape) << "\", \"backend\": \"" << r.backend
      << "\", \"status\": \"" << json_escape(r.status) << "\", \"batch\": " << r.batch << ", \"heads\": " << r.heads
      << ", \"kv_heads\": " << r.kv_heads << ", \"head_dim\": " << r.head_dim << ", \"page\": " << r.page
      << ", \"ms\": " << num(r.ms) << ", \"tflops\": " << num(r.tflops) << ", \"gbps\": " << num(r.gbps)
      << ", \"rel_err\": " << num(r.rel_err) << ", \"nonfinite\": " << r.nonfinite << ", \"ok\": "
      << (r.ok ? "true" : "false") << ", \"flops\": " << num(r.flops) << ", \"bytes\": " << num(r.bytes)
      << ", \"input_sets\": " << r.sets << ", \"calls_per_timing\": " << r.calls_per_timing << "}" << (i + 1 < rows.size() ? "," : "") << "\n";
  }
  f << "  ]\n}\n";
}

void print_table(const std::vector<Result>& rows) {
  printf("\n%-7s %-28s %-15s %9s %8s %8s %9s %s\n", "phase", "shape", "backend", "ms", "TFLOPS", "GB/s", "rel_err", "check");
  for (const Result& r : rows) {
    if (r.status != "ok") {
      printf("%-7s %-28s %-15s %s\n", r.phase.c_str(), r.shape.c_str(), r.backend.c_str(), r.status.c_str());
      continue;
    }
    printf("%-7s %-28s %-15s %9.4f %8.1f %8.0f %9.2e %s\n", r.phase.c_str(), r.shape.c_str(), r.backend.c_str(), r.ms,
           r.tflops, r.gbps, r.rel_err, r.ok ? "ok" : "FAIL");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--json") opt.json = next();
    else if (a == "--phase") opt.phase = next();
    else if (a == "--quick") opt.quick = true;
    else if (a == "--shape") opt.shape = next();
    else if (a == "--iters") opt.iters = std::max(3, std::atoi(next().c_str()));
    else if (a == "--batch-ms") {
      const std::string v = next();
      char* end = nullptr;
      opt.batch_ms = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(opt.batch_ms >= 0) || opt.batch_ms > 1000) {
        fprintf(stderr, "attnbench-kernels: --batch-ms takes milliseconds in [0, 1000], got '%s'\n", v.c_str());
        return 2;
      }
    }
    else if (a == "--backends") {
      std::stringstream ss(next());
      for (std::string b; std::getline(ss, b, ',');) opt.backends.push_back(b);
    } else {
      fprintf(stderr, "usage: attnbench-kernels [--json PATH] [--phase prefill|decode|all] [--backends a,b] [--quick] [--iters N] [--batch-ms MS] [--shape SUBSTR]\n");
      return 2;
    }
  }
  int l2 = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0));
  const double min_total = std::max(4.0 * l2, 200e6);  // rotated sets together exceed L2 several times

  std::vector<Result> rows;
  bool all_ok = true;
  for (const Shape& sh : benchmark_shapes(opt.quick)) {
    if (opt.phase != "all" && opt.phase != (sh.decode ? "decode" : "prefill")) continue;
    if (!opt.shape.empty() && sh.name.find(opt.shape) == std::string::npos) continue;
    const AttnPhase phase = sh.decode ? AttnPhase::Decode : AttnPhase::Prefill;
    Problem pb;
    try {
      pb.build(sh, min_total, 17);
    } catch (const std::exception& e) {
      fprintf(stderr, "skip %s: %s\n", sh.name.c_str(), e.what());
      cudaGetLastError();
      continue;
    }
    for (const BackendStatus& bs : list_backends(Device::CUDA, phase)) {
      if (!wanted(opt, bs.name)) continue;
      Result r;
      r.phase = sh.decode ? "decode" : "prefill";
      r.shape = sh.name;
      r.backend = bs.name;
      r.batch = (int)sh.q_lens.size();
      r.heads = sh.heads, r.kv_heads = sh.kv_heads, r.head_dim = sh.head_dim, r.page = sh.page;
      r.flops = pb.causal_flops();
      r.bytes = sh.decode ? pb.kv_bytes() : pb.min_bytes();
      std::string st = bs.status;
      if (st == "ok" && bs.name == "naive" && !sh.decode && r.flops > 1.2e11)
        st = "skipped: naive prefill only on rows up to 120 GFLOP (it materialises the scores)";
      if (st == "ok") {
        std::string why;
        // per-shape availability (head dim, dtype ...) through the registry's own check
        try {
          measure(opt, pb, bs.name, r);
        } catch (const std::exception& e) {
          why = e.what();
          cudaGetLastError();
        }
        if (!why.empty()) st = "unavailable: " + why.substr(0, 200);
      }
      r.status = st;
      if (st == "ok") {
        all_ok &= r.ok;
        printf("%-7s %-28s %-15s %9.4f ms %8.1f TFLOPS %7.0f GB/s rel_err %.2e %s\n", r.phase.c_str(), r.shape.c_str(),
               r.backend.c_str(), r.ms, r.tflops, r.gbps, r.rel_err, r.ok ? "ok" : "FAIL");
      } else {
        printf("%-7s %-28s %-15s %s\n", r.phase.c_str(), r.shape.c_str(), r.backend.c_str(), st.c_str());
      }
      fflush(stdout);
      rows.push_back(r);
    }
    pb.release();
  }
  write_json(opt, rows);
  print_table(rows);
  printf("kernels bench: %s; JSON %s\n", all_ok ? "all checks ok" : "SOME CHECKS FAILED", opt.json.c_str());
  return all_ok ? 0 : 1;
}
