// The one place that turns failures into exit codes and one-line messages.
// Usage problems (bad flags, contradictory options) exit 2, as POSIX tools do; the rest exit 1.
import { ZodError } from "zod";

/** A problem with how the tool was invoked: printed one line per problem, exit 2. */
export class UsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
    this.name = "UsageError";
  }
}

/** Lines naming each failing field, e.g. "--num-prompts: Number must be greater than 0". */
export function zodProblems(err: ZodError, flagOf: (path: string) => string = toFlag): string[] {
  return err.issues.map((issue) => {
    const path = issue.path.join(".");
    return path ? `${flagOf(path)}: ${issue.message}` : issue.message;
  });
}

/** camelCase option key -> its --kebab-case flag. */
export function toFlag(key: string): string {
  return "--" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || err instanceof ZodError) return 2;
  return 1;
}

/** Print the error as the user should see it and return the exit code. */
export function reportError(err: unknown, prog = "attnbench", write: (s: string) => void = (s) => process.stderr.write(s)): number {
  let lines: string[];
  if (err instanceof UsageError) lines = err.problems;
  else if (err instanceof ZodError) lines = zodProblems(err);
  else if (err instanceof Error) lines = [err.message];
  else lines = [String(err)];
  for (const line of lines) write(`${prog}: ${line}\n`);
  return exitCodeFor(err);
}

/** Wrap a commander action so every failure goes through reportError. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}

/** Parse with a zod schema; a failure becomes a UsageError naming each flag. */
export function parseOptions<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: ZodError } }, raw: unknown): T {
  const r = schema.safeParse(raw);
  if (!r.success) throw new UsageError(zodProblems(r.error));
  return r.data;
}
