/**
 * The edge cache's first tier: small segments held in the isolate's memory, in front of the Cache API.
 *
 * An isolate serves many requests one after another, and its memory lives between them. Segments are addressed by
 * FID, so a remembered segment is never stale, and serving one costs no call to the Cache API (on `wrangler dev` a
 * service call, a Durable Object lookup and a disk read) and no stream pumped in JavaScript. Only segments up to
 * `entryMaxBytes` are held, least recently used first out, at most `capacityBytes` in all: the isolate's memory
 * (128 MB on Workers) is mostly for the requests it serves.
 *
 * Segments are held as Blobs: a Response made from a Blob (or a slice of one) sends the Blob's bytes as they are,
 * while one made from a Uint8Array first copies them into a fresh allocation, which on this kind of host costs more
 * than the rest of the request (1 MiB: ~6 ms against ~0.5 ms, measured in workerd).
 */
export class SegmentMemory {
  readonly capacityBytes: number;
  readonly entryMaxBytes: number;
  /** Insertion order is recency order: a read moves its entry to the end. */
  readonly #entries = new Map<string, Blob>();
  #bytes = 0;

  constructor(o: { capacityBytes: number; entryMaxBytes: number }) {
    this.capacityBytes = o.capacityBytes;
    this.entryMaxBytes = Math.min(o.entryMaxBytes, o.capacityBytes);
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Whether a segment of `size` bytes is small enough to be held. */
  holds(size: number): boolean {
    return size > 0 && size <= this.entryMaxBytes;
  }

  get(key: string): Blob | undefined {
    const bytes = this.#entries.get(key);
    if (bytes) {
      this.#entries.delete(key);
      this.#entries.set(key, bytes);
    }
    return bytes;
  }

  set(key: string, bytes: Blob): void {
    if (!this.holds(bytes.size)) return;
    this.delete(key);
    for (const [oldest, held] of this.#entries) {
      if (this.#bytes + bytes.size <= this.capacityBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= held.size;
    }
    this.#entries.set(key, bytes);
    this.#bytes += bytes.size;
  }

  delete(key: string): void {
    const held = this.#entries.get(key);
    if (!held) return;
    this.#entries.delete(key);
    this.#bytes -= held.size;
  }
}
