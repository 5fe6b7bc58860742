import type { EdgeContext } from '../../context.ts';
import { canonicalAccount } from '../../keys/ss58.ts';
import { BUCKET_RECORD_TTL_MS, bucketRecordCache } from '../../namespace/bucket-record-cache.ts';
import { bucketIndex } from '../../namespace/env.ts';
import { unwrapNamespaceError, type NamespaceErrorCode } from '../../namespace/errors.ts';
import { publiclyReadable, type BucketRecord, type ObjectHeaders } from '../../namespace/types.ts';
import { OriginError } from '../../upstream/origin-client.ts';
import { S3Error, s3Error, isS3ErrorCode, type S3ErrorCode } from '../errors.ts';
import type { CannedAcl, ObjectWriteHeaders, SseCustomerKey } from '../parse.ts';
import type { PayloadMode } from '../sigv4.ts';
import { el, xmlDocument, type XmlNode } from '../xml.ts';

/** Who signed the request (undefined: anonymous). */
export interface Principal {
  accessKeyId: string;
  /** CESS account (SS58) the key belongs to. */
  account: string;
  /** Territory the key stores new buckets in. */
  territory: string;
}

/** Everything an S3 operation handler gets. */
export interface S3Call {
  e: EdgeContext;
  req: Request;
  principal?: Principal;
  /** How the signature covers the body (undefined for anonymous requests). */
  payload?: PayloadMode;
}

export function xmlResponse(root: XmlNode, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(xmlDocument(root), { status, headers: { 'Content-Type': 'application/xml', ...headers } });
}

/** Owner element of listings: the CESS account is both the id and the display name. */
export function ownerXml(account: string, name = 'Owner'): XmlNode {
  return el(name, [el('ID', account), el('DisplayName', account)]);
}

/**
 * The ACL of a bucket, and of every object in it (objects inherit their bucket's canned ACL): the owner has full
 * control, and with `public-read` everyone may read.
 */
export function accessControlPolicy(bucket: Pick<BucketRecord, 'owner' | 'acl'>): XmlNode {
  const xsi = (type: string) => ({ 'xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', 'xsi:type': type });
  const grant = (grantee: XmlNode, permission: string) => el('Grant', [grantee, el('Permission', permission)]);
  const grants = [grant(el('Grantee', [el('ID', bucket.owner), el('DisplayName', bucket.owner)], xsi('CanonicalUser')), 'FULL_CONTROL')];
  if (bucket.acl === 'public-read') grants.push(grant(el('Grantee', [el('URI', 'http://acs.amazonaws.com/groups/global/AllUsers')], xsi('Group')), 'READ'));
  return el('AccessControlPolicy', [ownerXml(bucket.owner), el('AccessControlList', grants)]);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '.000Z');
}

/** Compiles only while every refusal of the namespace objects is an S3 error (the keys API's own code aside). */
type Holds<T extends true> = T;
export type NamespaceCodesAreS3Errors = Holds<Exclude<NamespaceErrorCode, 'TooManyAccessKeys'> extends S3ErrorCode ? true : false>;

/** Runs a namespace call, turning its errors (which cross RPC as messages) back into S3 errors. */
export async function ns<T>(call: PromiseLike<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    const unwrapped = unwrapNamespaceError(err);
    if (unwrapped && isS3ErrorCode(unwrapped.code)) throw new S3Error(unwrapped.code, unwrapped.message);
    throw err;
  }
}

/** Origin refusals, in S3 terms. */
export function originToS3(err: unknown): never {
  if (err instanceof OriginError) {
    const m = err.message;
    if (err.status === 403 && /decrypt|key/i.test(m)) throw s3Error('AccessDenied', m);
    if (err.status === 403) throw s3Error('AccessDenied', `the storage gateway refused: ${m}`);
    if (err.status === 413) throw s3Error('EntityTooLarge', m);
    if (err.status === 416) throw s3Error('InvalidRange', m);
    if (err.status === 404) throw s3Error('NoSuchKey', m);
    if (err.status === 400 && /X-Deoss-Content-SHA256/.test(m)) throw s3Error('XAmzContentSHA256Mismatch');
    if (err.status === 400 && /space|territory/i.test(m)) throw s3Error('AccessDenied', `the bucket's territory cannot take this object: ${m}`);
    if (err.status === 400) throw s3Error('InvalidRequest', m);
    // The origin's write-behind backlog is full: S3's own word for "retry more slowly".
    if (err.status === 503 && /write-behind backlog/.test(m)) throw s3Error('SlowDown', m);
    throw s3Error('ServiceUnavailable', `the storage origin is unavailable: ${m}`);
  }
  throw err;
}

/** The bucket's record, or NoSuchBucket. */
export async function requireBucket(call: S3Call, bucket: string): Promise<BucketRecord> {
  const info = await ns(bucketIndex(call.e.env, bucket).info());
  if (!info) throw s3Error('NoSuchBucket', undefined, { BucketName: bucket });
  return info;
}

/**
 * The bucket of a write the caller must own, from the isolate's memory when it says the caller owns the bucket,
 * else from the bucket's object. The write must then be recorded with the bucket's owner as a condition
 * (`PutObjectConditions.owner`): the bucket's object checks it again (see bucket-record-cache.ts).
 */
export async function bucketForWrite(call: S3Call, bucket: string): Promise<BucketRecord> {
  const remembered = bucketRecordCache.get(bucket);
  if (remembered && call.principal?.account === remembered.owner) {
    authorize(call, remembered, 'write');
    return remembered;
  }
  const info = await requireBucket(call, bucket);
  authorize(call, info, 'write');
  bucketRecordCache.set(bucket, info, BUCKET_RECORD_TTL_MS);
  return info;
}

/** Writes need the owner; reads need the owner or a public-read bucket. */
export function authorize(call: S3Call, bucket: BucketRecord, access: 'read' | 'write', role: 'target' | 'source' = 'target'): void {
  checkExpectedOwner(call, bucket, role);
  if (call.principal?.account === bucket.owner) return;
  if (access === 'read' && publiclyReadable(bucket)) return;
  if (!call.principal) throw s3Error('AccessDenied', 'Anonymous access to this bucket is not allowed: sign the request or make the bucket public-read.');
  throw s3Error('AccessDenied');
}

/**
 * `x-amz-expected-bucket-owner` (and `x-amz-source-expected-bucket-owner` for a copy's source bucket): a caller that
 * names the account it expects to own the bucket gets AccessDenied from anyone else's, as from S3, so a script never
 * writes into or reads from a bucket another account made under the name it meant. Owners here are CESS accounts:
 * any SS58 form of the same key matches; anything else (an AWS account number) does not.
 */
export function checkExpectedOwner(call: Pick<S3Call, 'req'>, bucket: Pick<BucketRecord, 'owner'>, role: 'target' | 'source'): void {
  const header = role === 'target' ? 'x-amz-expected-bucket-owner' : 'x-amz-source-expected-bucket-owner';
  const expected = call.req.headers.get(header)?.trim();
  if (expected === undefined) return;
  let account: string | undefined;
  try {
    account = canonicalAccount(expected);
  } catch {
    account = undefined;
  }
  if (account !== bucket.owner) throw s3Error('AccessDenied', `The ${role === 'target' ? '' : 'source '}bucket is not owned by the account named in ${header}.`);
}

/**
 * An object's canned ACL (`x-amz-acl` on PutObject, CopyObject, CreateMultipartUpload and PutObjectAcl, a POST
 * form's `acl`). Objects have no ACL of their own here: they follow their bucket's, as in S3 buckets whose object
 * ownership is "bucket owner enforced" (S3's default). An ACL that grants nothing beyond the bucket's is accepted and
 * changes nothing (rclone sends `private` with every upload); one that would grant more is refused, never ignored:
 * an object someone means to publish must not quietly stay private.
 */
export function checkObjectAcl(bucket: Pick<BucketRecord, 'acl' | 'policy'>, acl: CannedAcl | undefined): void {
  if (objectAclWithin(bucket, acl)) return;
  throw s3Error('AccessControlListNotSupported', `Objects follow their bucket's ACL (${bucket.acl}); the canned ACL ${acl} would grant more. Set the bucket's ACL instead (PutBucketAcl).`);
}

/** Whether an object's canned ACL grants nothing beyond its bucket's (see checkObjectAcl). */
export function objectAclWithin(bucket: Pick<BucketRecord, 'acl' | 'policy'>, acl: CannedAcl | undefined): boolean {
  return acl === undefined || acl === 'private' || acl === 'bucket-owner-full-control' || acl === 'bucket-owner-read' || (acl === 'public-read' && publiclyReadable(bucket));
}

/** Requires a signed request (bucket-less operations, creating buckets). */
export function requirePrincipal(call: S3Call): Principal {
  if (!call.principal) throw s3Error('AccessDenied', 'This operation needs a signed request.');
  return call.principal;
}

/** The parsed write headers S3 stores with an object (the parser has validated them). */
export function storedHeaders(w: ObjectWriteHeaders): ObjectHeaders {
  return {
    contentType: w.contentType,
    contentEncoding: w.contentEncoding,
    contentDisposition: w.contentDisposition,
    contentLanguage: w.contentLanguage,
    cacheControl: w.cacheControl,
    expires: w.expires,
    metadata: w.metadata,
    tags: w.tagging,
    websiteRedirectLocation: w.websiteRedirectLocation,
  };
}

/** An SSE-C object needs its key, and the right one; a plain object must not be given one. */
export function checkSseForRead(object: { sseCustomerAlgorithm?: string; sseCustomerKeyMd5?: string }, key: SseCustomerKey | undefined): void {
  if (object.sseCustomerAlgorithm && !key) {
    throw s3Error('InvalidRequest', 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.');
  }
  if (object.sseCustomerAlgorithm && key && key.keyMd5 !== object.sseCustomerKeyMd5) throw s3Error('AccessDenied', 'The SSE-C key does not match the key the object was stored with.');
  if (!object.sseCustomerAlgorithm && key) throw s3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.');
}

/**
 * Drops the references `fids` had from one object. Files nothing refers to any more are released at the origins by
 * the account's FileReferences object, from its durable retry queue (so a release survives an unreachable origin).
 */
export function releaseFiles(call: S3Call, owner: string, fids: string[]): void {
  if (!fids.length) return;
  const refs = call.e.env.FILE_REFERENCES.get(call.e.env.FILE_REFERENCES.idFromName(owner));
  call.e.waitUntil(refs.release(fids, owner).catch((err) => console.error(`edge: dropping references to ${fids.join(', ')} failed:`, err)));
}

export async function retainFiles(call: S3Call, owner: string, fids: string[]): Promise<void> {
  if (!fids.length) return;
  await call.e.env.FILE_REFERENCES.get(call.e.env.FILE_REFERENCES.idFromName(owner)).retain(fids);
}
