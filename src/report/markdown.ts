// Minimal markdown table writer: pipes escaped, columns right-aligned when numeric.

export function mdEscape(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export function mdTable(headers: string[], rows: string[][], numericFrom = 1): string {
  const align = headers.map((_, i) => (i >= numericFrom ? "---:" : "---"));
  const line = (cells: string[]) => `| ${cells.map(mdEscape).join(" | ")} |`;
  return [line(headers), `| ${align.join(" | ")} |`, ...rows.map(line)].join("\n");
}
