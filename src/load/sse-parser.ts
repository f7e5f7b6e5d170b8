// Incremental SSE parsing: bytes in, complete `data:` payloads out (events end at a blank line).
// The common case (LF line ends, one `data: ` line per event, as every OpenAI-compatible server
// sends) takes a fast path without regular expressions; anything else takes the general one.
export class SseParser {
  private buf = "";

  push(text: string): string[] {
    this.buf += text;
    const out: string[] = [];
    for (;;) {
      const cr = this.buf.includes("\r");
      let end: number;
      let sep: number;
      if (!cr) {
        end = this.buf.indexOf("\n\n");
        sep = 2;
      } else {
        const m = /\r?\n\r?\n/.exec(this.buf);
        end = m ? m.index : -1;
        sep = m ? m[0].length : 0;
      }
      if (end < 0) break;
      const event = this.buf.slice(0, end);
      this.buf = this.buf.slice(end + sep);
      if (!cr && event.startsWith("data: ") && !event.includes("\n")) {
        if (event.length > 6) out.push(event.slice(6));
        continue;
      }
      const data = event
        .split(/\r?\n/)
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, ""))
        .join("\n");
      if (data !== "") out.push(data);
    }
    return out;
  }
}
