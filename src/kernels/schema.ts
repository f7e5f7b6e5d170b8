// The two JSON files `attnbench kernels` merges: attnbench-kernels' own measurements
// (native/bench/kernels_bench.cu) and the PyTorch anchors (scripts/gpu/kernel_anchors.py), and the
// merged file it writes. Numbers a run could not produce are null.
import { z } from "zod";

const num = z.number().nullable().optional();

export const NativeRowSchema = z.object({
  phase: z.enum(["prefill", "decode"]),
  shape: z.string(),
  backend: z.string(),
  status: z.string(),
  batch: z.number().optional(),
  heads: z.number().optional(),
  kv_heads: z.number().optional(),
  head_dim: z.number().optional(),
  page: z.number().optional(),
  ms: num,
  tflops: num,
  gbps: num,
  rel_err: num,
  nonfinite: z.number().optional(),
  ok: z.boolean().optional(),
  flops: num,
  bytes: num,
  input_sets: z.number().optional(),
  calls_per_timing: z.number().optional(),
});
export type NativeRow = z.infer<typeof NativeRowSchema>;

export const NativeFileSchema = z.object({
  schema: z.literal("attnbench.kernels.native/1"),
  device: z.string(),
  sm_count: z.number().optional(),
  cuda_runtime: z.number().optional(),
  driver: z.number().optional(),
  rows: z.array(NativeRowSchema),
});
export type NativeFile = z.infer<typeof NativeFileSchema>;

export const AnchorRowSchema = z.object({
  phase: z.enum(["prefill", "decode"]),
  shape: z.string(),
  backend: z.string(),
  status: z.string(),
  ms: num,
  tflops: num,
  gbps: num,
  flops: num,
  bytes: num,
  input_sets: z.number().optional(),
  calls_per_timing: z.number().optional(),
});
export type AnchorRow = z.infer<typeof AnchorRowSchema>;

export const AnchorFileSchema = z.object({
  schema: z.literal("attnbench.kernels.anchors/1"),
  device: z.string(),
  torch: z.string().optional(),
  cuda: z.string().nullable().optional(),
  cudnn: z.number().nullable().optional(),
  rows: z.array(AnchorRowSchema),
});
export type AnchorFile = z.infer<typeof AnchorFileSchema>;

/** One merged row: a backend on a shape, with its ratios to the anchors of the same run. */
export interface KernelRow {
  phase: "prefill" | "decode";
  shape: string;
  backend: string;
  source: "native" | "anchor";
  status: string;
  ms: number | null;
  tflops: number | null;
  gbps: number | null;
  rel_err: number | null;
  check: "ok" | "fail" | null;
  /** anchor time / this time: > 1 means faster than PyTorch FA2 (resp. cuDNN) in the same run. */
  vs_fa2: number | null;
  vs_cudnn: number | null;
}

export interface KernelsReport {
  schema: "attnbench.kernels/1";
  created: string;
  device: string;
  anchors_device: string | null;
  torch: string | null;
  rows: KernelRow[];
}
