// defines: ExperimentSwitches, read_experiment_switches
// The ATTNBENCH_* environment variables: switches for A/B experiments and profiling, never needed in
// normal use. They are read once, at start-up (the engine, or a tool that builds runners itself),
// into this struct, which is passed down (RunnerOptions -> runner, Gemm, attention backends); no code
// below reads the environment. docs/experiments.md lists them in one table.
#pragma once
#include <string>
#include <utility>
#include <vector>

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
  int decode_tcp = 0;                // ATTNBENCH_DECODE_TCP: 0 the tensor-core decode kernel one item a CTA (lab v10);
                                     // 1 the persistent one (lab v13); 2 persistent with two KV heads a CTA at head
                                     // dim 64 (lab v14)
  // Fused prefill.
  int prefill_sm90 = 2;              // ATTNBENCH_PREFILL_SM90: 2 (default) the Hopper (wgmma, TMA) kernel where the lab
                                     // measured it faster than FA2 (sm_90a build, pages TMA takes; head dim 128, and
                                     // head dim 64 from 1024-token slices), FA2 elsewhere; 1 the Hopper kernel on every
                                     // shape of an sm_90 device; 0 the FA2-style kernel everywhere
  bool prefill_ragged = true;        // ATTNBENCH_PREFILL_RAGGED=0: the Hopper kernel reads K/V from the paged cache also
                                     // on steps without cached context (default: from the step's own K/V rows there)
  int prefill_persist = 2;           // ATTNBENCH_PREFILL_PERSIST: eager steps without cached context run the ragged
                                     // kernel persistent (lab v34, one CTA an SM): 2 (default) by the rule in
                                     // attn/fused_prefill_cuda.cu, 1 always, 0 never (lab v32)
  bool prefill_three_wg = true;      // ATTNBENCH_PREFILL_THREE_WG=0: head dim 64 keeps two consumer warpgroups (BM 128)
                                     // on those steps (default: three, BM 192, from 1024-token slices on)
  // flashinfer_sm90 prefill.
  bool fi_sm90_paged = false;        // ATTNBENCH_FI_SM90_PAGED=1: FlashInfer's sm90 paged kernel (per-token cache slots)
                                     // on every step, also where every slice has ctx_len 0 (default: the ragged one there)

  // The variables above that were set, as (name, value) in reading order: the engine's `ready`
  // event reports them (config.experiments), so a results file says which kernel paths ran.
  std::vector<std::pair<std::string, std::string>> set_vars;

  // What ATTNBENCH_SKIP can leave out (bits of `skip`).
  enum : unsigned { kSkipAttn = 1, kSkipGemm = 2, kSkipLmHead = 4, kSkipSample = 8, kSkipNorm = 16,
                    kSkipAppend = 32, kSkipEmbed = 64 };
};

// From the process environment. Throws std::runtime_error naming a variable whose value is not valid.
ExperimentSwitches read_experiment_switches();

}  // namespace attnbench
