import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, badRequest } from './errors.js';

const MAX_BODY = 32 * 1024 * 1024;

export async function readJson<T>(req: IncomingMessage): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new ApiError(413, 'too_large', `request body over ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw badRequest('request body is not valid JSON');
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Starts a newline-delimited JSON stream; returns a writer. */
export function ndjson(res: ServerResponse): (obj: unknown) => void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
  res.flushHeaders();
  return (obj) => {
    if (!res.destroyed) res.write(JSON.stringify(obj) + '\n');
  };
}
