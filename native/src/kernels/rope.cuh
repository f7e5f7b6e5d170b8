// defines: rope_angles8, qk_transform_words, qk_transform_pair (device)
// The q/k transform of rotary models on one 16-byte chunk pair of a head row, shared by the
// RoPE/append kernel (kernels/rope_append.cu) and the fused decode, which applies it to the QKV rows
// itself (attn/fused_decode_tc_cuda.cuh). Chunk pair c of a D-wide row is elements 8c..8c+7 and
// D/2 + 8c..: exactly the pairs (i, i + D/2) the rotate_half rotation mixes, so D/16 threads cover a
// row with no exchange but the RMSNorm's sum. Arithmetic in fp32, angle = pos x inv_freq[i] in fp32.
#pragma once
#include <cstdint>

#include "kernels/mma.cuh"

namespace attnbench {

// cos / sin of chunk pair c's 8 angles at position pos (inv_freq: [D/2]).
__device__ __forceinline__ void rope_angles8(float pos, const float* inv_freq, int c, float (&cs)[8], float (&sn)[8]) {
#pragma unroll
  for (int j = 0; j < 8; ++j) sincosf(pos * inv_freq[c * 8 + j], &sn[j], &cs[j]);
}

// The transform of chunk pair c of one head row whose two 16-byte chunks (elements 8c.. and
// D/2 + 8c..) are already loaded as ra and rb: an optional RMSNorm over the row (norm_w: [D], null =
// none; the row's D/16 chunk pairs are D/16 consecutive lanes of `mask`, summed by shuffles), then
// the rotation by (cs, sn). Every lane of `mask` must call it (pass zeros for rows that are not
// valid). The two rotated chunks come back as 16-bit words w0 (first half) and w1 (second half).
// Split from the loads so a kernel can issue all its loads before the first transform.
template <class T, int D>
__device__ __forceinline__ void qk_transform_words(const uint4& ra, const uint4& rb, int c, const float (&cs)[8],
                                                   const float (&sn)[8], const float* norm_w, float eps, unsigned mask,
                                                   uint4& w0, uint4& w1) {
  constexpr int HALF = D / 2, P = D / 16;
  float a[8], b[8];
  mma::unpack8<T>(ra, a);
  mma::unpack8<T>(rb, b);
  if (norm_w) {
    float sq = 0.f;
#pragma unroll
    for (int j = 0; j < 8; ++j) sq += a[j] * a[j] + b[j] * b[j];
#pragma unroll
    for (int o = P / 2; o > 0; o >>= 1) sq += __shfl_xor_sync(mask, sq, o);
    const float rstd = rsqrtf(sq / D + eps);
#pragma unroll
    for (int j = 0; j < 8; ++j) a[j] = norm_w[c * 8 + j] * (a[j] * rstd), b[j] = norm_w[HALF + c * 8 + j] * (b[j] * rstd);
  }
  float y0[8], y1[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) y0[j] = a[j] * cs[j] - b[j] * sn[j], y1[j] = b[j] * cs[j] + a[j] * sn[j];
  w0 = make_uint4(mma::pack2<T>(y0[0], y0[1]), mma::pack2<T>(y0[2], y0[3]), mma::pack2<T>(y0[4], y0[5]),
                  mma::pack2<T>(y0[6], y0[7]));
  w1 = make_uint4(mma::pack2<T>(y1[0], y1[1]), mma::pack2<T>(y1[2], y1[3]), mma::pack2<T>(y1[4], y1[5]),
                  mma::pack2<T>(y1[6], y1[7]));
}

// Chunk pair c of one head row, loaded here: qk_transform_words on the row's two chunks. Rows that
// are not `valid` read nothing (zeros; they still take part in the shuffles).
template <class T, int D>
__device__ __forceinline__ void qk_transform_pair(const T* row, int c, bool valid, const float (&cs)[8],
                                                  const float (&sn)[8], const float* norm_w, float eps, unsigned mask,
                                                  uint4& w0, uint4& w1) {
  constexpr int HALF = D / 2;
  uint4 ra = make_uint4(0, 0, 0, 0), rb = ra;
  if (valid) {
    ra = *reinterpret_cast<const uint4*>(row + c * 8);
    rb = *reinterpret_cast<const uint4*>(row + HALF + c * 8);
  }
  qk_transform_words<T, D>(ra, rb, c, cs, sn, norm_w, eps, mask, w0, w1);
}

}  // namespace attnbench
