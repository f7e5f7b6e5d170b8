// Small zod building blocks for CLI values (commander hands us strings).
import { z } from "zod";

export const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
export const num = (min: number, max = Infinity) => z.coerce.number().min(min).max(max);
export const optInt = (min: number, max?: number) => int(min, max).optional();
export const optNum = (min: number, max?: number) => num(min, max).optional();

/** "1,2,3" -> [1, 2, 3] with each element checked. */
export function numberList(item: z.ZodTypeAny) {
  return z
    .string()
    .transform((s, ctx) => {
      const parts = s.split(",").map((p) => p.trim()).filter((p) => p !== "");
      if (parts.length === 0) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: "expected a comma-separated list" });
        return z.NEVER;
      }
      const out: number[] = [];
      for (const p of parts) {
        const r = item.safeParse(p);
        if (!r.success) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${JSON.stringify(p)}: ${r.error.issues[0].message}` });
          return z.NEVER;
        }
        out.push(r.data);
      }
      return out;
    });
}

/** "ttft_ms=200,tpot_ms=50" -> { ttft_ms: 200, tpot_ms: 50 } (keys limited to the given ones). */
export function keyValueList<K extends string>(keys: readonly K[]) {
  return z.string().transform((s, ctx) => {
    const out: Partial<Record<K, number>> = {};
    for (const part of s.split(",").map((p) => p.trim()).filter(Boolean)) {
      const [k, v] = part.split("=");
      if (!keys.includes(k as K)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `unknown key ${JSON.stringify(k)} (use ${keys.join(", ")})` });
        return z.NEVER;
      }
      const n = Number(v);
      if (v === undefined || !Number.isFinite(n) || n <= 0) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${k} needs a positive number, got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      out[k as K] = n;
    }
    return out;
  });
}
