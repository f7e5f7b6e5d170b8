// defines: ExperimentSwitches, read_experiment_switches
// The ATTNBENCH_* environment variables: switches for A/B experiments and profiling, never needed in
// normal use. They are read once, at start-up (the engine, or a tool that builds runners itself),
// into this struct, which is passed down (RunnerOptions -> runner, Gemm, attention backends); no code
// below reads the environment. docs/experiments.md lists them in one table.
#pragma once
#include <string>

namespace attnbench {

struct ExperimentSwitches {
  // Engine.
  bool profile_steps = false;        // ATTNBENCH_PROFILE=1: per-step timing on stderr (= --profile-steps)
  std::string profile_file;          // ATTNBENCH_PROFILE_FILE: append the profile there instead
  // CUDA runner.
  double gpu_timeout_s = 60;         // ATTNBENCH_GPU_TIMEOUT_S: a stream that does not drain is an error
  bool pdl = true;                   // ATTNBENCH_PDL=0: no programmatic dependent launch
  int vocab_pad = 128;               // ATTNBENCH_VOCAB_PAD=N: LM head rows padded to a multiple of N
  bool prefill_graphs = true;        // ATTNBENCH_NO_PREFILL_GRAPHS=1: no captured lone-prefill graphs
  unsigned skip = 0;                 // ATTNBENCH_SKIP=attn,gemm,...: leave parts out (profiling only)
  // GEMMs.
  bool lt_gelu = true;               // ATTNBENCH_NO_LT_GELU=1: GELU as its own kernel, not cuBLASLt's epilogue
  int gemm_tune = 0;                 // ATTNBENCH_GEMM_TUNE=N: time the top N cuBLASLt algorithms per shape
  int skinny_max_m = -1;             // ATTNBENCH_SKINNY_MAX_M: rows up to which the CUDA-core skinny GEMM runs (-1: default)
  int skinny_tc_max_m = -1;          // ATTNBENCH_SKINNY_TC_MAX_M: the same for the tensor-core one (-1: default)
  int skinny_max_weight_mb = -1;     // ATTNBENCH_SKINNY_MAX_WEIGHT_MB: largest weight (MiB) the skinny GEMMs take (-1: default)
  int gemm_algo = 0;                 // ATTNBENCH_GEMM_ALGO=k: cuBLASLt's k-th heuristic algorithm instead of its first
  bool decode_gemm = true;           // ATTNBENCH_DECODE_GEMM=0: cuBLASLt instead of kernels/gemm_decode_sm90 (sm_90) for decode rows
  // Fused decode.
  bool decode_heads_inner = true;    // ATTNBENCH_DECODE_HEADS_INNER=0: launch order sequences-inner
  bool decode_reads_qkv_rows = true; // ATTNBENCH_DECODE_SPLIT_APPEND=1: the split kernel appends decode K/V
  bool decode_tc = true;             // ATTNBENCH_DECODE_TC=0: the CUDA-core decode kernel instead of the tensor-core one
  // Fused prefill.
  int prefill_sm90 = 0;              // ATTNBENCH_PREFILL_SM90: 0 the FA2-style prefill kernel everywhere; 1 the Hopper
                                     // (wgmma, TMA) kernel on every shape of an sm_90 device; 2 the Hopper kernel where
                                     // the lab measured it faster (head dim 128, pages TMA takes, sm_90a build), FA2
                                     // elsewhere -- the candidate default, not yet run through cuda_attn_test on a GPU

  // What ATTNBENCH_SKIP can leave out (bits of `skip`).
  enum : unsigned { kSkipAttn = 1, kSkipGemm = 2, kSkipLmHead = 4, kSkipSample = 8, kSkipNorm = 16,
                    kSkipAppend = 32, kSkipEmbed = 64 };
};

// From the process environment. Throws std::runtime_error naming a variable whose value is not valid.
ExperimentSwitches read_experiment_switches();

}  // namespace attnbench
