import { bucketRecordCache } from '../../namespace/bucket-record-cache.ts';
import { accountDirectory, bucketIndex } from '../../namespace/env.ts';
import type { CannedAcl, WebsiteConfig } from '../../namespace/types.ts';
import { s3Error } from '../errors.ts';
import {
  corsConfigurationXml,
  el,
  parseCorsConfiguration,
  parseCreateBucketConfiguration,
  parsePublicAccessBlock,
  parseVersioningConfiguration,
  parseWebsiteConfiguration,
  websiteConfigurationXml,
  type WebsiteConfiguration,
} from '../xml.ts';
import { accessControlPolicy, authorize, iso, ns, ownerXml, requireBucket, requirePrincipal, xmlResponse, type S3Call } from './common.ts';
import { readSmallBody } from './body.ts';
import { checkPublicReadPolicy, MAX_BUCKET_POLICY_BYTES } from '../bucket-policy.ts';
import type { UnsetBucketSetting } from '../parse.ts';

export async function listBuckets(call: S3Call): Promise<Response> {
  const principal = requirePrincipal(call);
  const { buckets } = await ns(accountDirectory(call.e.env).listBuckets(principal.account));
  return xmlResponse(
    el('ListAllMyBucketsResult', [
      ownerXml(principal.account),
      el('Buckets', buckets.map((b) => el('Bucket', [el('Name', b.name), el('CreationDate', iso(b.created)), el('BucketRegion', call.e.config.s3Region)]))),
    ]),
  );
}

/** CreateBucket: the name is claimed in the global registry first, then the bucket's own index is created. */
export async function createBucket(call: S3Call, p: { bucket: string; objectLockEnabled?: boolean; objectOwnership?: string }): Promise<Response> {
  const principal = requirePrincipal(call);
  // Refused rather than recorded and ignored: a bucket asked to be write-once must not quietly be an ordinary one.
  if (p.objectLockEnabled) throw s3Error('NotImplemented', 'Object Lock is not supported: objects here can be overwritten and deleted by their owner.');
  if (p.objectOwnership !== undefined && p.objectOwnership !== 'BucketOwnerEnforced') {
    if (p.objectOwnership !== 'ObjectWriter' && p.objectOwnership !== 'BucketOwnerPreferred') throw s3Error('InvalidArgument', `Invalid x-amz-object-ownership: ${p.objectOwnership}`, { ArgumentName: 'x-amz-object-ownership', ArgumentValue: p.objectOwnership });
    throw s3Error('NotImplemented', 'Only BucketOwnerEnforced object ownership is supported: objects follow their bucket\'s ACL.');
  }
  const body = new TextDecoder().decode(await readSmallBody(call.req, call.payload));
  if (body.trim()) {
    const { locationConstraint } = parseCreateBucketConfiguration(body);
    if (locationConstraint && locationConstraint !== call.e.config.s3Region) {
      throw s3Error('InvalidLocationConstraint', `This endpoint serves region ${call.e.config.s3Region}.`);
    }
  }
  const acl = cannedAcl(call.req.headers.get('x-amz-acl'));
  await ns(accountDirectory(call.e.env).registerBucket({ name: p.bucket, owner: principal.account, territory: principal.territory }));
  try {
    await ns(bucketIndex(call.e.env, p.bucket).create({ name: p.bucket, owner: principal.account, territory: principal.territory, acl }));
  } catch (err) {
    if (!(err instanceof Error && /BucketAlreadyOwnedByYou/.test(String((err as { code?: string }).code)))) throw err;
  }
  return new Response(null, { status: 200, headers: { Location: `/${p.bucket}` } });
}

export async function deleteBucket(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  bucketRecordCache.delete(p.bucket);
  const destroyed = await ns(bucketIndex(call.e.env, p.bucket).destroy());
  for (const ref of destroyed.releasedStagedParts) call.e.waitUntil(call.e.origin.releasePart(ref));
  await ns(accountDirectory(call.e.env).unregisterBucket(p.bucket, bucket.owner));
  return new Response(null, { status: 204 });
}

export async function headBucket(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'read');
  return new Response(null, { status: 200, headers: { 'x-amz-bucket-region': call.e.config.s3Region } });
}

/**
 * A bucket setting this gateway cannot set, read as S3 reads it unset: an empty document where S3 answers one, the
 * "not found" error where S3 answers that. Ownership controls are what objects here do: follow the bucket's ACL.
 */
export async function getBucketSetting(call: S3Call, p: { bucket: string; setting: UnsetBucketSetting }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  switch (p.setting) {
    case 'lifecycle':
      throw s3Error('NoSuchLifecycleConfiguration', undefined, { BucketName: p.bucket });
    case 'encryption':
      throw s3Error('ServerSideEncryptionConfigurationNotFoundError', undefined, { BucketName: p.bucket });
    case 'object-lock':
      throw s3Error('ObjectLockConfigurationNotFoundError', undefined, { BucketName: p.bucket });
    case 'replication':
      throw s3Error('ReplicationConfigurationNotFoundError', undefined, { BucketName: p.bucket });
    case 'publicAccessBlock':
      throw s3Error('NoSuchPublicAccessBlockConfiguration', undefined, { BucketName: p.bucket });
    case 'logging':
      return xmlResponse(el('BucketLoggingStatus', []));
    case 'accelerate':
      return xmlResponse(el('AccelerateConfiguration', []));
    case 'requestPayment':
      return xmlResponse(el('RequestPaymentConfiguration', [el('Payer', 'BucketOwner')]));
    case 'notification':
      return xmlResponse(el('NotificationConfiguration', []));
    case 'ownershipControls':
      return xmlResponse(el('OwnershipControls', [el('Rule', [el('ObjectOwnership', 'BucketOwnerEnforced')])]));
  }
}

/** PutBucketPolicy: a policy that lets everyone read every object (bucket-policy.ts) makes the bucket publicly readable. */
export async function putBucketPolicy(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const text = new TextDecoder().decode(await readSmallBody(call.req, call.payload, { maxBytes: MAX_BUCKET_POLICY_BYTES }));
  checkPublicReadPolicy(text, p.bucket);
  await ns(bucketIndex(call.e.env, p.bucket).setPolicy(text));
  return new Response(null, { status: 204 });
}

export async function getBucketPolicy(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  if (bucket.policy === undefined) throw s3Error('NoSuchBucketPolicy', undefined, { BucketName: p.bucket });
  return new Response(bucket.policy, { status: 200, headers: { 'Content-Type': 'application/json' } });
}

export async function deleteBucketPolicy(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  await ns(bucketIndex(call.e.env, p.bucket).setPolicy(null));
  return new Response(null, { status: 204 });
}

/**
 * PutPublicAccessBlock: nothing here blocks public access, so a configuration that blocks nothing (every flag
 * false, as website guides set it) is accepted and, changing nothing, not kept; one that would block is refused.
 */
export async function putPublicAccessBlock(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const blocking = parsePublicAccessBlock(await readSmallBody(call.req, call.payload));
  if (blocking.length) throw s3Error('NotImplemented', `Blocking public access is not supported (${blocking.join(', ')}): keep buckets that must stay private without public-read ACLs or policies.`);
  return new Response(null, { status: 200 });
}

export async function deletePublicAccessBlock(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  return new Response(null, { status: 204 });
}

export async function getBucketLocation(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  // us-east-1 is spelled as an empty constraint, as S3 does.
  return xmlResponse(el('LocationConstraint', call.e.config.s3Region === 'us-east-1' ? '' : call.e.config.s3Region));
}

export async function getBucketVersioning(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  return xmlResponse(el('VersioningConfiguration', bucket.versioning ? [el('Status', bucket.versioning)] : []));
}

/**
 * PutBucketVersioning: `Suspended` is taken (objects keep version id `null`, as they do here already, and
 * GetBucketVersioning then says so); `Enabled` and MFA delete are NotImplemented: this gateway keeps one version.
 */
export async function putBucketVersioning(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const config = parseVersioningConfiguration(await readSmallBody(call.req, call.payload));
  if (config.status === 'Enabled') throw s3Error('NotImplemented', 'Bucket versioning cannot be enabled on this endpoint: it keeps one version of each key. Suspended is accepted.');
  if (config.mfaDelete === 'Enabled') throw s3Error('NotImplemented', 'MFA delete is not supported on this endpoint.');
  if (config.status === 'Suspended' && !bucket.versioning) await ns(bucketIndex(call.e.env, p.bucket).suspendVersioning());
  return new Response(null, { status: 200 });
}

function cannedAcl(value: string | null): CannedAcl {
  if (value === null || value === 'private') return 'private';
  if (value === 'public-read') return 'public-read';
  throw s3Error('NotImplemented', `Only the canned ACLs private and public-read are supported, not ${value}.`);
}

export async function putBucketAcl(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  if (!call.req.headers.has('x-amz-acl')) {
    const body = new TextDecoder().decode(await readSmallBody(call.req, call.payload));
    if (body.trim()) throw s3Error('NotImplemented', 'Only canned ACLs (x-amz-acl: private | public-read) are supported.');
  }
  await ns(bucketIndex(call.e.env, p.bucket).setAcl(cannedAcl(call.req.headers.get('x-amz-acl'))));
  return new Response(null, { status: 200 });
}

export async function getBucketAcl(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  return xmlResponse(accessControlPolicy(bucket));
}

export async function putBucketCors(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const rules = parseCorsConfiguration(await readSmallBody(call.req, call.payload));
  await ns(bucketIndex(call.e.env, p.bucket).putCors(rules));
  return new Response(null, { status: 200 });
}

export async function getBucketCors(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const rules = await ns(bucketIndex(call.e.env, p.bucket).getCors());
  if (!rules) throw s3Error('NoSuchCORSConfiguration', undefined, { BucketName: p.bucket });
  return xmlResponse(corsConfigurationXml(rules.map((r) => ({ ...r, allowedHeaders: r.allowedHeaders ?? [], exposeHeaders: r.exposeHeaders ?? [] }))));
}

export async function deleteBucketCors(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  await ns(bucketIndex(call.e.env, p.bucket).deleteCors());
  return new Response(null, { status: 204 });
}

export async function putBucketWebsite(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const config = parseWebsiteConfiguration(await readSmallBody(call.req, call.payload));
  await ns(bucketIndex(call.e.env, p.bucket).putWebsite(toStored(config)));
  return new Response(null, { status: 200 });
}

export async function getBucketWebsite(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  const config = await ns<WebsiteConfig | undefined>(bucketIndex(call.e.env, p.bucket).getWebsite());
  if (!config) throw s3Error('NoSuchWebsiteConfiguration', undefined, { BucketName: p.bucket });
  return xmlResponse(websiteConfigurationXml(fromStored(config)));
}

export async function deleteBucketWebsite(call: S3Call, p: { bucket: string }): Promise<Response> {
  const bucket = await requireBucket(call, p.bucket);
  authorize(call, bucket, 'write');
  await ns(bucketIndex(call.e.env, p.bucket).deleteWebsite());
  return new Response(null, { status: 204 });
}

/** The XML reader's website configuration → the stored form (a union: redirect-all, or index + rules). */
function toStored(c: WebsiteConfiguration): WebsiteConfig {
  if (c.redirectAllRequestsTo) return { redirectAllRequestsTo: c.redirectAllRequestsTo };
  if (!c.indexDocument) throw s3Error('InvalidArgument', 'A website configuration needs an IndexDocument or RedirectAllRequestsTo.');
  return {
    indexDocument: c.indexDocument,
    ...(c.errorDocument ? { errorDocument: c.errorDocument } : {}),
    ...(c.routingRules
      ? {
          routingRules: c.routingRules.map((r) => ({
            ...(r.condition
              ? { condition: { keyPrefixEquals: r.condition.keyPrefixEquals, httpErrorCodeReturnedEquals: r.condition.httpErrorCodeReturnedEquals?.toString() } }
              : {}),
            redirect: { ...r.redirect, httpRedirectCode: r.redirect.httpRedirectCode?.toString() },
          })),
        }
      : {}),
  };
}

function fromStored(c: WebsiteConfig): WebsiteConfiguration {
  if ('redirectAllRequestsTo' in c) return { redirectAllRequestsTo: c.redirectAllRequestsTo };
  return {
    indexDocument: c.indexDocument,
    errorDocument: c.errorDocument,
    routingRules: c.routingRules?.map((r) => ({
      condition: r.condition
        ? { keyPrefixEquals: r.condition.keyPrefixEquals, httpErrorCodeReturnedEquals: r.condition.httpErrorCodeReturnedEquals ? Number(r.condition.httpErrorCodeReturnedEquals) : undefined }
        : undefined,
      redirect: { ...r.redirect, httpRedirectCode: r.redirect.httpRedirectCode ? Number(r.redirect.httpRedirectCode) : undefined },
    })),
  };
}
