// fp32 -> fp16/bf16/fp32 copy with optional transpose; runs once per weight at load, so the
// simple one-element-per-thread form (strided reads when transposing) is good enough.
#include "kernels/cast.cuh"

#include "core/cuda_check.h"
#include "kernels/dtype.cuh"

namespace attnbench {

template <class T>
__global__ void cast_kernel(T* out, const float* in, int rows, int cols, bool transpose) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;  // index into out
  if (i >= (long long)rows * cols) return;
  long long src = i;
  if (transpose) {  // out [cols, rows]: i = c * rows + r
    long long c = i / rows, r = i % rows;
    src = r * cols + c;
  }
  out[i] = from_f32<T>(in[src]);
}

void cast_f32_forward(void* out, const float* in, int rows, int cols, bool transpose, DType dtype,
                      cudaStream_t stream) {
  long long n = (long long)rows * cols;
  if (n == 0) return;
  const int threads = 256;
  int blocks = (int)((n + threads - 1) / threads);
  if (dtype == DType::F32) {
    cast_kernel<float><<<blocks, threads, 0, stream>>>((float*)out, in, rows, cols, transpose);
  } else {
    DISPATCH_DTYPE(dtype, T, { cast_kernel<T><<<blocks, threads, 0, stream>>>((T*)out, in, rows, cols, transpose); });
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace attnbench
