/**
 * A pure parser from an HTTP request to a typed S3 operation: no I/O, no storage, no authentication.
 *
 * It resolves the bucket (path-style `/bucket/key` or virtual-hosted `bucket.<s3 domain>`), decodes the key,
 * picks the operation from the method and sub-resources, and validates what S3 validates before touching data:
 * bucket names, key length, list parameters, part numbers, ranges, canned ACLs, user metadata size, SSE-C headers
 * (including the key's MD5), copy sources and checksum headers. Errors are S3Errors; S3 sub-resources this gateway
 * does not implement are NotImplemented.
 *
 * @example
 *   const op = parseS3Request(req, { s3Domains: ['s3.example.com'] });
 *   if (op.kind === 'GetObject') serve(op.bucket, op.key, op.range);
 */
import { CHECKSUM_ALGORITHMS, checksumSpecFromHeaders, fromBase64, md5Small, toBase64, type ChecksumAlgorithm, type ChecksumSpec } from './checksums.ts';
import { S3Error } from './errors.ts';
import { formBoundary } from './post-form.ts';
import { MAX_OBJECT_TAGS, tagSet, type TagSet } from './tags.ts';
import { MAX_PART_NUMBER, parseTagging } from './xml.ts';

/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Most bytes of user metadata (names after `x-amz-meta-` plus values, UTF-8), as S3. */
export const MAX_USER_METADATA_BYTES = 2048;
/** Most keys, parts or uploads one listing returns; larger max-* values are clamped to it. */
export const MAX_LIST_ENTRIES = 1000;
/** Most buckets ListBuckets returns per page. */
export const MAX_LIST_BUCKETS = 10_000;
/** Largest single PUT or part S3 accepts (5 GiB); deployments may enforce less in the handler. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;

export const CANNED_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'aws-exec-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
  'log-delivery-write',
] as const;
export type CannedAcl = (typeof CANNED_ACLS)[number];

export const STORAGE_CLASSES = [
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER',
  'DEEP_ARCHIVE',
  'GLACIER_IR',
  'OUTPOSTS',
  'SNOW',
  'EXPRESS_ONEZONE',
] as const;
export type StorageClass = (typeof STORAGE_CLASSES)[number];

export const OBJECT_ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
export type ObjectAttribute = (typeof OBJECT_ATTRIBUTES)[number];

export interface ParseOptions {
  /** Hostnames of the S3 endpoint; `<bucket>.<domain>` selects virtual-hosted style. Other hosts are path-style. */
  s3Domains: readonly string[];
  /** @default MAX_USER_METADATA_BYTES */
  maxUserMetadataBytes?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Operation types

/** A Range header: `bytes=start-end`, `bytes=start-` or `bytes=-suffix`. */
export type ByteRangeSpec = { start: number; end?: number } | { suffix: number };

/** Conditional headers, ETags unquoted (`*` kept), dates parsed (unparseable dates are ignored, as HTTP says). */
export interface Conditions {
  ifMatch?: string[];
  ifNoneMatch?: string[];
  ifModifiedSince?: Date;
  ifUnmodifiedSince?: Date;
}

/** `response-*` query overrides of GetObject. */
export interface ResponseOverrides {
  contentType?: string;
  contentLanguage?: string;
  expires?: string;
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
}

/** SSE-C headers, checked: AES256, a 32-byte key, and the key's MD5 matching. Values are base64. */
export interface SseCustomerKey {
  algorithm: 'AES256';
  key: string;
  keyMd5: string;
}

/** Headers stored with an object on PutObject, CopyObject (REPLACE) and CreateMultipartUpload. */
export interface ObjectWriteHeaders {
  contentType?: string;
  /** Content-Encoding without the `aws-chunked` transfer coding. */
  contentEncoding?: string;
  contentLanguage?: string;
  contentDisposition?: string;
  cacheControl?: string;
  expires?: string;
  /** `x-amz-meta-*`, by lowercase name without the prefix. */
  metadata: Record<string, string>;
  acl?: CannedAcl;
  storageClass?: StorageClass;
  tagging?: TagSet;
  serverSideEncryption?: 'AES256';
  websiteRedirectLocation?: string;
}

export interface Located {
  bucket: string;
  /** `/bucket` or `/bucket/key`, for error bodies. */
  resource: string;
  style: 'path' | 'virtual-hosted';
}

export interface ObjectLocated extends Located {
  key: string;
}

/** The fields GetObject and HeadObject share. */
export interface ObjectRead extends ObjectLocated {
  versionId?: string;
  partNumber?: number;
  range?: ByteRangeSpec;
  conditions: Conditions;
  overrides: ResponseOverrides;
  sseCustomer?: SseCustomerKey;
  /** x-amz-checksum-mode: ENABLED (return the stored checksum). */
  checksumMode: boolean;
}

interface ListCommon extends Located {
  prefix?: string;
  delimiter?: string;
  encodingType?: 'url';
}

export type S3Operation =
  | { kind: 'ListBuckets'; resource: string; prefix?: string; continuationToken?: string; maxBuckets?: number; bucketRegion?: string }
  | (Located & { kind: 'CreateBucket'; acl?: CannedAcl; objectLockEnabled: boolean; objectOwnership?: string })
  | (Located & { kind: 'DeleteBucket' })
  | (Located & { kind: 'HeadBucket' })
  | (Located & { kind: 'GetBucketLocation' })
  | (Located & { kind: 'GetBucketVersioning' })
  | (Located & { kind: 'GetBucketPolicy' })
  | (Located & { kind: 'PutBucketPolicy' })
  | (Located & { kind: 'DeleteBucketPolicy' })
  | (Located & { kind: 'PutPublicAccessBlock' })
  | (Located & { kind: 'DeletePublicAccessBlock' })
  /** A bucket setting that cannot be set here, read as unset (UNSET_BUCKET_SETTINGS). */
  | (Located & { kind: 'GetBucketSetting'; setting: UnsetBucketSetting })
  | (Located & { kind: 'GetBucketAcl' })
  | (Located & { kind: 'PutBucketAcl'; acl: CannedAcl })
  | (Located & { kind: 'GetBucketCors' })
  | (Located & { kind: 'PutBucketCors'; checksum: ChecksumSpec })
  | (Located & { kind: 'DeleteBucketCors' })
  | (Located & { kind: 'GetBucketWebsite' })
  | (Located & { kind: 'PutBucketWebsite'; checksum: ChecksumSpec })
  | (Located & { kind: 'DeleteBucketWebsite' })
  | (Located & { kind: 'GetBucketTagging' })
  | (Located & { kind: 'PutBucketTagging' })
  | (Located & { kind: 'PutBucketVersioning' })
  | (Located & { kind: 'DeleteBucketTagging' })
  | (ListCommon & { kind: 'ListObjectsV1'; marker?: string; maxKeys: number })
  | (ListCommon & { kind: 'ListObjectsV2'; continuationToken?: string; startAfter?: string; maxKeys: number; fetchOwner: boolean })
  | (ListCommon & { kind: 'ListObjectVersions'; keyMarker?: string; versionIdMarker?: string; maxKeys: number })
  | (ListCommon & { kind: 'ListMultipartUploads'; keyMarker?: string; uploadIdMarker?: string; maxUploads: number })
  | (Located & { kind: 'DeleteObjects'; checksum: ChecksumSpec })
  /** A browser form upload (multipart/form-data); its fields are parsed once read, by parsePostObjectFields. */
  | (Located & { kind: 'PostObject'; boundary: string })
  | (ObjectLocated & {
      kind: 'PutObject';
      headers: ObjectWriteHeaders;
      contentLength?: number;
      decodedContentLength?: number;
      checksum: ChecksumSpec;
      sseCustomer?: SseCustomerKey;
      ifMatch?: string;
      ifNoneMatch?: '*';
    })
  | (ObjectLocated & {
      kind: 'CopyObject';
      sourceBucket: string;
      sourceKey: string;
      sourceVersionId?: string;
      copyConditions: Conditions;
      metadataDirective: 'COPY' | 'REPLACE';
      taggingDirective: 'COPY' | 'REPLACE';
      headers: ObjectWriteHeaders;
      checksumAlgorithm?: ChecksumAlgorithm;
      sseCustomer?: SseCustomerKey;
      sourceSseCustomer?: SseCustomerKey;
      ifMatch?: string;
      ifNoneMatch?: '*';
    })
  | (ObjectRead & { kind: 'GetObject' })
  | (ObjectRead & { kind: 'HeadObject' })
  | (ObjectLocated & { kind: 'DeleteObject'; versionId?: string; ifMatch?: string })
  | (ObjectLocated & { kind: 'GetObjectAcl'; versionId?: string })
  | (ObjectLocated & { kind: 'PutObjectAcl'; acl: CannedAcl; versionId?: string })
  | (ObjectLocated & { kind: 'GetObjectTagging'; versionId?: string })
  | (ObjectLocated & { kind: 'PutObjectTagging'; versionId?: string })
  | (ObjectLocated & { kind: 'DeleteObjectTagging'; versionId?: string })
  | (ObjectLocated & {
      kind: 'GetObjectAttributes';
      versionId?: string;
      attributes: ObjectAttribute[];
      maxParts?: number;
      partNumberMarker?: number;
      sseCustomer?: SseCustomerKey;
    })
  | (ObjectLocated & {
      kind: 'CreateMultipartUpload';
      headers: ObjectWriteHeaders;
      checksumAlgorithm?: ChecksumAlgorithm;
      checksumType?: 'COMPOSITE' | 'FULL_OBJECT';
      sseCustomer?: SseCustomerKey;
    })
  | (ObjectLocated & {
      kind: 'UploadPart';
      uploadId: string;
      partNumber: number;
      contentLength?: number;
      decodedContentLength?: number;
      checksum: ChecksumSpec;
      sseCustomer?: SseCustomerKey;
    })
  | (ObjectLocated & {
      kind: 'UploadPartCopy';
      uploadId: string;
      partNumber: number;
      sourceBucket: string;
      sourceKey: string;
      sourceVersionId?: string;
      /** x-amz-copy-source-range, inclusive. */
      range?: { start: number; end: number };
      copyConditions: Conditions;
      sseCustomer?: SseCustomerKey;
      sourceSseCustomer?: SseCustomerKey;
    })
  | (ObjectLocated & {
      kind: 'CompleteMultipartUpload';
      uploadId: string;
      /** Full-object checksum sent with the request (x-amz-checksum-*). */
      checksum: ChecksumSpec;
      checksumType?: 'COMPOSITE' | 'FULL_OBJECT';
      ifMatch?: string;
      ifNoneMatch?: '*';
      sseCustomer?: SseCustomerKey;
    })
  | (ObjectLocated & { kind: 'AbortMultipartUpload'; uploadId: string })
  | (ObjectLocated & { kind: 'ListParts'; uploadId: string; maxParts: number; partNumberMarker?: number; sseCustomer?: SseCustomerKey })
  | {
      kind: 'OptionsPreflight';
      resource: string;
      bucket?: string;
      key?: string;
      origin: string;
      /** Access-Control-Request-Method, uppercase. */
      requestMethod: string;
      /** Access-Control-Request-Headers, lowercase. */
      requestHeaders: string[];
    };

export type S3OperationKind = S3Operation['kind'];
/** The operation type of one kind: `S3Op<'PutObject'>`. */
export type S3Op<K extends S3OperationKind> = Extract<S3Operation, { kind: K }>;

// ---------------------------------------------------------------------------------------------------------------
// Bucket names and keys

/**
 * Why `name` is not a valid bucket name under S3's general-purpose rules, or undefined when it is: 3–63 characters
 * of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, no `..`, not an IP
 * address, none of S3's reserved prefixes and suffixes.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'Bucket names must be between 3 and 63 characters long';
  if (!/^[a-z0-9.-]+$/.test(name)) return 'Bucket names can consist only of lowercase letters, numbers, dots (.), and hyphens (-)';
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'Bucket names must begin and end with a letter or number';
  if (name.includes('..')) return 'Bucket names must not contain two adjacent periods';
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return 'Bucket names must not be formatted as an IP address';
  for (const prefix of ['xn--', 'sthree-', 'amzn-s3-demo-']) if (name.startsWith(prefix)) return `Bucket names must not start with "${prefix}"`;
  for (const suffix of ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']) if (name.endsWith(suffix)) return `Bucket names must not end with "${suffix}"`;
  return undefined;
}

/** Throws InvalidBucketName (with the reason) unless `name` is a valid bucket name. */
export function validateBucketName(name: string): void {
  const problem = bucketNameProblem(name);
  if (problem) throw new S3Error('InvalidBucketName', `The specified bucket is not valid. ${problem}.`, { BucketName: name });
}

const utf8 = new TextEncoder();

function decodeComponent(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Error('InvalidURI', `Couldn't parse the specified URI: the ${what} is not valid percent-encoded UTF-8.`);
  }
}

function checkKey(key: string): void {
  if (utf8.encode(key).byteLength > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', undefined, { MaxSizeAllowed: String(MAX_KEY_BYTES), Size: String(utf8.encode(key).byteLength) });
  }
}

interface Target {
  bucket?: string;
  key?: string;
  style: 'path' | 'virtual-hosted';
  resource: string;
}

/** Splits host and path into bucket and key (both decoded), path-style or virtual-hosted. */
export function resolveTarget(url: URL, hostHeader: string | null, s3Domains: readonly string[]): Target {
  const host = (hostHeader ?? url.host).toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  let vhostBucket: string | undefined;
  let best = -1;
  for (const domain of s3Domains) {
    const d = domain.toLowerCase().replace(/\.$/, '');
    if (host === d && d.length > best) {
      vhostBucket = undefined;
      best = d.length;
    } else if (host.endsWith('.' + d) && d.length > best) {
      vhostBucket = host.slice(0, host.length - d.length - 1);
      best = d.length;
    }
  }
  const path = url.pathname;
  if (vhostBucket !== undefined) {
    const key = path.length > 1 ? decodeComponent(path.slice(1), 'key') : undefined;
    return { bucket: vhostBucket, key, style: 'virtual-hosted', resource: key === undefined ? `/${vhostBucket}` : `/${vhostBucket}/${key}` };
  }
  const rest = path.slice(1);
  if (rest === '') return { style: 'path', resource: '/' };
  const slash = rest.indexOf('/');
  const bucket = decodeComponent(slash < 0 ? rest : rest.slice(0, slash), 'bucket name');
  const rawKey = slash < 0 ? '' : rest.slice(slash + 1);
  const key = rawKey === '' ? undefined : decodeComponent(rawKey, 'key');
  return { bucket, key, style: 'path', resource: key === undefined ? `/${bucket}` : `/${bucket}/${key}` };
}

// ---------------------------------------------------------------------------------------------------------------
// Small parsers

function invalidArgument(message: string, name: string, value: string): S3Error {
  return new S3Error('InvalidArgument', message, { ArgumentName: name, ArgumentValue: value });
}

/** A non-negative integer parameter, clamped to `max` when given (S3 clamps max-keys & co.). */
function intParam(q: URLSearchParams, name: string, opts: IntOptions = {}): number | undefined {
  const raw = q.get(name);
  return raw === null ? undefined : intValue(raw, name, opts);
}

interface IntOptions {
  max?: number;
  clamp?: boolean;
  min?: number;
}

function intValue(raw: string, name: string, opts: IntOptions = {}): number {
  if (!/^\d{1,10}$/.test(raw)) throw invalidArgument(`Provided ${name} not an integer or within integer range`, name, raw);
  let n = Number(raw);
  if (n > 2_147_483_647) throw invalidArgument(`Provided ${name} not an integer or within integer range`, name, raw);
  if (opts.min !== undefined && n < opts.min) throw invalidArgument(`Argument ${name} must be at least ${opts.min}`, name, raw);
  if (opts.max !== undefined && n > opts.max) {
    if (!opts.clamp) throw invalidArgument(`Argument ${name} must be at most ${opts.max}`, name, raw);
    n = opts.max;
  }
  return n;
}

function partNumberOf(raw: string | null, name = 'partNumber'): number {
  if (raw === null) throw invalidArgument('Part number must be an integer between 1 and 10000, inclusive', name, '');
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_PART_NUMBER) {
    throw invalidArgument('Part number must be an integer between 1 and 10000, inclusive', name, raw);
  }
  return Number(raw);
}

function nonEmpty(q: URLSearchParams, name: string): string | undefined {
  const v = q.get(name);
  return v === null || v === '' ? undefined : v;
}

function encodingType(q: URLSearchParams): 'url' | undefined {
  const v = q.get('encoding-type');
  if (v === null || v === '') return undefined;
  if (v.toLowerCase() !== 'url') throw invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', v);
  return 'url';
}

/** Parses a Range header; undefined when absent or not a single satisfiable-looking byte range (then S3 serves the whole object). */
export function parseRange(header: string | null): ByteRangeSpec | undefined {
  if (header === null) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    return Number.isSafeInteger(suffix) ? { suffix } : undefined;
  }
  const start = Number(m[1]);
  if (!Number.isSafeInteger(start)) return undefined;
  if (m[2] === '') return { start };
  const end = Number(m[2]);
  if (!Number.isSafeInteger(end) || end < start) return undefined;
  return { start, end };
}

/**
 * The inclusive byte range a range spec selects in an object of `size` bytes; throws InvalidRange (416) when it
 * selects nothing (start at or past the end, an empty suffix, any range of an empty object).
 */
export function resolveRange(range: ByteRangeSpec, size: number): { start: number; end: number } {
  const unsatisfiable = (): S3Error => new S3Error('InvalidRange', undefined, { ActualObjectSize: String(size), RangeRequested: rangeText(range) });
  if ('suffix' in range) {
    if (range.suffix === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - range.suffix), end: size - 1 };
  }
  if (range.start >= size) throw unsatisfiable();
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}

function rangeText(r: ByteRangeSpec): string {
  return 'suffix' in r ? `bytes=-${r.suffix}` : `bytes=${r.start}-${r.end ?? ''}`;
}

/** An ETag list header (`"a", W/"b"`, `*`) → unquoted ETags. */
export function parseEtagList(header: string | null): string[] | undefined {
  if (header === null) return undefined;
  const out: string[] = [];
  for (const m of header.matchAll(/\s*(?:W\/)?("([^"]*)"|[^,\s]+)\s*(?:,|$)/g)) {
    out.push(m[2] ?? m[1]);
  }
  return out.length ? out : undefined;
}

function httpDate(header: string | null): Date | undefined {
  if (header === null) return undefined;
  const t = Date.parse(header);
  return Number.isNaN(t) ? undefined : new Date(t);
}

function conditions(h: Headers, prefix: string): Conditions {
  const c: Conditions = {};
  const ifMatch = parseEtagList(h.get(`${prefix}if-match`));
  if (ifMatch) c.ifMatch = ifMatch;
  const ifNoneMatch = parseEtagList(h.get(`${prefix}if-none-match`));
  if (ifNoneMatch) c.ifNoneMatch = ifNoneMatch;
  const ims = httpDate(h.get(`${prefix}if-modified-since`));
  if (ims) c.ifModifiedSince = ims;
  const ius = httpDate(h.get(`${prefix}if-unmodified-since`));
  if (ius) c.ifUnmodifiedSince = ius;
  return c;
}

/**
 * Evaluates conditions against an object the way S3 does. For reads: a failed If-Match / If-Unmodified-Since is
 * 412, a failed If-None-Match / If-Modified-Since is 304; If-Match that holds overrides If-Unmodified-Since, and
 * If-None-Match that fails overrides If-Modified-Since. For copy sources every failure is 412. Returns 'ok',
 * 'not-modified' or 'precondition-failed'.
 */
export function evaluateConditions(
  c: Conditions,
  object: { etag: string; lastModified: Date | number },
  mode: 'read' | 'copy' = 'read',
): 'ok' | 'not-modified' | 'precondition-failed' {
  const etag = object.etag.replace(/^"|"$/g, '');
  const modified = Math.floor(new Date(object.lastModified).getTime() / 1000);
  const matches = (list: string[]): boolean => list.some((e) => e === '*' || e === etag);
  const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);
  if (c.ifMatch) {
    if (!matches(c.ifMatch)) return 'precondition-failed';
  } else if (c.ifUnmodifiedSince && modified > seconds(c.ifUnmodifiedSince)) {
    return 'precondition-failed';
  }
  const notModified = mode === 'read' ? 'not-modified' : 'precondition-failed';
  if (c.ifNoneMatch) {
    if (matches(c.ifNoneMatch)) return notModified;
  } else if (c.ifModifiedSince && modified <= seconds(c.ifModifiedSince)) {
    return notModified;
  }
  return 'ok';
}

function sseCustomer(h: Headers, prefix: string): SseCustomerKey | undefined {
  const algorithm = h.get(`${prefix}server-side-encryption-customer-algorithm`);
  const key = h.get(`${prefix}server-side-encryption-customer-key`);
  const keyMd5 = h.get(`${prefix}server-side-encryption-customer-key-md5`);
  if (algorithm === null && key === null && keyMd5 === null) return undefined;
  if (algorithm === null) {
    throw new S3Error('InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.', {
      ArgumentName: `${prefix}server-side-encryption-customer-algorithm`,
      ArgumentValue: 'null',
    });
  }
  if (algorithm !== 'AES256') throw new S3Error('InvalidEncryptionAlgorithmError', undefined, { ArgumentName: `${prefix}server-side-encryption-customer-algorithm`, ArgumentValue: algorithm });
  if (key === null) {
    throw new S3Error('InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.', {
      ArgumentName: `${prefix}server-side-encryption-customer-key`,
      ArgumentValue: 'null',
    });
  }
  const raw = fromBase64(key.trim());
  if (!raw || raw.byteLength !== 32) {
    throw new S3Error('InvalidArgument', 'The secret key was invalid for the specified algorithm.', { ArgumentName: `${prefix}server-side-encryption-customer-key`, ArgumentValue: 'redacted' });
  }
  if (keyMd5 === null) {
    throw new S3Error('InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.', {
      ArgumentName: `${prefix}server-side-encryption-customer-key-MD5`,
      ArgumentValue: 'null',
    });
  }
  if (toBase64(md5Small(raw)) !== keyMd5.trim()) {
    throw new S3Error('InvalidArgument', 'The calculated MD5 hash of the key did not match the hash that was provided.', {
      ArgumentName: `${prefix}server-side-encryption-customer-key-MD5`,
      ArgumentValue: keyMd5,
    });
  }
  return { algorithm: 'AES256', key: key.trim(), keyMd5: keyMd5.trim() };
}

function cannedAcl(h: Headers): CannedAcl | undefined {
  for (const name of h.keys()) {
    if (name.startsWith('x-amz-grant-')) throw new S3Error('NotImplemented', 'Only canned ACLs (x-amz-acl) are supported; x-amz-grant-* headers are not.');
  }
  const v = h.get('x-amz-acl');
  if (v === null) return undefined;
  const acl = v.trim().toLowerCase();
  if (!(CANNED_ACLS as readonly string[]).includes(acl)) throw invalidArgument(`The canned ACL ${v} is not valid.`, 'x-amz-acl', v);
  return acl as CannedAcl;
}

/** `x-amz-tagging`: a URL query string of tags (`a=1&b=two%20words`). */
function tagging(h: Headers): TagSet | undefined {
  const raw = h.get('x-amz-tagging');
  if (raw === null) return undefined;
  return tagSet(new URLSearchParams(raw), MAX_OBJECT_TAGS);
}

function contentLength(h: Headers, name: string): number | undefined {
  const v = h.get(name);
  if (v === null) return undefined;
  if (!/^\d{1,16}$/.test(v.trim()) || !Number.isSafeInteger(Number(v))) throw invalidArgument(`${name} must be a non-negative integer`, name, v);
  const n = Number(v);
  if (n > MAX_SINGLE_PUT_BYTES) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(n), MaxSizeAllowed: String(MAX_SINGLE_PUT_BYTES) });
  return n;
}

/** The two lengths of an upload body; MissingContentLength when neither is known (S3 refuses chunked bodies without one). */
function uploadLengths(h: Headers): { contentLength?: number; decodedContentLength?: number } {
  const contentLengthValue = contentLength(h, 'content-length');
  const decodedContentLength = contentLength(h, 'x-amz-decoded-content-length');
  if (contentLengthValue === undefined && decodedContentLength === undefined) throw new S3Error('MissingContentLength');
  const out: { contentLength?: number; decodedContentLength?: number } = {};
  if (contentLengthValue !== undefined) out.contentLength = contentLengthValue;
  if (decodedContentLength !== undefined) out.decodedContentLength = decodedContentLength;
  return out;
}

function writeHeaders(h: Headers, opts: ParseOptions): ObjectWriteHeaders {
  const out: ObjectWriteHeaders = { metadata: {} };
  let metaBytes = 0;
  for (const [name, value] of h) {
    if (!name.startsWith('x-amz-meta-')) continue;
    const meta = name.slice('x-amz-meta-'.length);
    if (!meta) throw invalidArgument('User metadata names must not be empty', name, value);
    out.metadata[meta] = value;
    metaBytes += utf8.encode(meta).byteLength + utf8.encode(value).byteLength;
  }
  const maxMeta = opts.maxUserMetadataBytes ?? MAX_USER_METADATA_BYTES;
  if (metaBytes > maxMeta) throw new S3Error('MetadataTooLarge', undefined, { Size: String(metaBytes), MaxSizeAllowed: String(maxMeta) });
  const set = (field: 'contentType' | 'contentLanguage' | 'contentDisposition' | 'cacheControl' | 'expires' | 'websiteRedirectLocation', header: string): void => {
    const v = h.get(header);
    if (v !== null) out[field] = v;
  };
  set('contentType', 'content-type');
  set('contentLanguage', 'content-language');
  set('contentDisposition', 'content-disposition');
  set('cacheControl', 'cache-control');
  set('expires', 'expires');
  const encoding = h.get('content-encoding');
  if (encoding !== null) {
    // aws-chunked is how the body travels, not how the object is stored.
    const kept = encoding.split(',').map((s) => s.trim()).filter((s) => s && s.toLowerCase() !== 'aws-chunked');
    if (kept.length) out.contentEncoding = kept.join(', ');
  }
  const acl = cannedAcl(h);
  if (acl) out.acl = acl;
  const sc = h.get('x-amz-storage-class');
  if (sc !== null) {
    if (!(STORAGE_CLASSES as readonly string[]).includes(sc)) throw new S3Error('InvalidStorageClass', undefined, { StorageClassRequested: sc });
    out.storageClass = sc as StorageClass;
  }
  const tags = tagging(h);
  if (tags) out.tagging = tags;
  const sse = h.get('x-amz-server-side-encryption');
  if (sse !== null) {
    if (sse.startsWith('aws:kms')) throw new S3Error('NotImplemented', 'SSE-KMS is not supported; use SSE-C (x-amz-server-side-encryption-customer-*).');
    if (sse !== 'AES256') throw invalidArgument('The encryption method specified is not supported', 'x-amz-server-side-encryption', sse);
    out.serverSideEncryption = 'AES256';
  }
  set('websiteRedirectLocation', 'x-amz-website-redirect-location');
  if (out.websiteRedirectLocation !== undefined && !/^(\/|https?:\/\/)/.test(out.websiteRedirectLocation)) {
    throw invalidArgument('The website redirect location must have a prefix of \'http://\' or \'https://\' or \'/\'.', 'x-amz-website-redirect-location', out.websiteRedirectLocation);
  }
  return out;
}

function withSse<T extends object>(op: T, h: Headers): T & { sseCustomer?: SseCustomerKey } {
  const sse = sseCustomer(h, 'x-amz-');
  return sse ? { ...op, sseCustomer: sse } : op;
}

function writeConditions(h: Headers): { ifMatch?: string; ifNoneMatch?: '*' } {
  const out: { ifMatch?: string; ifNoneMatch?: '*' } = {};
  const ifMatch = h.get('if-match');
  if (ifMatch !== null) out.ifMatch = ifMatch.trim().replace(/^"|"$/g, '');
  const ifNoneMatch = h.get('if-none-match');
  if (ifNoneMatch !== null) {
    if (ifNoneMatch.trim() !== '*') throw new S3Error('NotImplemented', 'Conditional writes support only If-None-Match: *.');
    out.ifNoneMatch = '*';
  }
  return out;
}

/** Parses x-amz-copy-source (`/bucket/key?versionId=…`, URL-encoded). */
export function parseCopySource(value: string): { bucket: string; key: string; versionId?: string } {
  let v = value.trim();
  if (v.startsWith('arn:')) throw new S3Error('NotImplemented', 'Access point ARNs in x-amz-copy-source are not supported.');
  if (v.startsWith('/')) v = v.slice(1);
  const q = v.indexOf('?');
  const path = q < 0 ? v : v.slice(0, q);
  let versionId: string | undefined;
  if (q >= 0) {
    const params = new URLSearchParams(v.slice(q + 1));
    versionId = params.get('versionId') ?? undefined;
    if (versionId === '') throw invalidArgument('Invalid version id specified', 'x-amz-copy-source', value);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw invalidArgument('Invalid copy source encoding', 'x-amz-copy-source', value);
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) throw invalidArgument('Invalid copy source object key', 'x-amz-copy-source', value);
  const bucket = decoded.slice(0, slash);
  const key = decoded.slice(slash + 1);
  validateBucketName(bucket);
  checkKey(key);
  return versionId === undefined ? { bucket, key } : { bucket, key, versionId };
}

function directive(h: Headers, name: string): 'COPY' | 'REPLACE' {
  const v = h.get(name);
  if (v === null) return 'COPY';
  const d = v.trim().toUpperCase();
  if (d !== 'COPY' && d !== 'REPLACE') throw invalidArgument(`Unknown ${name === 'x-amz-metadata-directive' ? 'metadata' : 'tagging'} directive.`, name, v);
  return d;
}

function checksumAlgorithmHeader(h: Headers, name: string): ChecksumAlgorithm | undefined {
  const v = h.get(name);
  if (v === null || v.trim() === '') return undefined;
  const alg = v.trim().toUpperCase();
  if (!(CHECKSUM_ALGORITHMS as readonly string[]).includes(alg)) throw invalidArgument('Checksum algorithm provided is unsupported.', name, v);
  return alg as ChecksumAlgorithm;
}

function checksumType(h: Headers, algorithm: ChecksumAlgorithm | undefined): 'COMPOSITE' | 'FULL_OBJECT' | undefined {
  const v = h.get('x-amz-checksum-type');
  if (v === null || v.trim() === '') return undefined;
  const t = v.trim().toUpperCase();
  if (t !== 'COMPOSITE' && t !== 'FULL_OBJECT') throw invalidArgument('Value for x-amz-checksum-type header is invalid.', 'x-amz-checksum-type', v);
  if (t === 'FULL_OBJECT' && algorithm && !algorithm.startsWith('CRC')) {
    throw new S3Error('InvalidRequest', `The FULL_OBJECT checksum type cannot be used with the ${algorithm} checksum algorithm.`);
  }
  if (t === 'COMPOSITE' && algorithm === 'CRC64NVME') throw new S3Error('InvalidRequest', 'The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm.');
  return t;
}

// ---------------------------------------------------------------------------------------------------------------
// Sub-resources

/**
 * Bucket settings this gateway has no way to set, which every bucket therefore reads as unset (GET only; setting or
 * deleting them stays NotImplemented). Tools that inspect a bucket (Terraform, Cyberduck, backup tools) read these
 * and expect S3's "not configured" answers, not an error.
 */
export const UNSET_BUCKET_SETTINGS = [
  'lifecycle', 'encryption', 'logging', 'accelerate', 'requestPayment', 'object-lock', 'replication',
  'publicAccessBlock', 'ownershipControls', 'notification',
] as const;
export type UnsetBucketSetting = (typeof UNSET_BUCKET_SETTINGS)[number];

/** Bucket sub-resources answered at bucket level only (bucketSettingOperation); elsewhere NotImplemented. */
const BUCKET_SETTINGS: readonly string[] = [...UNSET_BUCKET_SETTINGS, 'policy'];

/** S3 sub-resources this gateway does not implement: requests naming them get NotImplemented. */
const UNSUPPORTED_SUBRESOURCES = [
  'analytics', 'intelligent-tiering', 'inventory', 'legal-hold', 'metrics', 'policyStatus', 'restore', 'retention',
  'select', 'select-type', 'torrent', 'session', 'metadataTable', 'metadataConfiguration', 'renameObject', 'abac',
];

function notImplemented(name: string): S3Error {
  return new S3Error('NotImplemented', `The ${name} sub-resource is not implemented by this endpoint.`);
}

/** Refuses unimplemented sub-resources; bucket settings too, except on a bucket (where bucketSettingOperation decides). */
function rejectUnsupported(q: URLSearchParams, bucketLevel: boolean): void {
  for (const name of UNSUPPORTED_SUBRESOURCES) if (q.has(name)) throw notImplemented(name);
  if (!bucketLevel) for (const name of BUCKET_SETTINGS) if (q.has(name)) throw notImplemented(name);
}

/**
 * The bucket settings: the bucket policy (public read only, s3/bucket-policy.ts), a public access block that blocks
 * nothing, and the settings read as unset. Undefined when the request names none of them.
 */
function bucketSettingOperation(method: string, q: URLSearchParams, located: Located): S3Operation | undefined {
  if (q.has('policy')) {
    if (method === 'GET') return { ...located, kind: 'GetBucketPolicy' };
    if (method === 'PUT') return { ...located, kind: 'PutBucketPolicy' };
    if (method === 'DELETE') return { ...located, kind: 'DeleteBucketPolicy' };
    throw methodNotAllowed(method, 'bucket');
  }
  if (q.has('publicAccessBlock') && method === 'PUT') return { ...located, kind: 'PutPublicAccessBlock' };
  if (q.has('publicAccessBlock') && method === 'DELETE') return { ...located, kind: 'DeletePublicAccessBlock' };
  const setting = UNSET_BUCKET_SETTINGS.find((name) => q.has(name));
  if (setting === undefined) return undefined;
  if (method === 'GET') return { ...located, kind: 'GetBucketSetting', setting };
  throw notImplemented(setting);
}

function methodNotAllowed(method: string, what: string): S3Error {
  return new S3Error('MethodNotAllowed', `The specified method ${method} is not allowed against this ${what}.`, { Method: method, ResourceType: what.toUpperCase() });
}

// ---------------------------------------------------------------------------------------------------------------
// The parser

/** Parses a request into an S3 operation. Pure: reads only the method, URL and headers (never the body). */
export function parseS3Request(req: Request, opts: ParseOptions): S3Operation {
  const url = new URL(req.url);
  const h = req.headers;
  const q = url.searchParams;
  const method = req.method.toUpperCase();
  const target = resolveTarget(url, h.get('host'), opts.s3Domains);
  if (target.bucket !== undefined) validateBucketName(target.bucket);
  if (target.key !== undefined) checkKey(target.key);

  if (method === 'OPTIONS') {
    const origin = h.get('origin');
    if (!origin) throw new S3Error('InvalidRequest', 'Insufficient information. Origin request header needed.');
    const requestMethod = h.get('access-control-request-method');
    if (!requestMethod) throw new S3Error('InvalidRequest', 'Invalid Access-Control-Request-Method: null');
    const requestHeaders = (h.get('access-control-request-headers') ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const op: S3Operation = { kind: 'OptionsPreflight', resource: target.resource, origin, requestMethod: requestMethod.trim().toUpperCase(), requestHeaders };
    if (target.bucket !== undefined) op.bucket = target.bucket;
    if (target.key !== undefined) op.key = target.key;
    return op;
  }

  rejectUnsupported(q, target.bucket !== undefined && target.key === undefined);
  if (target.bucket === undefined) return serviceOperation(method, q, target.resource);
  const located: Located = { bucket: target.bucket, resource: target.resource, style: target.style };
  // Whether a body was sent (not read): a body without Content-Length (chunked) counts.
  const hasBody = req.body !== null && h.get('content-length') !== '0';
  if (target.key === undefined) return bucketOperation(method, q, h, located, hasBody);
  return objectOperation(method, q, h, { ...located, key: target.key }, opts, hasBody);
}

function serviceOperation(method: string, q: URLSearchParams, resource: string): S3Operation {
  if (method !== 'GET') throw methodNotAllowed(method, 'service');
  const op: S3Op<'ListBuckets'> = { kind: 'ListBuckets', resource };
  const prefix = nonEmpty(q, 'prefix');
  if (prefix !== undefined) op.prefix = prefix;
  const token = nonEmpty(q, 'continuation-token');
  if (token !== undefined) op.continuationToken = token;
  const maxBuckets = intParam(q, 'max-buckets', { min: 1, max: MAX_LIST_BUCKETS });
  if (maxBuckets !== undefined) op.maxBuckets = maxBuckets;
  const region = nonEmpty(q, 'bucket-region');
  if (region !== undefined) op.bucketRegion = region;
  return op;
}

function listCommon(q: URLSearchParams, located: Located): ListCommon {
  const out: ListCommon = { ...located };
  const prefix = nonEmpty(q, 'prefix');
  if (prefix !== undefined) out.prefix = prefix;
  const delimiter = nonEmpty(q, 'delimiter');
  if (delimiter !== undefined) out.delimiter = delimiter;
  const enc = encodingType(q);
  if (enc) out.encodingType = enc;
  return out;
}

function bucketOperation(method: string, q: URLSearchParams, h: Headers, located: Located, hasBody: boolean): S3Operation {
  const setting = bucketSettingOperation(method, q, located);
  if (setting) return setting;
  switch (method) {
    case 'GET': {
      if (q.has('location')) return { ...located, kind: 'GetBucketLocation' };
      if (q.has('cors')) return { ...located, kind: 'GetBucketCors' };
      if (q.has('website')) return { ...located, kind: 'GetBucketWebsite' };
      if (q.has('tagging')) return { ...located, kind: 'GetBucketTagging' };
      if (q.has('acl')) return { ...located, kind: 'GetBucketAcl' };
      if (q.has('versioning')) return { ...located, kind: 'GetBucketVersioning' };
      if (q.has('uploads')) {
        const op: S3Op<'ListMultipartUploads'> = {
          ...listCommon(q, located),
          kind: 'ListMultipartUploads',
          maxUploads: intParam(q, 'max-uploads', { max: MAX_LIST_ENTRIES, clamp: true }) ?? MAX_LIST_ENTRIES,
        };
        const keyMarker = nonEmpty(q, 'key-marker');
        if (keyMarker !== undefined) op.keyMarker = keyMarker;
        const uploadIdMarker = nonEmpty(q, 'upload-id-marker');
        if (uploadIdMarker !== undefined) op.uploadIdMarker = uploadIdMarker;
        return op;
      }
      const maxKeys = intParam(q, 'max-keys', { max: MAX_LIST_ENTRIES, clamp: true }) ?? MAX_LIST_ENTRIES;
      if (q.has('versions')) {
        const op: S3Op<'ListObjectVersions'> = { ...listCommon(q, located), kind: 'ListObjectVersions', maxKeys };
        const keyMarker = nonEmpty(q, 'key-marker');
        if (keyMarker !== undefined) op.keyMarker = keyMarker;
        const versionIdMarker = nonEmpty(q, 'version-id-marker');
        if (versionIdMarker !== undefined) op.versionIdMarker = versionIdMarker;
        return op;
      }
      const listType = q.get('list-type');
      if (listType !== null && listType !== '2') throw invalidArgument('Invalid List Type specified in Request', 'list-type', listType);
      if (listType === '2') {
        const fetchOwner = q.get('fetch-owner');
        if (fetchOwner !== null && fetchOwner !== 'true' && fetchOwner !== 'false') throw invalidArgument('Invalid fetch-owner value', 'fetch-owner', fetchOwner);
        const op: S3Op<'ListObjectsV2'> = { ...listCommon(q, located), kind: 'ListObjectsV2', maxKeys, fetchOwner: fetchOwner === 'true' };
        const token = q.get('continuation-token');
        if (token !== null) {
          if (token === '') throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
          op.continuationToken = token;
        }
        const startAfter = nonEmpty(q, 'start-after');
        if (startAfter !== undefined) op.startAfter = startAfter;
        return op;
      }
      const op: S3Op<'ListObjectsV1'> = { ...listCommon(q, located), kind: 'ListObjectsV1', maxKeys };
      const marker = nonEmpty(q, 'marker');
      if (marker !== undefined) op.marker = marker;
      return op;
    }
    case 'HEAD':
      return { ...located, kind: 'HeadBucket' };
    case 'PUT': {
      if (q.has('cors')) return { ...located, kind: 'PutBucketCors', checksum: checksumSpecFromHeaders(h) };
      if (q.has('website')) return { ...located, kind: 'PutBucketWebsite', checksum: checksumSpecFromHeaders(h) };
      if (q.has('tagging')) return { ...located, kind: 'PutBucketTagging' };
      if (q.has('acl')) {
        const acl = cannedAcl(h);
        if (!acl) {
          if (hasBody) throw new S3Error('NotImplemented', 'Only canned ACLs (x-amz-acl) are supported; AccessControlPolicy bodies are not.');
          throw new S3Error('InvalidRequest', 'PutBucketAcl needs an x-amz-acl header with a canned ACL.');
        }
        return { ...located, kind: 'PutBucketAcl', acl };
      }
      if (q.has('versioning')) {
        if (h.has('x-amz-mfa')) throw new S3Error('NotImplemented', 'MFA delete is not supported on this endpoint.');
        return { ...located, kind: 'PutBucketVersioning' };
      }
      const op: S3Op<'CreateBucket'> = { ...located, kind: 'CreateBucket', objectLockEnabled: h.get('x-amz-bucket-object-lock-enabled')?.toLowerCase() === 'true' };
      const acl = cannedAcl(h);
      if (acl) op.acl = acl;
      const ownership = h.get('x-amz-object-ownership');
      if (ownership !== null) op.objectOwnership = ownership;
      return op;
    }
    case 'DELETE':
      if (q.has('cors')) return { ...located, kind: 'DeleteBucketCors' };
      if (q.has('website')) return { ...located, kind: 'DeleteBucketWebsite' };
      if (q.has('tagging')) return { ...located, kind: 'DeleteBucketTagging' };
      return { ...located, kind: 'DeleteBucket' };
    case 'POST':
      if (q.has('delete')) return { ...located, kind: 'DeleteObjects', checksum: checksumSpecFromHeaders(h) };
      if ((h.get('content-type') ?? '').toLowerCase().startsWith('multipart/form-data')) {
        const boundary = formBoundary(h.get('content-type'));
        if (!boundary) throw new S3Error('MalformedPOSTRequest', 'The multipart/form-data Content-Type needs a boundary (1 to 70 characters).');
        return { ...located, kind: 'PostObject', boundary };
      }
      throw methodNotAllowed(method, 'bucket');
    default:
      throw methodNotAllowed(method, 'bucket');
  }
}

function objectOperation(method: string, q: URLSearchParams, h: Headers, located: ObjectLocated, opts: ParseOptions, hasBody: boolean): S3Operation {
  const uploadId = q.get('uploadId');
  if (uploadId === '') throw invalidArgument('Upload ID must not be empty', 'uploadId', '');
  const versionId = nonEmpty(q, 'versionId');
  switch (method) {
    case 'GET':
    case 'HEAD': {
      if (q.has('acl')) {
        // An object's ACL is its bucket's (objects follow the bucket's canned ACL).
        if (method === 'HEAD') throw new S3Error('MethodNotAllowed');
        const op: S3Op<'GetObjectAcl'> = { ...located, kind: 'GetObjectAcl' };
        if (versionId !== undefined) op.versionId = versionId;
        return op;
      }
      if (q.has('tagging')) {
        if (method === 'HEAD') throw new S3Error('MethodNotAllowed');
        const op: S3Op<'GetObjectTagging'> = { ...located, kind: 'GetObjectTagging' };
        if (versionId !== undefined) op.versionId = versionId;
        return op;
      }
      if (method === 'GET' && uploadId !== null) {
        const op: S3Op<'ListParts'> = { ...located, kind: 'ListParts', uploadId, maxParts: intParam(q, 'max-parts', { max: MAX_LIST_ENTRIES, clamp: true }) ?? MAX_LIST_ENTRIES };
        const marker = intParam(q, 'part-number-marker');
        if (marker !== undefined) op.partNumberMarker = marker;
        return withSse(op, h);
      }
      if (method === 'GET' && q.has('attributes')) {
        const names = (h.get('x-amz-object-attributes') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        if (!names.length) throw invalidArgument('The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty', 'x-amz-object-attributes', '');
        for (const n of names) if (!(OBJECT_ATTRIBUTES as readonly string[]).includes(n)) throw invalidArgument('Invalid attribute name specified.', 'x-amz-object-attributes', n);
        const op: S3Op<'GetObjectAttributes'> = { ...located, kind: 'GetObjectAttributes', attributes: [...new Set(names)] as ObjectAttribute[] };
        if (versionId !== undefined) op.versionId = versionId;
        const maxParts = h.get('x-amz-max-parts');
        if (maxParts !== null) op.maxParts = intValue(maxParts, 'x-amz-max-parts', { max: MAX_LIST_ENTRIES, clamp: true });
        const marker = h.get('x-amz-part-number-marker');
        if (marker !== null) op.partNumberMarker = intValue(marker, 'x-amz-part-number-marker');
        return withSse(op, h);
      }
      const op: ObjectRead & { kind: 'GetObject' | 'HeadObject' } = {
        ...located,
        kind: method === 'GET' ? 'GetObject' : 'HeadObject',
        conditions: conditions(h, ''),
        overrides: responseOverrides(q),
        checksumMode: (h.get('x-amz-checksum-mode') ?? '').toUpperCase() === 'ENABLED',
      };
      if (versionId !== undefined) op.versionId = versionId;
      const range = parseRange(h.get('range'));
      if (q.has('partNumber')) {
        if (range) throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
        op.partNumber = partNumberOf(q.get('partNumber'));
      }
      if (range) op.range = range;
      return withSse(op, h);
    }
    case 'PUT': {
      if (q.has('acl')) {
        // Objects follow their bucket's ACL; the handler accepts what grants nothing more (ops/common.ts checkObjectAcl).
        const acl = cannedAcl(h);
        if (!acl) {
          if (hasBody) throw new S3Error('NotImplemented', 'Only canned ACLs (x-amz-acl) are supported; AccessControlPolicy bodies are not.');
          throw new S3Error('InvalidRequest', 'PutObjectAcl needs an x-amz-acl header with a canned ACL.');
        }
        const op: S3Op<'PutObjectAcl'> = { ...located, kind: 'PutObjectAcl', acl };
        if (versionId !== undefined) op.versionId = versionId;
        return op;
      }
      if (q.has('tagging')) {
        const op: S3Op<'PutObjectTagging'> = { ...located, kind: 'PutObjectTagging' };
        if (versionId !== undefined) op.versionId = versionId;
        return op;
      }
      const copySource = h.get('x-amz-copy-source');
      if (uploadId !== null || q.has('partNumber')) {
        if (uploadId === null) throw invalidArgument('Upload ID must be given with partNumber', 'uploadId', '');
        const partNumber = partNumberOf(q.get('partNumber'));
        if (copySource !== null) {
          const src = parseCopySource(copySource);
          const op: S3Op<'UploadPartCopy'> = {
            ...located,
            kind: 'UploadPartCopy',
            uploadId,
            partNumber,
            sourceBucket: src.bucket,
            sourceKey: src.key,
            copyConditions: conditions(h, 'x-amz-copy-source-'),
          };
          if (src.versionId !== undefined) op.sourceVersionId = src.versionId;
          const rangeHeader = h.get('x-amz-copy-source-range');
          if (rangeHeader !== null) {
            const m = /^bytes=(\d{1,16})-(\d{1,16})$/.exec(rangeHeader.trim());
            if (!m || Number(m[1]) > Number(m[2])) {
              throw invalidArgument(
                'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
                'x-amz-copy-source-range',
                rangeHeader,
              );
            }
            op.range = { start: Number(m[1]), end: Number(m[2]) };
          }
          const sourceSse = sseCustomer(h, 'x-amz-copy-source-');
          if (sourceSse) op.sourceSseCustomer = sourceSse;
          return withSse(op, h);
        }
        return withSse({ ...located, kind: 'UploadPart', uploadId, partNumber, ...uploadLengths(h), checksum: checksumSpecFromHeaders(h) }, h);
      }
      if (copySource !== null) return copyObject(h, located, copySource, opts);
      const op: S3Op<'PutObject'> = {
        ...located,
        kind: 'PutObject',
        headers: writeHeaders(h, opts),
        ...uploadLengths(h),
        checksum: checksumSpecFromHeaders(h),
        ...writeConditions(h),
      };
      return withSse(op, h);
    }
    case 'POST': {
      if (q.has('uploads')) {
        const checksumAlgorithm = checksumAlgorithmHeader(h, 'x-amz-checksum-algorithm');
        const op: S3Op<'CreateMultipartUpload'> = { ...located, kind: 'CreateMultipartUpload', headers: writeHeaders(h, opts) };
        if (checksumAlgorithm) op.checksumAlgorithm = checksumAlgorithm;
        const type = checksumType(h, checksumAlgorithm);
        if (type) op.checksumType = type;
        return withSse(op, h);
      }
      if (uploadId !== null) {
        const checksum = checksumSpecFromHeaders(h);
        const op: S3Op<'CompleteMultipartUpload'> = { ...located, kind: 'CompleteMultipartUpload', uploadId, checksum, ...writeConditions(h) };
        const type = checksumType(h, checksum.algorithm);
        if (type) op.checksumType = type;
        return withSse(op, h);
      }
      throw methodNotAllowed(method, 'object');
    }
    case 'DELETE': {
      if (uploadId !== null) return { ...located, kind: 'AbortMultipartUpload', uploadId };
      if (q.has('tagging')) {
        const op: S3Op<'DeleteObjectTagging'> = { ...located, kind: 'DeleteObjectTagging' };
        if (versionId !== undefined) op.versionId = versionId;
        return op;
      }
      const op: S3Op<'DeleteObject'> = { ...located, kind: 'DeleteObject' };
      if (versionId !== undefined) op.versionId = versionId;
      const ifMatch = h.get('if-match');
      if (ifMatch !== null) op.ifMatch = ifMatch.trim().replace(/^"|"$/g, '');
      return op;
    }
    default:
      throw methodNotAllowed(method, 'object');
  }
}

const OVERRIDES: [keyof ResponseOverrides, string][] = [
  ['contentType', 'response-content-type'],
  ['contentLanguage', 'response-content-language'],
  ['expires', 'response-expires'],
  ['cacheControl', 'response-cache-control'],
  ['contentDisposition', 'response-content-disposition'],
  ['contentEncoding', 'response-content-encoding'],
];

function responseOverrides(q: URLSearchParams): ResponseOverrides {
  const out: ResponseOverrides = {};
  for (const [field, param] of OVERRIDES) {
    const v = q.get(param);
    if (v !== null) out[field] = v;
  }
  return out;
}

function copyObject(h: Headers, located: ObjectLocated, copySource: string, opts: ParseOptions): S3Operation {
  const src = parseCopySource(copySource);
  const metadataDirective = directive(h, 'x-amz-metadata-directive');
  const headers = writeHeaders(h, opts);
  const op: S3Op<'CopyObject'> = {
    ...located,
    kind: 'CopyObject',
    sourceBucket: src.bucket,
    sourceKey: src.key,
    copyConditions: conditions(h, 'x-amz-copy-source-'),
    metadataDirective,
    taggingDirective: directive(h, 'x-amz-tagging-directive'),
    headers,
    ...writeConditions(h),
  };
  if (src.versionId !== undefined) op.sourceVersionId = src.versionId;
  const checksumAlgorithm = checksumAlgorithmHeader(h, 'x-amz-checksum-algorithm');
  if (checksumAlgorithm) op.checksumAlgorithm = checksumAlgorithm;
  const sse = sseCustomer(h, 'x-amz-');
  if (sse) op.sseCustomer = sse;
  const sourceSse = sseCustomer(h, 'x-amz-copy-source-');
  if (sourceSse) op.sourceSseCustomer = sourceSse;
  const sameObject = src.bucket === located.bucket && src.key === located.key && src.versionId === undefined;
  if (sameObject && metadataDirective === 'COPY' && !headers.storageClass && !headers.serverSideEncryption && !headers.websiteRedirectLocation && !sse && !sourceSse) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  return op;
}

// ---------------------------------------------------------------------------------------------------------------
// POST Object form fields

/** Form fields that S3 stores like the request headers of the same name (`acl` is `x-amz-acl`). */
const POST_HEADER_FIELDS = new Set([
  'cache-control', 'content-type', 'content-disposition', 'content-encoding', 'content-language', 'expires',
  'x-amz-storage-class', 'x-amz-website-redirect-location', 'x-amz-server-side-encryption',
]);

export interface PostObjectFields {
  /** The key, `${filename}` replaced by the uploaded file's name. */
  key: string;
  headers: ObjectWriteHeaders;
  sseCustomer?: SseCustomerKey;
  /** Where to send the browser after the upload (303), from `success_action_redirect` or `redirect`. */
  redirect?: string;
  /** 200, 201 (with a PostResponse document) or 204, the default. */
  status: 200 | 201 | 204;
}

/**
 * The object a POST form describes, from its fields (lowercase names, as readPostForm gives them): the fields that
 * are headers on PutObject are checked as those headers are; `tagging` is a Tagging document.
 */
export function parsePostObjectFields(fields: ReadonlyMap<string, string>, file: { filename: string; contentType?: string }, opts: ParseOptions): PostObjectFields {
  const template = fields.get('key');
  if (template === undefined || template === '') {
    throw new S3Error('InvalidArgument', "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.", { ArgumentName: 'key', ArgumentValue: '' });
  }
  // Browsers send a bare file name; older ones sent a path.
  const key = template.replaceAll('${filename}', file.filename.split(/[\\/]/).pop() ?? '');
  checkKey(key);
  const h = new Headers();
  for (const [name, value] of fields) {
    if (name === 'acl') h.set('x-amz-acl', value);
    else if (POST_HEADER_FIELDS.has(name) || name.startsWith('x-amz-meta-') || name.startsWith('x-amz-server-side-encryption-customer-')) h.set(name, value);
  }
  // A form without a Content-Type field stores the type the browser gave the file.
  if (!h.has('content-type') && file.contentType) h.set('content-type', file.contentType);
  const headers = writeHeaders(h, opts);
  const tagging = fields.get('tagging');
  if (tagging !== undefined) headers.tagging = parseTagging(tagging, MAX_OBJECT_TAGS);
  const out: PostObjectFields = { key, headers, status: 204 };
  const sse = sseCustomer(h, 'x-amz-');
  if (sse) out.sseCustomer = sse;
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect');
  if (redirect) {
    if (!/^https?:\/\//i.test(redirect)) throw invalidArgument('success_action_redirect must be an http or https URL', 'success_action_redirect', redirect);
    out.redirect = redirect;
  }
  const status = fields.get('success_action_status');
  // S3 answers 204 for any other value.
  if (status === '200' || status === '201') out.status = Number(status) as 200 | 201;
  return out;
}
