// One look for every figure: DejaVu Sans (shipped as an npm package, so text renders identically on
// any machine), the Okabe-Ito palette (designed to stay distinct under the common colour-vision
// deficiencies, which Tableau10's orange/red/green neighbours do not), white background.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export const FONT_FAMILY = "DejaVu Sans";

/** Resolved through node's resolver so it works from src/ (tsx) and dist/ alike. */
export function fontFiles(): string[] {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve("dejavu-fonts-ttf/package.json")), "ttf");
  return [join(dir, "DejaVuSans.ttf"), join(dir, "DejaVuSans-Bold.ttf")];
}

/**
 * Okabe-Ito, reordered so the first backends get the most separable hues (yellow last: weak on white).
 * Backends take colours by first appearance, stably across files.
 */
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000", "#F0E442"];
export const UNAVAILABLE_GREY = "#9e9e9e";

/** PNG pixels per SVG pixel: crisp on high-DPI screens and in slides. */
export const PNG_SCALE = 2;

export const VEGA_CONFIG = {
  font: FONT_FAMILY,
  background: "white",
  padding: 12,
  view: { stroke: "#d0d0d0" },
  title: { fontSize: 15, subtitleFontSize: 11.5, subtitleColor: "#555", anchor: "start" as const, offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal" as const, gridColor: "#ececec", tickColor: "#888", domainColor: "#888" },
  legend: {
    labelFontSize: 11.5, titleFontSize: 12, orient: "bottom" as const, direction: "horizontal" as const,
    // The colour legend is shared by band, line and markers: draw it as a solid line, not a pale band.
    symbolType: "stroke", symbolStrokeWidth: 3, symbolOpacity: 1, symbolSize: 260, columnPadding: 18,
  },
  header: { labelFontSize: 13, titleFontSize: 13 },
  concat: { spacing: 28 },
};

/**
 * Colour scale shared by every figure: same backend, same colour, in single and comparison plots.
 * Backends that did not run are grey, so the legend says they exist but have nothing to show.
 */
export function backendColorScale(labels: readonly string[], unavailable: ReadonlySet<string> = new Set()) {
  return {
    domain: [...labels],
    range: labels.map((label, i) => (unavailable.has(label) ? UNAVAILABLE_GREY : PALETTE[i % PALETTE.length])),
  };
}
