// Every command in the README's bash blocks runs as written, so they cannot drift. The commands are
// parsed from README.md (not listed here), run in order in a scratch copy of the checkout (symlinks;
// `outputs/` is its own), each with only scale-down flags appended (fewer prompts, repeats, scales),
// with $ATTNBENCH_MAX_LATENESS_MS raised (helpers/cli.ts: the drift of a command is what is tested,
// not the dispatch timing of a machine busy with other tests).
// Skipped, with the reason printed: `npm test` (it runs this test), GPU commands (the "On a GPU host"
// section, a comment starting "GPU:") on a machine without a GPU, and a command whose input file is absent from this machine (a trace outside the repo).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execa } from "execa";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { REPO_ROOT } from "./helpers/paths.js";
import { TEST_ENV } from "./helpers/cli.js";

export interface ReadmeCommand {
  /** The command as written (continuation lines joined), without its trailing comment. */
  cmd: string;
  comment: string;
  section: string;
}

/** Commands of the ```bash blocks, with the section heading they appear under. */
export function readmeCommands(markdown: string): ReadmeCommand[] {
  const out: ReadmeCommand[] = [];
  let section = "";
  let inBash = false;
  let pending = "";
  for (const line of markdown.split("\n")) {
    if (!inBash) {
      if (/^#{1,6} /.test(line)) section = line.replace(/^#+ /, "");
      if (/^```bash\s*$/.test(line)) inBash = true;
      continue;
    }
    if (/^```\s*$/.test(line)) {
      inBash = false;
      continue;
    }
    // A comment starts at a '#' after whitespace (none of the commands quote a '#').
    const m = /^(.*?)(?:\s+#\s?(.*))?$/.exec(line)!;
    const code = m[1].trimEnd();
    const comment = m[2] ?? "";
    if (code.endsWith("\\")) {
      pending += code.slice(0, -1).trim() + " ";
      continue;
    }
    const cmd = (pending + code.trim()).trim();
    pending = "";
    if (cmd) out.push({ cmd, comment, section });
  }
  return out;
}

const hasGpu = existsSync("/dev/nvidiactl") || existsSync("/proc/driver/nvidia/version");

/** Why a command is not run here, or null. */
function skipReason(c: ReadmeCommand, cwd: string): string | null {
  if (c.cmd === "npm test") return "it is the suite this test runs in";
  if (!hasGpu && /\bGPU\b/.test(c.section)) return `a command for a GPU host (section "${c.section}") and this machine has no GPU`;
  if (!hasGpu && /^GPU\b/.test(c.comment)) return "needs a GPU";
  const trace = /--trace\s+(\S+)/.exec(c.cmd)?.[1];
  if (trace && !trace.startsWith("synthetic:") && !existsSync(resolve(cwd, trace))) return `its trace ${trace} is not on this machine`;
  return null;
}

/** Flags appended to keep a command small; options given twice take the last value. */
function scaleDown(cmd: string): string {
  if (/attnbench bench offline/.test(cmd)) return `${cmd} --num-prompts 8 --repeats 1 --warmup-prompts 2`;
  if (/attnbench bench online/.test(cmd)) return `${cmd} --num-prompts 10 --scales 0.5`;
  if (/attnbench serve/.test(cmd)) return `${cmd} --port 0`;
  return cmd;
}

/** A scratch checkout: every top-level entry linked, except the outputs a command writes. */
function scratchCheckout(): string {
  const root = mkdtempSync(join(tmpdir(), "attnbench-readme-"));
  const repo = join(root, "repo");
  mkdirSync(repo);
  for (const entry of readdirSync(REPO_ROOT)) {
    if (["outputs", "bundle", ".git", "package.json"].includes(entry)) continue;
    symlinkSync(join(REPO_ROOT, entry), join(repo, entry));
  }
  // A real package.json: npx runs the project's own bin from it (through a link it would install the
  // folder into its cache first).
  copyFileSync(join(REPO_ROOT, "package.json"), join(repo, "package.json"));
  // Paths such as ../shared/traces are relative to the checkout: keep them meaning the same thing.
  const shared = resolve(REPO_ROOT, "..", "shared");
  if (existsSync(shared)) symlinkSync(shared, join(root, "shared"));
  return repo;
}

/** serve runs until stopped: wait for its URL, check /health and a chat request, then stop the whole
 *  process group (npx does not pass SIGTERM on to the server it started) and wait for it to end. */
async function runServe(cmd: string, cwd: string): Promise<void> {
  const child = spawn("bash", ["-c", `exec ${cmd}`], { cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on("close", (code, signal) => res({ code, signal })));
  try {
    const url = await new Promise<string>((res, rej) => {
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) res(m[1]);
      });
      closed.then((r) => rej(new Error(`serve exited (${r.code ?? r.signal}): ${err}`)));
      setTimeout(() => rej(new Error(`serve did not print its URL in 120 s: ${err}`)), 120_000);
    });
    assert.equal((await fetch(`${url}/health`)).status, 200);
    const chat = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: 4 }) });
    assert.equal(chat.status, 200, await chat.text());
  } finally {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      /* already gone */
    }
  }
  const end = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
  if (end === null) process.kill(-child.pid!, "SIGKILL");
  assert.ok(end !== null, `serve did not stop within 15 s of SIGTERM: ${err}`);
  assert.ok(end.signal === "SIGTERM" || end.code === 143, `serve ended with ${end.code ?? end.signal}: ${err}`);
}

const README = readFileSync(join(REPO_ROOT, "README.md"), "utf8");

test("README parsing finds the commands, joins continuation lines, keeps comments apart", () => {
  const cmds = readmeCommands(README);
  assert.ok(cmds.length >= 8, `${cmds.length} commands`);
  assert.ok(cmds.every((c) => !c.cmd.includes("\\") && !c.cmd.includes("#")));
  const parsed = readmeCommands("# A\n```bash\nfoo --x 1 \\\n   --y 2   # note\n\nbar\n```\n```\nnot bash\n```\n");
  assert.deepEqual(parsed, [
    { cmd: "foo --x 1 --y 2", comment: "note", section: "A" },
    { cmd: "bar", comment: "", section: "A" },
  ]);
});

test("every README command runs as written (scaled down), in order, exit 0", { timeout: 900_000 }, async (t) => {
  const cwd = scratchCheckout();
  t.after(() => rmSync(dirname(cwd), { recursive: true, force: true }));
  let ran = 0;
  for (const c of readmeCommands(README)) {
    const why = skipReason(c, cwd);
    if (why) {
      console.log(`# README command skipped (${why}): ${c.cmd}`);
      continue;
    }
    const cmd = scaleDown(c.cmd);
    console.log(`# README command: ${cmd}`);
    if (/attnbench serve/.test(cmd)) await runServe(cmd, cwd);
    else {
      // A glob with nothing to match (its input came from a skipped command) is skipped too.
      const glob = /(\S*\*\S*)/.exec(cmd)?.[1];
      if (glob) {
        const ls = await execa("bash", ["-c", `ls ${glob}`], { cwd, reject: false });
        if (ls.exitCode !== 0) {
          console.log(`# README command skipped (${glob} matches nothing here: its input comes from a skipped command)`);
          continue;
        }
      }
      const r = await execa("bash", ["-c", cmd], { cwd, reject: false, all: true, timeout: 600_000, env: { ...process.env, ...TEST_ENV } });
      assert.equal(r.exitCode, 0, `${cmd}\n${r.all?.slice(-3000)}`);
    }
    ran++;
  }
  assert.ok(ran >= 5, `${ran} commands ran`);
  assert.ok(existsSync(join(cwd, "outputs")) && readdirSync(join(cwd, "outputs")).some((d) => d.startsWith("offline_")), "results landed in the scratch outputs/");
});
