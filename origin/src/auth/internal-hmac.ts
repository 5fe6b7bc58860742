import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Edge → origin request signing with a shared secret. The signature is HMAC-SHA256 over
 * `METHOD \n PATH?QUERY \n X-Deoss-Date \n X-Deoss-Nonce \n X-Deoss-Content-SHA256 \n HEADERS`, where the content
 * hash is the hex SHA-256 of the body, or `UNSIGNED-PAYLOAD` for a streamed body (the origin then hashes what it
 * receives and refuses the request if a hash was promised and does not match), and HEADERS is signedHeaderBlock's
 * text: every other X-Deoss-* header and Range, since the origin acts on them (whose file it is, its territory, its
 * key, which bytes). Requests older or newer than `skewMs` are refused, and a signature is accepted once. The random
 * nonce keeps legitimate twins apart: two reads of one FID, or two uploads of the same bytes, signed in the same
 * millisecond (the Workers clock stands still between I/O). The edge signs with the same string and header block
 * (workers/src/upstream/origin-client.ts imports them), through WebCrypto.
 */
export const INTERNAL_HEADERS = {
  date: 'X-Deoss-Date',
  nonce: 'X-Deoss-Nonce',
  contentSha256: 'X-Deoss-Content-SHA256',
  signature: 'X-Deoss-Signature',
} as const;

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** 16 to 64 lowercase hex characters (the edge sends 32: 16 random bytes). */
const NONCE = /^[0-9a-f]{16,64}$/;

const AUTH_HEADER_NAMES = new Set(Object.values(INTERNAL_HEADERS).map((n) => n.toLowerCase()));

/**
 * The request headers a signature covers besides its own, one `name:value` line each in name order: every
 * X-Deoss-* header and Range. Taken from a Headers object on both sides, so names are lowercase, values trimmed and
 * repeated fields joined the same way; a header added, dropped or changed on the way breaks the signature.
 */
export function signedHeaderBlock(headers: Headers): string {
  const lines: string[] = [];
  for (const [name, value] of headers) {
    if ((name.startsWith('x-deoss-') && !AUTH_HEADER_NAMES.has(name)) || name === 'range') lines.push(`${name}:${value}`);
  }
  return lines.sort().join('\n');
}

export function internalStringToSign(method: string, pathAndQuery: string, date: string, nonce: string, contentSha256: string, headerBlock: string): string {
  return `${method.toUpperCase()}\n${pathAndQuery}\n${date}\n${nonce}\n${contentSha256}\n${headerBlock}`;
}

/** The headers of a signed internal request: `headers` (the ones the origin acts on) with the signature's own. */
export function signInternal(
  secret: string,
  method: string,
  pathAndQuery: string,
  o: { contentSha256?: string; now?: number; headers?: Record<string, string> } = {},
): Record<string, string> {
  const contentSha256 = o.contentSha256 ?? UNSIGNED_PAYLOAD;
  const date = String(o.now ?? Date.now());
  const nonce = randomBytes(16).toString('hex');
  const block = signedHeaderBlock(new Headers(o.headers));
  const signature = createHmac('sha256', secret).update(internalStringToSign(method, pathAndQuery, date, nonce, contentSha256, block)).digest('hex');
  return {
    ...o.headers,
    [INTERNAL_HEADERS.date]: date,
    [INTERNAL_HEADERS.nonce]: nonce,
    [INTERNAL_HEADERS.contentSha256]: contentSha256,
    [INTERNAL_HEADERS.signature]: signature,
  };
}

export type InternalAuthFailure = 'missing' | 'skew' | 'signature' | 'replayed';

export class InternalAuthError extends Error {
  override name = 'InternalAuthError';
  readonly reason: InternalAuthFailure;
  constructor(reason: InternalAuthFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface InternalVerifyOptions {
  secret: string;
  /** Largest accepted clock difference, ms. @default 300000 */
  skewMs?: number;
  now?: number;
  /** Signatures seen within the skew window. */
  seen?: Map<string, number>;
}

/** Checks an internal request's headers; returns the promised content hash (or UNSIGNED-PAYLOAD). */
export function verifyInternal(method: string, pathAndQuery: string, headers: Headers, options: InternalVerifyOptions): string {
  const date = headers.get(INTERNAL_HEADERS.date);
  const nonce = headers.get(INTERNAL_HEADERS.nonce);
  const contentSha256 = headers.get(INTERNAL_HEADERS.contentSha256);
  const signature = headers.get(INTERNAL_HEADERS.signature);
  if (!date || !nonce || !contentSha256 || !signature) throw new InternalAuthError('missing', 'internal route: signature headers are required');
  if (!NONCE.test(nonce)) throw new InternalAuthError('signature', 'internal route: malformed nonce');
  const now = options.now ?? Date.now();
  const skew = options.skewMs ?? 300_000;
  if (!/^\d+$/.test(date) || Math.abs(now - Number(date)) > skew) throw new InternalAuthError('skew', 'internal route: request time is outside the allowed window');
  const expected = createHmac('sha256', options.secret).update(internalStringToSign(method, pathAndQuery, date, nonce, contentSha256, signedHeaderBlock(headers))).digest();
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new InternalAuthError('signature', 'internal route: bad signature');
  }
  if (options.seen) {
    // Oldest first (insertion order): stop at the first signature still inside the window.
    for (const [sig, at] of options.seen) {
      if (now - at <= skew) break;
      options.seen.delete(sig);
    }
    if (options.seen.has(signature)) throw new InternalAuthError('replayed', 'internal route: signature already used');
    options.seen.set(signature, now);
  }
  return contentSha256;
}
