# CUDA half of the engine, included by native/CMakeLists.txt when ATTNBENCH_CUDA is AUTO or ON.
# Needs nvcc and the CUDA toolkit's cuBLAS/cuBLASLt (headers + libraries). When found: enables the
# CUDA language, adds the CUDA sources (listed below) to attnbench_core, sets ATTNBENCH_WITH_CUDA ON
# and adds the GPU tests and tools. Otherwise sets ATTNBENCH_CUDA_REASON and returns.
#   -DATTNBENCH_CUDA_ARCHS="90a"   space/semicolon list; each becomes
#                                  -gencode=arch=compute_X,code=sm_X (sm_90a needs this form)
set(ATTNBENCH_CUDA_ARCHS "90a" CACHE STRING "CUDA architectures to build for (e.g. 90a, 90, 80)")

if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
  find_program(ATTNBENCH_NVCC nvcc HINTS /usr/local/cuda/bin ENV CUDA_PATH PATH_SUFFIXES bin)
  if(ATTNBENCH_NVCC)
    set(CMAKE_CUDA_COMPILER "${ATTNBENCH_NVCC}")
  endif()
endif()
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  set(ATTNBENCH_CUDA_REASON "built without CUDA: nvcc not found")
  return()
endif()
find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND)
  set(ATTNBENCH_CUDA_REASON "built without CUDA: CUDA toolkit not found")
  return()
endif()
find_path(ATTNBENCH_CUBLASLT_INCLUDE cublasLt.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
if(NOT TARGET CUDA::cublas OR NOT TARGET CUDA::cublasLt OR NOT ATTNBENCH_CUBLASLT_INCLUDE)
  set(ATTNBENCH_CUDA_REASON "built without CUDA: cuBLAS not found")
  return()
endif()

# We pass -gencode ourselves: CMake's architecture values vary in their support of the "a" suffix.
set(CMAKE_CUDA_ARCHITECTURES OFF)
enable_language(CUDA)
set(ATTNBENCH_WITH_CUDA ON)
set(ATTNBENCH_CUDA_REASON "built with CUDA ${CUDAToolkit_VERSION}, archs ${ATTNBENCH_CUDA_ARCHS}")

set(ATTNBENCH_GENCODE "")
string(REPLACE " " ";" _archs "${ATTNBENCH_CUDA_ARCHS}")
foreach(_a IN LISTS _archs)
  list(APPEND ATTNBENCH_GENCODE "-gencode=arch=compute_${_a},code=sm_${_a}")
endforeach()

# Applies our CUDA settings to a target that has .cu sources.
function(attnbench_cuda_target tgt)
  set_target_properties(${tgt} PROPERTIES CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON CUDA_ARCHITECTURES OFF)
  target_compile_options(${tgt} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:${ATTNBENCH_GENCODE} -lineinfo>)
endfunction()

set(ATTNBENCH_CUDA_SOURCES
  src/kernels/cast.cu
  src/kernels/embedding.cu
  src/kernels/gelu.cu
  src/kernels/gemm_decode_sm90.cu
  src/kernels/kv_append.cu
  src/kernels/layernorm.cu
  src/kernels/logprobs.cu
  src/kernels/residual.cu
  src/kernels/rope_append.cu
  src/kernels/sampling.cu
  src/kernels/silu_mul.cu
  src/kernels/skinny_gemm.cu
  src/kernels/skinny_gemm_tc.cu
  src/kernels/sm90_probe.cu
  src/kernels/synthetic_fill.cu
  src/kernels/top_logprobs.cu
  src/attn/naive_cuda.cu
  src/attn/fused_prefill_cuda.cu
  src/attn/fused_decode_cuda.cu
  src/cuda/device_status.cu
  src/cuda/gemm.cu
  src/cuda/cuda_weights.cu
  src/cuda/step_inputs.cu
  src/cuda/bucket_graphs.cu
  src/cuda/cuda_forward.cu
  src/cuda/cuda_runner.cu)
list(TRANSFORM ATTNBENCH_CUDA_SOURCES PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/)
target_sources(attnbench_core PRIVATE ${ATTNBENCH_CUDA_SOURCES})
attnbench_cuda_target(attnbench_core)
target_compile_definitions(attnbench_core PUBLIC ATTNBENCH_WITH_CUDA)
target_link_libraries(attnbench_core PUBLIC CUDA::cudart CUDA::cublas CUDA::cublasLt)

# GPU tests (ctest label "gpu"; they need a device to pass).
set(ATTNBENCH_GPU_TESTS cuda_kernels_test.cu cuda_attn_test.cu cuda_runner_test.cpp)
foreach(_src IN LISTS ATTNBENCH_GPU_TESTS)
  get_filename_component(_name ${_src} NAME_WE)
  add_executable(${_name} tests/${_src})
  target_link_libraries(${_name} PRIVATE attnbench_core)
  attnbench_cuda_target(${_name})
  string(REPLACE "_test" "" _tname ${_name})
  add_test(NAME ${_tname} COMMAND ${_name} ${CMAKE_CURRENT_SOURCE_DIR}/tests/fixtures)
  set_tests_properties(${_tname} PROPERTIES LABELS gpu TIMEOUT 300)
endforeach()
# Tools (native/tools/): cuda_score is the one-shot scorer scripts/gpu/hf_check.py drives;
# cuda_offline_bench times the runner alone on an offline workload.
add_executable(cuda_score tools/cuda_score.cpp)
target_link_libraries(cuda_score PRIVATE attnbench_core)
add_executable(cuda_offline_bench tools/cuda_offline_bench.cpp)
target_link_libraries(cuda_offline_bench PRIVATE attnbench_core)
