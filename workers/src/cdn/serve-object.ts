import type { EdgeContext } from '../context.ts';
import { parseByteRange } from '../http/range.ts';
import type { ObjectRecord } from '../namespace/types.ts';
import { s3Error } from '../s3/errors.ts';
import { originToS3 } from '../s3/ops/common.ts';
import { CACHE_STATUS_HEADER, openObject, piecesOf } from './object-reader.ts';

export interface ServeOptions {
  method: 'GET' | 'HEAD';
  headers: Headers;
  /** S3 `response-*` query overrides, by header name (Content-Type, Cache-Control, …). */
  overrides?: Record<string, string>;
  /** SSE-C key (base64) for an encrypted object: bytes then come decrypted from the origin, never from the cache. */
  sseKey?: string;
  /** Cache-Control when the object has none of its own. */
  defaultCacheControl?: string;
  /** Status for the body (website error documents are served with 404). @default 200 */
  status?: number;
  /** Ignore Range and conditional headers (error documents). */
  plain?: boolean;
  /** The bucket's owner account (see CdnOptions.owner). */
  owner?: string;
}

/**
 * GET/HEAD of a stored object with S3's semantics: its stored headers and metadata, ETag and Last-Modified, the
 * conditional headers (If-Match/If-Unmodified-Since → 412, If-None-Match/If-Modified-Since → 304, in RFC 7232
 * order), one Range (206, or 416 InvalidRange), and bytes through the edge cache (`x-deoss-cache: hit|miss` says
 * whether the first segment came from the cache or the origin).
 */
export async function serveObject(e: EdgeContext, object: ObjectRecord, o: ServeOptions): Promise<Response> {
  const etag = `"${object.etag}"`;
  const headers = objectHeaders(object, o.defaultCacheControl);
  if (!o.plain) {
    const conditional = evaluateConditions(o.headers, etag, object.lastModified);
    if (conditional === 412) throw s3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
    if (conditional === 304) {
      const h = new Headers({ ETag: etag, 'Last-Modified': headers.get('Last-Modified')! });
      const cc = headers.get('Cache-Control');
      if (cc) h.set('Cache-Control', cc);
      return new Response(null, { status: 304, headers: h });
    }
  }
  for (const [name, value] of Object.entries(o.overrides ?? {})) headers.set(name, value);
  const range = o.plain ? undefined : parseByteRange(o.headers.get('Range'), object.size);
  if (range === 'unsatisfiable') throw s3Error('InvalidRange', undefined, { RangeRequested: o.headers.get('Range') ?? '', ActualObjectSize: String(object.size) });
  const r = range === 'invalid' ? undefined : range; // S3 ignores a Range it cannot parse
  const start = r?.start ?? 0;
  const end = r?.end ?? object.size - 1;
  headers.set('Content-Length', String(object.size === 0 ? 0 : end - start + 1));
  if (r) headers.set('Content-Range', `bytes ${start}-${end}/${object.size}`);
  const status = r ? 206 : (o.status ?? 200);
  if (o.method === 'HEAD' || object.size === 0) return new Response(null, { status, headers });
  if (o.sseKey) {
    const body = readEncrypted(e, object, { start, end }, o.sseKey);
    return new Response(body, { status, headers });
  }
  const { body, cache } = await openObject(object.parts, { start, end }, { ...e.cdn, owner: o.owner }).catch(originToS3);
  headers.set(CACHE_STATUS_HEADER, cache);
  return new Response(body, { status, headers });
}

/** The stored headers of an object as S3 returns them on GET and HEAD. */
export function objectHeaders(object: ObjectRecord, defaultCacheControl?: string): Headers {
  const h = new Headers({
    ETag: `"${object.etag}"`,
    'Last-Modified': new Date(object.lastModified).toUTCString(),
    'Accept-Ranges': 'bytes',
    'Content-Type': object.contentType ?? 'binary/octet-stream',
  });
  if (object.contentEncoding) h.set('Content-Encoding', object.contentEncoding);
  if (object.contentDisposition) h.set('Content-Disposition', object.contentDisposition);
  if (object.contentLanguage) h.set('Content-Language', object.contentLanguage);
  if (object.cacheControl ?? defaultCacheControl) h.set('Cache-Control', (object.cacheControl ?? defaultCacheControl)!);
  if (object.expires) h.set('Expires', object.expires);
  for (const [name, value] of Object.entries(object.metadata ?? {})) h.set(`x-amz-meta-${name}`, value);
  if (object.partsCount) h.set('x-amz-mp-parts-count', String(object.partsCount));
  if (object.sseCustomerAlgorithm) {
    h.set('x-amz-server-side-encryption-customer-algorithm', object.sseCustomerAlgorithm);
    h.set('x-amz-server-side-encryption-customer-key-MD5', object.sseCustomerKeyMd5 ?? '');
  }
  return h;
}

/** RFC 7232 §6 evaluation order. Returns the status to answer with, or undefined to go on. */
export function evaluateConditions(h: Headers, etag: string, lastModified: number): 304 | 412 | undefined {
  const modified = Math.floor(lastModified / 1000) * 1000;
  const matches = (list: string) => list.split(',').some((t) => t.trim() === '*' || t.trim().replace(/^W\//, '') === etag);
  const ifMatch = h.get('If-Match');
  if (ifMatch !== null) {
    if (!matches(ifMatch)) return 412;
  } else {
    const since = Date.parse(h.get('If-Unmodified-Since') ?? '');
    if (!Number.isNaN(since) && modified > since) return 412;
  }
  const ifNoneMatch = h.get('If-None-Match');
  if (ifNoneMatch !== null) {
    if (matches(ifNoneMatch)) return 304;
  } else {
    const since = Date.parse(h.get('If-Modified-Since') ?? '');
    if (!Number.isNaN(since) && modified <= since) return 304;
  }
  return undefined;
}

/** Decrypted bytes of an SSE-C object come from the origin, piece by piece, straight through. */
function readEncrypted(e: EdgeContext, object: ObjectRecord, range: { start: number; end: number }, sseKey: string): ReadableStream<Uint8Array> {
  const { readable, writable } = new FixedLengthStream(range.end - range.start + 1);
  e.waitUntil(
    (async () => {
      try {
        for (const piece of piecesOf(object.parts, range.start, range.end)) {
          const res = await e.origin.getObject(piece.fid, { range: { start: piece.start, end: piece.end }, sseKey, placement: e.placement });
          await res.body!.pipeTo(writable, { preventClose: true });
        }
        await writable.close();
      } catch (err) {
        await writable.abort(err).catch(() => {});
      }
    })(),
  );
  return readable;
}
