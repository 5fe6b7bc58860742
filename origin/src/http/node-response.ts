import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';

/**
 * Sends a body straight into the Node response, skipping the web-stream round trip (Node Readable → web
 * ReadableStream → Node socket), which cost most of the CPU of serving large bodies.
 *
 * An async iterable's chunks are treated as lent (see `readFile`): each is written out to the socket before the
 * next is asked for, so its producer may reuse the buffer. Outside @hono/node-server (e.g. `app.request` in tests)
 * it falls back to a standard Response, copying each chunk.
 */
export function sendStream(
  c: Context,
  status: number,
  headers: Record<string, string>,
  body: Readable | AsyncIterable<Uint8Array>,
  onError?: (err: unknown) => void,
): Response {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (!outgoing) {
    const copies = body instanceof Readable ? body : Readable.from(copied(body), { objectMode: false });
    return new Response(Readable.toWeb(copies) as ReadableStream, { status, headers });
  }
  outgoing.writeHead(status, headers);
  (body instanceof Readable ? pipeline(body, outgoing) : writeLent(body, outgoing)).catch((err) => {
    outgoing.destroy();
    onError?.(err);
  });
  return RESPONSE_ALREADY_SENT;
}

async function* copied(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) yield chunk.slice();
}

/** Writes each chunk until the socket has taken all of it (the write's callback), then asks for the next. */
async function writeLent(chunks: AsyncIterable<Uint8Array>, out: ServerResponse): Promise<void> {
  let closed: (() => void) | undefined;
  const onClose = () => closed?.();
  out.once('close', onClose);
  try {
    for await (const chunk of chunks) {
      if (out.destroyed) throw new Error('the client went away');
      await new Promise<void>((resolve, reject) => {
        closed = () => reject(new Error('the client went away'));
        out.write(chunk, (err) => (err ? reject(err) : resolve()));
      });
    }
    await new Promise<void>((resolve) => out.end(resolve));
  } finally {
    out.off('close', onClose);
  }
}
