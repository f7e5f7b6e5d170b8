// attnbench-gemm-bench: the engine's linear layers at decode row counts, through the engine's own
// Gemm wrapper (cuBLASLt, and kernels/skinny_gemm.cu where Gemm picks it), so a change to either or
// to the row threshold is priced before it lands in a step.
//
//   attnbench-gemm-bench [--model-dim 768] [--vocab 50257] [--rows 1,2,4,8,16,32,64,128] [--iters 50]
//                        [--dtype fp16|bf16] [--shapes name:N:K,...] [--algos N]
// --shapes replaces GPT-2's shapes with plain GEMMs (no epilogue, output in the input type), e.g.
// Llama-3.1-8B's: qkv:6144:4096,o:4096:4096,gate_up:28672:4096,down:4096:14336,lm_head:128256:4096
// (prefill rows 8192 are compute-bound: read the TFLOPS column there, GB/s at decode rows).
// --algos N: also cuBLASLt's 2nd..Nth heuristic algorithms (paths cublaslt#k; the engine uses the
// first, or the k-th with ATTNBENCH_GEMM_ALGO=k): is there a faster one the heuristic ranks lower?
// Path decode_sm90: kernels/gemm_decode_sm90.cu on every bias-free GEMM it takes (sm_90 with an
// sm_90a build; M <= 256), whatever Gemm's rule would pick; path cublaslt is cuBLASLt alone.
//
// Per (shape, M, path): CUDA-graph replay of `iters` calls (launch overhead as in a captured decode
// step), weight copies rotated so their total exceeds L2 (as in a step, where 12 layers of weights
// stream past), median of 5 replays. GB/s counts the weight bytes only (the stream the kernel is
// bound by at small M). One JSON line per measurement, then a table. fp16.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/cuda_check.h"
#include "core/experiments.h"
#include "cuda/gemm.h"
#include "kernels/gemm_decode_sm90.cuh"
#include "kernels/synthetic_fill.cuh"

using namespace attnbench;

namespace {

struct ShapeDef {
  const char* name;
  int N, K;
  GemmEpilogue ep;
  DType out;
  bool ld32;  // row stride rounded up to 32 (the runner's logits buffer)
};

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::atoi(item.c_str()));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int C = 768, V = 50257, iters = 50;
  DType in = DType::F16;
  std::string shapes_arg;
  int algos = 1;
  std::vector<int> rows = {1, 2, 4, 8, 16, 32, 64, 128};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i], v = argv[i + 1];
    if (f == "--model-dim") C = std::atoi(v.c_str());
    else if (f == "--vocab") V = std::atoi(v.c_str());
    else if (f == "--rows") rows = parse_list(v);
    else if (f == "--iters") iters = std::max(5, std::atoi(v.c_str()));
    else if (f == "--dtype" && (v == "fp16" || v == "bf16")) in = v == "bf16" ? DType::BF16 : DType::F16;
    else if (f == "--shapes") shapes_arg = v;
    else if (f == "--algos") algos = std::max(1, std::min(16, std::atoi(v.c_str())));
    else {
      std::fprintf(stderr, "usage: attnbench-gemm-bench [--model-dim C] [--vocab V] [--rows 1,2,..] [--iters N] "
                           "[--dtype fp16|bf16] [--shapes name:N:K,...] [--algos N]\n");
      return 2;
    }
  }
  std::vector<ShapeDef> shapes = {
      {"qkv", 3 * C, C, GemmEpilogue::Bias, in, false},
      {"attn_proj", C, C, GemmEpilogue::Bias, in, false},
      {"fc+gelu", 4 * C, C, GemmEpilogue::BiasGelu, in, false},
      {"fc_proj", C, 4 * C, GemmEpilogue::Bias, in, false},
      {"lm_head f32", V, C, GemmEpilogue::None, DType::F32, true},
      {"lm_head f16", V, C, GemmEpilogue::None, in, false},
      {"lm_head pad", (V + 127) / 128 * 128, C, GemmEpilogue::None, DType::F32, true},  // the runner's padded head
  };
  std::vector<std::string> shape_names;  // owns the names of --shapes
  if (!shapes_arg.empty()) {
    shapes.clear();
    std::stringstream ss(shapes_arg);
    for (std::string item; std::getline(ss, item, ',');) shape_names.push_back(item);
    for (const std::string& item : shape_names) {
      const size_t a = item.find(':'), b = item.rfind(':');
      const int N = a == b ? 0 : std::atoi(item.c_str() + a + 1), K = a == b ? 0 : std::atoi(item.c_str() + b + 1);
      if (N <= 0 || K <= 0) {
        std::fprintf(stderr, "attnbench-gemm-bench: --shapes wants name:N:K, got \"%s\"\n", item.c_str());
        return 2;
      }
      shapes.push_back({item.c_str(), N, K, GemmEpilogue::None, in, false});
    }
  }
  try {
    int dev = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    const size_t l2 = (size_t)prop.l2CacheSize;
    cudaStream_t s;
    CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    Gemm gemm;
    gemm.set_skinny_max_weight_bytes(SIZE_MAX);  // the skinny paths are measured on every shape
    std::vector<std::unique_ptr<Gemm>> ranked;   // --algos: one Gemm per heuristic rank past the first
    for (int k = 1; k < algos; ++k) {
      ExperimentSwitches e;
      e.gemm_algo = k;
      ranked.push_back(std::make_unique<Gemm>(e));
      ranked.back()->set_skinny_max_m(0);
      ranked.back()->set_skinny_tc_max_m(0);
      ranked.back()->set_decode_gemm(0);
    }
    const int max_m = *std::max_element(rows.begin(), rows.end());
    std::printf("# %s, L2 %zu MB, C=%d V=%d, iters %d\n", prop.name, l2 >> 20, C, V, iters);
    struct Row { std::string shape, path; int M; double us, gbps, tflops; };
    std::vector<Row> table;
    for (const ShapeDef& sh : shapes) {
      const size_t wbytes = (size_t)sh.N * sh.K * 2;
      const int copies = (int)std::min<size_t>(64, std::max<size_t>(1, (3 * l2) / wbytes + 1));
      std::vector<void*> ws(copies);
      for (auto& p : ws) {
        CUDA_CHECK(cudaMalloc(&p, wbytes));
        // Random values (N(0, 0.02) like a model's weights): constant operands draw less power and
        // let a compute-bound GEMM clock higher than it does in a real step.
        synthetic_fill_forward(p, wbytes / 2, 1, (uint64_t)(&p - ws.data()), 0.f, 0.02f, in, s);
      }
      const int ldy = sh.ld32 ? (sh.N + 31) / 32 * 32 : sh.N;
      void *x, *y, *bias;
      CUDA_CHECK(cudaMalloc(&x, (size_t)max_m * sh.K * 2));
      synthetic_fill_forward(x, (size_t)max_m * sh.K, 2, 0, 0.f, 1.f, in, s);
      CUDA_CHECK(cudaMalloc(&y, (size_t)max_m * ldy * 4));
      CUDA_CHECK(cudaMalloc(&bias, (size_t)sh.N * 2));
      CUDA_CHECK(cudaMemset(bias, 0, (size_t)sh.N * 2));
      for (int M : rows) {
        // 0: cuBLASLt, 1: skinny (CUDA cores), 2: skinny on tensor cores, 3: the Hopper decode GEMM,
        // 4..: cuBLASLt's k-th algorithm
        for (int path = 0; path < 4 + (int)ranked.size(); ++path) {
          gemm.set_skinny_max_m(path == 1 ? 16 : 0);
          gemm.set_skinny_tc_max_m(path == 2 ? 32 : 0);
          gemm.set_decode_gemm(path == 3 ? 2 : 0);
          if ((path == 1 && !gemm.skinny(M, wbytes)) || (path == 2 && !gemm.skinny_tc(M, wbytes))) continue;
          if (path == 3 && (sh.ep != GemmEpilogue::None || !gemm.decode_gemm(M, sh.N, sh.K, wbytes) ||
                            !gemm_decode_sm90_supported(y, ldy, x, ws[0], M, sh.N, sh.K, in, sh.out)))
            continue;
          Gemm& g = path >= 4 ? *ranked[path - 4] : gemm;
          auto call = [&](int i) {
            g.linear(s, y, x, ws[i % copies], sh.ep == GemmEpilogue::None ? nullptr : bias, M, sh.N, sh.K, in,
                     sh.out, sh.ep, ldy);
          };
          for (int i = 0; i < copies; ++i) call(i);  // plans, kernel loads, first touch
          CUDA_CHECK(cudaStreamSynchronize(s));
          cudaGraph_t graph;
          cudaGraphExec_t ge;
          CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
          for (int i = 0; i < iters; ++i) call(i);
          CUDA_CHECK(cudaStreamEndCapture(s, &graph));
          CUDA_CHECK(cudaGraphInstantiate(&ge, graph, 0));
          CUDA_CHECK(cudaGraphLaunch(ge, s));
          cudaEvent_t e0, e1;
          CUDA_CHECK(cudaEventCreate(&e0));
          CUDA_CHECK(cudaEventCreate(&e1));
          std::vector<float> t;
          for (int r = 0; r < 5; ++r) {
            CUDA_CHECK(cudaEventRecord(e0, s));
            CUDA_CHECK(cudaGraphLaunch(ge, s));
            CUDA_CHECK(cudaEventRecord(e1, s));
            CUDA_CHECK(cudaEventSynchronize(e1));
            float ms = 0;
            CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
            t.push_back(ms);
          }
          std::sort(t.begin(), t.end());
          const double us = t[2] * 1e3 / iters;
          const double gbps = wbytes / (us * 1e-6) / 1e9;
          const double tflops = 2.0 * M * sh.N * sh.K / (us * 1e-6) / 1e12;
          const std::string pname_s = path == 0 ? "cublaslt" : path == 1 ? "skinny" : path == 2 ? "skinny_tc"
                                      : path == 3 ? "decode_sm90" : "cublaslt#" + std::to_string(path - 3);
          const char* pname = pname_s.c_str();
          std::printf("{\"shape\":\"%s\",\"N\":%d,\"K\":%d,\"M\":%d,\"path\":\"%s\",\"us\":%.2f,\"weight_gbps\":%.0f,\"tflops\":%.1f}\n",
                      sh.name, sh.N, sh.K, M, pname, us, gbps, tflops);
          std::fflush(stdout);
          table.push_back({sh.name, pname, M, us, gbps, tflops});
          CUDA_CHECK(cudaGraphExecDestroy(ge));
          CUDA_CHECK(cudaGraphDestroy(graph));
          CUDA_CHECK(cudaEventDestroy(e0));
          CUDA_CHECK(cudaEventDestroy(e1));
        }
      }
      for (void* p : ws) CUDA_CHECK(cudaFree(p));
      CUDA_CHECK(cudaFree(x));
      CUDA_CHECK(cudaFree(y));
      CUDA_CHECK(cudaFree(bias));
    }
    std::printf("\n%-20s %5s %-11s %9s %8s %7s\n", "shape", "M", "path", "us", "GB/s", "TFLOPS");
    for (const Row& r : table)
      std::printf("%-20s %5d %-11s %9.2f %8.0f %7.1f\n", r.shape.c_str(), r.M, r.path.c_str(), r.us, r.gbps, r.tflops);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attnbench-gemm-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
