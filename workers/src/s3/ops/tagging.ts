import { bucketIndex } from '../../namespace/env.ts';
import { s3Error } from '../errors.ts';
import { MAX_BUCKET_TAGS, MAX_OBJECT_TAGS } from '../tags.ts';
import { parseTagging, taggingXml } from '../xml.ts';
import { readSmallBody } from './body.ts';
import { authorize, ns, requireBucket, xmlResponse, type S3Call } from './common.ts';

// Object and bucket tags. Only the bucket's owner reads or writes them (S3 grants tagging through policies, which
// this gateway does not have; a public-read bucket's ACL lets anyone read objects, not their tags).

/** GetObjectTagging: the object's tags (an empty TagSet when it has none). */
export async function getObjectTagging(call: S3Call, p: { bucket: string; key: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const object = await ns(bucketIndex(call.e.env, p.bucket).getObject(p.key));
  if (!object) throw s3Error('NoSuchKey', undefined, { Key: p.key });
  return xmlResponse(taggingXml(object.tags ?? []));
}

/** PutObjectTagging: replaces the object's tags (at most 10). */
export async function putObjectTagging(call: S3Call, p: { bucket: string; key: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const tags = parseTagging(await readSmallBody(call.req, call.payload), MAX_OBJECT_TAGS);
  await ns(bucketIndex(call.e.env, p.bucket).putObjectTags(p.key, tags));
  return new Response(null, { status: 200 });
}

/** DeleteObjectTagging: removes the object's tags (204, as S3). */
export async function deleteObjectTagging(call: S3Call, p: { bucket: string; key: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  await ns(bucketIndex(call.e.env, p.bucket).putObjectTags(p.key, []));
  return new Response(null, { status: 204 });
}

/** GetBucketTagging: NoSuchTagSet until tags are set. */
export async function getBucketTagging(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const tags = await ns(bucketIndex(call.e.env, p.bucket).getBucketTags());
  if (!tags) throw s3Error('NoSuchTagSet', undefined, { BucketName: p.bucket });
  return xmlResponse(taggingXml(tags));
}

/** PutBucketTagging: replaces the bucket's tags (at most 50; S3 answers 204). */
export async function putBucketTagging(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const tags = parseTagging(await readSmallBody(call.req, call.payload), MAX_BUCKET_TAGS);
  await ns(bucketIndex(call.e.env, p.bucket).putBucketTags(tags));
  return new Response(null, { status: 204 });
}

export async function deleteBucketTagging(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  await ns(bucketIndex(call.e.env, p.bucket).putBucketTags(undefined));
  return new Response(null, { status: 204 });
}
