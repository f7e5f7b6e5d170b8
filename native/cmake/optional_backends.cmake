# Optional official attention backends and the kernel benchmark, included by native/CMakeLists.txt
# after cmake/cuda.cmake (which already compiles our own CUDA backends, naive and fused).
#
#   -DFLASHINFER_INCLUDE_DIR=<flashinfer>/include   `flashinfer` (header-only FlashInfer v0.5.3 / v0.6.9)
#   -DCUTLASS_INCLUDE_DIR=<cutlass>/include         with FLASHINFER_INCLUDE_DIR (v0.5.3): also `flashinfer_sm90`,
#                                                    FlashInfer's Hopper prefill (CUTLASS at the commit FlashInfer
#                                                    pins in 3rdparty/cutlass; needs ATTNBENCH_CUDA_ARCHS=90a)
#   -DATTNBENCH_LIBTORCH=AUTO|ON|OFF                 `flashattn` + `cudnn` through libtorch, found via
#                                                    python3 -c 'import torch; print(torch.utils.cmake_prefix_path)'
#
# A backend that is skipped gets its reason in ATTNBENCH_NOT_BUILT_<NAME>, which CMakeLists.txt
# passes to attn/registry.cpp, so `ready` reports "unavailable: <reason>" instead of dropping it.
set(FLASHINFER_INCLUDE_DIR "" CACHE PATH "FlashInfer include directory (the one containing flashinfer/)")
set(CUTLASS_INCLUDE_DIR "" CACHE PATH "CUTLASS include directory (the one containing cute/ and cutlass/), for flashinfer_sm90")
set(ATTNBENCH_LIBTORCH AUTO CACHE STRING "Build the flashattn and cudnn backends against libtorch: AUTO|ON|OFF")
set_property(CACHE ATTNBENCH_LIBTORCH PROPERTY STRINGS AUTO ON OFF)

if(NOT ATTNBENCH_WITH_CUDA)
  set(ATTNBENCH_NOT_BUILT_FLASHATTN "${ATTNBENCH_CUDA_REASON}")
  set(ATTNBENCH_NOT_BUILT_CUDNN "${ATTNBENCH_CUDA_REASON}")
  set(ATTNBENCH_NOT_BUILT_FLASHINFER "${ATTNBENCH_CUDA_REASON}")
  set(ATTNBENCH_NOT_BUILT_FLASHINFER_SM90 "${ATTNBENCH_CUDA_REASON}")
  return()
endif()

# ---- FlashInfer (headers only; never vendored here) ----
if(FLASHINFER_INCLUDE_DIR AND EXISTS "${FLASHINFER_INCLUDE_DIR}/flashinfer/attention/decode.cuh")
  set(_fi_src ${CMAKE_CURRENT_SOURCE_DIR}/src/attn/flashinfer_attn.cu
              ${CMAKE_CURRENT_SOURCE_DIR}/src/attn/flashinfer_paged_prefill.cu)
  target_sources(attnbench_core PRIVATE ${_fi_src})
  set_source_files_properties(${_fi_src} PROPERTIES INCLUDE_DIRECTORIES "${FLASHINFER_INCLUDE_DIR}")
  message(STATUS "attnbench: flashinfer backend ON (${FLASHINFER_INCLUDE_DIR})")
elseif(FLASHINFER_INCLUDE_DIR)
  set(ATTNBENCH_NOT_BUILT_FLASHINFER "FLASHINFER_INCLUDE_DIR=${FLASHINFER_INCLUDE_DIR} has no flashinfer/attention/decode.cuh")
else()
  set(ATTNBENCH_NOT_BUILT_FLASHINFER "built without FLASHINFER_INCLUDE_DIR (configure with -DFLASHINFER_INCLUDE_DIR=<flashinfer>/include)")
endif()

# ---- FlashInfer's Hopper (sm90) prefill: FlashInfer's headers + CUTLASS/CuTe's (never vendored) ----
# Its kernels use sm_90a instructions, so the build must target exactly 90a.
set(_fi90_reason "")
if(NOT FLASHINFER_INCLUDE_DIR OR NOT EXISTS "${FLASHINFER_INCLUDE_DIR}/flashinfer/attention/decode.cuh")
  set(_fi90_reason "built without FLASHINFER_INCLUDE_DIR (flashinfer_sm90 needs it and CUTLASS_INCLUDE_DIR)")
elseif(NOT EXISTS "${FLASHINFER_INCLUDE_DIR}/flashinfer/attention/hopper/prefill_sm90.cuh")
  set(_fi90_reason "FLASHINFER_INCLUDE_DIR=${FLASHINFER_INCLUDE_DIR} has no flashinfer/attention/hopper/prefill_sm90.cuh")
elseif(NOT CUTLASS_INCLUDE_DIR)
  set(_fi90_reason "built without CUTLASS_INCLUDE_DIR (configure with -DCUTLASS_INCLUDE_DIR=<cutlass>/include, the commit FlashInfer pins)")
elseif(NOT EXISTS "${CUTLASS_INCLUDE_DIR}/cute/tensor.hpp" OR NOT EXISTS "${CUTLASS_INCLUDE_DIR}/cutlass/cutlass.h")
  set(_fi90_reason "CUTLASS_INCLUDE_DIR=${CUTLASS_INCLUDE_DIR} has no cute/tensor.hpp and cutlass/cutlass.h")
elseif(NOT ATTNBENCH_CUDA_ARCHS STREQUAL "90a")
  set(_fi90_reason "built for ATTNBENCH_CUDA_ARCHS=${ATTNBENCH_CUDA_ARCHS}; FlashInfer's sm90 kernels need exactly 90a")
endif()
if(_fi90_reason)
  set(ATTNBENCH_NOT_BUILT_FLASHINFER_SM90 "${_fi90_reason}")
else()
  # Two files, so the CuTe-heavy instantiations (a few minutes each) compile in parallel.
  set(_fi90_src ${CMAKE_CURRENT_SOURCE_DIR}/src/attn/flashinfer_sm90_prefill.cu
                ${CMAKE_CURRENT_SOURCE_DIR}/src/attn/flashinfer_sm90_paged.cu)
  target_sources(attnbench_core PRIVATE ${_fi90_src})
  set_source_files_properties(${_fi90_src} PROPERTIES
    INCLUDE_DIRECTORIES "${FLASHINFER_INCLUDE_DIR};${CUTLASS_INCLUDE_DIR}"
    COMPILE_OPTIONS "--expt-relaxed-constexpr;--diag-suppress=1444")  # 1444: CuTe's deprecated copy_if, used by FlashInfer
  message(STATUS "attnbench: flashinfer_sm90 prefill ON (CUTLASS ${CUTLASS_INCLUDE_DIR})")
endif()

# ---- libtorch: PyTorch's bundled FlashAttention-2 and cuDNN SDPA ----
set(_torch_reason "")
if(ATTNBENCH_LIBTORCH STREQUAL "OFF")
  set(_torch_reason "built with ATTNBENCH_LIBTORCH=OFF")
else()
  if(NOT Torch_DIR)
    execute_process(COMMAND python3 -c "import torch; print(torch.utils.cmake_prefix_path)"
                    OUTPUT_VARIABLE _torch_prefix RESULT_VARIABLE _torch_rc
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(_torch_rc EQUAL 0 AND _torch_prefix)
      list(APPEND CMAKE_PREFIX_PATH "${_torch_prefix}")
    endif()
  endif()
  if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    set(ENV{TORCH_CUDA_ARCH_LIST} "9.0a")  # so configuring off-GPU does not probe a device
  endif()
  find_package(Torch QUIET)
  if(Torch_FOUND)
    set(_lt_src ${CMAKE_CURRENT_SOURCE_DIR}/src/attn/libtorch_attn.cpp)
    target_sources(attnbench_core PRIVATE ${_lt_src})
    target_link_libraries(attnbench_core PUBLIC ${TORCH_LIBRARIES})
    message(STATUS "attnbench: flashattn + cudnn backends ON (libtorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX})")
  elseif(ATTNBENCH_LIBTORCH STREQUAL "ON")
    message(FATAL_ERROR "ATTNBENCH_LIBTORCH=ON but find_package(Torch) failed")
  else()
    set(_torch_reason "built without libtorch (python3 -c 'import torch' found none)")
  endif()
endif()
if(_torch_reason)
  set(ATTNBENCH_NOT_BUILT_FLASHATTN "${_torch_reason}")
  set(ATTNBENCH_NOT_BUILT_CUDNN "${_torch_reason}")
endif()

# ---- attnbench-kernels: every backend on the benchmark shape grid ----
add_executable(attnbench-kernels bench/kernels_bench.cu)
target_include_directories(attnbench-kernels PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(attnbench-kernels PRIVATE attnbench_core)
attnbench_cuda_target(attnbench-kernels)

# ---- attnbench-gemm-bench: the linear layers at decode row counts (cuBLASLt vs skinny) ----
add_executable(attnbench-gemm-bench bench/gemm_bench.cu)
target_include_directories(attnbench-gemm-bench PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(attnbench-gemm-bench PRIVATE attnbench_core)
attnbench_cuda_target(attnbench-gemm-bench)
