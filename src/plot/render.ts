// vega-lite spec -> vega View -> SVG (vega's SVG string renderer) and PNG (vega's own canvas
// renderer, View.toCanvas, on the `canvas` package). `canvas` is @napi-rs/canvas installed under that
// name: prebuilt binaries from the npm registry, no system libraries. The bundled DejaVu fonts are
// registered with it, so vega measures text with the same glyphs the PNG draws, on any machine.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GlobalFonts, type Canvas } from "canvas";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { FONT_FAMILY, PNG_SCALE, fontFiles } from "./theme.js";

let fontsRegistered = false;

/** DejaVu Sans (regular, bold) under FONT_FAMILY, once per process; system fonts are never used. */
export function registerFonts(): void {
  if (fontsRegistered) return;
  for (const path of fontFiles()) {
    if (!GlobalFonts.registerFromPath(path, FONT_FAMILY)) throw new Error(`could not register the font ${path}`);
  }
  fontsRegistered = true;
}

function viewOf(spec: TopLevelSpec): vega.View {
  registerFonts();
  return new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
}

export async function specToSvg(spec: TopLevelSpec): Promise<string> {
  const view = viewOf(spec);
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface RenderedPng {
  png: Buffer;
  width: number;
  height: number;
}

/** The spec drawn by vega's canvas renderer at `scale` canvas pixels per SVG pixel. */
export async function specToPng(spec: TopLevelSpec, scale = PNG_SCALE): Promise<RenderedPng> {
  const view = viewOf(spec);
  try {
    // vega's typings promise a DOM canvas; in Node it is the `canvas` package's.
    const canvas = (await view.toCanvas(scale)) as unknown as Canvas;
    return { png: await canvas.encode("png"), width: canvas.width, height: canvas.height };
  } finally {
    view.finalize();
  }
}

/** Writes <name>.svg and <name>.png under dir; returns both paths (PNG first). */
export async function renderFigure(spec: TopLevelSpec, dir: string, name: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const [svg, { png }] = await Promise.all([specToSvg(spec), specToPng(spec)]);
  const svgPath = join(dir, `${name}.svg`);
  const pngPath = join(dir, `${name}.png`);
  await writeFile(svgPath, svg);
  await writeFile(pngPath, png);
  return [pngPath, svgPath];
}
