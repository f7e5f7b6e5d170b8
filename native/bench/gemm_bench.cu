// attnbench-gemm-bench: the engine's linear layers at decode row counts, through the engine's own
// Gemm wrapper (cuBLASLt, and kernels/skinny_gemm.cu where Gemm picks it), so a change to either or
// to the row threshold is priced before it lands in a step.
//
//   attnbench-gemm-bench [--model-dim 768] [--vocab 50257] [--rows 1,2,4,8,16,32,64,128] [--iters 50]
//
// Per (shape, M, path): CUDA-graph replay of `iters` calls (launch overhead as in a captured decode
// step), weight copies rotated so their total exceeds L2 (as in a step, where 12 layers of weights
// stream past), median of 5 replays. GB/s counts the weight bytes only (the stream the kernel is
// bound by at small M). One JSON line per measurement, then a table. fp16.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "core/cuda_check.h"
#include "cuda/gemm.h"

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
  std::vector<int> rows = {1, 2, 4, 8, 16, 32, 64, 128};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i], v = argv[i + 1];
    if (f == "--model-dim") C = std::atoi(v.c_str());
    else if (f == "--vocab") V = std::atoi(v.c_str());
    else if (f == "--rows") rows = parse_list(v);
    else if (f == "--iters") iters = std::max(5, std::atoi(v.c_str()));
    else {
      std::fprintf(stderr, "usage: attnbench-gemm-bench [--model-dim C] [--vocab V] [--rows 1,2,..] [--iters N]\n");
      return 2;
    }
  }
  const ShapeDef shapes[] = {
      {"qkv", 3 * C, C, GemmEpilogue::Bias, DType::F16, false},
      {"attn_proj", C, C, GemmEpilogue::Bias, DType::F16, false},
      {"fc+gelu", 4 * C, C, GemmEpilogue::BiasGelu, DType::F16, false},
      {"fc_proj", C, 4 * C, GemmEpilogue::Bias, DType::F16, false},
      {"lm_head f32", V, C, GemmEpilogue::None, DType::F32, true},
      {"lm_head f16", V, C, GemmEpilogue::None, DType::F16, false},
      {"lm_head pad", (V + 127) / 128 * 128, C, GemmEpilogue::None, DType::F32, true},  // the runner's padded head
  };
  try {
    int dev = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    const size_t l2 = (size_t)prop.l2CacheSize;
    cudaStream_t s;
    CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    Gemm gemm;
    const int max_m = *std::max_element(rows.begin(), rows.end());
    std::printf("# %s, L2 %zu MB, C=%d V=%d, iters %d\n", prop.name, l2 >> 20, C, V, iters);
    struct Row { std::string shape, path; int M; double us, gbps; };
    std::vector<Row> table;
    for (const ShapeDef& sh : shapes) {
      const size_t wbytes = (size_t)sh.N * sh.K * 2;
      const int copies = (int)std::min<size_t>(64, std::max<size_t>(1, (3 * l2) / wbytes + 1));
      std::vector<void*> ws(copies);
      for (auto& p : ws) {
        CUDA_CHECK(cudaMalloc(&p, wbytes));
        CUDA_CHECK(cudaMemset(p, 0x21, wbytes));  // small finite fp16 values
      }
      const int ldy = sh.ld32 ? (sh.N + 31) / 32 * 32 : sh.N;
      void *x, *y, *bias;
      CUDA_CHECK(cudaMalloc(&x, (size_t)max_m * sh.K * 2));
      CUDA_CHECK(cudaMemset(x, 0x21, (size_t)max_m * sh.K * 2));
      CUDA_CHECK(cudaMalloc(&y, (size_t)max_m * ldy * 4));
      CUDA_CHECK(cudaMalloc(&bias, (size_t)sh.N * 2));
      CUDA_CHECK(cudaMemset(bias, 0, (size_t)sh.N * 2));
      for (int M : rows) {
        for (int path = 0; path < 3; ++path) {  // 0: cuBLASLt, 1: skinny (CUDA cores), 2: skinny on tensor cores
          gemm.set_skinny_max_m(path == 1 ? 16 : 0);
          gemm.set_skinny_tc_max_m(path == 2 ? 32 : 0);
          if ((path == 1 && !gemm.skinny(M)) || (path == 2 && !gemm.skinny_tc(M))) continue;
          auto call = [&](int i) {
            gemm.linear(s, y, x, ws[i % copies], sh.ep == GemmEpilogue::None ? nullptr : bias, M, sh.N, sh.K,
                        DType::F16, sh.out, sh.ep, ldy);
          };
          for (int i = 0; i < copies; ++i) call(i);  // plans, kernel loads, first touch
          CUDA_CHECK(cudaStreamSynchronize(s));
          cudaGraph_t g;
          cudaGraphExec_t ge;
          CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
          for (int i = 0; i < iters; ++i) call(i);
          CUDA_CHECK(cudaStreamEndCapture(s, &g));
          CUDA_CHECK(cudaGraphInstantiate(&ge, g, 0));
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
          const char* pname = path == 0 ? "cublaslt" : path == 1 ? "skinny" : "skinny_tc";
          std::printf("{\"shape\":\"%s\",\"N\":%d,\"K\":%d,\"M\":%d,\"path\":\"%s\",\"us\":%.2f,\"weight_gbps\":%.0f}\n",
                      sh.name, sh.N, sh.K, M, pname, us, gbps);
          std::fflush(stdout);
          table.push_back({sh.name, pname, M, us, gbps});
          CUDA_CHECK(cudaGraphExecDestroy(ge));
          CUDA_CHECK(cudaGraphDestroy(g));
          CUDA_CHECK(cudaEventDestroy(e0));
          CUDA_CHECK(cudaEventDestroy(e1));
        }
      }
      for (void* p : ws) CUDA_CHECK(cudaFree(p));
      CUDA_CHECK(cudaFree(x));
      CUDA_CHECK(cudaFree(y));
      CUDA_CHECK(cudaFree(bias));
    }
    std::printf("\n%-12s %5s %-9s %9s %8s\n", "shape", "M", "path", "us", "GB/s");
    for (const Row& r : table) std::printf("%-12s %5d %-9s %9.2f %8.0f\n", r.shape.c_str(), r.M, r.path.c_str(), r.us, r.gbps);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attnbench-gemm-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
