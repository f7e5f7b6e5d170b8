// defines: built_for_sm90a
// Whether the Hopper kernels (wgmma, setmaxnreg, TMA: attn/fused_prefill_sm90.cuh,
// kernels/gemm_decode_sm90.cuh) can run here: an sm_90 device, and this build's device code for it
// compiled for sm_90a (an sm_90-only build has no such instructions; the kernels would trap).
// Probed once per process (one device) with a one-thread kernel.
#pragma once

namespace attnbench {
bool built_for_sm90a();
}  // namespace attnbench
