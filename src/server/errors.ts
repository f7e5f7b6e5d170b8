// OpenAI-style error bodies: {"error":{"message","type","param","code"}}.
import type { ServerResponse } from "node:http";
import type { ZodError } from "zod";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = "invalid_request_error",
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/** A 400 naming every invalid field, one per clause. */
export function fromZod(err: ZodError): HttpError {
  const fields = err.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`);
  const first = err.issues[0]?.path.join(".") || null;
  return new HttpError(400, `invalid request: ${fields.join("; ")}`, "invalid_request_error", first);
}

export function errorBody(e: HttpError) {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  const e = err instanceof HttpError ? err : new HttpError(500, err instanceof Error ? err.message : String(err), "server_error");
  sendJson(res, e.status, errorBody(e));
}
