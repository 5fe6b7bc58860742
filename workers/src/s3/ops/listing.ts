import { bucketIndex } from '../../namespace/env.ts';
import type { ObjectSummary } from '../../namespace/types.ts';
import { el } from '../xml.ts';
import { authorize, iso, ns, ownerXml, requireBucket, xmlResponse, type S3Call } from './common.ts';

export interface ListParams {
  bucket: string;
  prefix?: string;
  delimiter?: string;
  maxKeys?: number;
  encodingType?: 'url';
  /** V2 */
  startAfter?: string;
  continuationToken?: string;
  fetchOwner?: boolean;
  /** V1 */
  marker?: string;
}

/** `encoding-type=url`: keys and prefixes percent-encoded the way S3 does it (spaces as `+`? no: as %20). */
function encoder(type: 'url' | undefined): (s: string) => string {
  return type === 'url' ? (s) => encodeURIComponent(s).replace(/%2F/g, '/') : (s) => s;
}

function contentXml(o: ObjectSummary, enc: (s: string) => string, withOwner: boolean, name = 'Contents', extra: ReturnType<typeof el>[] = []) {
  return el(name, [
    el('Key', enc(o.key)),
    ...extra,
    el('LastModified', iso(o.lastModified)),
    el('ETag', `"${o.etag}"`),
    o.checksumAlgorithm ? el('ChecksumAlgorithm', o.checksumAlgorithm) : null,
    o.checksumType ? el('ChecksumType', o.checksumType) : null,
    el('Size', o.size),
    withOwner && o.owner ? ownerXml(o.owner.id) : null,
    el('StorageClass', 'STANDARD'),
  ]);
}

export async function listObjectsV2(call: S3Call, p: ListParams): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'read');
  const r = await ns(
    bucketIndex(call.e.env, p.bucket).listObjects({ prefix: p.prefix, delimiter: p.delimiter, maxKeys: p.maxKeys, startAfter: p.startAfter, continuationToken: p.continuationToken, fetchOwner: p.fetchOwner }),
  );
  const enc = encoder(p.encodingType);
  return xmlResponse(
    el('ListBucketResult', [
      el('Name', p.bucket),
      el('Prefix', enc(p.prefix ?? '')),
      p.delimiter !== undefined ? el('Delimiter', enc(p.delimiter)) : null,
      el('MaxKeys', p.maxKeys ?? 1000),
      p.encodingType ? el('EncodingType', p.encodingType) : null,
      el('KeyCount', r.keyCount),
      el('IsTruncated', r.isTruncated),
      p.continuationToken !== undefined ? el('ContinuationToken', p.continuationToken) : null,
      r.nextContinuationToken ? el('NextContinuationToken', r.nextContinuationToken) : null,
      p.startAfter !== undefined ? el('StartAfter', enc(p.startAfter)) : null,
      ...r.contents.map((o) => contentXml(o, enc, !!p.fetchOwner)),
      ...r.commonPrefixes.map((cp) => el('CommonPrefixes', [el('Prefix', enc(cp))])),
    ]),
  );
}

export async function listObjectsV1(call: S3Call, p: ListParams): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'read');
  const r = await ns(bucketIndex(call.e.env, p.bucket).listObjects({ prefix: p.prefix, delimiter: p.delimiter, maxKeys: p.maxKeys, marker: p.marker, fetchOwner: true }));
  const enc = encoder(p.encodingType);
  return xmlResponse(
    el('ListBucketResult', [
      el('Name', p.bucket),
      el('Prefix', enc(p.prefix ?? '')),
      el('Marker', enc(p.marker ?? '')),
      // S3 gives NextMarker only with a delimiter; clients without one use the last key.
      r.isTruncated && p.delimiter !== undefined && r.nextMarker ? el('NextMarker', enc(r.nextMarker)) : null,
      el('MaxKeys', p.maxKeys ?? 1000),
      p.delimiter !== undefined ? el('Delimiter', enc(p.delimiter)) : null,
      p.encodingType ? el('EncodingType', p.encodingType) : null,
      el('IsTruncated', r.isTruncated),
      ...r.contents.map((o) => contentXml(o, enc, true)),
      ...r.commonPrefixes.map((cp) => el('CommonPrefixes', [el('Prefix', enc(cp))])),
    ]),
  );
}

/** ListObjectVersions on an unversioned bucket: every object is its only, latest version, id `null`. */
export async function listObjectVersions(call: S3Call, p: ListParams & { keyMarker?: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'read');
  const r = await ns(bucketIndex(call.e.env, p.bucket).listObjects({ prefix: p.prefix, delimiter: p.delimiter, maxKeys: p.maxKeys, marker: p.keyMarker, fetchOwner: true }));
  const enc = encoder(p.encodingType);
  return xmlResponse(
    el('ListVersionsResult', [
      el('Name', p.bucket),
      el('Prefix', enc(p.prefix ?? '')),
      el('KeyMarker', enc(p.keyMarker ?? '')),
      el('VersionIdMarker', ''),
      r.isTruncated && r.nextMarker ? el('NextKeyMarker', enc(r.nextMarker)) : null,
      r.isTruncated && r.nextMarker ? el('NextVersionIdMarker', 'null') : null,
      el('MaxKeys', p.maxKeys ?? 1000),
      p.delimiter !== undefined ? el('Delimiter', enc(p.delimiter)) : null,
      p.encodingType ? el('EncodingType', p.encodingType) : null,
      el('IsTruncated', r.isTruncated),
      ...r.contents.map((o) => contentXml(o, enc, true, 'Version', [el('VersionId', 'null'), el('IsLatest', true)])),
      ...r.commonPrefixes.map((cp) => el('CommonPrefixes', [el('Prefix', enc(cp))])),
    ]),
  );
}
