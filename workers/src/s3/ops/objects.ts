import { serveObject } from '../../cdn/serve-object.ts';
import { evaluateConditions } from '../../cdn/serve-object.ts';
import { sameWrite } from '../../namespace/bucket-index.ts';
import { bucketIndex } from '../../namespace/env.ts';
import { isPackRef } from '../../upstream/origin-client.ts';
import { publiclyReadable, type BucketRecord, type ObjectChecksum, type ObjectHeaders, type ObjectInput, type ObjectRecord, type PutObjectConditions } from '../../namespace/types.ts';
import { s3Error } from '../errors.ts';
import type { CannedAcl, ObjectWriteHeaders, SseCustomerKey } from '../parse.ts';
import type { PayloadMode } from '../sigv4.ts';
import { el, parseDelete } from '../xml.ts';
import { checkContentMd5, EMPTY_MD5, intake, readSmallBody, type Intake } from './body.ts';
import {
  accessControlPolicy,
  authorize,
  bucketForWrite,
  checkObjectAcl,
  objectAclWithin,
  checkSseForRead,
  iso,
  ns,
  storedHeaders,
  originToS3,
  releaseFiles,
  requireBucket,
  retainFiles,
  xmlResponse,
  type S3Call,
} from './common.ts';

/** What a write stores: the object's key, headers and SSE-C key, and the conditions it is made under. */
export interface ObjectWrite {
  bucket: string;
  key: string;
  headers: ObjectWriteHeaders;
  sseCustomer?: SseCustomerKey;
  ifMatch?: string;
  ifNoneMatch?: '*';
}

/** PutObject: bytes to the origin (one CESS file), then key → FID in the bucket's index. */
export async function putObject(call: S3Call, p: ObjectWrite & { payload?: PayloadMode }): Promise<Response> {
  let bucket = await bucketForWrite(call, p.bucket);
  if (!objectAclWithin(bucket, p.headers.acl)) {
    // A remembered record may predate a PutBucketAcl or PutBucketPolicy: check the bucket's own before refusing.
    bucket = await requireBucket(call, p.bucket);
    authorize(call, bucket, 'write');
  }
  return storeObject(call, bucket, p, intake(call.req, p.payload, call.e.config.maxPutBytes));
}

/**
 * Stores a body as an object of a bucket the caller may write (PutObject, a POST form's file): the bytes to the
 * origin, checked as they pass, then the index entry. Answers 200 with the ETag (and the checksum, SSE-C headers).
 */
export async function storeObject(call: S3Call, bucket: BucketRecord, p: ObjectWrite, body: Intake | 'empty'): Promise<Response> {
  checkObjectAcl(bucket, p.headers.acl);
  const sse = p.sseCustomer;
  const headers = storedHeaders(p.headers);
  let input: ObjectInput;
  let durable: Promise<void> | undefined;
  if (body === 'empty') {
    input = { ...headers, size: 0, etag: EMPTY_MD5, parts: [] };
  } else {
    const stored = await call.e.origin
      .putObject(body.stream, { owner: bucket.owner, territory: bucket.territory, fileName: p.key, sseKey: sse?.key, contentSha256: body.contentSha256, sizeAtMost: body.lengthAtMost, placement: call.e.placement, signal: call.req.signal })
      .catch(originToS3);
    durable = stored.durable;
    try {
      const digests = await body.verified?.();
      checkContentMd5(body.spec, stored.md5);
      const checksum: ObjectChecksum | undefined =
        body.spec.algorithm && digests?.checksums[body.spec.algorithm] ? { algorithm: body.spec.algorithm, value: digests.checksums[body.spec.algorithm]!, type: 'FULL_OBJECT' } : undefined;
      input = { ...headers, size: stored.size, etag: stored.md5, parts: [{ fid: stored.fid, size: stored.size }], ...(checksum ? { checksum } : {}) };
    } catch (err) {
      // The bytes reached the origin but failed a check: they belong to no object (once committed, they can be released).
      // A FID may be shared (counted up, then down); a new pack reference's only holder is implied.
      if (await durable.then(() => true, () => false)) {
        if (!isPackRef(stored.fid)) await retainFiles(call, bucket.owner, [stored.fid]);
        releaseFiles(call, bucket.owner, [stored.fid]);
      }
      throw err;
    }
  }
  if (sse) Object.assign(input, { sseCustomerAlgorithm: 'AES256' as const, sseCustomerKeyMd5: sse.keyMd5 });
  // A pack reference is new with this write and held by it alone (counted, implied); a FID may be shared.
  const fresh = input.parts.length > 0 && input.parts.every((f) => isPackRef(f.fid));
  return writeObject(call, bucket.owner, p.bucket, p.key, input, { ifMatch: p.ifMatch, ifNoneMatch: p.ifNoneMatch, owner: bucket.owner }, fresh, durable);
}

/**
 * Records an object in the index, counts its files, and releases what it replaced. `counted`: the files are counted
 * for this object already: pack references just created for it (their first holder is implied, see
 * FileReferences: one Durable Object call and commit less on every small PUT), or a copy's files, counted before
 * it checked its source. Should the index write fail, they are released either way.
 *
 * `durable`: the origin is still committing the bytes (OriginClient.putObject). The index write overlaps that
 * commit, and the answer waits for both; should the commit fail, the entry is taken back (unless a later write
 * replaced it) and nothing the previous object held is released. Until then a reader may already see the object.
 */
async function writeObject(
  call: S3Call,
  owner: string,
  bucket: string,
  key: string,
  input: ObjectInput,
  conditions: PutObjectConditions,
  counted = false,
  durable: Promise<void> = Promise.resolve(),
): Promise<Response> {
  const fids = input.parts.map((f) => f.fid);
  const index = bucketIndex(call.e.env, bucket);
  if (!counted) await retainFiles(call, owner, fids);
  let result;
  try {
    result = await ns(index.putObject(key, input, conditions));
  } catch (err) {
    // Released once the origin's commit has ended either way: a release sent before would find nothing to release.
    await durable.catch(() => {});
    releaseFiles(call, owner, fids);
    throw err;
  }
  try {
    await durable;
  } catch (err) {
    await ns(index.revertObject(key, result.object, result.previous)).catch((e) => console.error(`edge: taking back ${bucket}/${key} failed:`, e));
    releaseFiles(call, owner, fids);
    originToS3(err);
  }
  releaseFiles(call, owner, (result.previous?.parts ?? []).map((f) => f.fid));
  const h: Record<string, string> = { ETag: `"${result.object.etag}"` };
  if (result.object.checksum) h[`x-amz-checksum-${result.object.checksum.algorithm.toLowerCase()}`] = result.object.checksum.value;
  if (input.sseCustomerAlgorithm) {
    h['x-amz-server-side-encryption-customer-algorithm'] = 'AES256';
    h['x-amz-server-side-encryption-customer-key-MD5'] = input.sseCustomerKeyMd5!;
  }
  return new Response(null, { status: 200, headers: h });
}

const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'Content-Type',
  'response-content-language': 'Content-Language',
  'response-expires': 'Expires',
  'response-cache-control': 'Cache-Control',
  'response-content-disposition': 'Content-Disposition',
  'response-content-encoding': 'Content-Encoding',
};

/** GetObject / HeadObject. */
export async function getObject(call: S3Call, p: { bucket: string; key: string; method: 'GET' | 'HEAD'; partNumber?: number; sseCustomer?: SseCustomerKey }): Promise<Response> {
  // One Durable Object call for both: a cached read costs little else.
  const { bucket, object } = await ns(bucketIndex(call.e.env, p.bucket).lookup(p.key));
  if (!bucket) throw s3Error('NoSuchBucket', undefined, { BucketName: p.bucket });
  authorize(call, bucket, 'read');
  if (!object) throw s3Error('NoSuchKey', undefined, { Key: p.key });
  const sse = p.sseCustomer;
  checkSseForRead(object, sse);
  const query = new URL(call.req.url).searchParams;
  const overrides: Record<string, string> = {};
  for (const [param, header] of Object.entries(RESPONSE_OVERRIDES)) {
    const v = query.get(param);
    if (v === null) continue;
    if (!call.principal) throw s3Error('InvalidRequest', 'Response header overrides need a signed request.');
    overrides[header] = v;
  }
  const headers = new Headers(call.req.headers);
  if (p.partNumber !== undefined) {
    // Objects are stored whole; part 1 of a single-part object is the object.
    if (p.partNumber !== 1 || (object.partsCount ?? 1) > 1) throw s3Error('InvalidPart', 'Reading single parts of multipart objects is not supported.');
  }
  const res = await serveObject(call.e, object, {
    method: p.method,
    headers,
    overrides,
    sseKey: sse?.key,
    defaultCacheControl: publiclyReadable(bucket) ? call.e.config.publicCacheControl : undefined,
    owner: bucket.owner,
  });
  if (object.websiteRedirectLocation !== undefined) res.headers.set('x-amz-website-redirect-location', object.websiteRedirectLocation);
  // GetObject tells how many tags the object has (HeadObject does not, as S3).
  if (p.method === 'GET' && object.tags?.length && (res.status === 200 || res.status === 206)) res.headers.set('x-amz-tagging-count', String(object.tags.length));
  // The stored checksum covers the whole object: only a full (200) answer carries it.
  if (object.checksum && res.status === 200 && call.req.headers.get('x-amz-checksum-mode')?.toUpperCase() === 'ENABLED') {
    res.headers.set(`x-amz-checksum-${object.checksum.algorithm.toLowerCase()}`, object.checksum.value);
  }
  return res;
}

/** DeleteObject: idempotent 204. */
export async function deleteObject(call: S3Call, p: { bucket: string; key: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const result = await ns(bucketIndex(call.e.env, p.bucket).deleteObject(p.key));
  releaseFiles(call, bucket.owner, (result.previous?.parts ?? []).map((f) => f.fid));
  return new Response(null, { status: 204 });
}

/** DeleteObjects: up to 1000 keys; Quiet mode reports only errors. */
export async function deleteObjects(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const request = parseDelete(await readSmallBody(call.req, call.payload));
  const result = await ns(bucketIndex(call.e.env, p.bucket).deleteObjects(request.objects.map((o) => o.key)));
  releaseFiles(call, bucket.owner, result.releasable.map((f) => f.fid));
  const deleted = request.quiet ? [] : result.deleted.map((d) => el('Deleted', [el('Key', d.key)]));
  return xmlResponse(el('DeleteResult', deleted));
}

/** How often a copy starts again from a source that changed under it before it gives up (OperationAborted). */
const COPY_SOURCE_ATTEMPTS = 3;

/**
 * CopyObject. Content addressing makes most copies free: the new key refers to the same FIDs (counted per owner).
 * Bytes move only when the encryption changes (SSE-C on either side) or the source belongs to another account.
 */
export async function copyObject(
  call: S3Call,
  p: {
    bucket: string;
    key: string;
    sourceBucket: string;
    sourceKey: string;
    metadataDirective: 'COPY' | 'REPLACE';
    taggingDirective?: 'COPY' | 'REPLACE';
    headers: ObjectWriteHeaders;
    sseCustomer?: SseCustomerKey;
    sourceSseCustomer?: SseCustomerKey;
  },
): Promise<Response> {
  const target = await requireBucket(call, p.bucket);
  authorize(call, target, 'write');
  checkObjectAcl(target, p.headers.acl);
  const sourceBucket = p.sourceBucket === p.bucket ? target : await requireBucket(call, p.sourceBucket);
  authorize(call, sourceBucket, 'read', 'source');
  const sourceSse = p.sourceSseCustomer;
  const sse = p.sseCustomer;
  const same = p.bucket === p.sourceBucket && p.key === p.sourceKey;
  if (same && p.metadataDirective === 'COPY' && !sse && !sourceSse && p.headers.websiteRedirectLocation === undefined) {
    throw s3Error('InvalidRequest', "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
  }
  const sourceIndex = bucketIndex(call.e.env, p.sourceBucket);
  const readSource = async () => {
    const found = await ns(sourceIndex.getObject(p.sourceKey));
    if (!found) throw s3Error('NoSuchKey', undefined, { Key: p.sourceKey });
    checkCopyConditions(call.req.headers, found);
    checkSseForRead(found, sourceSse);
    return found;
  };
  const shared = !sse && !sourceSse && sourceBucket.owner === target.owner;
  let source = await readSource();
  if (shared) {
    // The copy shares the source's files. Count them for it first, then check that the source still holds them: a
    // delete or overwrite of the source after the count can no longer free them; one before it may have, and the
    // copy then starts again from what the source is now.
    for (let attempt = 1; ; attempt++) {
      const fids = source.parts.map((f) => f.fid);
      await retainFiles(call, target.owner, fids);
      const now = await readSource().catch((err: unknown) => {
        releaseFiles(call, target.owner, fids);
        throw err;
      });
      if (sameWrite(now, source)) break;
      releaseFiles(call, target.owner, fids);
      if (attempt === COPY_SOURCE_ATTEMPTS) throw s3Error('OperationAborted', 'The source object kept changing during the copy; try again.');
      source = now;
    }
  }
  const headers: ObjectHeaders = p.metadataDirective === 'REPLACE' ? storedHeaders(p.headers) : pickHeaders(source);
  // Tags follow their own directive. A website redirect is never copied (as S3): the copy has this request's, if any.
  headers.tags = p.taggingDirective === 'REPLACE' ? p.headers.tagging : source.tags;
  headers.websiteRedirectLocation = p.headers.websiteRedirectLocation;
  let input: ObjectInput;
  if (shared) {
    input = { ...headers, size: source.size, etag: source.etag, parts: source.parts, ...(source.partsCount ? { partsCount: source.partsCount } : {}), ...(source.checksum ? { checksum: source.checksum } : {}) };
  } else if (source.size === 0) {
    input = { ...headers, size: 0, etag: EMPTY_MD5, parts: [] };
  } else {
    const stored = await call.e.origin
      .compose({
        owner: target.owner,
        territory: target.territory,
        fileName: p.key,
        sources: source.parts.map((f) => ({ fid: f.fid })),
        sseKey: sse?.key,
        sourceSseKey: sourceSse?.key,
        placement: call.e.placement,
        signal: call.req.signal,
      })
      .catch(originToS3);
    input = { ...headers, size: stored.size, etag: stored.md5, parts: [{ fid: stored.fid, size: stored.size }] };
  }
  if (sse) Object.assign(input, { sseCustomerAlgorithm: 'AES256' as const, sseCustomerKeyMd5: sse.keyMd5 });
  const written = await writeObject(call, target.owner, p.bucket, p.key, input, {}, shared);
  const etag = written.headers.get('ETag')!;
  const object = await ns(bucketIndex(call.e.env, p.bucket).getObject(p.key));
  return xmlResponse(el('CopyObjectResult', [el('LastModified', iso(object?.lastModified ?? Date.now())), el('ETag', etag)]), 200, Object.fromEntries([...written.headers].filter(([k]) => k.startsWith('x-amz-'))));
}

function pickHeaders(o: ObjectRecord): ObjectHeaders {
  return {
    contentType: o.contentType,
    contentEncoding: o.contentEncoding,
    contentDisposition: o.contentDisposition,
    contentLanguage: o.contentLanguage,
    cacheControl: o.cacheControl,
    expires: o.expires,
    metadata: o.metadata,
  };
}

/** x-amz-copy-source-if-* (a failed condition is 412 PreconditionFailed, as S3 answers for copies). */
export function checkCopyConditions(h: Headers, source: ObjectRecord): void {
  const mapped = new Headers();
  for (const [from, to] of [
    ['x-amz-copy-source-if-match', 'If-Match'],
    ['x-amz-copy-source-if-none-match', 'If-None-Match'],
    ['x-amz-copy-source-if-modified-since', 'If-Modified-Since'],
    ['x-amz-copy-source-if-unmodified-since', 'If-Unmodified-Since'],
  ]) {
    const v = h.get(from);
    if (v !== null) mapped.set(to, v);
  }
  if (evaluateConditions(mapped, `"${source.etag}"`, source.lastModified)) throw s3Error('PreconditionFailed');
}

/** GetObjectAcl: the object's bucket's ACL, for an object that exists (only its owner may read an ACL, as S3). */
export async function getObjectAcl(call: S3Call, p: { bucket: string; key: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const object = await ns(bucketIndex(call.e.env, p.bucket).getObject(p.key));
  if (!object) throw s3Error('NoSuchKey', undefined, { Key: p.key });
  return xmlResponse(accessControlPolicy(bucket));
}

/** PutObjectAcl: a canned ACL that grants nothing beyond the bucket's is accepted (objects follow their bucket's ACL). */
export async function putObjectAcl(call: S3Call, p: { bucket: string; key: string; acl: CannedAcl }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const object = await ns(bucketIndex(call.e.env, p.bucket).getObject(p.key));
  if (!object) throw s3Error('NoSuchKey', undefined, { Key: p.key });
  checkObjectAcl(bucket, p.acl);
  return new Response(null, { status: 200 });
}

/** GetObjectAttributes (x-amz-object-attributes: ETag, Checksum, ObjectParts, StorageClass, ObjectSize). */
export async function getObjectAttributes(call: S3Call, p: { bucket: string; key: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'read');
  const object = await ns(bucketIndex(call.e.env, p.bucket).getObject(p.key));
  if (!object) throw s3Error('NoSuchKey', undefined, { Key: p.key });
  const wanted = new Set((call.req.headers.get('x-amz-object-attributes') ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  if (!wanted.size) throw s3Error('InvalidArgument', 'x-amz-object-attributes is required.', { ArgumentName: 'x-amz-object-attributes' });
  const children = [];
  if (wanted.has('ETag')) children.push(el('ETag', object.etag));
  if (wanted.has('Checksum') && object.checksum) children.push(el('Checksum', [el(`Checksum${object.checksum.algorithm}`, object.checksum.value), el('ChecksumType', object.checksum.type)]));
  // The SDKs' TotalPartsCount travels as <PartsCount>.
  if (wanted.has('ObjectParts') && object.partsCount) children.push(el('ObjectParts', [el('PartsCount', object.partsCount)]));
  if (wanted.has('StorageClass')) children.push(el('StorageClass', 'STANDARD'));
  if (wanted.has('ObjectSize')) children.push(el('ObjectSize', object.size));
  return xmlResponse(el('GetObjectAttributesResponse', children), 200, { 'Last-Modified': new Date(object.lastModified).toUTCString() });
}
