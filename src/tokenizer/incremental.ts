// Streaming detokenization: the text that newly arrived tokens add, emitted only when it is whole.
// A token can end inside a UTF-8 character (byte-level BPE) and some decoders change a token's text
// by what precedes it (SentencePiece's leading space), so the new tokens are decoded together with a
// few tokens of context before them, and the text is held back while it ends in U+FFFD.
// (The same idea as vLLM's incremental detokenizer; our own code.)
import type { TextTokenizer } from "./types.js";

export class IncrementalDecoder {
  private ids: number[] = [];
  /** Start of the context window, and end of what has been emitted. */
  private prefix = 0;
  private read = 0;

  constructor(private readonly tok: Pick<TextTokenizer, "decode">) {}

  /** Text newly completed by these tokens (possibly ""). */
  push(newIds: readonly number[]): string {
    this.ids.push(...newIds);
    const before = this.tok.decode(this.ids.slice(this.prefix, this.read));
    const after = this.tok.decode(this.ids.slice(this.prefix));
    if (after.length <= before.length || after.endsWith("\uFFFD")) return "";
    this.prefix = this.read;
    this.read = this.ids.length;
    return after.slice(before.length);
  }

  /** Whatever is still held back, at the end of a stream. */
  flush(): string {
    const before = this.tok.decode(this.ids.slice(this.prefix, this.read));
    const after = this.tok.decode(this.ids.slice(this.prefix));
    this.prefix = this.read = this.ids.length;
    return after.length > before.length ? after.slice(before.length) : "";
  }
}
