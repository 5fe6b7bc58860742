import { createHash } from 'node:crypto';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { UNSIGNED_PAYLOAD } from '../auth/internal-hmac.ts';
import type { CipherSpec } from '../pipeline/cipher.ts';
import { iterableSource } from '../pipeline/source.ts';
import { PartKeyError, PartNotFoundError } from '../uploads/part-store.ts';
import { BodyTooLargeError } from '../uploads/durable-file.ts';
import type { OriginEnv, OriginServices } from './context.ts';
import { parseRange } from './download.ts';
import { isStoredRef, openStored, type StoredBytes } from './stored.ts';
import { ApiError } from './errors.ts';
import { paddedName, promisedBody, sseKey } from './internal.ts';
import { checkTerritory } from './upload.ts';
import { requestBody } from '../http/node-request.ts';

/** One piece of a composed object: a staged part, or a byte range of a stored file (a FID or a pack reference). */
export type ComposeSource = { part: string } | { fid: string; start?: number; end?: number };

export interface ComposeRequest {
  owner: string;
  territory: string;
  fileName: string;
  sources: ComposeSource[];
}

/** Largest compose request body (10,000 parts of S3 with room to spare). */
const MAX_COMPOSE_BODY = 4 * 1024 * 1024;

/**
 * S3 multipart support for the edge (all routes signed like the other internal routes):
 *
 * - `PUT /internal/part` stages a part from the raw body (`X-Deoss-Sse-Key` seals it) → `{handle, size, md5}`;
 *   with `X-Deoss-Copy-Fid` (+ optional `X-Deoss-Copy-Range: bytes=a-b`, `X-Deoss-Copy-Sse-Key`) it stages a range of
 *   a stored file instead (UploadPartCopy).
 * - `DELETE /internal/part/:handle` drops a staged part (AbortMultipartUpload, replaced parts).
 * - `POST /internal/compose` with a JSON {@link ComposeRequest} streams the sources in order through the pipeline
 *   as one CESS file (`X-Deoss-Sse-Key` encrypts it and unseals sealed parts; `X-Deoss-Copy-Sse-Key` decrypts file
 *   sources) → `{fid, size, md5, state}`. Staged parts are released once the new file is durable.
 */
export function partRoutes(app: Hono<OriginEnv>, s: OriginServices, signed: MiddlewareHandler<OriginEnv>): void {
  const maxPart = s.config.maxPartBytes;

  app.put('/internal/part', signed, async (c) => {
    const key = sseKey(c)?.key;
    const copyFid = c.req.header('X-Deoss-Copy-Fid');
    let chunks: AsyncIterable<Uint8Array>;
    let check = () => {};
    if (copyFid) {
      const file = await storedFile(s, copyFid);
      const range = parseRange(c.req.header('X-Deoss-Copy-Range'), file.size);
      chunks = file.read(range ?? { start: 0, end: file.size - 1 }, { cipher: sseKey(c, 'X-Deoss-Copy-Sse-Key'), signal: c.req.raw.signal });
    } else {
      const body = requestBody(c);
      if (!body) throw new ApiError(400, 'empty body');
      ({ chunks, check } = promisedBody(body, c.get('promisedSha256')));
    }
    const info = await s.parts
      .put(chunks, {
        key,
        maxBytes: maxPart,
        lent: !!copyFid,
        signal: c.req.raw.signal,
        check,
      })
      .catch(partError);
    if (key) s.partKeys.remember(info.handle, key);
    return c.json({ handle: info.handle, size: info.size, md5: info.md5 });
  });

  app.delete('/internal/part/:handle', signed, async (c) => {
    const handle = c.req.param('handle') ?? '';
    s.partKeys.forget(handle);
    await s.parts.release(handle);
    return c.body(null, 204);
  });

  app.post('/internal/compose', signed, async (c) => {
    const request = await composeRequest(c);
    const key = sseKey(c) ?? rememberedKey(s, c, request);
    const sourceKey = sseKey(c, 'X-Deoss-Copy-Sse-Key');
    // Resolve every source before reading any byte: a missing part fails the request and stages nothing.
    const pieces: { size: number; read: () => AsyncIterable<Uint8Array> }[] = [];
    for (const source of request.sources) {
      if ('part' in source) {
        const info = await s.parts.info(source.part).catch(partError);
        pieces.push({ size: info.size, read: () => s.parts.read(info.handle, key?.key, c.req.raw.signal) });
      } else {
        const file = await storedFile(s, source.fid);
        const start = source.start ?? 0;
        const end = source.end ?? file.size - 1;
        if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start <= end && end < file.size)) {
          throw new ApiError(416, `range ${start}-${end} is outside file ${source.fid} of ${file.size} bytes`);
        }
        pieces.push({ size: end - start + 1, read: () => file.read({ start, end }, { cipher: sourceKey, signal: c.req.raw.signal }) });
      }
    }
    const total = pieces.reduce((sum, p) => sum + p.size, 0);
    if (total === 0) throw new ApiError(400, 'a composed object needs at least one byte');
    if (total > s.config.maxUploadBytes) throw new ApiError(413, `object larger than the limit of ${s.config.maxUploadBytes} bytes`);
    await checkTerritory(s, request.owner, request.territory, total);
    const md5 = createHash('md5');
    const concatenated = (async function* () {
      for (const piece of pieces) {
        for await (const chunk of piece.read()) {
          md5.update(chunk);
          yield chunk;
        }
      }
    })();
    const record = await s.uploads
      .stage(iterableSource(concatenated), { owner: request.owner, territory: request.territory, fileName: paddedName(request.fileName), cipher: key }, c.req.raw.signal)
      .catch(partError);
    s.metrics.uploads++;
    s.metrics.uploadBytes += total;
    for (const source of request.sources) {
      if (!('part' in source)) continue;
      s.partKeys.forget(source.part);
      await s.parts.release(source.part);
    }
    if ((c.req.header('X-Deoss-Ack') ?? s.config.ackMode) === 'stored') {
      const settled = await s.uploads.whenSettled(record, c.req.raw.signal);
      if (settled.state === 'failed') throw new ApiError(502, `upload failed: ${settled.lastError ?? 'unknown reason'}`);
    }
    return c.json({ fid: record.fid, size: total, md5: md5.digest('hex'), state: record.state });
  });
}

/**
 * With `X-Deoss-Sse-Key-Held: 1` (a CompleteMultipartUpload of an SSE-C upload sent without the key), the key the
 * parts were staged with, from this process's memory; 400 when it no longer holds one for every part.
 */
function rememberedKey(s: OriginServices, c: Context<OriginEnv>, request: ComposeRequest): Extract<CipherSpec, { kind: 'aes-256-gcm' }> | undefined {
  if (c.req.header('X-Deoss-Sse-Key-Held') !== '1') return undefined;
  const parts = request.sources.flatMap((source) => ('part' in source ? [source.part] : []));
  const key = s.partKeys.keyFor(parts);
  if (!key) throw new ApiError(400, 'this origin no longer holds the customer key of these parts (restarted, or the upload sat idle too long): send the SSE-C key headers with CompleteMultipartUpload');
  return { kind: 'aes-256-gcm', key };
}

async function composeRequest(c: Context<OriginEnv>): Promise<ComposeRequest> {
  const length = Number(c.req.header('Content-Length') ?? NaN);
  if (!(length <= MAX_COMPOSE_BODY)) throw new ApiError(413, `compose requests need a Content-Length of at most ${MAX_COMPOSE_BODY} bytes`);
  const text = await c.req.text();
  const promised = c.get('promisedSha256');
  if (promised !== UNSIGNED_PAYLOAD && createHash('sha256').update(text).digest('hex') !== promised) {
    throw new ApiError(400, 'body does not match X-Deoss-Content-SHA256');
  }
  let body: ComposeRequest;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'compose request: invalid JSON');
  }
  const ok =
    typeof body?.owner === 'string' &&
    typeof body.territory === 'string' &&
    typeof body.fileName === 'string' &&
    Array.isArray(body.sources) &&
    body.sources.length > 0 &&
    body.sources.every((x) => (typeof x === 'object' && x && 'part' in x ? typeof x.part === 'string' : typeof (x as { fid?: unknown })?.fid === 'string' && isStoredRef((x as { fid: string }).fid)));
  if (!ok) throw new ApiError(400, 'compose request: need owner, territory, fileName and a non-empty list of sources ({part} or {fid,start?,end?})');
  return body;
}

async function storedFile(s: OriginServices, ref: string): Promise<StoredBytes> {
  if (!isStoredRef(ref)) throw new ApiError(400, 'invalid fid or pack reference');
  const file = await openStored(s, ref);
  if (!file) throw new ApiError(404, `file ${ref} not found`);
  return file;
}

function partError(err: unknown): never {
  if (err instanceof PartNotFoundError) throw new ApiError(404, err.message);
  if (err instanceof PartKeyError) throw new ApiError(403, err.message);
  if (err instanceof BodyTooLargeError) throw new ApiError(413, err.message);
  throw err;
}
