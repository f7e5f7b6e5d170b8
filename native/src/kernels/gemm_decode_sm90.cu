// Host side of the Hopper decode GEMM (kernel: kernels/gemm_decode_sm90.cuh): whether it can run, the
// configuration per shape, cached tensor maps, and the launch. Called from cuda/gemm.cu, which
// decides when (docs/perf-notes.md, session 6).
#include "kernels/gemm_decode_sm90.cuh"

#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <type_traits>

#include "core/cuda_check.h"
#include "kernels/sm90_probe.cuh"

namespace attnbench {

namespace {


struct DeviceInfo {
  bool ok = false;
  int sms = 132;
};

DeviceInfo probe() {
  DeviceInfo d;
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return d;
  CUDA_CHECK(cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, dev));
  d.ok = built_for_sm90a();
  return d;
}

const DeviceInfo& device_info() {
  static const DeviceInfo d = probe();  // once per process (one device)
  return d;
}

// Tensor maps by (base, rows, cols, box rows, bf16). A map holds only the address, the shape and
// the strides, so a key always names the right map, also for a buffer freed and reallocated.
// Returned by value (128 bytes): another thread's clear() cannot pull it away mid-launch.
CUtensorMap cached_map(const void* base, long long rows, long long cols, int box_rows, bool bf16) {
  static std::mutex mu;
  static std::map<std::tuple<const void*, long long, long long, int, bool>, CUtensorMap> cache;
  std::lock_guard<std::mutex> lock(mu);
  const auto key = std::make_tuple(base, rows, cols, box_rows, bf16);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() > 4096) cache.clear();  // tests and tools that allocate many buffers
  CUtensorMap m;
  CUDA_CHECK(encode_gemm_decode_map(&m, base, bf16, rows, cols, box_rows));
  return cache.emplace(key, m).first->second;
}

// The configuration, from the lab's H200 runs (docs/perf-notes.md, session 6, run 2; us per GEMM,
// bf16, M = 16 / 128, cuBLASLt in brackets):
//   - N / 64 tiles fit on the SMs (N <= 8448 on 132 SMs): BM = 64 (one consumer warpgroup). When
//     two K splits per tile still fit, as clusters of 2 (o 4096 x 4096: 11.24 / 14.00 (13.88 /
//     15.16); down 4096 x 14336: 30.45 / 34.42 (33.39 / 38.38), lab v9); otherwise one tile per
//     CTA with the accumulators stored directly (qkv 6144 x 4096: 15.83 / 17.63 (17.05 / 18.15),
//     lab v11).
//   - more tiles (gate_up 28672, LM head 128256): BM = 128, one tile per CTA, no split (gate_up
//     62.3 / 64.7 (59.1 / 69.0), lab v8).
// Always kDecodeGemmPdl (a no-op unless launched with PDL) and L2 evict-first on the weights.
constexpr int kOpt = kDecodeGemmPdl | kDecodeGemmEvictFirst;

int rows_nt(int M) { return M <= 16 ? 16 : M <= 32 ? 32 : M <= 64 ? 64 : M <= 128 ? 128 : 256; }

template <typename T, typename TO, int NT, int CW, int OPT>
void launch(void* y, int ldy, const void* x, const void* w, int M, int N, int K, int splits, bool pdl,
            cudaStream_t stream) {
  constexpr bool bf16 = std::is_same<T, __nv_bfloat16>::value;
  const CUtensorMap wm = cached_map(w, N, K, 64 * CW, bf16);
  const CUtensorMap xm = cached_map(x, M, K, NT, bf16);
  CUDA_CHECK((launch_gemm_decode_sm90<T, TO, NT, CW, OPT>(wm, xm, static_cast<TO*>(y), ldy, M, N, K, splits, stream,
                                                          pdl, device_info().sms, false)));
}

template <typename T, typename TO, int NT>
void forward_nt(void* y, int ldy, const void* x, const void* w, int M, int N, int K, bool pdl, cudaStream_t stream) {
  const int sms = device_info().sms;
  const int tiles64 = (N + 63) / 64;
  if (tiles64 > sms) return launch<T, TO, NT, 2, kOpt>(y, ldy, x, w, M, N, K, 1, pdl, stream);
  // Clusters of 2 (one CTA per SM) fit sms / 2 at once (66 on the H200, cudaOccupancyMaxActiveClusters
  // in the lab; clusters of 4 fit only 30, so 32 tiles x 4 ran in two waves: run 1).
  const int nkb = (K + 63) / 64;
  if (2 * tiles64 <= sms && nkb >= 2) return launch<T, TO, NT, 1, kOpt>(y, ldy, x, w, M, N, K, 2, pdl, stream);
  return launch<T, TO, NT, 1, kOpt | kDecodeGemmPersistent>(y, ldy, x, w, M, N, K, 1, pdl, stream);
}

template <typename T, typename TO>
void forward_t(void* y, int ldy, const void* x, const void* w, int M, int N, int K, bool pdl, cudaStream_t stream) {
  switch (rows_nt(M)) {
    case 16: return forward_nt<T, TO, 16>(y, ldy, x, w, M, N, K, pdl, stream);
    case 32: return forward_nt<T, TO, 32>(y, ldy, x, w, M, N, K, pdl, stream);
    case 64: return forward_nt<T, TO, 64>(y, ldy, x, w, M, N, K, pdl, stream);
    case 128: return forward_nt<T, TO, 128>(y, ldy, x, w, M, N, K, pdl, stream);
    default: return forward_nt<T, TO, 256>(y, ldy, x, w, M, N, K, pdl, stream);
  }
}

// Raises the shared-memory limit of every kernel forward_t can launch, once, at the first
// availability query (Gemm's constructor): the first launch of a kernel may then happen inside a
// graph capture with nothing left to set up but host-side tensor maps.
template <typename T, typename TO, int NT>
void prepare_nt() {
  auto one = [](auto kernel, size_t smem) {
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  };
  one(gemm_decode_sm90_kernel<T, TO, NT, 2, kOpt>, DecodeGemmCfg<NT, 2>::kSmemBytes);
  one(gemm_decode_sm90_kernel<T, TO, NT, 1, kOpt>, DecodeGemmCfg<NT, 1>::kSmemBytes);
  one(gemm_decode_sm90_kernel<T, TO, NT, 1, kOpt | kDecodeGemmPersistent>, DecodeGemmCfg<NT, 1>::kSmemBytes);
}
template <typename T, typename TO>
void prepare_t() {
  prepare_nt<T, TO, 16>();
  prepare_nt<T, TO, 32>();
  prepare_nt<T, TO, 64>();
  prepare_nt<T, TO, 128>();
  prepare_nt<T, TO, 256>();
}

bool prepare() {
  if (!device_info().ok) return false;
  prepare_t<__half, __half>();
  prepare_t<__half, float>();
  prepare_t<__nv_bfloat16, __nv_bfloat16>();
  prepare_t<__nv_bfloat16, float>();
  return true;
}

}  // namespace

bool gemm_decode_sm90_available() {
  static const bool ok = prepare();  // once per process (one device)
  return ok;
}

bool gemm_decode_sm90_supported(const void* y, int ldy, const void* x, const void* w, int M, int N, int K, DType in,
                                DType out) {
  auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; };
  return M >= 1 && M <= kDecodeGemmMaxRows && N >= 1 && K >= 8 && K % 8 == 0 && N % 4 == 0 && ldy >= N &&
         ldy % 4 == 0 && in != DType::F32 && (out == in || out == DType::F32) && aligned(x) && aligned(w) &&
         aligned(y);
}

void gemm_decode_sm90_forward(void* y, int ldy, const void* x, const void* w, int M, int N, int K, DType in, DType out,
                              bool pdl, cudaStream_t stream) {
  if (!gemm_decode_sm90_available())  // also what raises the kernels' shared-memory limit
    throw std::runtime_error("gemm_decode_sm90_forward: needs an sm_90 device and an sm_90a build");
  if (in == DType::BF16)
    return out == DType::F32 ? forward_t<__nv_bfloat16, float>(y, ldy, x, w, M, N, K, pdl, stream)
                             : forward_t<__nv_bfloat16, __nv_bfloat16>(y, ldy, x, w, M, N, K, pdl, stream);
  return out == DType::F32 ? forward_t<__half, float>(y, ldy, x, w, M, N, K, pdl, stream)
                           : forward_t<__half, __half>(y, ldy, x, w, M, N, K, pdl, stream);
}

}  // namespace attnbench
