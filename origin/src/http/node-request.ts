import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

/**
 * The request body as the Node stream it arrived on, when served by @hono/node-server: reading `c.req.raw.body`
 * instead goes through a Node → web stream adapter that costs about as much CPU as hashing the bytes. Elsewhere
 * (e.g. `app.request` in tests) the standard body. Undefined for GET and HEAD, like `Request.body`.
 */
export function requestBody(c: Context): AsyncIterable<Uint8Array> | undefined {
  if (c.req.method === 'GET' || c.req.method === 'HEAD') return undefined;
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming ?? c.req.raw.body ?? undefined;
}
