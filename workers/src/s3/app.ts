import type { EdgeContext } from '../context.ts';
import { accessKeyCache } from '../namespace/access-key-cache.ts';
import { accountDirectory } from '../namespace/env.ts';
import { errorResponse, s3Error } from './errors.ts';
import { parseS3Request, type S3Operation } from './parse.ts';
import { verifyRequest, type AuthResult } from './sigv4.ts';
import * as buckets from './ops/buckets.ts';
import type { Principal, S3Call } from './ops/common.ts';
import { preflight, withCors } from './ops/cors.ts';
import * as listing from './ops/listing.ts';
import * as multipart from './ops/multipart.ts';
import * as objects from './ops/objects.ts';
import { postObject } from './ops/post-object.ts';
import * as tagging from './ops/tagging.ts';

/**
 * The S3 API: authenticate (SigV4 header or presigned query), parse the request into a typed operation, run its
 * handler, and turn any error into S3's XML error response in one place.
 */
export async function handleS3(e: EdgeContext, req: Request): Promise<Response> {
  const url = new URL(req.url);
  let bucket: string | undefined;
  try {
    const op = parseS3Request(req, { s3Domains: e.config.s3Domains });
    bucket = 'bucket' in op ? op.bucket : undefined;
    if (op.kind === 'OptionsPreflight') {
      if (!op.bucket) throw s3Error('AccessDenied', 'CORS preflight needs a bucket.');
      return await preflight(e.env, op.bucket, req);
    }
    const principal = await authenticate(e, req);
    const call: S3Call = { e, req, principal: principal?.principal, payload: principal?.auth.payload };
    const res = await dispatch(call, op);
    return bucket ? await withCors(e.env, bucket, req, res) : res;
  } catch (err) {
    const res = errorResponse(err, { requestId: e.requestId, resource: decodeURIComponentSafe(url.pathname), method: req.method });
    return bucket && req.headers.has('Origin') ? withCors(e.env, bucket, req, res).catch(() => res) : res;
  }
}

async function authenticate(e: EdgeContext, req: Request): Promise<{ principal: Principal; auth: AuthResult } | undefined> {
  let found: Principal | undefined;
  const auth = await verifyRequest(
    req,
    async (accessKeyId) => {
      const key = await accessKey(e, accessKeyId);
      found = key?.principal;
      return key?.secret;
    },
    { region: e.config.s3Region },
  );
  return auth && found ? { principal: found, auth } : undefined;
}

/** An access key's secret and the account it acts for. */
async function accessKey(e: EdgeContext, accessKeyId: string): Promise<{ secret: string; principal: Principal } | undefined> {
  const key = await accessKeyCache.get(accessKeyId, (id) => accountDirectory(e.env).lookupSecret(id));
  return key ? { secret: key.secret, principal: { accessKeyId, account: key.account, territory: key.territory } } : undefined;
}

async function dispatch(call: S3Call, op: S3Operation): Promise<Response> {
  // Exhaustive over S3Operation: a new kind without a handler fails the typecheck here.
  switch (op.kind) {
    case 'ListBuckets':
      return buckets.listBuckets(call);
    case 'CreateBucket':
      return buckets.createBucket(call, op);
    case 'DeleteBucket':
      return buckets.deleteBucket(call, op);
    case 'HeadBucket':
      return buckets.headBucket(call, op);
    case 'GetBucketLocation':
      return buckets.getBucketLocation(call, op);
    case 'GetBucketVersioning':
      return buckets.getBucketVersioning(call, op);
    case 'PutBucketVersioning':
      return buckets.putBucketVersioning(call, op);
    case 'GetBucketSetting':
      return buckets.getBucketSetting(call, op);
    case 'GetBucketPolicy':
      return buckets.getBucketPolicy(call, op);
    case 'PutBucketPolicy':
      return buckets.putBucketPolicy(call, op);
    case 'DeleteBucketPolicy':
      return buckets.deleteBucketPolicy(call, op);
    case 'PutPublicAccessBlock':
      return buckets.putPublicAccessBlock(call, op);
    case 'DeletePublicAccessBlock':
      return buckets.deletePublicAccessBlock(call, op);
    case 'GetBucketAcl':
      return buckets.getBucketAcl(call, op);
    case 'PutBucketAcl':
      return buckets.putBucketAcl(call, op);
    case 'GetBucketCors':
      return buckets.getBucketCors(call, op);
    case 'PutBucketCors':
      return buckets.putBucketCors(call, op);
    case 'DeleteBucketCors':
      return buckets.deleteBucketCors(call, op);
    case 'GetBucketWebsite':
      return buckets.getBucketWebsite(call, op);
    case 'PutBucketWebsite':
      return buckets.putBucketWebsite(call, op);
    case 'DeleteBucketWebsite':
      return buckets.deleteBucketWebsite(call, op);
    case 'GetBucketTagging':
      return tagging.getBucketTagging(call, op);
    case 'PutBucketTagging':
      return tagging.putBucketTagging(call, op);
    case 'DeleteBucketTagging':
      return tagging.deleteBucketTagging(call, op);
    case 'ListObjectsV1':
      return listing.listObjectsV1(call, op);
    case 'ListObjectsV2':
      return listing.listObjectsV2(call, op);
    case 'ListObjectVersions':
      return listing.listObjectVersions(call, op);
    case 'ListMultipartUploads':
      return multipart.listMultipartUploads(call, op);
    case 'DeleteObjects':
      return objects.deleteObjects(call, op);
    case 'PostObject':
      return postObject(call, op, (id) => accessKey(call.e, id), { s3Domains: call.e.config.s3Domains });
    case 'PutObject':
      return objects.putObject(call, { ...op, payload: call.payload });
    case 'CopyObject':
      return objects.copyObject(call, op);
    case 'GetObject':
      return objects.getObject(call, { ...op, method: 'GET' });
    case 'HeadObject':
      return objects.getObject(call, { ...op, method: 'HEAD' });
    case 'DeleteObject':
      return objects.deleteObject(call, op);
    case 'GetObjectAttributes':
      return objects.getObjectAttributes(call, op);
    case 'GetObjectAcl':
      return objects.getObjectAcl(call, op);
    case 'PutObjectAcl':
      return objects.putObjectAcl(call, op);
    case 'GetObjectTagging':
      return tagging.getObjectTagging(call, op);
    case 'PutObjectTagging':
      return tagging.putObjectTagging(call, op);
    case 'DeleteObjectTagging':
      return tagging.deleteObjectTagging(call, op);
    case 'CreateMultipartUpload':
      return multipart.createMultipartUpload(call, op);
    case 'UploadPart':
      return multipart.uploadPart(call, { ...op, payload: call.payload });
    case 'UploadPartCopy':
      return multipart.uploadPartCopy(call, op);
    case 'CompleteMultipartUpload':
      return multipart.completeMultipartUpload(call, op);
    case 'AbortMultipartUpload':
      return multipart.abortMultipartUpload(call, op);
    case 'ListParts':
      return multipart.listParts(call, op);
    case 'OptionsPreflight':
      throw s3Error('MethodNotAllowed');
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
