// The process table (Linux /proc): descendants of a pid, liveness, resident memory. Shared by the soak
// (scripts/soak.ts) and the reliability tests.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  zombie: boolean;
}

function table(): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const [state, ppid] = stat.slice(close + 2).split(" ");
      out.push({ pid: Number(d), ppid: Number(ppid), comm, zombie: state === "Z" });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** Live descendants of `root` (any depth), optionally only those whose comm starts with `comm`. */
export function descendants(root: number, comm?: string): number[] {
  const procs = table();
  const found: Proc[] = [];
  const frontier = [root];
  while (frontier.length) {
    const p = frontier.pop()!;
    for (const c of procs) if (c.ppid === p && !c.zombie) {
      found.push(c);
      frontier.push(c.pid);
    }
  }
  return found.filter((p) => !comm || p.comm.startsWith(comm)).map((p) => p.pid);
}

/** Is the pid a live (non-zombie) process? */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Resident set size in KiB, or null when the process is gone. */
export function rssKiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** TCP ports the process listens on (IPv4 and IPv6): its socket fds matched to LISTEN rows of /proc/net/tcp{,6}. */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    return [];
  }
  const ports: number[] = [];
  for (const file of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    let rows: string[];
    try {
      rows = readFileSync(file, "utf8").trim().split("\n").slice(1);
    } catch {
      continue;
    }
    for (const row of rows) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const f = row.trim().split(/\s+/);
      if (f[3] === "0A" && inodes.has(f[9])) ports.push(parseInt(f[1].split(":")[1], 16));
    }
  }
  return ports;
}
