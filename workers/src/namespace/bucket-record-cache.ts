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

export class BucketRecordCache {
  readonly #entries = new Map<string, { record: BucketRecord; until: number }>();
  readonly #ttl: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}) {
    this.#ttl = options.ttlMs ?? BUCKET_RECORD_TTL_MS;
    this.#max = options.maxEntries ?? BUCKET_RECORD_CACHE_MAX_ENTRIES;
    this.#now = options.now ?? Date.now;
  }

  get(bucket: string): BucketRecord | undefined {
    const entry = this.#entries.get(bucket);
    if (!entry) return undefined;
    if (entry.until > this.#now()) return entry.record;
    this.#entries.delete(bucket);
    return undefined;
  }

  set(bucket: string, record: BucketRecord): void {
    this.#entries.delete(bucket);
    while (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(bucket, { record, until: this.#now() + this.#ttl });
  }

  /** Forgets a bucket (deleted or changed through this isolate). */
  invalidate(bucket: string): void {
    this.#entries.delete(bucket);
  }
}

/** The isolate's shared cache (module scope lives as long as the isolate). */
export const bucketRecordCache = new BucketRecordCache();
