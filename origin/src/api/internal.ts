import { createHash } from 'node:crypto';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { InternalAuthError, UNSIGNED_PAYLOAD, verifyInternal } from '../auth/internal-hmac.ts';
import type { CipherSpec } from '../pipeline/cipher.ts';
import { iterableSource } from '../pipeline/source.ts';
import { sendStream } from '../http/node-response.ts';
import { EmptyObjectError, PACK_REF, PackStoreBusyError, type PackedRef } from '../uploads/pack-store.ts';
import { BodyTooLargeError } from '../uploads/durable-file.ts';
import type { OriginEnv, OriginServices } from './context.ts';
import { parseRange } from './download.ts';
import { ApiError, classify } from './errors.ts';
import { partRoutes } from './internal-parts.ts';
import { checkTerritory } from './upload.ts';
import { requestBody } from '../http/node-request.ts';
import { deleteOwnedFile, isStoredRef, openStored } from './stored.ts';

/**
 * Routes for the edge only, each signed with the shared secret (auth/internal-hmac.ts); without a configured
 * secret they do not exist. The edge keeps the S3 namespace and asserts the owner account and territory; the chain
 * still checks that the owner authorized this gateway when the deal is declared.
 *
 * - `PUT /internal/object` (raw streamed body; headers X-Deoss-Owner, X-Deoss-Territory, X-Deoss-File-Name (URI-encoded),
 *   optional X-Deoss-Sse-Key = base64 32-byte key) → `{fid, size, md5, state}`. With write-behind on (the default)
 *   an unencrypted object answers once its bytes are durable here, `fid` being a pack reference
 *   (`pack-<id>-<offset>-<size>`, state `packed`); every route below takes either a FID or such a reference.
 *   With `X-Deoss-Report: written` such an answer comes in two NDJSON lines instead: the same object as soon as the
 *   bytes are written and checked (readable from then on), then `{"durable":true}` once committed, or
 *   `{"durable":false,code,msg}` when the commit failed and the bytes are gone. The edge records the object in its
 *   index between the two, so that write and the origin's fsyncs overlap; it answers the client after both.
 * - `GET|HEAD /internal/object/:ref` with optional Range (and X-Deoss-Sse-Key to decrypt) → the bytes; with
 *   X-Deoss-Owner also a pack reference another origin wrote, once its pack is sealed and stored (chain/sealed-packs.ts)
 * - `DELETE /internal/object/:ref` with X-Deoss-Owner releases a FID or packed object
 */
/** Asks `PUT /internal/object` for the two-line answer (see above). */
export const REPORT_HEADER = 'X-Deoss-Report';

export function internalRoutes(app: Hono<OriginEnv>, s: OriginServices): void {
  if (!s.config.edgeSecret) return;
  const signed = internalAuth(s.config.edgeSecret);
  partRoutes(app, s, signed);
  app.put('/internal/object', signed, async (c) => {
    const owner = c.req.header('X-Deoss-Owner');
    const territoryName = c.req.header('X-Deoss-Territory');
    // URI-encoded by the edge: S3 keys may hold any Unicode character, header values may not.
    const fileName = decodeName(c.req.header('X-Deoss-File-Name') ?? 'object');
    if (!owner || !territoryName) throw new ApiError(400, 'X-Deoss-Owner and X-Deoss-Territory are required');
    const body = requestBody(c);
    if (!body) throw new ApiError(400, 'empty body');
    // A body of unknown length (a browser form's file) may come with the most it can be: enough to pack it.
    const length = Number(c.req.header('Content-Length') ?? c.req.header('X-Deoss-Size-At-Most') ?? NaN);
    await checkTerritory(s, owner, territoryName, Number.isSafeInteger(length) ? length : 0);
    const promised = c.get('promisedSha256');
    const cipher = sseKey(c);
    const ack = c.req.header('X-Deoss-Ack') ?? s.config.ackMode;
    // Unencrypted objects are written behind (uploads/pack-store.ts): answered once their bytes are durable here.
    // SSE-C objects cannot wait (the key is never kept), and `stored` acks wait for the nodes anyway.
    if (s.packs && !cipher && ack !== 'stored') {
      const { chunks, check } = promisedBody(body, promised);
      let reportWritten: ((r: PackedRef) => void) | undefined;
      const written = new Promise<PackedRef>((resolve) => (reportWritten = resolve));
      const durable = s.packs
        .put(chunks, {
          owner,
          territory: territoryName,
          sizeHint: Number.isSafeInteger(length) ? length : undefined,
          maxBytes: s.config.maxUploadBytes,
          signal: c.req.raw.signal,
          check,
          onWritten: reportWritten,
        })
        .catch(packError)
        .then((packed) => {
          s.metrics.uploads++;
          s.metrics.uploadBytes += packed.size;
          return packed;
        });
      const stored = (r: PackedRef) => ({ fid: r.ref, size: r.size, md5: r.md5, state: 'packed' });
      if (c.req.header(REPORT_HEADER) !== 'written') return c.json(stored(await durable));
      // Two lines: the reference once the bytes are written (the edge records it meanwhile), then the commit's end.
      const first = await Promise.race([written, durable]);
      const lines = (async function* () {
        yield Buffer.from(`${JSON.stringify(stored(first))}\n`);
        const outcome = await durable.then(
          () => ({ durable: true }),
          (err: unknown) => {
            const [status, msg] = classify(err);
            console.error(`origin: commit of ${first.ref} failed:`, err);
            return { durable: false, code: status, msg };
          },
        );
        yield Buffer.from(`${JSON.stringify(outcome)}\n`);
      })();
      return sendStream(c, 200, { 'Content-Type': 'application/x-ndjson' }, lines);
    }
    const md5 = createHash('md5');
    const sha = createHash('sha256');
    let size = 0;
    const limit = s.config.maxUploadBytes;
    const counted = (async function* () {
      for await (const chunk of body) {
        size += chunk.length;
        if (size > limit) throw new ApiError(413, `object larger than the limit of ${limit} bytes`);
        md5.update(chunk);
        if (promised !== UNSIGNED_PAYLOAD) sha.update(chunk);
        yield chunk;
      }
    })();
    const record = await s.uploads.stage(
      iterableSource(counted),
      { owner, territory: territoryName, fileName: paddedName(fileName), cipher },
      c.req.raw.signal,
      () => {
        if (promised !== UNSIGNED_PAYLOAD && sha.digest('hex') !== promised) throw new ApiError(400, 'body does not match X-Deoss-Content-SHA256');
      },
    );
    s.metrics.uploads++;
    s.metrics.uploadBytes += size;
    if (ack === 'stored') {
      const settled = await s.uploads.whenSettled(record, c.req.raw.signal);
      if (settled.state === 'failed') throw new ApiError(502, `upload failed: ${settled.lastError ?? 'unknown reason'}`);
    }
    return c.json({ fid: record.fid, size, md5: md5.digest('hex'), state: record.state });
  });

  // The edge releases a FID or packed object when no S3 key refers to it any more.
  app.delete('/internal/object/:ref', signed, async (c) => {
    const ref = c.req.param('ref') ?? '';
    const owner = c.req.header('X-Deoss-Owner');
    if (!isStoredRef(ref) || !owner) throw new ApiError(400, 'a fid or pack reference and X-Deoss-Owner are required');
    if (PACK_REF.test(ref)) {
      const released = await s.packs?.release(ref, owner);
      return released ? c.json({ fid: ref, deleted: 'released' }) : c.json({ fid: ref, deleted: 'absent' }, 404);
    }
    const deleted = await deleteOwnedFile(s, owner, ref);
    return c.json({ fid: ref, deleted }, deleted === 'absent' ? 404 : deleted === 'deferred' ? 202 : 200);
  });

  app.on(['GET', 'HEAD'], '/internal/object/:ref', signed, async (c) => {
    const ref = c.req.param('ref') ?? '';
    if (!isStoredRef(ref)) throw new ApiError(400, 'invalid fid or pack reference');
    // The owner lets a pack reference written by another origin be found on the chain.
    const file = await openStored(s, ref, c.req.header('X-Deoss-Owner'));
    if (!file) throw new ApiError(404, 'not found');
    const range = parseRange(c.req.header('Range'), file.size);
    const start = range?.start ?? 0;
    const end = range?.end ?? file.size - 1;
    const headers: Record<string, string> = { 'Content-Length': String(end - start + 1), 'Content-Type': 'application/octet-stream', 'X-Deoss-Size': String(file.size) };
    if (range) headers['Content-Range'] = `bytes ${start}-${end}/${file.size}`;
    const status = range ? 206 : 200;
    if (c.req.method === 'HEAD') return c.body(null, status, headers);
    const chunks = file.read({ start, end }, { cipher: sseKey(c), signal: c.req.raw.signal });
    // The first segment is fetched before the status is sent, so a missing file is an error, not a truncated body.
    const first = await chunks.next();
    const body = (async function* () {
      if (!first.done) yield first.value;
      yield* chunks;
    })();
    return sendStream(c, status, headers, body, (err) => console.error(`origin: internal read of ${ref} broke off: ${(err as Error).message}`));
  });
}

/**
 * A request body passed through while it is hashed, and the check that it matches the SHA-256 the edge promised
 * (nothing to check for UNSIGNED-PAYLOAD). Call `check` after the last chunk.
 */
export function promisedBody(body: AsyncIterable<Uint8Array>, promised: string): { chunks: AsyncIterable<Uint8Array>; check: () => void } {
  if (promised === UNSIGNED_PAYLOAD) return { chunks: body, check: () => {} };
  const sha = createHash('sha256');
  const chunks = (async function* () {
    for await (const chunk of body) {
      sha.update(chunk);
      yield chunk;
    }
  })();
  return {
    chunks,
    check: () => {
      if (sha.digest('hex') !== promised) throw new ApiError(400, 'body does not match X-Deoss-Content-SHA256');
    },
  };
}

/** Checks the edge's HMAC signature (auth/internal-hmac.ts) and records the body hash it promised. */
export function internalAuth(secret: string): MiddlewareHandler<OriginEnv> {
  const seen = new Map<string, number>();
  return async (c, next) => {
    const url = new URL(c.req.url);
    try {
      const promised = verifyInternal(c.req.method, url.pathname + url.search, c.req.raw.headers, { secret, seen });
      c.set('promisedSha256', promised);
    } catch (err) {
      if (err instanceof InternalAuthError) throw new ApiError(401, err.message);
      throw err;
    }
    await next();
  };
}

export function sseKey(c: Context, header = 'X-Deoss-Sse-Key'): Extract<CipherSpec, { kind: 'aes-256-gcm' }> | undefined {
  const value = c.req.header(header);
  if (!value) return undefined;
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) throw new ApiError(400, `${header} must be 32 bytes, base64`);
  return { kind: 'aes-256-gcm', key };
}

function packError(err: unknown): never {
  if (err instanceof BodyTooLargeError) throw new ApiError(413, err.message);
  if (err instanceof EmptyObjectError) throw new ApiError(400, err.message);
  if (err instanceof PackStoreBusyError) throw new ApiError(503, err.message);
  throw err;
}

function decodeName(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** CESS file names are 3..63 bytes: keep the tail of long S3 keys, pad short ones. */
export function paddedName(name: string): string {
  let n = name.split('/').filter(Boolean).pop() ?? 'object';
  while (Buffer.byteLength(n) > 63) n = n.slice(1);
  return Buffer.byteLength(n) < 3 ? `${n}___`.slice(0, 3) : n;
}
