import { Hono } from 'hono';
import { contentTypeFor, isMedia } from '../../../origin/src/api/mime.ts';
import { CACHE_STATUS_HEADER, openObject } from '../cdn/object-reader.ts';
import { edgeContextOf, type EdgeContext, type EdgeEnv } from '../context.ts';
import { parseByteRange } from '../http/range.ts';

const FID = /^[0-9a-f]{64}$/;

/** What the edge remembers about a FID for serving DeOSS downloads (size never changes for a FID). */
interface FileMeta {
  size: number;
  name: string;
}

/**
 * The DeOSS REST API at the edge. Downloads (`/file/download/:fid`, `/file/open/:fid`) are served through the edge
 * cache, by FID; requests that decrypt (`Cipher` header) go to the origin, since the cache holds ciphertext only.
 * Everything else (uploads, deletes, metadata, lists, resumable uploads) is forwarded to the nearest origin with
 * the user's own headers and signature: the origin authenticates DeOSS callers itself.
 */
export function deossRoutes(): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>();
  app.use('*', async (c, next) => {
    c.set('edge', edgeContextOf.get(c.req.raw)!);
    await next();
  });
  for (const kind of ['download', 'open'] as const) {
    app.on(['GET', 'HEAD'], `/file/${kind}/:fid`, async (c) => {
      const e = c.get('edge');
      const raw = c.req.param('fid');
      const fid = raw.slice(0, 64);
      if (!FID.test(fid) || c.req.header('Cipher')) return e.origin.forward(c.req.raw, new URL(c.req.url).pathname + new URL(c.req.url).search, e.placement);
      const meta = await fileMeta(e, fid);
      if (!meta) return c.json({ code: 404, msg: 'not found', data: null }, 404);
      const name = raw.length > 64 ? `${fid}${raw.slice(64).startsWith('.') ? '' : '.'}${raw.slice(64)}` : meta.name;
      const format = c.req.header('Format');
      const type = kind === 'open' ? contentTypeFor(format ? `x.${format.replace(/^\./, '')}` : name) : 'application/octet-stream';
      const headers = new Headers({
        'Content-Type': type,
        'Accept-Ranges': 'bytes',
        ETag: `"${fid}"`,
        'Content-Disposition': `${kind === 'open' ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(name)}`,
        'Cache-Control': isMedia(type) ? 'public, max-age=29030400, immutable' : 'public, max-age=2592000, immutable',
      });
      if (c.req.header('If-None-Match') === `"${fid}"`) return new Response(null, { status: 304, headers });
      const range = parseByteRange(c.req.header('Range') ?? (kind === 'open' ? c.req.header('Content-Range') : undefined), meta.size);
      if (range === 'invalid' || range === 'unsatisfiable') {
        return c.json({ code: 416, msg: `range not satisfiable for a file of ${meta.size} bytes`, data: null }, 416, { 'Content-Range': `bytes */${meta.size}` });
      }
      const start = range?.start ?? 0;
      const end = range?.end ?? meta.size - 1;
      headers.set('Content-Length', String(end - start + 1));
      if (range) headers.set('Content-Range', `bytes ${start}-${end}/${meta.size}`);
      const status = range ? 206 : 200;
      if (c.req.method === 'HEAD') return new Response(null, { status, headers });
      const { body, cache } = await openObject([{ fid, size: meta.size }], { start, end }, e.cdn);
      headers.set(CACHE_STATUS_HEADER, cache);
      return new Response(body, { status, headers });
    });
  }
  // The rest of the DeOSS API is the origin's.
  const forward = (c: { req: { raw: Request; url: string } }, e: EdgeContext) => {
    const url = new URL(c.req.url);
    return e.origin.forward(c.req.raw, url.pathname + url.search, e.placement);
  };
  app.on(['PUT'], ['/file', '/files', '/object/:name', '/resume/:name'], (c) => forward(c, c.get('edge')));
  app.on(['GET'], ['/resume/:name', '/file/metadata/:fid', '/file/location/:fid', '/file/state/:fid', '/file/list', '/version'], (c) => forward(c, c.get('edge')));
  app.delete('/file/:fid', (c) => forward(c, c.get('edge')));
  return app;
}

/** Size and name of a FID, from the origin's public metadata route, remembered in the edge cache for a minute. */
async function fileMeta(e: EdgeContext, fid: string): Promise<FileMeta | undefined> {
  const key = `https://cdn.deoss.invalid/fid/${fid}/meta`;
  const cached = await e.cache.match(key);
  if (cached) return (await cached.json()) as FileMeta;
  const res = await e.origin.request('GET', `/file/metadata/${fid}`, { placement: e.placement });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`origin metadata for ${fid}: ${res.status}`);
  const body = (await res.json()) as { data: { size: number; owner: { file_name: string }[] } };
  const meta: FileMeta = { size: body.data.size, name: body.data.owner[0]?.file_name ?? fid };
  e.waitUntil(e.cache.put(key, new Response(JSON.stringify(meta), { headers: { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=60' } })));
  return meta;
}
