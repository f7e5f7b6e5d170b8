// A small seeded PRNG (mulberry32): the bootstrap must give the same verdict for the same files on
// every machine, so Math.random is never used for statistics.

export type Rng = () => number;

export { mulberry32 } from "../traces/rng.js";

/** FNV-1a: a stable 32-bit seed from a comparison's key, so each metric gets its own fixed stream. */
export function seedFromString(text: string, base = 0): number {
  let h = (0x811c9dc5 ^ base) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Standard normal by Box-Muller (used by tests and fixtures to plant noise). */
export function normal(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}
