// Request bodies: JSON only, bounded in size (a client cannot make the server buffer without limit).
import type { IncomingMessage } from "node:http";
import { HttpError } from "./errors.js";

export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

export async function readJsonBody(req: IncomingMessage, maxBytes = DEFAULT_MAX_BODY_BYTES): Promise<unknown> {
  const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json") {
    req.resume();
    throw new HttpError(415, `content-type must be application/json, got ${JSON.stringify(type || "(none)")}`);
  }
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > maxBytes) {
    req.resume();
    throw new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      req.resume();
      throw new HttpError(413, `request body exceeds the limit of ${maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  let text: string;
  try {
    // fatal: a body that is not UTF-8 is refused, not silently turned into U+FFFD characters.
    text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new HttpError(400, "request body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "request body is not valid JSON");
  }
}
