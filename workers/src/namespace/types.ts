/** Records the namespace Durable Objects store and return. Everything here is plain data (structured-clonable). */

export type CannedAcl = 'private' | 'public-read';

export interface BucketRecord {
  name: string;
  /** Owner account, SS58 (CESS prefix). */
  owner: string;
  /** The owner's territory that new objects in this bucket are stored in. */
  territory: string;
  /** Creation time, ms since the epoch. */
  created: number;
  acl: CannedAcl;
  /** The bucket policy as sent; only policies that let everyone read every object are accepted (s3/bucket-policy.ts). */
  policy?: string;
  /**
   * `Suspended` once PutBucketVersioning suspended versioning (it was never enabled: that is refused). Objects keep
   * version id `null` either way, as in an unversioned bucket; only GetBucketVersioning tells the two apart, as S3.
   */
  versioning?: 'Suspended';
}

/** Whether anyone may read the bucket's objects: a `public-read` ACL or a (public-read) bucket policy. */
export function publiclyReadable(bucket: Pick<BucketRecord, 'acl' | 'policy'>): boolean {
  return bucket.acl === 'public-read' || bucket.policy !== undefined;
}

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: Array<'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD'>;
  allowedHeaders?: string[];
  exposeHeaders?: string[];
  maxAgeSeconds?: number;
}

export interface WebsiteRedirect {
  hostName?: string;
  protocol?: 'http' | 'https';
  replaceKeyPrefixWith?: string;
  replaceKeyWith?: string;
  httpRedirectCode?: string;
}

export interface WebsiteRoutingRule {
  condition?: { keyPrefixEquals?: string; httpErrorCodeReturnedEquals?: string };
  redirect: WebsiteRedirect;
}

export type WebsiteConfig =
  | {
      /** Served for a request to a "directory" (key ending in `/` or the root), e.g. `index.html`. */
      indexDocument: { suffix: string };
      errorDocument?: { key: string };
      routingRules?: WebsiteRoutingRule[];
    }
  | { redirectAllRequestsTo: { hostName: string; protocol?: 'http' | 'https' } };

/** One origin file an object is made of. */
export interface StoredFile {
  /**
   * What the origin answered for the bytes: a FID, or, for an object written behind, a reference to it in a pack
   * (`pack-<id>-<offset>-<size>`) that the origin resolves. Either way unique to those bytes, never reused.
   */
  fid: string;
  size: number;
}

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';

export interface ObjectChecksum {
  algorithm: ChecksumAlgorithm;
  /** Base64 value as S3 returns it (`x-amz-checksum-*`). */
  value: string;
  /** FULL_OBJECT, or COMPOSITE for multipart checksums of checksums (value then ends in `-N`). */
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

/** The headers S3 keeps with an object and returns on GET/HEAD. */
export interface ObjectHeaders {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  /** The `Expires` header as given (an HTTP date). */
  expires?: string;
  /** `x-amz-meta-*` values by lowercased name without the prefix. */
  metadata: Record<string, string>;
  checksum?: ObjectChecksum;
  /** SSE-C: the algorithm and the MD5 of the customer key (base64). The key itself is never stored. */
  sseCustomerAlgorithm?: 'AES256';
  sseCustomerKeyMd5?: string;
  /** Object tags, [key, value] in the order given (`x-amz-tagging`, PutObjectTagging). */
  tags?: [string, string][];
  /** `x-amz-website-redirect-location`: where the bucket's website sends a request for this object (301). */
  websiteRedirectLocation?: string;
}

/** What a caller writes with putObject / finishMultipart. */
export interface ObjectInput extends ObjectHeaders {
  size: number;
  /** Without quotes: hex MD5, or `<hex>-<parts>` for multipart objects. */
  etag: string;
  /**
   * Storage layout: the origin files whose concatenation is the object, in order. One entry for most objects, none
   * for an empty object, several for a multipart completion the origin did not merge. Sizes must add up to `size`.
   */
  parts: StoredFile[];
  /** For multipart objects: how many parts it was completed from (S3 `PartsCount`). */
  partsCount?: number;
  /** Last-Modified, ms since the epoch. @default the time of the write */
  lastModified?: number;
}

export interface ObjectRecord extends ObjectInput {
  key: string;
  /** The FID when the object is exactly one origin file; null when it is empty or made of several files. */
  fid: string | null;
  lastModified: number;
}

/** The result of a write or delete: what it replaced, and which FIDs nothing in this bucket references any more. */
export interface ObjectReplacement {
  previous?: ObjectRecord;
  /**
   * Files of `previous` no other key in this bucket still points at: the caller may release them at the origin
   * (after checking its own cross-bucket references, if it deduplicates across buckets).
   */
  releasable: StoredFile[];
}

export interface PutObjectConditions {
  /** Write only if the current object's ETag is this (quotes optional). Fails with PreconditionFailed. */
  ifMatch?: string;
  /** `*`: write only if no object exists under the key. Fails with PreconditionFailed. */
  ifNoneMatch?: '*';
  /** Write only if the bucket belongs to this account (the caller authorized against a remembered record). Fails with AccessDenied. */
  owner?: string;
}

export interface ObjectSummary {
  key: string;
  lastModified: number;
  etag: string;
  size: number;
  storageClass: 'STANDARD';
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: 'FULL_OBJECT' | 'COMPOSITE';
  /** Present when fetchOwner was set (ListObjects v1 always shows it; v2 only with fetch-owner=true). */
  owner?: { id: string; displayName: string };
}

export interface ListObjectsOptions {
  prefix?: string;
  delimiter?: string;
  /** 0..1000; larger values are treated as 1000 (as S3 does). @default 1000 */
  maxKeys?: number;
  /** V2: list keys after this one. Ignored when continuationToken is given. */
  startAfter?: string;
  /** V2: the nextContinuationToken of a previous answer. */
  continuationToken?: string;
  /** V1: list keys after this one (a key or a common prefix from a previous answer's nextMarker). */
  marker?: string;
  fetchOwner?: boolean;
}

export interface ListObjectsResult {
  contents: ObjectSummary[];
  /** Sorted; each ends with the delimiter. */
  commonPrefixes: string[];
  isTruncated: boolean;
  /** V2: pass back as continuationToken. Set when isTruncated. */
  nextContinuationToken?: string;
  /** V1: the last key or common prefix of this page; pass back as marker. Set when isTruncated. */
  nextMarker?: string;
  /** contents + commonPrefixes (V2 `KeyCount`). */
  keyCount: number;
}

/** Object headers the final object of a multipart upload gets, fixed at CreateMultipartUpload. */
export type UploadHeaders = Omit<ObjectHeaders, 'checksum'> & { checksumAlgorithm?: ChecksumAlgorithm; checksumType?: 'FULL_OBJECT' | 'COMPOSITE' };

export interface MultipartUpload {
  uploadId: string;
  key: string;
  /** ms since the epoch. */
  initiated: number;
  /** Account that started it. */
  initiator: string;
  headers: UploadHeaders;
}

export interface PartInput {
  partNumber: number;
  /** Without quotes: hex MD5 of the part. */
  etag: string;
  size: number;
  /** Handle the origin gave for the staged bytes; opaque here. */
  staged: string;
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

export interface PartRecord extends PartInput {
  lastModified: number;
}

export interface ListPartsOptions {
  partNumberMarker?: number;
  /** 0..1000. @default 1000 */
  maxParts?: number;
}

export interface ListPartsResult {
  upload: MultipartUpload;
  parts: PartRecord[];
  isTruncated: boolean;
  nextPartNumberMarker?: number;
}

export interface ListUploadsOptions {
  prefix?: string;
  delimiter?: string;
  keyMarker?: string;
  uploadIdMarker?: string;
  /** 0..1000. @default 1000 */
  maxUploads?: number;
}

export interface ListUploadsResult {
  uploads: MultipartUpload[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

/** A part as named in a CompleteMultipartUpload request. */
export interface RequestedPart {
  partNumber: number;
  /** Quotes optional. */
  etag: string;
}

export type CompletionPlan =
  | {
      status: 'ready';
      uploadId: string;
      key: string;
      /** Pass to finishMultipart; proves this completion still holds the upload. */
      completionToken: string;
      /** The requested parts in order, with sizes and staged handles: merge these at the origin. */
      parts: PartRecord[];
      /** Parts uploaded but not named in the request: release their staged bytes once the object is written. */
      unused: PartRecord[];
      size: number;
      /** S3 multipart ETag: hex MD5 of the concatenated binary part MD5s, `-<count>`. */
      etag: string;
      headers: UploadHeaders;
    }
  | {
      /** A repeated request for an upload that already completed: answer with the same result again. */
      status: 'completed';
      uploadId: string;
      key: string;
      etag: string;
      size: number;
    };

export interface FinishResult extends ObjectReplacement {
  object: ObjectRecord;
}

export interface DestroyResult {
  /** Staged part handles of the unfinished multipart uploads DeleteBucket discarded: release them at the origin. */
  releasedStagedParts: string[];
}
