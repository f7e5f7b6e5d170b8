// Reading a results file is an edge: parse with the versioned zod schema and name the file in every error.
import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { AnyResultsSchema, type AnyResults, type OfflineResults, type OnlineResults } from "./schema.js";

/** Thrown for any results file that cannot be used; the CLI maps it to exit code 2. */
export class ResultsFileError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = "ResultsFileError";
  }
}

export interface LoadedResults {
  file: string;
  results: AnyResults;
}

export function parseResults(file: string, text: string): LoadedResults {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ResultsFileError(file, `not JSON (${(err as Error).message})`);
  }
  const parsed = AnyResultsSchema.safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.slice(0, 8).map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    const more = parsed.error.issues.length > 8 ? `\n  ... ${parsed.error.issues.length - 8} more` : "";
    throw new ResultsFileError(file, `not a valid attnbench results file:\n${lines.join("\n")}${more}`);
  }
  return { file, results: parsed.data };
}

/** Reads a results file; `.json.gz` (how large baselines are committed) is decompressed first. */
export async function loadResults(file: string): Promise<LoadedResults> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ResultsFileError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (file.endsWith(".gz")) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new ResultsFileError(file, `not gzip (${(err as Error).message})`);
    }
  }
  return parseResults(file, bytes.toString("utf8"));
}

export function isOnline(r: AnyResults): r is OnlineResults {
  return r.schema.startsWith("attnbench.online/");
}

export function isOffline(r: AnyResults): r is OfflineResults {
  return r.schema.startsWith("attnbench.offline/");
}
