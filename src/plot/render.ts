// vega-lite spec -> vega -> SVG (headless View, renderer 'none') -> PNG with resvg.
// No canvas, no system fonts, no native libraries beyond resvg's prebuilt binary: a PNG is the same
// bytes on a laptop, in CI and on the GPU host.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { FONT_FAMILY, PNG_SCALE, fontFiles } from "./theme.js";
import { installTextMetrics } from "./text-metrics.js";

export async function specToSvg(spec: TopLevelSpec): Promise<string> {
  installTextMetrics();
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
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
  /** RGBA, row-major; tests use it to check that a figure is not blank. */
  pixels: Buffer;
}

export function svgToPng(svg: string, scale = PNG_SCALE): RenderedPng {
  const resvg = new Resvg(svg, {
    fitTo: { mode: "zoom", value: scale },
    background: "white",
    font: { fontFiles: fontFiles(), loadSystemFonts: false, defaultFontFamily: FONT_FAMILY },
  });
  const image = resvg.render();
  return { png: image.asPng(), width: image.width, height: image.height, pixels: image.pixels };
}

/** Writes <name>.svg and <name>.png under dir; returns both paths. */
export async function renderFigure(spec: TopLevelSpec, dir: string, name: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const svg = await specToSvg(spec);
  const { png } = svgToPng(svg);
  const svgPath = join(dir, `${name}.svg`);
  const pngPath = join(dir, `${name}.png`);
  await writeFile(svgPath, svg);
  await writeFile(pngPath, png);
  return [pngPath, svgPath];
}
