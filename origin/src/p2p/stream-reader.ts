import type { Stream } from '@libp2p/interface';

/** Nothing arrived from the peer for longer than the stall limit. */
export class PeerStallError extends Error {
  override name = 'PeerStallError';
}

/**
 * Pull-style reading of a libp2p v3 stream (which delivers messages as events, surfaced here through its async
 * iterator): whole chunks, or exactly n bytes, each wait bounded by `stallMs` and by `signal`.
 */
export class StreamReader {
  /** Messages are Uint8Array or a Uint8ArrayList (which `subarray()` flattens). */
  readonly #it: AsyncIterator<Uint8Array | { subarray(): Uint8Array }>;
  readonly #stallMs: number;
  readonly #signal?: AbortSignal;
  #pending: Uint8Array[] = [];

  constructor(stream: Stream, options: { stallMs: number; signal?: AbortSignal }) {
    this.#it = stream[Symbol.asyncIterator]();
    this.#stallMs = options.stallMs;
    this.#signal = options.signal;
  }

  /** The next chunk, or undefined once the peer closed its side. */
  async next(): Promise<Uint8Array | undefined> {
    const held = this.#pending.shift();
    if (held) return held;
    this.#signal?.throwIfAborted();
    const next = this.#it.next();
    next.catch(() => {}); // settles when the stream is aborted after a stall; nobody waits for it then
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const stop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PeerStallError(`peer sent nothing for ${this.#stallMs} ms`)), this.#stallMs);
      onAbort = () => reject(this.#signal!.reason);
      this.#signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const r = await Promise.race([next, stop]);
      if (r.done) return undefined;
      return r.value instanceof Uint8Array ? r.value : r.value.subarray();
    } finally {
      clearTimeout(timer);
      if (onAbort) this.#signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Exactly `n` bytes; throws if the peer closes first. Bytes beyond `n` stay for the next read. */
  async exactly(n: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let have = 0;
    while (have < n) {
      const chunk = await this.next();
      if (!chunk) throw new Error(`peer closed the stream after ${have} of ${n} bytes`);
      const take = Math.min(chunk.length, n - have);
      parts.push(chunk.subarray(0, take));
      if (take < chunk.length) this.#pending.unshift(chunk.subarray(take));
      have += take;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }
}
