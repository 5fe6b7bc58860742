import { createHash } from 'node:crypto';

/** Most staged parts whose SSE-C keys are held at once; past it the least recently used key is dropped. */
export const MAX_REMEMBERED_PARTS = 100_000;

interface HeldKey {
  key: Buffer;
  handles: Set<string>;
  /** ms since the epoch after which the key is dropped. */
  until: number;
}

/**
 * The SSE-C keys of staged multipart parts, held in this process's memory only: never written to disk, logged or
 * sent anywhere. Merging the parts (CompleteMultipartUpload) decrypts them and encrypts the object anew, so it needs
 * the key, and common clients (awscli, boto3's transfer manager) do not send it with Complete, as S3 does not need
 * it there. A key is held while its upload is active: until `ttlMs` after the last part staged with it, or until
 * every part staged with it is merged or released, whichever comes first. Dropped keys are zeroed. An origin that
 * restarted holds none: Complete then needs the key headers.
 */
export class PartKeyMemory {
  readonly #ttlMs: number;
  readonly #maxParts: number;
  readonly #now: () => number;
  /** By a digest of the key; Map order is least recently used first. */
  readonly #keys = new Map<string, HeldKey>();
  /** Part handle → the digest of its key. */
  readonly #partKeys = new Map<string, string>();

  constructor(o: { ttlMs: number; maxParts?: number; now?: () => number }) {
    this.#ttlMs = o.ttlMs;
    this.#maxParts = o.maxParts ?? MAX_REMEMBERED_PARTS;
    this.#now = o.now ?? Date.now;
  }

  /** How many parts have a key held. */
  get size(): number {
    return this.#partKeys.size;
  }

  /** Holds `key` for the part `handle` (just staged with it). */
  remember(handle: string, key: Uint8Array): void {
    if (this.#ttlMs <= 0) return;
    this.#expire();
    this.forget(handle);
    const id = createHash('sha256').update(key).digest('hex');
    let held = this.#keys.get(id);
    if (held) this.#keys.delete(id);
    else held = { key: Buffer.from(key), handles: new Set(), until: 0 };
    held.handles.add(handle);
    held.until = this.#now() + this.#ttlMs;
    this.#keys.set(id, held);
    this.#partKeys.set(handle, id);
    while (this.#partKeys.size > this.#maxParts) this.#drop(this.#keys.keys().next().value!);
  }

  /**
   * A copy of the key every one of `handles` was staged with (the caller's to use and zero), or undefined when one
   * is not held or they differ.
   */
  keyFor(handles: readonly string[]): Buffer | undefined {
    this.#expire();
    const ids = new Set(handles.map((h) => this.#partKeys.get(h)));
    if (ids.size !== 1) return undefined;
    const [id] = ids;
    const held = id === undefined ? undefined : this.#keys.get(id);
    return held ? Buffer.from(held.key) : undefined;
  }

  /** Drops what is held for `handle` (merged or released); the key goes with its last part. */
  forget(handle: string): void {
    const id = this.#partKeys.get(handle);
    if (id === undefined) return;
    this.#partKeys.delete(handle);
    const held = this.#keys.get(id)!;
    held.handles.delete(handle);
    if (held.handles.size === 0) this.#drop(id);
  }

  #expire(): void {
    const now = this.#now();
    for (const [id, held] of this.#keys) if (held.until <= now) this.#drop(id);
  }

  #drop(id: string): void {
    const held = this.#keys.get(id);
    if (!held) return;
    this.#keys.delete(id);
    for (const handle of held.handles) this.#partKeys.delete(handle);
    held.key.fill(0);
  }
}
