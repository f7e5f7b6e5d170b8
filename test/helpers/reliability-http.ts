// Raw HTTP for the reliability tests: exact bytes out (invalid UTF-8, huge bodies, stalls), status
// and body back, and a server that may cut the connection early without failing the test.
import http from "node:http";
import net from "node:net";

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

export function rawPost(url: string, body: string | Buffer, headers: Record<string, string | number> = { "content-type": "application/json" }, path = "/v1/completions"): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    // Chunked when asked for (the size is then not declared), else a content-length.
    const sized = "transfer-encoding" in headers ? headers : { "content-length": Buffer.byteLength(body), ...headers };
    const req = http.request({ host: u.hostname, port: u.port, method: "POST", path, headers: sized }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: any = null;
        try {
          json = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
      res.on("error", reject);
    });
    // The server may answer (413) and close before the whole body is written: that is fine.
    req.on("error", (e: NodeJS.ErrnoException) => (e.code === "EPIPE" || e.code === "ECONNRESET" ? undefined : reject(e)));
    req.end(body);
  });
}

/** Open a raw TCP connection, write `head`, and never read: a client that stalls. */
export function stalledClient(url: string, head: string): Promise<net.Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port) }, () => {
      s.write(head);
      resolve(s);
    });
    s.on("error", reject);
  });
}

/** A streaming request on a raw socket that is paused (reads nothing) until told. */
export function nonReadingStream(url: string, body: object): Promise<net.Socket> {
  const text = JSON.stringify(body);
  return stalledClient(url, `POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`).then((s) => {
    s.pause();
    return s;
  });
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
