import { bucketIndex } from '../../namespace/env.ts';
import { splitRef } from '../../upstream/origin-client.ts';
import { s3Error } from '../errors.ts';
import type { ObjectWriteHeaders, SseCustomerKey } from '../parse.ts';
import type { PayloadMode } from '../sigv4.ts';
import { el, parseCompleteMultipartUpload } from '../xml.ts';
import { intake, checkContentMd5, readSmallBody } from './body.ts';
import {
  authorize,
  checkObjectAcl,
  checkSseForRead,
  iso,
  ns,
  storedHeaders,
  originToS3,
  ownerXml,
  releaseFiles,
  requireBucket,
  retainFiles,
  xmlResponse,
  type S3Call,
} from './common.ts';
import { checkCopyConditions } from './objects.ts';
import type { ChecksumAlgorithm, CompletionPlan } from '../../namespace/types.ts';

/**
 * Multipart uploads. Parts are staged on one origin's disk (not on chain); completion streams them, in order, into
 * ONE CESS file there, so an upload of 8 MiB parts costs the space of the object, not 4× (each part padded to a
 * 32 MiB segment). All parts of an upload go to the origin that took its first part. SSE-C uploads need the key on
 * every UploadPart and on CompleteMultipartUpload (the staged parts are sealed under it).
 */
export async function createMultipartUpload(
  call: S3Call,
  p: { bucket: string; key: string; headers: ObjectWriteHeaders; sseCustomer?: SseCustomerKey; checksumAlgorithm?: ChecksumAlgorithm; checksumType?: 'COMPOSITE' | 'FULL_OBJECT' },
): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  checkObjectAcl(bucket, p.headers.acl);
  const sse = p.sseCustomer;
  const algorithm = p.checksumAlgorithm;
  const upload = await ns(
    bucketIndex(call.e.env, p.bucket).createMultipart(p.key, {
      initiator: call.principal!.account,
      headers: {
        ...storedHeaders(p.headers),
        ...(sse ? { sseCustomerAlgorithm: 'AES256' as const, sseCustomerKeyMd5: sse.keyMd5 } : {}),
        ...(algorithm ? { checksumAlgorithm: algorithm, checksumType: p.checksumType ?? 'COMPOSITE' } : {}),
      },
    }),
  );
  const headers: Record<string, string> = {};
  if (sse) Object.assign(headers, { 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key-MD5': sse.keyMd5 });
  return xmlResponse(el('InitiateMultipartUploadResult', [el('Bucket', p.bucket), el('Key', p.key), el('UploadId', upload.uploadId)]), 200, headers);
}

/** The origin an upload's parts live on: the one holding its first staged part, if any. */
async function uploadOrigin(call: S3Call, bucket: string, key: string, uploadId: string): Promise<string | undefined> {
  const listed = await ns(bucketIndex(call.e.env, bucket).listParts(key, uploadId, { maxParts: 1 }));
  const first = listed.parts[0];
  return first ? splitRef(first.staged).origin : undefined;
}

function checkUploadSse(upload: { headers: { sseCustomerAlgorithm?: string; sseCustomerKeyMd5?: string } }, sse: { keyMd5: string } | undefined): void {
  if (upload.headers.sseCustomerAlgorithm && !sse) throw s3Error('InvalidRequest', 'This upload uses SSE-C: send the same customer key with every part.');
  if (upload.headers.sseCustomerAlgorithm && sse && sse.keyMd5 !== upload.headers.sseCustomerKeyMd5) throw s3Error('InvalidRequest', 'The SSE-C key differs from the key the upload was created with.');
  if (!upload.headers.sseCustomerAlgorithm && sse) throw s3Error('InvalidRequest', 'This upload was created without SSE-C.');
}

export async function uploadPart(
  call: S3Call,
  p: { bucket: string; key: string; uploadId: string; partNumber: number; payload?: PayloadMode; sseCustomer?: SseCustomerKey },
): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const index = bucketIndex(call.e.env, p.bucket);
  const upload = await ns(index.getUpload(p.key, p.uploadId));
  const sse = p.sseCustomer;
  checkUploadSse(upload, sse);
  const body = intake(call.req, p.payload, call.e.config.maxPutBytes);
  if (body === 'empty') throw s3Error('InvalidRequest', 'A part needs at least one byte.');
  const origin = await uploadOrigin(call, p.bucket, p.key, p.uploadId);
  const staged = await call.e.origin
    .putPart(body.stream, { sseKey: sse?.key, contentSha256: body.contentSha256, origin, placement: call.e.placement, signal: call.req.signal })
    .catch(originToS3);
  let checksum: { algorithm: ChecksumAlgorithm; value: string } | undefined;
  try {
    const digests = await body.verified?.();
    checkContentMd5(body.spec, staged.md5);
    if (body.spec.algorithm && digests?.checksums[body.spec.algorithm]) checksum = { algorithm: body.spec.algorithm, value: digests.checksums[body.spec.algorithm]! };
  } catch (err) {
    call.e.waitUntil(call.e.origin.releasePart(staged.ref));
    throw err;
  }
  return recordPart(call, p, staged, checksum);
}

async function recordPart(
  call: S3Call,
  p: { bucket: string; key: string; uploadId: string; partNumber: number },
  staged: { ref: string; size: number; md5: string },
  checksum?: { algorithm: ChecksumAlgorithm; value: string },
): Promise<Response> {
  let result;
  try {
    result = await ns(bucketIndex(call.e.env, p.bucket).putPart(p.key, p.uploadId, { partNumber: p.partNumber, etag: staged.md5, size: staged.size, staged: staged.ref, ...(checksum ? { checksum } : {}) }));
  } catch (err) {
    call.e.waitUntil(call.e.origin.releasePart(staged.ref));
    throw err;
  }
  if (result.previous) call.e.waitUntil(call.e.origin.releasePart(result.previous.staged));
  const headers: Record<string, string> = { ETag: `"${staged.md5}"` };
  if (checksum) headers[`x-amz-checksum-${checksum.algorithm.toLowerCase()}`] = checksum.value;
  return new Response(null, { status: 200, headers });
}

/** UploadPartCopy: a range of a stored object staged as a part, origin-side. */
export async function uploadPartCopy(
  call: S3Call,
  p: {
    bucket: string;
    key: string;
    uploadId: string;
    partNumber: number;
    sourceBucket: string;
    sourceKey: string;
    range?: { start: number; end: number };
    sseCustomer?: SseCustomerKey;
    sourceSseCustomer?: SseCustomerKey;
  },
): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const sourceBucket = p.sourceBucket === p.bucket ? bucket : await requireBucket(call, p.sourceBucket);
  authorize(call, sourceBucket, 'read', 'source');
  const index = bucketIndex(call.e.env, p.bucket);
  const upload = await ns(index.getUpload(p.key, p.uploadId));
  const sse = p.sseCustomer;
  checkUploadSse(upload, sse);
  const source = await ns(bucketIndex(call.e.env, p.sourceBucket).getObject(p.sourceKey));
  if (!source) throw s3Error('NoSuchKey', undefined, { Key: p.sourceKey });
  checkCopyConditions(call.req.headers, source);
  const sourceSse = p.sourceSseCustomer;
  checkSseForRead(source, sourceSse);
  const range = p.range ?? { start: 0, end: source.size - 1 };
  if (source.size === 0 || range.end >= source.size || range.start > range.end) {
    throw s3Error('InvalidRange', 'The x-amz-copy-source-range is not within the source object.', { ActualObjectSize: String(source.size) });
  }
  if (source.parts.length !== 1) throw s3Error('NotImplemented', 'Copying parts from objects stored as several files is not supported.');
  const origin = await uploadOrigin(call, p.bucket, p.key, p.uploadId);
  const staged = await call.e.origin
    .copyPart({ fid: source.parts[0].fid, range, sseKey: sse?.key, sourceSseKey: sourceSse?.key, origin, placement: call.e.placement, signal: call.req.signal })
    .catch(originToS3);
  const res = await recordPart(call, p, staged);
  const lastModified = iso(Date.now());
  return xmlResponse(el('CopyPartResult', [el('LastModified', lastModified), el('ETag', res.headers.get('ETag')!)]));
}

export async function completeMultipartUpload(call: S3Call, p: { bucket: string; key: string; uploadId: string; sseCustomer?: SseCustomerKey }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const index = bucketIndex(call.e.env, p.bucket);
  const { parts } = parseCompleteMultipartUpload(await readSmallBody(call.req, call.payload, { checksumHeaders: false }));
  const upload = await ns(index.getUpload(p.key, p.uploadId)).catch(async (err) => {
    // A repeated Complete after success answers with the same result.
    const plan = await ns<CompletionPlan>(index.completeMultipart(p.key, p.uploadId, parts.map((x) => ({ partNumber: x.partNumber, etag: x.etag })))).catch(() => undefined);
    if (plan?.status === 'completed') return plan;
    throw err;
  });
  const location = `${new URL(call.req.url).origin}/${p.bucket}/${p.key.split('/').map(encodeURIComponent).join('/')}`;
  const result = (etag: string) => xmlResponse(el('CompleteMultipartUploadResult', [el('Location', location), el('Bucket', p.bucket), el('Key', p.key), el('ETag', `"${etag}"`)]));
  if ('status' in upload) return result(upload.etag);
  const sse = p.sseCustomer;
  // S3 does not need the customer key to complete, and awscli and boto3's transfer manager do not send it; the
  // merge here does (it encrypts the object anew): without it the origin uses the key it holds for the parts.
  const encrypted = !!upload.headers.sseCustomerAlgorithm;
  if (sse) checkUploadSse(upload, sse);
  const plan = await ns<CompletionPlan>(index.completeMultipart(p.key, p.uploadId, parts.map((x) => ({ partNumber: x.partNumber, etag: x.etag }))));
  if (plan.status === 'completed') return result(plan.etag);
  const stored = await call.e.origin
    .compose({
      owner: bucket.owner,
      territory: bucket.territory,
      fileName: p.key,
      sources: plan.parts.map((part) => ({ partRef: part.staged })),
      sseKey: encrypted ? sse?.key : undefined,
      sseKeyHeld: encrypted && !sse,
      placement: call.e.placement,
      signal: call.req.signal,
    })
    .catch(originToS3);
  await retainFiles(call, bucket.owner, [stored.fid]);
  let finished;
  try {
    finished = await ns(index.finishMultipart(p.key, p.uploadId, plan.completionToken, { files: [{ fid: stored.fid, size: stored.size }] }));
  } catch (err) {
    releaseFiles(call, bucket.owner, [stored.fid]);
    throw err;
  }
  releaseFiles(call, bucket.owner, (finished.previous?.parts ?? []).map((f) => f.fid));
  for (const unused of plan.unused) call.e.waitUntil(call.e.origin.releasePart(unused.staged));
  return result(finished.object.etag);
}

export async function abortMultipartUpload(call: S3Call, p: { bucket: string; key: string; uploadId: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const { released } = await ns(bucketIndex(call.e.env, p.bucket).abortMultipart(p.key, p.uploadId));
  for (const part of released) call.e.waitUntil(call.e.origin.releasePart(part.staged));
  return new Response(null, { status: 204 });
}

export async function listParts(call: S3Call, p: { bucket: string; key: string; uploadId: string; partNumberMarker?: number; maxParts?: number }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const r = await ns(bucketIndex(call.e.env, p.bucket).listParts(p.key, p.uploadId, { partNumberMarker: p.partNumberMarker, maxParts: p.maxParts }));
  return xmlResponse(
    el('ListPartsResult', [
      el('Bucket', p.bucket),
      el('Key', p.key),
      el('UploadId', p.uploadId),
      ownerXml(r.upload.initiator, 'Initiator'),
      ownerXml(bucket.owner),
      el('StorageClass', 'STANDARD'),
      el('PartNumberMarker', p.partNumberMarker ?? 0),
      r.nextPartNumberMarker !== undefined ? el('NextPartNumberMarker', r.nextPartNumberMarker) : null,
      el('MaxParts', p.maxParts ?? 1000),
      el('IsTruncated', r.isTruncated),
      ...r.parts.map((part) =>
        el('Part', [
          el('PartNumber', part.partNumber),
          el('LastModified', iso(part.lastModified)),
          el('ETag', `"${part.etag}"`),
          el('Size', part.size),
          part.checksum ? el(`Checksum${part.checksum.algorithm}`, part.checksum.value) : null,
        ]),
      ),
    ]),
  );
}

export async function listMultipartUploads(
  call: S3Call,
  p: { bucket: string; prefix?: string; delimiter?: string; keyMarker?: string; uploadIdMarker?: string; maxUploads?: number; encodingType?: 'url' },
): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const r = await ns(bucketIndex(call.e.env, p.bucket).listMultipartUploads({ prefix: p.prefix, delimiter: p.delimiter, keyMarker: p.keyMarker, uploadIdMarker: p.uploadIdMarker, maxUploads: p.maxUploads }));
  const enc = p.encodingType === 'url' ? (s: string) => encodeURIComponent(s).replace(/%2F/g, '/') : (s: string) => s;
  return xmlResponse(
    el('ListMultipartUploadsResult', [
      el('Bucket', p.bucket),
      el('KeyMarker', enc(p.keyMarker ?? '')),
      el('UploadIdMarker', p.uploadIdMarker ?? ''),
      r.nextKeyMarker !== undefined ? el('NextKeyMarker', enc(r.nextKeyMarker)) : null,
      r.nextUploadIdMarker !== undefined ? el('NextUploadIdMarker', r.nextUploadIdMarker) : null,
      p.prefix !== undefined ? el('Prefix', enc(p.prefix)) : null,
      p.delimiter !== undefined ? el('Delimiter', enc(p.delimiter)) : null,
      el('MaxUploads', p.maxUploads ?? 1000),
      p.encodingType ? el('EncodingType', p.encodingType) : null,
      el('IsTruncated', r.isTruncated),
      ...r.uploads.map((u) =>
        el('Upload', [el('Key', enc(u.key)), el('UploadId', u.uploadId), ownerXml(u.initiator, 'Initiator'), ownerXml(bucket.owner), el('StorageClass', 'STANDARD'), el('Initiated', iso(u.initiated))]),
      ),
      ...r.commonPrefixes.map((cp) => el('CommonPrefixes', [el('Prefix', enc(cp))])),
    ]),
  );
}
