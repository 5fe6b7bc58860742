import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';

/**
 * Sends a body by piping a Node stream straight into the Node response, skipping the web-stream round trip
 * (Node Readable → web ReadableStream → Node socket), which cost most of the CPU of serving large bodies.
 * Outside @hono/node-server (e.g. `app.request` in tests) it falls back to a standard Response.
 */
export function sendStream(
  c: Context,
  status: number,
  headers: Record<string, string>,
  body: Readable | AsyncIterable<Uint8Array>,
  onError?: (err: unknown) => void,
): Response {
  const stream = body instanceof Readable ? body : Readable.from(body, { objectMode: false });
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (!outgoing) return new Response(Readable.toWeb(stream) as ReadableStream, { status, headers });
  outgoing.writeHead(status, headers);
  pipeline(stream, outgoing).catch((err) => onError?.(err));
  return RESPONSE_ALREADY_SENT;
}
