// Minimal markdown table writer: pipes escaped; a column is right-aligned when all its cells are numbers.

export function mdEscape(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

const NUMERIC_CELL = /^[-+–]?[\d.,/]+(x|%)?( \(ref\))?$|^–$/;

export function mdTable(headers: string[], rows: string[][]): string {
  const align = headers.map((_, i) => (rows.length > 0 && rows.every((r) => NUMERIC_CELL.test(r[i] ?? "")) ? "---:" : "---"));
  const line = (cells: string[]) => `| ${cells.map(mdEscape).join(" | ")} |`;
  return [line(headers), `| ${align.join(" | ")} |`, ...rows.map(line)].join("\n");
}
