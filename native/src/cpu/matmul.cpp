#include "cpu/matmul.h"

#include <algorithm>
#include <cstring>

#include "cpu/thread_pool.h"
#include "cpu/vec4.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define ATTNBENCH_HAVE_AVX2_KERNEL 1
#endif

namespace attnbench {

namespace {
constexpr int P = PackedMatrix::kPanelCols;  // 8 columns = two 4-lane vectors
constexpr int kRowsPerTile = 32;             // rows of x per task
constexpr int kPanelsPerTile = 8;            // 64 columns per task
constexpr int kDepthBlock = 256;             // k per block: an 8 KB slice of a panel stays in L1

// acc[r][0..8) += sum_{k in [k0,k1)} x[r][k] * panel[k][0..8), for R rows (R = 4 or 1).
template <int R>
inline void micro_kernel(const float* x, int ldx, const float* panel, int k0, int k1, float* c, int ldc) {
  v4f acc[R][2];
  for (int r = 0; r < R; ++r) {
    acc[r][0] = load4(c + (size_t)r * ldc);
    acc[r][1] = load4(c + (size_t)r * ldc + 4);
  }
  for (int k = k0; k < k1; ++k) {
    v4f b0 = load4(panel + (size_t)k * P), b1 = load4(panel + (size_t)k * P + 4);
    for (int r = 0; r < R; ++r) {
      v4f a = splat4(x[(size_t)r * ldx + k]);
      acc[r][0] += a * b0;
      acc[r][1] += a * b1;
    }
  }
  for (int r = 0; r < R; ++r) {
    store4(c + (size_t)r * ldc, acc[r][0]);
    store4(c + (size_t)r * ldc + 4, acc[r][1]);
  }
}
#ifdef ATTNBENCH_HAVE_AVX2_KERNEL
// The same contract with 8-lane FMA, compiled for AVX2+FMA only in this function and chosen at run
// time, so the binary stays x86-64-v2. R rows x 8 columns; every row of a product goes through this
// kernel (tails use smaller R), so a row's arithmetic is the same whatever M is.
template <int R>
__attribute__((target("avx2,fma"))) void micro_kernel_avx2(const float* x, int ldx, const float* panel, int k0, int k1,
                                                            float* c, int ldc) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_loadu_ps(c + (size_t)r * ldc);
  for (int k = k0; k < k1; ++k) {
    const __m256 b = _mm256_loadu_ps(panel + (size_t)k * P);
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + (size_t)r * ldx + k), b, acc[r]);
  }
  for (int r = 0; r < R; ++r) _mm256_storeu_ps(c + (size_t)r * ldc, acc[r]);
}

void rows_avx2(int rows, const float* x, int ldx, const float* panel, int k0, int k1, float* c, int ldc) {
  for (; rows >= 8; rows -= 8, x += (size_t)8 * ldx, c += (size_t)8 * ldc)
    micro_kernel_avx2<8>(x, ldx, panel, k0, k1, c, ldc);
  switch (rows) {
    case 7: micro_kernel_avx2<7>(x, ldx, panel, k0, k1, c, ldc); break;
    case 6: micro_kernel_avx2<6>(x, ldx, panel, k0, k1, c, ldc); break;
    case 5: micro_kernel_avx2<5>(x, ldx, panel, k0, k1, c, ldc); break;
    case 4: micro_kernel_avx2<4>(x, ldx, panel, k0, k1, c, ldc); break;
    case 3: micro_kernel_avx2<3>(x, ldx, panel, k0, k1, c, ldc); break;
    case 2: micro_kernel_avx2<2>(x, ldx, panel, k0, k1, c, ldc); break;
    case 1: micro_kernel_avx2<1>(x, ldx, panel, k0, k1, c, ldc); break;
    default: break;
  }
}

bool cpu_has_avx2_fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
#endif

void rows_sse(int rows, const float* x, int ldx, const float* panel, int k0, int k1, float* c, int ldc) {
  for (; rows >= 4; rows -= 4, x += (size_t)4 * ldx, c += (size_t)4 * ldc) micro_kernel<4>(x, ldx, panel, k0, k1, c, ldc);
  for (; rows > 0; --rows, x += ldx, c += ldc) micro_kernel<1>(x, ldx, panel, k0, k1, c, ldc);
}

bool g_allow_avx2 = true;

}  // namespace

void set_matmul_allow_avx2(bool allow) { g_allow_avx2 = allow; }

bool matmul_uses_avx2() {
#ifdef ATTNBENCH_HAVE_AVX2_KERNEL
  return g_allow_avx2 && cpu_has_avx2_fma();
#else
  return false;
#endif
}

namespace {
// W[k][n] at w[k * sk + n * sn]: [K, N] row-major (sk = N, sn = 1) or [N, K] (sk = 1, sn = K).
PackedMatrix pack_strided(const float* w, int K, int N, size_t sk, size_t sn) {
  PackedMatrix m;
  m.K = K;
  m.N = N;
  m.num_panels = (N + P - 1) / P;
  m.data.assign((size_t)m.num_panels * K * P, 0.0f);
  for (int p = 0; p < m.num_panels; ++p)
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < P && p * P + j < N; ++j) m.data[((size_t)p * K + k) * P + j] = w[k * sk + (size_t)(p * P + j) * sn];
  return m;
}
}  // namespace

PackedMatrix pack_matrix(const float* w, int K, int N) { return pack_strided(w, K, N, (size_t)N, 1); }
PackedMatrix pack_linear(const float* w, int N, int K) { return pack_strided(w, K, N, 1, (size_t)K); }

void matmul_bias(const float* x, int M, const PackedMatrix& w, const float* bias, float* y) {
  const int K = w.K, N = w.N;
  const int row_tiles = (M + kRowsPerTile - 1) / kRowsPerTile;
  const int col_tiles = (w.num_panels + kPanelsPerTile - 1) / kPanelsPerTile;
  auto rows_kernel = rows_sse;
#ifdef ATTNBENCH_HAVE_AVX2_KERNEL
  if (matmul_uses_avx2()) rows_kernel = rows_avx2;
#endif
  cpu_pool().parallel_for(row_tiles * col_tiles, [&](int task) {
    const int m0 = (task / col_tiles) * kRowsPerTile, m1 = std::min(M, m0 + kRowsPerTile);
    const int p0 = (task % col_tiles) * kPanelsPerTile, p1 = std::min(w.num_panels, p0 + kPanelsPerTile);
    // Partial sums live in a padded tile so panels past N need no special case.
    alignas(16) float tile[kRowsPerTile][kPanelsPerTile * P];
    std::memset(tile, 0, sizeof(tile));
    for (int k0 = 0; k0 < K; k0 += kDepthBlock) {
      const int k1 = std::min(K, k0 + kDepthBlock);
      for (int p = p0; p < p1; ++p) {
        const float* panel = w.data.data() + (size_t)p * K * P;
        float* c = &tile[0][(p - p0) * P];
        rows_kernel(m1 - m0, x + (size_t)m0 * K, K, panel, k0, k1, c, kPanelsPerTile * P);
      }
    }
    const int n0 = p0 * P, n1 = std::min(N, p1 * P);
    for (int m = m0; m < m1; ++m)
      for (int n = n0; n < n1; ++n) y[(size_t)m * N + n] = tile[m - m0][n - n0] + (bias ? bias[n] : 0.0f);
  });
}

void matmul_nt(const float* x, int M, int K, const float* w, int N, float* y) {
  constexpr int kColsPerTask = 256;
  const int tasks = (N + kColsPerTask - 1) / kColsPerTask;
  cpu_pool().parallel_for(tasks, [&](int task) {
    const int n1 = std::min(N, (task + 1) * kColsPerTask);
    for (int n = task * kColsPerTask; n < n1; ++n) {
      const float* wr = w + (size_t)n * K;
      for (int m = 0; m < M; ++m) y[(size_t)m * N + n] = dot(x + (size_t)m * K, wr, K);
    }
  });
}

void matmul_reference(const float* x, int M, int K, const float* w, int N, const float* bias, float* y) {
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double s = bias ? bias[n] : 0.0;
      for (int k = 0; k < K; ++k) s += (double)x[(size_t)m * K + k] * w[(size_t)k * N + n];
      y[(size_t)m * N + n] = (float)s;
    }
}

}  // namespace attnbench
