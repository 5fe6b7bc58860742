import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

export interface SegmentCacheOptions {
  /** Directory of the cache; entries are `<dir>/<fid>/<segment index>`. */
  dir: string;
  /** Bytes the cache may hold; least recently used segments are evicted beyond it. */
  capacity: number;
}

export interface SegmentCacheStats {
  hits: number;
  misses: number;
  bytes: number;
  entries: number;
  capacity: number;
  evictions: number;
}

/**
 * An on-disk LRU of stored segments, exactly as they are stored on CESS: ciphertext for encrypted objects, so the
 * gateway never keeps plaintext of encrypted data at rest. Recency survives restarts (file mtimes, updated on use).
 */
export class SegmentCache {
  readonly #dir: string;
  readonly #capacity: number;
  /** key `fid/index` → size; Map order is recency order (oldest first). */
  readonly #entries = new Map<string, number>();
  #bytes = 0;
  readonly #stats = { hits: 0, misses: 0, evictions: 0 };

  private constructor(options: SegmentCacheOptions) {
    this.#dir = options.dir;
    this.#capacity = options.capacity;
  }

  static async open(options: SegmentCacheOptions): Promise<SegmentCache> {
    const cache = new SegmentCache(options);
    await mkdir(join(cache.#dir, '.tmp'), { recursive: true });
    await rm(join(cache.#dir, '.tmp'), { recursive: true, force: true });
    await mkdir(join(cache.#dir, '.tmp'), { recursive: true });
    const found: { key: string; size: number; used: number }[] = [];
    for (const fid of await readdir(cache.#dir)) {
      if (!/^[0-9a-f]{64}$/.test(fid)) continue;
      for (const index of await readdir(join(cache.#dir, fid))) {
        const s = await stat(join(cache.#dir, fid, index));
        found.push({ key: `${fid}/${index}`, size: s.size, used: s.mtimeMs });
      }
    }
    for (const e of found.sort((a, b) => a.used - b.used)) {
      cache.#entries.set(e.key, e.size);
      cache.#bytes += e.size;
    }
    await cache.#evict();
    return cache;
  }

  #path(key: string): string {
    return join(this.#dir, key);
  }

  has(fid: string, index: number): boolean {
    return this.#entries.has(`${fid}/${index}`);
  }

  /**
   * Where a cached segment's file is, for streaming it straight from disk (counted as a hit and marked used), or
   * undefined (not counted: the caller falls back to `get` or the network).
   */
  pathOf(fid: string, index: number): string | undefined {
    const key = `${fid}/${index}`;
    const size = this.#entries.get(key);
    if (size === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, size);
    this.#stats.hits++;
    const now = new Date();
    void utimes(this.#path(key), now, now).catch(() => {});
    return this.#path(key);
  }

  /**
   * The cached segment, or undefined (counted as a miss). Read into `into` when given (a reused buffer: a fresh
   * 32 MiB one costs more in page faults than the read), else into a new buffer.
   */
  async get(fid: string, index: number, into?: Uint8Array): Promise<Uint8Array | undefined> {
    const key = `${fid}/${index}`;
    const size = this.#entries.get(key);
    if (size === undefined) {
      this.#stats.misses++;
      return undefined;
    }
    try {
      const bytes = into ? await readInto(this.#path(key), into) : await readFile(this.#path(key));
      this.#entries.delete(key);
      this.#entries.set(key, size);
      const now = new Date();
      await utimes(this.#path(key), now, now).catch(() => {});
      this.#stats.hits++;
      return bytes;
    } catch {
      this.#forget(key);
      this.#stats.misses++;
      return undefined;
    }
  }

  /** Stores a segment (written to a temp file and renamed, so readers never see a partial one). */
  async put(fid: string, index: number, bytes: Uint8Array): Promise<void> {
    if (bytes.length > this.#capacity) return;
    const key = `${fid}/${index}`;
    if (this.#entries.has(key)) return;
    const tmp = join(this.#dir, '.tmp', randomBytes(12).toString('hex'));
    const file = await open(tmp, 'w');
    try {
      await file.write(bytes);
    } finally {
      await file.close();
    }
    await mkdir(join(this.#dir, fid), { recursive: true });
    await rename(tmp, this.#path(key));
    this.#entries.set(key, bytes.length);
    this.#bytes += bytes.length;
    await this.#evict();
  }

  /** Takes over a segment file that is already on this filesystem (e.g. a staged upload), by renaming it. */
  async adopt(fid: string, index: number, path: string, size: number): Promise<void> {
    const key = `${fid}/${index}`;
    if (this.#entries.has(key) || size > this.#capacity) {
      await rm(path, { force: true });
      return;
    }
    await mkdir(join(this.#dir, fid), { recursive: true });
    await rename(path, this.#path(key));
    this.#entries.set(key, size);
    this.#bytes += size;
    await this.#evict();
  }

  /** Drops every cached segment of a file. */
  async delete(fid: string): Promise<void> {
    for (const key of [...this.#entries.keys()]) if (key.startsWith(`${fid}/`)) this.#forget(key);
    await rm(join(this.#dir, fid), { recursive: true, force: true });
  }

  /** Drops one entry from the index (its file is gone). */
  forget(fid: string, index: number): void {
    this.#forget(`${fid}/${index}`);
  }

  stats(): SegmentCacheStats {
    return { ...this.#stats, bytes: this.#bytes, entries: this.#entries.size, capacity: this.#capacity };
  }

  #forget(key: string): void {
    const size = this.#entries.get(key);
    if (size === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= size;
  }

  async #evict(): Promise<void> {
    for (const [key] of this.#entries) {
      if (this.#bytes <= this.#capacity) break;
      this.#forget(key);
      this.#stats.evictions++;
      await rm(this.#path(key), { force: true });
    }
  }
}

/** Reads a whole file into the start of `into`; fails if it does not fit. */
export async function readInto(path: string, into: Uint8Array): Promise<Uint8Array> {
  const file = await open(path, 'r');
  try {
    let at = 0;
    for (;;) {
      const { bytesRead } = await file.read(into, at, into.length - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
      if (at === into.length && (await file.read(new Uint8Array(1), 0, 1, at)).bytesRead > 0) throw new Error(`${path} is larger than the buffer`);
    }
    return into.subarray(0, at);
  } finally {
    await file.close();
  }
}
