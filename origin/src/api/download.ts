import type { Context, Hono } from 'hono';
import { sendStream } from '../http/node-response.ts';
import { readFile } from '../retrieve/file-reader.ts';
import type { OriginEnv, OriginServices } from './context.ts';
import { ApiError } from './errors.ts';
import { contentTypeFor, isMedia } from './mime.ts';
import { cipherFromHeaders } from './upload.ts';

const FID = /^[0-9a-f]{64}$/;

/** Downloads: `GET|HEAD /file/download/:fid` (attachment) and `/file/open/:fid` (inline, MIME by extension). */
export function downloadRoutes(app: Hono<OriginEnv>, s: OriginServices): void {
  for (const kind of ['download', 'open'] as const) {
    app.on(['GET', 'HEAD'], `/file/${kind}/:fid`, (c) => serve(c, s, kind));
  }
}

/** What is known about a file for serving it: size and a name, from the chain or from a local upload. */
export async function describeFile(s: OriginServices, fid: string, account?: string) {
  const record = await s.retriever.fileRecord(fid);
  if (record) {
    const owner = record.owners.find((o) => o.user === account) ?? record.owners[0];
    return { size: Number(record.fileSize), name: owner?.fileName ?? fid, owners: record.owners, stored: true };
  }
  // A local upload describes the file only until it is stored: from then on the chain is the authority (a
  // deleted file must not live on in the origin's journal).
  const local = s.uploads.byFid(fid);
  if (local && local.state !== 'failed' && local.state !== 'stored') {
    return {
      size: local.size,
      name: local.fileName,
      owners: [{ user: local.owner, fileName: local.fileName, territoryName: local.territory }],
      stored: false,
    };
  }
  return undefined;
}

async function serve(c: Context<OriginEnv>, s: OriginServices, kind: 'download' | 'open'): Promise<Response> {
  // `/file/open/<fid>.<ext>` names the format by suffix, as DeOSS allows.
  const raw = c.req.param('fid') ?? '';
  const fid = raw.slice(0, 64);
  if (!FID.test(fid)) throw new ApiError(400, 'invalid fid');
  const file = await describeFile(s, fid, c.req.header('Account'));
  if (!file) throw new ApiError(404, 'not found');
  const cipher = cipherFromHeaders(c);
  const range = parseRange(c.req.header('Range') ?? (kind === 'open' ? c.req.header('Content-Range') : undefined), file.size);
  const name = raw.length > 64 ? `${fid}${raw.slice(64).startsWith('.') ? '' : '.'}${raw.slice(64)}` : file.name;
  const type = kind === 'open' ? contentTypeFor(c.req.header('Format') ? `x.${c.req.header('Format')!.replace(/^\./, '')}` : name) : 'application/octet-stream';
  const headers: Record<string, string> = {
    'Content-Type': type,
    'Accept-Ranges': 'bytes',
    ETag: `"${fid}"`,
    'Content-Disposition': `${kind === 'open' ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(name)}`,
    'Cache-Control': cipher ? 'private, no-store' : isMedia(type) ? 'public, max-age=29030400, immutable' : 'public, max-age=2592000, immutable',
  };
  if (c.req.header('If-None-Match') === `"${fid}"` && !cipher) return c.body(null, 304, headers);
  const start = range?.start ?? 0;
  const end = range?.end ?? file.size - 1;
  headers['Content-Length'] = String(end - start + 1);
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${file.size}`;
  const status = range ? 206 : 200;
  if (c.req.method === 'HEAD') return c.body(null, status, headers);
  // Fetch the first segment before committing to a status, so a missing file is an error, not a truncated 200.
  const chunks = readFile(s.retriever, { fid, size: file.size, cipher, range: { start, end }, signal: c.req.raw.signal });
  const first = await chunks.next();
  s.metrics.downloads++;
  const metrics = s.metrics;
  const body = (async function* () {
    if (!first.done) {
      metrics.downloadBytes += first.value.length;
      yield first.value;
    }
    for await (const chunk of chunks) {
      metrics.downloadBytes += chunk.length;
      yield chunk;
    }
  })();
  return sendStream(c, status, headers, body, (err) => console.error(`origin: download of ${fid} broke off: ${(err as Error).message}`));
}

/**
 * A single byte range: standard `Range: bytes=a-b`, `bytes=a-`, `bytes=-n`, and DeOSS's `Content-Range: bytes=a-b`
 * on `/file/open`. Anything else (several ranges, other units, garbage) and unsatisfiable ranges get a 416 with
 * the reason, rather than a silent full response.
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes[=\s](\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw new ApiError(416, `invalid range ${JSON.stringify(header.slice(0, 100))}: expected bytes=start-end`);
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) throw new ApiError(416, `range not satisfiable for a file of ${size} bytes`);
  return { start, end };
}
