import { AddressError, canonicalAccount } from '../keys/ss58.ts';
import { namespaceError } from './errors.ts';
import { NAMESPACE_LIMITS as L } from './limits.ts';
import type { CorsRule, ObjectHeaders, ObjectInput, PartInput, UploadHeaders, WebsiteConfig } from './types.ts';

/** Input checks shared by the namespace objects. Each throws a NamespaceError with the S3 code S3 would use. */

const encoder = new TextEncoder();
export const utf8Length = (s: string): number => encoder.encode(s).length;

/** S3 bucket naming rules (general purpose buckets). */
export function checkBucketName(name: unknown): asserts name is string {
  const bad = (why: string) => namespaceError('InvalidBucketName', `The specified bucket is not valid: ${why}`);
  if (typeof name !== 'string') throw bad('not a string');
  if (name.length < 3 || name.length > 63) throw bad('must be 3 to 63 characters long');
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    throw bad('only lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit');
  }
  if (name.includes('..')) throw bad('must not contain two adjacent dots');
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) throw bad('must not look like an IP address');
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name)) throw bad('uses a reserved prefix');
  if (/(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name)) throw bad('uses a reserved suffix');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Keys: non-empty, valid UTF-8 (no lone surrogates), at most maxKeyBytes. */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw namespaceError('InvalidArgument', 'object key must be a non-empty string');
  if (LONE_SURROGATE.test(key)) throw namespaceError('InvalidArgument', 'object key must be valid UTF-8');
  if (key.includes('\0')) throw namespaceError('InvalidArgument', 'object key must not contain NUL');
  if (utf8Length(key) > L.maxKeyBytes) {
    throw namespaceError('KeyTooLongError', `Your key is too long: at most ${L.maxKeyBytes} bytes of UTF-8`);
  }
}

/** The account in its CESS SS58 spelling (the one the namespace stores); InvalidArgument for anything else. */
export function canonicalAccountOrThrow(account: unknown, what = 'account'): string {
  try {
    return canonicalAccount(String(account));
  } catch (e) {
    if (e instanceof AddressError) throw namespaceError('InvalidArgument', `${what}: ${e.message}`);
    throw e;
  }
}

export function checkTerritory(territory: unknown): asserts territory is string {
  if (typeof territory !== 'string' || territory.length === 0 || utf8Length(territory) > L.maxTerritoryBytes) {
    throw namespaceError('InvalidArgument', `territory must be a name of 1 to ${L.maxTerritoryBytes} bytes`);
  }
}

const HEADER_FIELDS = ['contentType', 'contentEncoding', 'contentDisposition', 'contentLanguage', 'cacheControl', 'expires', 'websiteRedirectLocation'] as const;
const CHECKSUMS = new Set(['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256']);

function checkHeaderFields(h: Partial<ObjectHeaders>): void {
  for (const f of HEADER_FIELDS) {
    const v = h[f];
    if (v === undefined) continue;
    if (typeof v !== 'string' || utf8Length(v) > L.maxSystemFieldBytes) {
      throw namespaceError('InvalidArgument', `${f} must be a string of at most ${L.maxSystemFieldBytes} bytes`);
    }
  }
  const meta = h.metadata ?? {};
  if (typeof meta !== 'object' || meta === null) throw namespaceError('InvalidArgument', 'metadata must be an object');
  let bytes = 0;
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== 'string') throw namespaceError('InvalidArgument', `metadata value for ${k} must be a string`);
    bytes += utf8Length(k) + utf8Length(v);
  }
  if (bytes > L.maxUserMetadataBytes) {
    throw namespaceError('MetadataTooLarge', `Your metadata headers exceed the maximum allowed metadata size of ${L.maxUserMetadataBytes} bytes`);
  }
  if (h.sseCustomerKeyMd5 !== undefined && !/^[A-Za-z0-9+/]{22}==$/.test(h.sseCustomerKeyMd5)) {
    throw namespaceError('InvalidArgument', 'sseCustomerKeyMd5 must be the base64 MD5 of the key');
  }
  if (h.tags !== undefined) checkTags(h.tags, L.maxObjectTags);
}

/** A tag set: at most `max` [key, value] string pairs, keys unique and non-empty (the S3 layer checks S3's alphabet). */
export function checkTags(tags: unknown, max: number): asserts tags is [string, string][] {
  if (!Array.isArray(tags) || tags.length > max) throw namespaceError('InvalidTag', `a tag set is an array of at most ${max} [key, value] pairs`);
  const keys = new Set<string>();
  for (const t of tags) {
    if (!Array.isArray(t) || t.length !== 2 || typeof t[0] !== 'string' || typeof t[1] !== 'string') throw namespaceError('InvalidTag', 'each tag is a [key, value] pair of strings');
    if (t[0] === '' || utf8Length(t[0]) > L.maxTagKeyBytes || utf8Length(t[1]) > L.maxTagValueBytes) throw namespaceError('InvalidTag', 'The TagKey or TagValue you have provided is invalid');
    if (keys.has(t[0])) throw namespaceError('InvalidTag', 'Cannot provide multiple Tags with the same key');
    keys.add(t[0]);
  }
}

export function checkUploadHeaders(h: UploadHeaders): void {
  checkHeaderFields(h);
  if (h.checksumAlgorithm !== undefined && !CHECKSUMS.has(h.checksumAlgorithm)) {
    throw namespaceError('InvalidArgument', `unknown checksum algorithm ${h.checksumAlgorithm}`);
  }
}

/** A FID, or the origin's reference to a packed object (`pack-<id>-<offset>-<size>`, origin uploads/pack-store.ts). */
const FILE_REF = /^(?:[0-9a-f]{64}|pack-[0-9a-f]{32}-\d{1,15}-\d{1,15})$/;

export function checkObjectInput(o: ObjectInput): void {
  checkHeaderFields(o);
  if (!Number.isSafeInteger(o.size) || o.size < 0) throw namespaceError('InvalidArgument', 'size must be a non-negative integer');
  if (o.size > L.maxObjectBytes) throw namespaceError('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed object size');
  if (typeof o.etag !== 'string' || !/^[0-9a-f]{32}(-\d{1,5})?$/.test(o.etag)) {
    throw namespaceError('InvalidArgument', 'etag must be a hex MD5, optionally followed by -<parts>, without quotes');
  }
  if (!Array.isArray(o.parts)) throw namespaceError('InvalidArgument', 'parts must be an array');
  if (o.parts.length > L.maxLayoutFiles) throw namespaceError('InvalidArgument', `an object may consist of at most ${L.maxLayoutFiles} files`);
  let total = 0;
  for (const p of o.parts) {
    if (typeof p?.fid !== 'string' || !FILE_REF.test(p.fid)) throw namespaceError('InvalidArgument', 'each part needs a 64-hex FID or a pack reference');
    if (!Number.isSafeInteger(p.size) || p.size <= 0) throw namespaceError('InvalidArgument', 'each part needs a positive size');
    total += p.size;
  }
  if (total !== o.size) throw namespaceError('InvalidArgument', `parts add up to ${total} bytes, not the object size ${o.size}`);
  if (o.checksum !== undefined) {
    const c = o.checksum;
    if (!CHECKSUMS.has(c.algorithm) || typeof c.value !== 'string' || c.value.length > 128 || (c.type !== 'FULL_OBJECT' && c.type !== 'COMPOSITE')) {
      throw namespaceError('InvalidArgument', 'checksum needs a known algorithm, a value and a type');
    }
  }
  if (o.partsCount !== undefined && !(Number.isSafeInteger(o.partsCount) && o.partsCount >= 1 && o.partsCount <= L.maxPartNumber)) {
    throw namespaceError('InvalidArgument', 'partsCount must be 1..10000');
  }
  if (o.lastModified !== undefined && !Number.isSafeInteger(o.lastModified)) throw namespaceError('InvalidArgument', 'lastModified must be ms');
}

export function checkPartNumber(n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > L.maxPartNumber) {
    throw namespaceError('InvalidArgument', `Part number must be an integer between 1 and ${L.maxPartNumber}, inclusive`);
  }
}

export function checkPartInput(p: PartInput): void {
  checkPartNumber(p.partNumber);
  if (typeof p.etag !== 'string' || !/^[0-9a-f]{32}$/.test(p.etag)) throw namespaceError('InvalidArgument', 'part etag must be a hex MD5 without quotes');
  if (!Number.isSafeInteger(p.size) || p.size < 0) throw namespaceError('InvalidArgument', 'part size must be a non-negative integer');
  if (p.size > L.maxPartBytes) throw namespaceError('EntityTooLarge', `a part may be at most ${L.maxPartBytes} bytes`);
  if (typeof p.staged !== 'string' || p.staged.length === 0 || utf8Length(p.staged) > L.maxStagedHandleBytes) {
    throw namespaceError('InvalidArgument', `staged handle must be a string of 1 to ${L.maxStagedHandleBytes} bytes`);
  }
  if (p.checksum !== undefined && (!CHECKSUMS.has(p.checksum.algorithm) || typeof p.checksum.value !== 'string' || p.checksum.value.length > 128)) {
    throw namespaceError('InvalidArgument', 'part checksum needs a known algorithm and a value');
  }
}

/** Max-keys style counts: negative or non-integer is an error, above the cap means the cap. */
export function clampCount(value: number | undefined, name: string): number {
  if (value === undefined) return L.maxListEntries;
  if (!Number.isInteger(value) || value < 0) throw namespaceError('InvalidArgument', `${name} must be a non-negative integer`);
  return Math.min(value, L.maxListEntries);
}

const METHODS = new Set(['GET', 'PUT', 'POST', 'DELETE', 'HEAD']);

export function checkCors(rules: CorsRule[]): void {
  if (!Array.isArray(rules) || rules.length === 0) throw namespaceError('MalformedXML', 'a CORS configuration needs at least one rule');
  if (rules.length > L.maxCorsRules) throw namespaceError('InvalidRequest', `at most ${L.maxCorsRules} CORS rules`);
  for (const r of rules) {
    if (!Array.isArray(r.allowedOrigins) || r.allowedOrigins.length === 0 || !r.allowedOrigins.every((o) => typeof o === 'string')) {
      throw namespaceError('MalformedXML', 'each CORS rule needs at least one AllowedOrigin');
    }
    if (r.allowedOrigins.some((o) => o.split('*').length > 2)) {
      throw namespaceError('InvalidRequest', 'an AllowedOrigin can have at most one * wildcard');
    }
    if (!Array.isArray(r.allowedMethods) || r.allowedMethods.length === 0) throw namespaceError('MalformedXML', 'each CORS rule needs an AllowedMethod');
    for (const m of r.allowedMethods) {
      if (!METHODS.has(m)) throw namespaceError('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`);
    }
    for (const h of r.allowedHeaders ?? []) {
      if (typeof h !== 'string' || h.split('*').length > 2) throw namespaceError('InvalidRequest', 'an AllowedHeader can have at most one * wildcard');
    }
    if (r.maxAgeSeconds !== undefined && !(Number.isInteger(r.maxAgeSeconds) && r.maxAgeSeconds >= 0)) {
      throw namespaceError('MalformedXML', 'MaxAgeSeconds must be a non-negative integer');
    }
  }
  if (utf8Length(JSON.stringify(rules)) > L.maxConfigBytes) throw namespaceError('InvalidRequest', `CORS configuration exceeds ${L.maxConfigBytes} bytes`);
}

export function checkWebsite(config: WebsiteConfig): void {
  if (typeof config !== 'object' || config === null) throw namespaceError('MalformedXML', 'website configuration must be an object');
  if ('redirectAllRequestsTo' in config) {
    if (typeof config.redirectAllRequestsTo?.hostName !== 'string' || config.redirectAllRequestsTo.hostName === '') {
      throw namespaceError('InvalidArgument', 'RedirectAllRequestsTo needs a HostName');
    }
    if (Object.keys(config).length !== 1) throw namespaceError('InvalidRequest', 'RedirectAllRequestsTo excludes all other website settings');
  } else {
    const suffix = config.indexDocument?.suffix;
    if (typeof suffix !== 'string' || suffix === '' || suffix.includes('/')) {
      throw namespaceError('InvalidArgument', 'The IndexDocument Suffix must be non-empty and must not include a slash character');
    }
    if (config.errorDocument !== undefined && (typeof config.errorDocument.key !== 'string' || config.errorDocument.key === '')) {
      throw namespaceError('InvalidArgument', 'The ErrorDocument Key must be non-empty');
    }
    const rules = config.routingRules ?? [];
    if (!Array.isArray(rules) || rules.length > L.maxRoutingRules) throw namespaceError('InvalidRequest', `at most ${L.maxRoutingRules} routing rules`);
    for (const r of rules) {
      if (typeof r?.redirect !== 'object' || r.redirect === null) throw namespaceError('MalformedXML', 'each routing rule needs a Redirect');
      if (r.redirect.replaceKeyPrefixWith !== undefined && r.redirect.replaceKeyWith !== undefined) {
        throw namespaceError('InvalidRequest', 'ReplaceKeyPrefixWith and ReplaceKeyWith exclude each other');
      }
    }
  }
  if (utf8Length(JSON.stringify(config)) > L.maxConfigBytes) throw namespaceError('InvalidRequest', `website configuration exceeds ${L.maxConfigBytes} bytes`);
}
