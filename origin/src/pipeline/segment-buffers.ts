import { SEGMENT_SIZE } from './constants.ts';

/**
 * Reusable SEGMENT_SIZE buffers. A fresh 32 MiB allocation page-faults on first touch (about 0.1 s per segment on
 * this machine class, more than hashing it), so buffers released by one stream are kept for the next, up to
 * `maxFree` of them. Each is a whole ArrayBuffer, so it can be transferred to a worker thread and back.
 */
export class SegmentBufferCache {
  readonly #free: Uint8Array[] = [];
  readonly #maxFree: number;

  /** @param maxFree buffers kept for reuse; more are left to the garbage collector. */
  constructor(maxFree = 8) {
    this.#maxFree = maxFree;
  }

  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(new ArrayBuffer(SEGMENT_SIZE));
  }

  give(buffer: Uint8Array): void {
    if (buffer.byteLength === SEGMENT_SIZE && buffer.byteOffset === 0 && buffer.buffer.byteLength === SEGMENT_SIZE) {
      if (this.#free.length < this.#maxFree) this.#free.push(buffer);
    }
  }

  get free(): number {
    return this.#free.length;
  }
}

/**
 * A segment buffer with several holders (a download sending it, the cache writing it): it goes back to its buffer
 * cache when the last holder releases it. Buffers not from a cache (`cache` undefined) are left to the GC.
 */
export class SegmentLease {
  readonly bytes: Uint8Array;
  readonly #cache?: SegmentBufferCache;
  #holders = 1;

  constructor(bytes: Uint8Array, cache?: SegmentBufferCache) {
    this.bytes = bytes;
    this.#cache = cache;
  }

  static from(cache: SegmentBufferCache): SegmentLease {
    return new SegmentLease(cache.take(), cache);
  }

  /** One more holder; each calls `release` once. */
  retain(): this {
    if (this.#holders === 0) throw new Error('segment lease used after its release');
    this.#holders++;
    return this;
  }

  release(): void {
    if (this.#holders === 0) throw new Error('segment lease released twice');
    if (--this.#holders === 0) this.#cache?.give(this.bytes);
  }
}
