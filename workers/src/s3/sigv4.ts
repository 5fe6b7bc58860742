/**
 * AWS Signature Version 4 verification for S3, with WebCrypto: the Authorization header form and presigned URLs.
 *
 * The canonical request is built exactly as S3 clients build it: the path is URI-encoded once (S3 does not
 * normalize or double-encode it), query parameters are decoded, re-encoded and sorted, header values are trimmed
 * with inner whitespace runs collapsed. Requests with no authentication at all return `undefined`, so the handler
 * decides whether anonymous access is allowed (public-read buckets, websites).
 *
 * @example
 *   const auth = await verifyRequest(req, (id) => keys.secretFor(id), { region: 'us-east-1' });
 *   if (!auth) requirePublicRead(bucket);
 *   else if (auth.payload.mode === 'sha256') body = validateStream(req.body, { expectedSha256Hex: auth.payload.sha256 }).stream;
 */
import { equalBytes, toHex } from './checksums.ts';
import { S3Error } from './errors.ts';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** Largest difference between a request's time and the server's clock (S3 allows 15 minutes). */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** Longest presigned URL lifetime (7 days, as S3). */
export const MAX_PRESIGNED_EXPIRES_SECONDS = 604_800;
/** Signing keys kept per isolate (each entry is one access key × day × region). */
export const SIGNING_KEY_CACHE_ENTRIES = 1024;

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED_PAYLOAD = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_PAYLOAD_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_PAYLOAD_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

/** What the aws-chunked decoder needs to verify each chunk signature of a signed streaming upload. */
export interface ChunkSigningContext {
  /** The request's SigV4 signing key (HMAC-SHA256). */
  signingKey: CryptoKey;
  /** The request time, `YYYYMMDDTHHMMSSZ`. */
  amzDate: string;
  /** `date/region/service/aws4_request`. */
  scope: string;
  /** The request's own signature: the first chunk chains from it. */
  seedSignature: string;
}

export type PayloadMode =
  | { mode: 'unsigned' }
  | { mode: 'sha256'; sha256: string }
  | { mode: 'streaming-signed'; trailer: boolean; seed: ChunkSigningContext }
  | { mode: 'streaming-unsigned-trailer' };

export interface AuthResult {
  accessKeyId: string;
  /** The region in the credential scope. */
  region: string;
  /** Authorization header or presigned query. */
  method: 'header' | 'presigned';
  /** Lowercase names of the signed headers. */
  signedHeaders: string[];
  /** The signed request time. */
  requestTime: Date;
  /** When a presigned URL stops being valid. */
  expiresAt?: Date;
  /** How the body is protected; the handler verifies it while streaming (checksums.ts, aws-chunked.ts). */
  payload: PayloadMode;
}

/** Finds the secret of an access key; undefined when the key does not exist. */
export type SecretLookup = (accessKeyId: string) => Promise<string | undefined>;

export interface VerifyOptions {
  /** The server's clock. @default new Date() */
  now?: Date;
  /** When set, the credential scope must name this region (else AuthorizationHeaderMalformed with <Region>). */
  region?: string;
  /** The service in the credential scope. @default 's3' */
  service?: string;
  /** @default MAX_CLOCK_SKEW_MS */
  maxSkewMs?: number;
  /** @default the module's shared cache */
  keyCache?: SigningKeyCache;
}

// ---------------------------------------------------------------------------------------------------------------
// Crypto helpers

const encoder = new TextEncoder();

async function hmacRaw(key: Uint8Array | ArrayBuffer, data: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', k, encoder.encode(data));
}

/** Hex HMAC-SHA256 of `data` with an imported signing key. */
export async function hmacHex(key: CryptoKey, data: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(data))));
}

export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', typeof data === 'string' ? encoder.encode(data) : data)));
}

/** Derives the SigV4 signing key (kSigning) for a secret, date, region and service, imported for HMAC. */
export async function deriveSigningKey(secret: string, date: string, region: string, service: string): Promise<CryptoKey> {
  const kDate = await hmacRaw(encoder.encode('AWS4' + secret), date);
  const kRegion = await hmacRaw(kDate, region);
  const kService = await hmacRaw(kRegion, service);
  const kSigning = await hmacRaw(kService, 'aws4_request');
  return crypto.subtle.importKey('raw', kSigning, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

/** Signing keys by secret × date × region × service, least recently used dropped first. */
export class SigningKeyCache {
  readonly #max: number;
  readonly #entries = new Map<string, Promise<CryptoKey>>();

  constructor(maxEntries = SIGNING_KEY_CACHE_ENTRIES) {
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(secret: string, date: string, region: string, service: string): Promise<CryptoKey> {
    // Keyed by the secret itself (never leaves the isolate), so a rotated secret never meets a stale key.
    const id = `${date}\n${region}\n${service}\n${secret}`;
    let key = this.#entries.get(id);
    if (key) {
      this.#entries.delete(id);
      this.#entries.set(id, key);
      return key;
    }
    key = deriveSigningKey(secret, date, region, service);
    key.catch(() => this.#entries.delete(id));
    this.#entries.set(id, key);
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    return key;
  }
}

const sharedKeyCache = new SigningKeyCache();

/** The signing key for a scope, from the isolate's shared cache (headers, presigned URLs and POST policies alike). */
export function cachedSigningKey(secret: string, date: string, region: string, service: string): Promise<CryptoKey> {
  return sharedKeyCache.get(secret, date, region, service);
}

export function timingSafeEqualHex(a: string, b: string): boolean {
  return equalBytes(encoder.encode(a), encoder.encode(b));
}

// ---------------------------------------------------------------------------------------------------------------
// Canonical request

const UNRESERVED = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~') UNRESERVED[c.charCodeAt(0)] = 1;
const PCT = Array.from({ length: 256 }, (_, i) => '%' + i.toString(16).toUpperCase().padStart(2, '0'));

/** S3's UriEncode over bytes: unreserved characters stay, `/` stays when `keepSlash`, everything else is %XX. */
export function uriEncodeBytes(bytes: Uint8Array, keepSlash: boolean): string {
  let out = '';
  for (const b of bytes) out += b < 128 && (UNRESERVED[b] || (keepSlash && b === 0x2f)) ? String.fromCharCode(b) : PCT[b];
  return out;
}

/** S3's UriEncode of a string (UTF-8). */
export function uriEncode(text: string, keepSlash = false): string {
  return uriEncodeBytes(encoder.encode(text), keepSlash);
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/**
 * Percent-decodes to bytes (`%XX` → byte, other characters → UTF-8). A `%` not followed by two hex digits stays
 * literal. With `plusIsSpace`, `+` is a space (query strings).
 */
export function percentDecodeBytes(text: string, plusIsSpace = false): Uint8Array {
  if (!/[%+]/.test(text)) return encoder.encode(text);
  const out: number[] = [];
  let literalStart = 0;
  const flush = (end: number): void => {
    if (end > literalStart) for (const b of encoder.encode(text.slice(literalStart, end))) out.push(b);
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && i + 2 < text.length && isHex(text.charCodeAt(i + 1)) && isHex(text.charCodeAt(i + 2))) {
      flush(i);
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
      literalStart = i + 1;
    } else if (c === 0x2b && plusIsSpace) {
      flush(i);
      out.push(0x20);
      literalStart = i + 1;
    }
  }
  flush(text.length);
  return Uint8Array.from(out);
}

/** The canonical URI of a request path as S3 computes it: decoded once, then encoded once, slashes kept. */
export function canonicalUri(pathname: string): string {
  return uriEncodeBytes(percentDecodeBytes(pathname || '/'), true);
}

/**
 * The canonical query string: every parameter decoded (`+` is a space), re-encoded with S3's UriEncode, sorted by
 * name then value; `exclude` drops one parameter (X-Amz-Signature of a presigned URL).
 */
export function canonicalQueryString(search: string, exclude?: string): string {
  const raw = search.startsWith('?') ? search.slice(1) : search;
  if (!raw) return '';
  const pairs: [string, string][] = [];
  for (const piece of raw.split('&')) {
    if (!piece) continue;
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    const value = eq < 0 ? '' : piece.slice(eq + 1);
    const encName = uriEncodeBytes(percentDecodeBytes(name, true), false);
    if (exclude !== undefined && encName === exclude) continue;
    pairs.push([encName, uriEncodeBytes(percentDecodeBytes(value, true), false)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** A header value as signed: trimmed, each run of whitespace collapsed to one space. */
export function canonicalHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

export interface CanonicalRequestParts {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  /** Value(s) of each signed header by lowercase name; several values are joined with commas. */
  headers: ReadonlyMap<string, string | readonly string[]>;
  /** Lowercase signed header names, in the order the client listed them. */
  signedHeaders: readonly string[];
  payloadHash: string;
}

/** The SigV4 canonical request text. */
export function canonicalRequest(p: CanonicalRequestParts): string {
  const lines = p.signedHeaders.map((name) => {
    const v = p.headers.get(name);
    const values = v === undefined ? [''] : typeof v === 'string' ? [v] : v;
    return `${name}:${values.map(canonicalHeaderValue).join(',')}\n`;
  });
  return [p.method.toUpperCase(), p.canonicalUri, p.canonicalQuery, lines.join(''), p.signedHeaders.join(';'), p.payloadHash].join('\n');
}

/** The SigV4 string to sign for a canonical request. */
export async function stringToSign(amzDate: string, scope: string, canonical: string): Promise<string> {
  return `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${await sha256Hex(canonical)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing the authentication parts

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Parses `YYYYMMDDTHHMMSSZ`; undefined when malformed. */
export function parseAmzDate(text: string): Date | undefined {
  const m = AMZ_DATE.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  const t = Date.UTC(y, mo - 1, d, h, mi, s);
  const date = new Date(t);
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return date;
}

/** `YYYYMMDDTHHMMSSZ` for a date. */
export function formatAmzDate(date: Date): string {
  return date.toISOString().replace(/[-:]|\.\d{3}/g, '');
}

export interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  scope: string;
}

/** `AKID/yyyymmdd/region/service/aws4_request`, or undefined when it is not one. */
export function parseCredential(value: string): Credential | undefined {
  const parts = value.split('/');
  if (parts.length < 5 || parts[parts.length - 1] !== 'aws4_request') return undefined;
  const [date, region, service] = parts.slice(-4, -1);
  const accessKeyId = parts.slice(0, -4).join('/');
  if (!accessKeyId || !/^\d{8}$/.test(date) || !region || !service) return undefined;
  return { accessKeyId, date, region, service, scope: `${date}/${region}/${service}/aws4_request` };
}

function classifyPayload(value: string, presigned: boolean): 'unsigned' | 'sha256' | 'streaming-signed' | 'streaming-signed-trailer' | 'streaming-unsigned-trailer' {
  if (value === UNSIGNED_PAYLOAD) return 'unsigned';
  if (/^[0-9a-f]{64}$/i.test(value)) return 'sha256';
  if (!presigned) {
    if (value === STREAMING_SIGNED_PAYLOAD) return 'streaming-signed';
    if (value === STREAMING_SIGNED_PAYLOAD_TRAILER) return 'streaming-signed-trailer';
    if (value === STREAMING_UNSIGNED_PAYLOAD_TRAILER) return 'streaming-unsigned-trailer';
    if (value.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256')) {
      throw new S3Error('NotImplemented', 'SigV4a streaming uploads (AWS4-ECDSA-P256-SHA256) are not supported; sign with AWS4-HMAC-SHA256.');
    }
  }
  throw new S3Error(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value },
  );
}

/** Parsed pieces common to both forms, ready for the signature check. */
interface SignedParts {
  method: 'header' | 'presigned';
  credential: Credential;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  requestTime: Date;
  expiresAt?: Date;
  payloadHash: string;
  canonicalQuery: string;
}

function headerMalformed(detail: string, extra?: Record<string, string>): S3Error {
  return new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`, extra);
}

function queryError(detail: string): S3Error {
  return new S3Error('AuthorizationQueryParametersError', detail);
}

function checkScope(cred: Credential, requestDate: string, opts: VerifyOptions, fail: (detail: string, extra?: Record<string, string>) => S3Error): void {
  const service = opts.service ?? 's3';
  if (cred.date !== requestDate.slice(0, 8)) throw fail(`Invalid credential date "${cred.date}". This date is not the same as X-Amz-Date: "${requestDate.slice(0, 8)}".`);
  if (opts.region !== undefined && cred.region !== opts.region) {
    throw fail(`the region '${cred.region}' is wrong; expecting '${opts.region}'`, { Region: opts.region });
  }
  if (cred.service !== service) throw fail(`incorrect service "${cred.service}". This endpoint belongs to "${service}".`);
}

function parseSignedHeaders(value: string | undefined | null, fail: (detail: string) => S3Error): string[] {
  const names = (value ?? '').split(';').map((s) => s.trim());
  if (!value || names.some((n) => !n || n !== n.toLowerCase())) throw fail('SignedHeaders must be a semicolon-separated list of lowercase header names');
  if (!names.includes('host')) throw fail("'Host' must be a signed header");
  return names;
}

function parseHeaderAuth(req: Request, url: URL, authorization: string, opts: VerifyOptions, now: Date): SignedParts {
  if (/^AWS /.test(authorization)) {
    throw new S3Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
  }
  if (authorization.startsWith('AWS4-ECDSA-P256-SHA256')) throw new S3Error('NotImplemented', 'SigV4a (AWS4-ECDSA-P256-SHA256) is not supported; sign with AWS4-HMAC-SHA256.');
  if (!authorization.startsWith(SIGV4_ALGORITHM + ' ')) {
    throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', { ArgumentName: 'Authorization', ArgumentValue: authorization.split(' ')[0] ?? '' });
  }
  const fields = new Map<string, string>();
  for (const piece of authorization.slice(SIGV4_ALGORITHM.length + 1).split(',')) {
    const p = piece.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq < 0) throw headerMalformed(`the authorization component "${p}" is malformed.`);
    const name = p.slice(0, eq).trim();
    if (fields.has(name)) throw headerMalformed(`the authorization component "${name}" appears twice.`);
    fields.set(name, p.slice(eq + 1).trim());
  }
  for (const required of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!fields.get(required)) throw headerMalformed(`the authorization header requires a "${required}" component.`);
  }
  const credential = parseCredential(fields.get('Credential')!);
  if (!credential) throw headerMalformed('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  const signature = fields.get('Signature')!.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(signature)) throw headerMalformed('the Signature must be 64 hexadecimal characters.');
  const signedHeaders = parseSignedHeaders(fields.get('SignedHeaders'), headerMalformed);

  const headers = req.headers;
  let amzDate = headers.get('x-amz-date');
  let requestTime: Date | undefined;
  if (amzDate !== null) {
    requestTime = parseAmzDate(amzDate.trim());
    amzDate = amzDate.trim();
  } else {
    const date = headers.get('date');
    const t = date ? Date.parse(date) : NaN;
    if (!Number.isNaN(t)) {
      requestTime = new Date(t);
      amzDate = formatAmzDate(requestTime);
    }
  }
  if (!requestTime || !amzDate) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  checkScope(credential, amzDate, opts, headerMalformed);
  const skew = opts.maxSkewMs ?? MAX_CLOCK_SKEW_MS;
  if (Math.abs(now.getTime() - requestTime.getTime()) > skew) {
    throw new S3Error('RequestTimeTooSkewed', undefined, {
      RequestTime: amzDate,
      ServerTime: now.toISOString(),
      MaxAllowedSkewMilliseconds: String(skew),
    });
  }
  const payloadHash = headers.get('x-amz-content-sha256');
  if (payloadHash === null) throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  return {
    method: 'header',
    credential,
    signedHeaders,
    signature,
    amzDate,
    requestTime,
    payloadHash: payloadHash.trim(),
    canonicalQuery: canonicalQueryString(url.search),
  };
}

function parsePresigned(url: URL, opts: VerifyOptions, now: Date): SignedParts {
  const q = url.searchParams;
  const algorithm = q.get('X-Amz-Algorithm');
  if (algorithm === 'AWS4-ECDSA-P256-SHA256') throw new S3Error('NotImplemented', 'SigV4a (AWS4-ECDSA-P256-SHA256) is not supported; sign with AWS4-HMAC-SHA256.');
  if (algorithm !== null && algorithm !== SIGV4_ALGORITHM) throw queryError('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  const credentialText = q.get('X-Amz-Credential');
  const amzDate = q.get('X-Amz-Date');
  const expires = q.get('X-Amz-Expires');
  const signedHeadersText = q.get('X-Amz-SignedHeaders');
  const signatureText = q.get('X-Amz-Signature');
  if (!algorithm || !credentialText || !amzDate || expires === null || !signedHeadersText || !signatureText) {
    throw queryError(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  const credential = parseCredential(credentialText);
  if (!credential) throw queryError('Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  const requestTime = parseAmzDate(amzDate);
  if (!requestTime) throw queryError('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  if (!/^-?\d+$/.test(expires)) throw queryError('X-Amz-Expires should be a number');
  const expiresSeconds = Number(expires);
  if (expiresSeconds < 1) throw queryError('X-Amz-Expires must be at least 1 second');
  if (expiresSeconds > MAX_PRESIGNED_EXPIRES_SECONDS) throw queryError(`X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGNED_EXPIRES_SECONDS}`);
  const signature = signatureText.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(signature)) throw queryError('X-Amz-Signature must be 64 hexadecimal characters');
  checkScope(credential, amzDate, opts, (detail, extra) => new S3Error('AuthorizationQueryParametersError', `Error parsing the X-Amz-Credential parameter; ${detail}`, extra));
  const signedHeaders = parseSignedHeaders(signedHeadersText, queryError);
  const skew = opts.maxSkewMs ?? MAX_CLOCK_SKEW_MS;
  const expiresAt = new Date(requestTime.getTime() + expiresSeconds * 1000);
  if (now.getTime() < requestTime.getTime() - skew) {
    throw new S3Error('AccessDenied', 'Request is not valid yet', { 'X-Amz-Date': amzDate, ServerTime: now.toISOString() });
  }
  if (now.getTime() > expiresAt.getTime()) {
    throw new S3Error('AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expires,
      Expires: expiresAt.toISOString(),
      ServerTime: now.toISOString(),
    });
  }
  return {
    method: 'presigned',
    credential,
    signedHeaders,
    signature,
    amzDate,
    requestTime,
    expiresAt,
    payloadHash: q.get('X-Amz-Content-Sha256') ?? UNSIGNED_PAYLOAD,
    canonicalQuery: canonicalQueryString(url.search, 'X-Amz-Signature'),
  };
}

const QUERY_AUTH_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature'];

/**
 * The value the client sent for a signed header. Cloudflare (and wrangler dev) replace Accept-Encoding before the
 * worker sees it ("br, gzip") and keep the client's own value in `request.cf.clientAcceptEncoding`; rclone signs
 * `Accept-Encoding: gzip` on every GetObject.
 */
function signedHeaderValue(req: Request, name: string, url: URL): string {
  if (name === 'accept-encoding') {
    const original = (req as { cf?: { clientAcceptEncoding?: unknown } }).cf?.clientAcceptEncoding;
    if (typeof original === 'string') return original;
  }
  return req.headers.get(name) ?? (name === 'host' ? url.host : '');
}

/**
 * Verifies a request's SigV4 signature. Returns undefined for a request with no authentication at all, the
 * authenticated caller otherwise; throws S3Error (AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId,
 * RequestTimeTooSkewed, AuthorizationHeaderMalformed, AuthorizationQueryParametersError, …) for anything else.
 * The body is not read: `payload` says how the handler must verify it.
 */
export async function verifyRequest(req: Request, lookupSecret: SecretLookup, opts: VerifyOptions = {}): Promise<AuthResult | undefined> {
  const url = new URL(req.url);
  const now = opts.now ?? new Date();
  const authorization = req.headers.get('authorization');
  const hasQueryAuth = QUERY_AUTH_PARAMS.some((p) => url.searchParams.has(p));
  const hasV2Query = url.searchParams.has('AWSAccessKeyId') && url.searchParams.has('Signature');
  if (authorization === null && !hasQueryAuth && !hasV2Query) return undefined;
  if (authorization !== null && (hasQueryAuth || hasV2Query)) {
    throw new S3Error(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      { ArgumentName: 'Authorization', ArgumentValue: authorization },
    );
  }
  if (hasV2Query && !hasQueryAuth) {
    throw new S3Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
  }
  if (authorization !== null && authorization.trim() === '') throw headerMalformed('the header is empty.');

  const parts = authorization !== null ? parseHeaderAuth(req, url, authorization.trim(), opts, now) : parsePresigned(url, opts, now);
  if (req.headers.has('x-amz-security-token') || url.searchParams.has('X-Amz-Security-Token')) {
    throw new S3Error('InvalidToken', 'Session tokens are not supported by this endpoint; use a long-term access key.');
  }
  const unsigned = [...req.headers.keys()].filter((name) => name.startsWith('x-amz-') && !parts.signedHeaders.includes(name));
  if (unsigned.length) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: unsigned.join(', ') });
  }
  const kind = classifyPayload(parts.payloadHash, parts.method === 'presigned');

  const secret = await lookupSecret(parts.credential.accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: parts.credential.accessKeyId });

  const headerValues = new Map<string, string>();
  for (const name of parts.signedHeaders) headerValues.set(name, signedHeaderValue(req, name, url));
  const canonical = canonicalRequest({
    method: req.method,
    canonicalUri: canonicalUri(url.pathname),
    canonicalQuery: parts.canonicalQuery,
    headers: headerValues,
    signedHeaders: parts.signedHeaders,
    payloadHash: parts.payloadHash,
  });
  const toSign = await stringToSign(parts.amzDate, parts.credential.scope, canonical);
  const { date, region, service } = parts.credential;
  const signingKey = await (opts.keyCache ?? sharedKeyCache).get(secret, date, region, service);
  const expected = await hmacHex(signingKey, toSign);
  if (!timingSafeEqualHex(expected, parts.signature)) {
    throw new S3Error('SignatureDoesNotMatch', undefined, {
      AWSAccessKeyId: parts.credential.accessKeyId,
      StringToSign: toSign,
      SignatureProvided: parts.signature,
      CanonicalRequest: canonical,
    });
  }

  let payload: PayloadMode;
  switch (kind) {
    case 'unsigned':
      payload = { mode: 'unsigned' };
      break;
    case 'sha256':
      payload = { mode: 'sha256', sha256: parts.payloadHash.toLowerCase() };
      break;
    case 'streaming-unsigned-trailer':
      payload = { mode: 'streaming-unsigned-trailer' };
      break;
    default:
      payload = {
        mode: 'streaming-signed',
        trailer: kind === 'streaming-signed-trailer',
        seed: { signingKey, amzDate: parts.amzDate, scope: parts.credential.scope, seedSignature: parts.signature },
      };
  }
  const result: AuthResult = {
    accessKeyId: parts.credential.accessKeyId,
    region,
    method: parts.method,
    signedHeaders: parts.signedHeaders,
    requestTime: parts.requestTime,
    payload,
  };
  if (parts.expiresAt) result.expiresAt = parts.expiresAt;
  return result;
}
