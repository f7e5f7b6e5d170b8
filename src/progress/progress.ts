// Progress of long runs on stderr: one live, rewritten line on a TTY; plain lines otherwise
// (at most one every few seconds, so logs of CI runs stay readable).
export interface ProgressState {
  phase: string;
  done: number;
  total: number;
}

export class Progress {
  private readonly t0 = Date.now();
  private lastPlain = 0;
  private live = false;

  constructor(
    private readonly out: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean } = process.stderr,
    private readonly plainEveryMs = 5000,
  ) {}

  private get tty(): boolean {
    return Boolean((this.out as { isTTY?: boolean }).isTTY);
  }

  static format(s: ProgressState, elapsed_s: number): string {
    return `${s.phase}: ${s.done}/${s.total} requests, ${elapsed_s.toFixed(1)} s elapsed`;
  }

  update(s: ProgressState): void {
    const line = Progress.format(s, (Date.now() - this.t0) / 1000);
    if (this.tty) {
      this.out.write(`\r\x1b[2K${line}`);
      this.live = true;
    } else if (Date.now() - this.lastPlain >= this.plainEveryMs || s.done === s.total) {
      this.lastPlain = Date.now();
      this.out.write(line + "\n");
    }
  }

  /** A message that must not be overwritten by the live line. */
  log(msg: string): void {
    this.endLine();
    this.out.write(msg + "\n");
  }

  endLine(): void {
    if (this.live) this.out.write("\n");
    this.live = false;
  }
}
