// --scales: fixed arrival-time scales, or capacity-aware ("auto", "auto:N"; load/capacity.ts chooses them).
export const AUTO_DEFAULT_POINTS = 5;

export type ScalesSpec = { mode: "fixed"; scales: number[] } | { mode: "auto"; points: number };

/** "0.4,0.8" -> fixed scales; "auto" or "auto:N" (2 <= N <= 20) -> capacity-aware. Throws a message. */
export function parseScales(text: string): ScalesSpec {
  const s = text.trim();
  const auto = /^auto(?::(\d+))?$/.exec(s);
  if (auto) {
    const points = auto[1] === undefined ? AUTO_DEFAULT_POINTS : Number(auto[1]);
    if (points < 2 || points > 20) throw new Error(`auto:${auto[1]}: the number of scales must be 2..20`);
    return { mode: "auto", points };
  }
  if (s.startsWith("auto")) throw new Error(`${JSON.stringify(s)}: expected auto or auto:N`);
  const parts = s.split(",").map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length === 0) throw new Error("expected a comma-separated list of scales, auto or auto:N");
  const scales = parts.map((p) => {
    const v = Number(p);
    if (!/^[0-9.eE+-]+$/.test(p) || !Number.isFinite(v) || v <= 0) throw new Error(`${JSON.stringify(p)}: a scale must be a number > 0`);
    return v;
  });
  if (new Set(scales).size !== scales.length) throw new Error("each scale once");
  return { mode: "fixed", scales };
}
