import { TtlMap } from './ttl-map.ts';
import type { BucketRecord } from './types.ts';

/**
 * An in-isolate memory of bucket records for writes, so a PutObject needs one Durable Object call (recording the
 * object) instead of two (reading the bucket first, then recording). It is safe because the bucket's object checks
 * the owner again when it records the object: a bucket deleted meanwhile refuses the write (NoSuchBucket), one
 * re-created by another account refuses it too (AccessDenied), and the bytes already sent to the origin are released.
 * What a stale record can still do, for at most BUCKET_RECORD_TTL_MS: charge the write to the territory the bucket
 * had before its owner deleted and re-created it.
 */

/** How long a bucket record is trusted for writes before its Durable Object is asked again. */
export const BUCKET_RECORD_TTL_MS = 10_000;
/** Records kept per isolate; the oldest go first. */
export const BUCKET_RECORD_CACHE_MAX_ENTRIES = 1_000;

/** The isolate's shared memory of bucket records, by bucket name (module scope lives as long as the isolate). */
export const bucketRecordCache = new TtlMap<BucketRecord>({ maxEntries: BUCKET_RECORD_CACHE_MAX_ENTRIES });
