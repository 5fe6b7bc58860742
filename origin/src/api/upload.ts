import type { Context, Hono } from 'hono';
import type { CipherSpec } from '../pipeline/cipher.ts';
import { FRAGMENT_SIZE, FRAGMENT_COUNT, SEGMENT_SIZE } from '../pipeline/constants.ts';
import { iterableSource } from '../pipeline/source.ts';
import { multipartBoundary, multipartParts } from '../http/multipart.ts';
import type { UploadRecord } from '../uploads/journal.ts';
import { requireSignature } from './auth.ts';
import type { OriginEnv, OriginServices } from './context.ts';
import { ApiError } from './errors.ts';
import { requestBody } from '../http/node-request.ts';

/** Upload routes: `PUT /file` (multipart field `file`), `PUT /object/:name` (raw body). */
export function uploadRoutes(app: Hono<OriginEnv>, s: OriginServices): void {
  const signed = requireSignature(s);

  app.put('/file', signed, async (c) => {
    const boundary = multipartBoundary(c.req.header('Content-Type'));
    const body = requestBody(c);
    if (!boundary || !body) throw new ApiError(400, 'expected a multipart/form-data body with a field "file"');
    const declared = Number(c.req.header('Content-Length') ?? 0);
    await checkSpace(c, s, declared);
    for await (const part of multipartParts(body, boundary)) {
      if (part.name !== 'file') continue;
      const fileName = headerFileName(c.req.header('Filename')) ?? part.filename ?? '';
      const record = await accept(c, s, fileName, part.body);
      // Finish reading the request (the epilogue) before answering.
      return respond(c, s, record);
    }
    throw new ApiError(400, 'multipart field "file" is missing');
  });

  /** Several files in one multipart body (repeated field `file`); a result per file, as DeOSS answers. */
  app.put('/files', signed, async (c) => {
    const boundary = multipartBoundary(c.req.header('Content-Type'));
    const body = requestBody(c);
    if (!boundary || !body) throw new ApiError(400, 'expected a multipart/form-data body with fields "file"');
    await checkSpace(c, s, Number(c.req.header('Content-Length') ?? 0));
    const results: { name: string; fid?: string; result: 'success' | 'failed'; reason?: string }[] = [];
    for await (const part of multipartParts(body, boundary)) {
      if (part.name !== 'file') continue;
      const name = part.filename ?? '';
      try {
        const record = await accept(c, s, name, part.body);
        results.push({ name, fid: record.fid, result: 'success' });
      } catch (err) {
        // One bad file does not sink the others; its bytes are skipped by the multipart reader.
        if (!(err instanceof ApiError) && (err as Error).name !== 'EmptyFileError') throw err;
        results.push({ name, result: 'failed', reason: (err as Error).message });
      }
    }
    if (results.length === 0) throw new ApiError(400, 'multipart field "file" is missing');
    return c.json({ code: 200, msg: 'ok', data: results });
  });

  app.put('/object/:name', signed, async (c) => {
    const body = requestBody(c);
    if (!body) throw new ApiError(400, 'empty body');
    await checkSpace(c, s, Number(c.req.header('Content-Length') ?? 0));
    const record = await accept(c, s, decodeURIComponent(c.req.param('name')), body);
    return respond(c, s, record);
  });
}

/** Territory ownership, state and room for the declared size (when known), before any byte is processed. */
export async function checkSpace(c: Context<OriginEnv>, s: OriginServices, contentLength: number): Promise<void> {
  if (contentLength > s.config.maxUploadBytes + 64 * 1024) {
    throw new ApiError(413, `upload larger than the limit of ${s.config.maxUploadBytes} bytes`);
  }
  const name = c.req.header('Territory');
  if (!name) throw new ApiError(400, 'the Territory header is required');
  await checkTerritory(s, c.get('caller'), name, contentLength);
}

/**
 * The checks every upload path makes before taking bytes: the owner's territory exists, is live, and has room for
 * `size` bytes. Answers come from the territory cache (chain/territory-cache.ts): up to DEOSS_TERRITORY_CACHE_MS old.
 */
export async function checkTerritory(s: OriginServices, owner: string, name: string, size: number): Promise<void> {
  const [territory, block] = await Promise.all([s.territories.territory(owner, name), s.territories.blockNumber()]);
  if (!territory) throw new ApiError(400, 'please purchase territory first');
  if (territory.state !== 'Active' || territory.deadline <= block) throw new ApiError(400, 'the territory has expired');
  if (territory.remainingSpace <= requiredSpace(size)) throw new ApiError(400, 'insufficient territory space');
}

/** What a declaration locks: 12 fragments of 8 MiB per segment (at least one segment). */
export function requiredSpace(size: number): bigint {
  const segments = Math.max(1, Math.ceil(size / SEGMENT_SIZE));
  return BigInt(segments) * BigInt(FRAGMENT_COUNT) * BigInt(FRAGMENT_SIZE);
}

/** CESS file names are 3..63 bytes; names that look like paths are refused. */
export function checkFileName(fileName: string): void {
  const bytes = Buffer.byteLength(fileName);
  if (bytes < 3) throw new ApiError(400, 'the file name must be at least 3 bytes long');
  if (bytes > 63) throw new ApiError(400, 'the file name cannot be longer than 63 bytes');
  // Names are metadata (never paths here), but clients use them as paths when downloading: refuse the tricks.
  if (/[/\\\x00-\x1f\x7f]/.test(fileName) || fileName === '..' || fileName === '.') {
    throw new ApiError(400, 'the file name must not contain path separators or control characters');
  }
}

async function accept(c: Context<OriginEnv>, s: OriginServices, fileName: string, body: AsyncIterable<Uint8Array>): Promise<UploadRecord> {
  checkFileName(fileName);
  let received = 0;
  const limit = s.config.maxUploadBytes;
  const counted = (async function* () {
    for await (const chunk of body) {
      received += chunk.length;
      if (received > limit) throw new ApiError(413, `upload larger than the limit of ${limit} bytes`);
      yield chunk;
    }
  })();
  const record = await s.uploads.stage(
    iterableSource(counted),
    { owner: c.get('caller'), fileName, territory: c.req.header('Territory')!, cipher: cipherFromHeaders(c) },
    c.req.raw.signal,
  );
  s.metrics.uploads++;
  s.metrics.uploadBytes += received;
  return record;
}

export async function respond(c: Context<OriginEnv>, s: OriginServices, record: UploadRecord): Promise<Response> {
  const wait = (c.req.header('X-Deoss-Ack') ?? s.config.ackMode) === 'stored';
  if (wait) {
    const settled = await s.uploads.whenSettled(record, c.req.raw.signal);
    if (settled.state === 'failed') throw new ApiError(502, `upload failed: ${settled.lastError ?? 'unknown reason'}`);
  }
  return c.json({ code: 200, msg: 'ok', data: { fid: record.fid, state: record.state } });
}

/**
 * DeOSS's `Cipher` header carries a password: new uploads are sealed with aes-256-gcm (scrypt-derived key);
 * `Cipher-Mode: legacy-cbc` writes DeOSS v0.4's AES-CBC layout instead.
 */
export function cipherFromHeaders(c: Context): CipherSpec | undefined {
  const password = c.req.header('Cipher');
  if (!password) return undefined;
  const mode = c.req.header('Cipher-Mode') ?? 'aes-256-gcm';
  if (mode === 'legacy-cbc') return { kind: 'legacy-cbc', password };
  if (mode === 'aes-256-gcm') return { kind: 'aes-256-gcm', password };
  throw new ApiError(400, `unknown Cipher-Mode '${mode}' (aes-256-gcm, legacy-cbc)`);
}

function headerFileName(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    return value.includes('%') ? decodeURIComponent(value) : value;
  } catch {
    throw new ApiError(400, 'Filename is not valid percent-encoding');
  }
}
