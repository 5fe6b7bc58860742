import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SegmentCache } from '../cache/segment-cache.ts';
import { segmentKey, type SegmentKey, type SegmentPeers } from './segment-peers.ts';

/**
 * Keeps the peers told what the segment cache holds: whatever enters it (uploads adopted once stored, segments read
 * from storage nodes or peers) is announced; whatever leaves it (deleted files, vanished files, LRU evictions) is
 * withdrawn. `cache` is the segment cache seen through a proxy that does this; everything else passes straight
 * through.
 */
export class CacheAnnouncer {
  readonly cache: SegmentCache;
  readonly #inner: SegmentCache;
  readonly #peers: SegmentPeers;
  readonly #announced = new Map<string, SegmentKey>();

  constructor(cache: SegmentCache, peers: SegmentPeers) {
    this.#inner = cache;
    this.#peers = peers;
    this.cache = peers.enabled ? this.#proxy() : cache;
  }

  /**
   * Announces what the cache already holds when the origin starts (the cache survives restarts). Reads the cache's
   * directory layout (`<dir>/<fid>/<segment index>`) and keeps only entries the cache itself knows.
   */
  async announceExisting(dir: string): Promise<number> {
    if (!this.#peers.enabled) return 0;
    let n = 0;
    for (const fid of await readdir(dir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{64}$/.test(fid)) continue;
      for (const name of await readdir(join(dir, fid)).catch(() => [] as string[])) {
        const index = Number(name);
        if (Number.isInteger(index) && index >= 0 && this.#announce(fid, index)) n++;
      }
    }
    return n;
  }

  #announce(fid: string, index: number): boolean {
    if (!this.#inner.has(fid, index)) return false;
    const key = { fid, index };
    this.#announced.set(segmentKey(key), key);
    this.#peers.announce([key]);
    return true;
  }

  /** Evictions happen inside put/adopt: anything announced that the cache no longer has went out with them. */
  #withdrawGone(): void {
    const gone: SegmentKey[] = [];
    for (const [id, k] of this.#announced) {
      if (this.#inner.has(k.fid, k.index)) continue;
      this.#announced.delete(id);
      gone.push(k);
    }
    if (gone.length) this.#peers.withdraw(gone);
  }

  #proxy(): SegmentCache {
    const cache = this.#inner;
    const hooks: Partial<SegmentCache> = {
      put: async (fid, index, bytes) => {
        await cache.put(fid, index, bytes);
        this.#announce(fid, index);
        this.#withdrawGone();
      },
      adopt: async (fid, index, path, size) => {
        await cache.adopt(fid, index, path, size);
        this.#announce(fid, index);
        this.#withdrawGone();
      },
      get: async (fid, index, into) => {
        const bytes = await cache.get(fid, index, into);
        if (!bytes) this.#withdrawGone();
        return bytes;
      },
      delete: async (fid) => {
        await cache.delete(fid);
        this.#withdrawGone();
      },
      forget: (fid, index) => {
        cache.forget(fid, index);
        this.#withdrawGone();
      },
    };
    return new Proxy(cache, {
      get(target, prop) {
        if (Object.hasOwn(hooks, prop)) return hooks[prop as keyof SegmentCache];
        const value = Reflect.get(target, prop, target);
        // The cache keeps its state in private fields: its methods must run with the cache itself as `this`.
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
}
