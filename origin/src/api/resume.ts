import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context, Hono } from 'hono';
import { fileSource } from '../pipeline/source.ts';
import { writeDurably } from '../uploads/durable-file.ts';
import { requireSignature } from './auth.ts';
import type { OriginEnv, OriginServices } from './context.ts';
import { ApiError } from './errors.ts';
import { checkFileName, checkSpace, cipherFromHeaders, respond } from './upload.ts';
import { requestBody } from '../http/node-request.ts';

interface ResumeState {
  account: string;
  name: string;
  total: number;
  territory: string;
  /** Bytes [0, received) are on disk. */
  received: number;
}

/**
 * Resumable uploads (DeOSS `PUT /resume/:name`): raw chunks with `Content-Range: bytes start-end/total`. Each chunk
 * is written at its offset and fsynced, so a re-sent chunk overwrites itself instead of being appended (DeOSS's
 * bug), and progress survives an origin restart. Answers 308 with `Range: bytes=0-<last received>` until the last
 * byte, then processes the file like `PUT /file`. `GET /resume/:name?total=N` tells how far an upload got.
 */
export function resumeRoutes(app: Hono<OriginEnv>, s: OriginServices): void {
  const signed = requireSignature(s);
  const dirOf = (account: string, name: string, total: number) =>
    join(s.config.home, 'resume', createHash('sha256').update(`${account}\n${name}\n${total}`).digest('hex').slice(0, 32));

  async function load(dir: string): Promise<ResumeState | undefined> {
    try {
      return JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'));
    } catch {
      return undefined;
    }
  }

  app.get('/resume/:name', signed, async (c) => {
    const name = c.req.param('name') ?? '';
    const total = Number(c.req.query('total'));
    if (!Number.isSafeInteger(total) || total <= 0) throw new ApiError(400, 'query parameter total (the upload size) is required');
    const state = await load(dirOf(c.get('caller'), name, total));
    return c.json({ code: 200, msg: 'ok', data: { name, total, received: state?.received ?? 0 } });
  });

  app.put('/resume/:name', signed, async (c) => {
    const name = c.req.param('name') ?? '';
    checkFileName(name);
    const range = parseContentRange(c.req.header('Content-Range'));
    if (range.total > s.config.maxUploadBytes) throw new ApiError(413, `upload larger than the limit of ${s.config.maxUploadBytes} bytes`);
    const account = c.get('caller');
    const dir = dirOf(account, name, range.total);
    let state = await load(dir);
    if (!state) {
      if (range.start !== 0) throw new ApiError(409, 'no upload in progress for this name and size: start at byte 0');
      await checkSpace(c, s, range.total);
      await mkdir(dir, { recursive: true });
      state = { account, name, total: range.total, territory: c.req.header('Territory')!, received: 0 };
    }
    if (range.start > state.received) {
      throw new ApiError(409, `chunk starts at ${range.start} but only ${state.received} bytes were received; resume from there`);
    }
    await writeChunk(join(dir, 'data'), range.start, range.end - range.start + 1, c);
    state.received = Math.max(state.received, range.end + 1);
    await writeDurably(join(dir, 'state.json'), JSON.stringify(state));
    if (state.received < state.total) {
      return c.json({ code: 308, msg: 'resume incomplete', data: { received: state.received } }, 308 as 200, {
        Range: `bytes=0-${state.received - 1}`,
        'Content-Range': c.req.header('Content-Range')!,
      });
    }
    const file = await open(join(dir, 'data'), 'r');
    try {
      const record = await s.uploads.stage(
        fileSource(file),
        { owner: account, fileName: name, territory: state.territory, cipher: cipherFromHeaders(c) },
        c.req.raw.signal,
      );
      s.metrics.uploads++;
      s.metrics.uploadBytes += state.total;
      await file.close();
      await rm(dir, { recursive: true, force: true });
      return respond(c, s, record);
    } finally {
      await file.close().catch(() => {});
    }
  });
}

/** `bytes start-end/total`, inclusive, within the total. */
export function parseContentRange(header: string | undefined): { start: number; end: number; total: number } {
  if (!header) throw new ApiError(400, 'Content-Range is missing from the request header');
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header.trim());
  if (!m) throw new ApiError(400, 'illegal Content-Range: expected "bytes start-end/total"');
  const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!(start <= end && end < total) || !Number.isSafeInteger(total)) throw new ApiError(400, 'illegal Content-Range: need start ≤ end < total');
  return { start, end, total };
}

/** Writes exactly `length` body bytes at `offset` and fsyncs; refuses bodies of another length. */
async function writeChunk(path: string, offset: number, length: number, c: Context): Promise<void> {
  const body = requestBody(c);
  if (!body) throw new ApiError(400, 'empty chunk');
  const file = await open(path, 'a+').then(async (f) => {
    await f.close();
    return open(path, 'r+');
  });
  try {
    let at = 0;
    for await (const chunk of body) {
      if (at + chunk.length > length) throw new ApiError(400, 'received more bytes than Content-Range announced');
      await file.write(chunk, 0, chunk.length, offset + at);
      at += chunk.length;
    }
    if (at !== length) throw new ApiError(400, `received ${at} bytes, Content-Range announced ${length}`);
    await file.sync();
  } finally {
    await file.close();
  }
}
