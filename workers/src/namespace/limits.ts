/**
 * Every limit the namespace layer enforces, in one place. Values follow AWS S3 where S3 has a rule; the rest keep
 * a Durable Object row far below its 2 MB cap and a single RPC answer small.
 */
export const NAMESPACE_LIMITS = {
  /** Object keys: UTF-8 bytes (S3: 1024). */
  maxKeyBytes: 1024,
  /** User metadata (`x-amz-meta-*`): UTF-8 bytes of all names plus values (S3: 2 KB). */
  maxUserMetadataBytes: 2048,
  /** Each system header kept with an object (Content-Type, Cache-Control, Content-Disposition, ...): UTF-8 bytes. */
  maxSystemFieldBytes: 1024,
  /** Origin files one object may consist of (its storage layout). 10,000 entries stay under ~1 MB of JSON. */
  maxLayoutFiles: 10_000,
  /** Largest object (S3: 5 TiB). */
  maxObjectBytes: 5 * 1024 ** 4,
  /** Multipart part numbers run from 1 to this (S3: 10,000). */
  maxPartNumber: 10_000,
  /** Every part but the last must be at least this large (S3: 5 MiB). */
  minPartBytes: 5 * 1024 * 1024,
  /** Largest part (S3: 5 GiB). */
  maxPartBytes: 5 * 1024 ** 3,
  /** Staged part handles from the origin: bytes. */
  maxStagedHandleBytes: 512,
  /** List results per call: ListObjects max-keys, ListParts max-parts, ListMultipartUploads max-uploads (S3: 1000). */
  maxListEntries: 1000,
  /** Keys in one DeleteObjects call (S3: 1000). */
  maxDeleteKeys: 1000,
  /** CORS rules per bucket (S3: 100). */
  maxCorsRules: 100,
  /** Serialized CORS or website configuration: bytes. */
  maxConfigBytes: 64 * 1024,
  /** Website routing rules per bucket (S3: 50). */
  maxRoutingRules: 50,
  /** Tags on one object (S3: 10). */
  maxObjectTags: 10,
  /** Tags on one bucket (S3: 50). */
  maxBucketTags: 50,
  /** A tag's key and value: UTF-8 bytes each (S3 counts 128 and 256 characters; 4 bytes each at most). */
  maxTagKeyBytes: 512,
  maxTagValueBytes: 1024,
  /**
   * DeleteBucket discards unfinished multipart uploads (as AWS does) and hands their staged parts back for release.
   * Above this many staged parts it refuses instead (BucketNotEmpty), so one answer stays small: abort uploads first.
   */
  maxPartsReleasedOnDestroy: 10_000,
  /**
   * How long a CompleteMultipartUpload holds its upload while the caller merges the parts at the origin. Another
   * completion may take over after this; the first one's finishMultipart then fails with OperationAborted.
   */
  completionLeaseMs: 15 * 60 * 1000,
  /** How long a finished upload id still answers a repeated CompleteMultipartUpload with the same result. */
  completedUploadMemoryMs: 60 * 60 * 1000,
  /** Buckets one account may own. */
  maxBucketsPerAccount: 1000,
  /** Active (unrevoked) access keys one account may hold. */
  maxActiveKeysPerAccount: 100,
  /** Label attached to an access key: UTF-8 bytes. */
  maxKeyLabelBytes: 128,
  /** Territory names (chain rule: at most 63 bytes). */
  maxTerritoryBytes: 63,
} as const;
