// Text widths from the DejaVu fonts' own advance widths. Without a canvas, vega guesses 0.8 em per
// character, which leaves legends and axis titles spaced for a font a third wider than the one resvg
// draws; reading hmtx/cmap from the TTF makes the layout fit the glyphs that are actually rendered.
import { readFileSync } from "node:fs";
import * as vega from "vega";
import { fontFiles } from "./theme.js";

interface FontWidths {
  unitsPerEm: number;
  advanceOf(codePoint: number): number;
}

function parseTtf(buf: Buffer): FontWidths {
  const numTables = buf.readUInt16BE(4);
  const tables = new Map<string, number>();
  for (let i = 0; i < numTables; i++) {
    const rec = 12 + i * 16;
    tables.set(buf.toString("latin1", rec, rec + 4), buf.readUInt32BE(rec + 8));
  }
  const head = tables.get("head")!;
  const hhea = tables.get("hhea")!;
  const hmtx = tables.get("hmtx")!;
  const cmap = tables.get("cmap")!;
  const unitsPerEm = buf.readUInt16BE(head + 18);
  const numberOfHMetrics = buf.readUInt16BE(hhea + 34);
  const advanceOfGlyph = (glyph: number) =>
    buf.readUInt16BE(hmtx + 4 * Math.min(glyph, numberOfHMetrics - 1));

  // cmap format 4 (Windows, Unicode BMP): segments of code points mapped by delta or by glyph array.
  let sub = -1;
  const numSub = buf.readUInt16BE(cmap + 2);
  for (let i = 0; i < numSub; i++) {
    const rec = cmap + 4 + i * 8;
    const offset = cmap + buf.readUInt32BE(rec + 4);
    if (buf.readUInt16BE(rec) === 3 && buf.readUInt16BE(rec + 2) === 1 && buf.readUInt16BE(offset) === 4) sub = offset;
  }
  const glyphOf = (cp: number): number => {
    if (sub < 0 || cp > 0xffff) return 0;
    const segX2 = buf.readUInt16BE(sub + 6);
    const ends = sub + 14;
    const starts = ends + segX2 + 2;
    const deltas = starts + segX2;
    const ranges = deltas + segX2;
    for (let s = 0; s < segX2; s += 2) {
      if (buf.readUInt16BE(ends + s) < cp) continue;
      const start = buf.readUInt16BE(starts + s);
      if (start > cp) return 0;
      const delta = buf.readInt16BE(deltas + s);
      const range = buf.readUInt16BE(ranges + s);
      if (range === 0) return (cp + delta) & 0xffff;
      const g = buf.readUInt16BE(ranges + s + range + 2 * (cp - start));
      return g === 0 ? 0 : (g + delta) & 0xffff;
    }
    return 0;
  };
  const cache = new Map<number, number>();
  return {
    unitsPerEm,
    advanceOf(cp) {
      let w = cache.get(cp);
      if (w === undefined) cache.set(cp, (w = advanceOfGlyph(glyphOf(cp))));
      return w;
    },
  };
}

let installed = false;

/** Points vega's text measurement at the DejaVu advance widths (idempotent). */
export function installTextMetrics(): void {
  if (installed) return;
  const [regularPath, boldPath] = fontFiles();
  const regular = parseTtf(readFileSync(regularPath));
  const bold = parseTtf(readFileSync(boldPath));
  const measure = (item: { fontSize?: number; fontWeight?: string | number }, text: unknown): number => {
    const str = text == null ? "" : String(text).trim();
    const size = item.fontSize != null ? +item.fontSize || 0 : 11;
    const weight = item.fontWeight;
    const font = weight === "bold" || (typeof weight === "number" && weight >= 600) ? bold : regular;
    let units = 0;
    for (const ch of str) units += font.advanceOf(ch.codePointAt(0)!);
    return (units / font.unitsPerEm) * size;
  };
  // vega exports textMetrics at run time but not in its type declarations.
  (vega as unknown as { textMetrics: { width: typeof measure } }).textMetrics.width = measure;
  installed = true;
}

export const __forTests = { parseTtf };
