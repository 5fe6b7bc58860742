import { plaintextCapacity, prepareEncryption, type CipherParams, type CipherSpec } from './cipher.ts';
import { SEGMENT_SIZE } from './constants.ts';
import { fidFromSegmentHashes } from './merkle.ts';
import type { SegmentProcessor } from './processor.ts';
import type { SegmentBufferCache } from './segment-buffers.ts';
import type { SegmentDigest, SegmentResult } from './segment.ts';
import { readFull, type ByteSource } from './source.ts';

/** What the pipeline computes for a file: the CESS identity of every segment and fragment, and the FID. */
export interface FileDigest {
  fid: string;
  /** Plaintext bytes. */
  size: number;
  segments: SegmentDigest[];
}

export interface PipelineOptions {
  processor: SegmentProcessor;
  /** Plain by default. Pass CipherParams to reuse derived keys (e.g. a known salt). */
  cipher?: CipherSpec | CipherParams;
  /**
   * Receives each stored (ciphertext) segment in order, e.g. to stage it on disk. The bytes are only valid until
   * the returned promise settles; the buffer is reused afterwards.
   */
  onSegment?: (segment: SegmentResult) => Promise<void> | void;
  signal?: AbortSignal;
}

/** Thrown for a source with no bytes: CESS cannot store an empty file. */
export class EmptyFileError extends Error {
  override name = 'EmptyFileError';
  constructor() {
    super('cannot store an empty file: CESS files hold at least one byte');
  }
}

/**
 * Streams a source through the pipeline: cut into segments (the last zero-padded), encrypt if asked, SHA-256,
 * Reed-Solomon 4+8, SHA-256 of every fragment, and the FID. Memory stays bounded: at most
 * `processor.parallelism + 2` segment buffers exist, whatever the file size.
 */
export async function digestStream(source: ByteSource, options: PipelineOptions): Promise<FileDigest> {
  const { processor, onSegment } = options;
  const cipher: CipherParams = isParams(options.cipher) ? options.cipher : await prepareEncryption(options.cipher ?? { kind: 'none' });
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
  const pool = new BufferPool(processor.parallelism + 2, processor.buffers);
  const segments: SegmentDigest[] = [];
  let size = 0;
  let failure: unknown;
  // Results are consumed strictly in order so onSegment sees segments 0, 1, 2, ...
  let ordered: Promise<void> = Promise.resolve();
  const consume = (pending: Promise<SegmentResult>) => {
    pending.catch(() => {}); // observed through `ordered`; avoid an unhandled rejection after an earlier failure
    ordered = ordered.then(async () => {
      const result = await pending;
      try {
        if (!signal.aborted) {
          segments.push({ hash: result.hash, fragments: result.fragments });
          await onSegment?.(result);
        }
      } finally {
        pool.release(result.buffer);
      }
    });
    ordered.catch((err) => {
      failure ??= err;
      abort.abort(err);
    });
  };

  try {
    let index = 0;
    let current = await pool.acquire(signal);
    let filled = await readFull(source, current.subarray(0, plaintextCapacity(cipher.kind, 0)), signal);
    if (filled === 0) {
      pool.release(current);
      throw new EmptyFileError();
    }
    for (;;) {
      const capacity = plaintextCapacity(cipher.kind, index);
      let next: Uint8Array | undefined;
      let nextFilled = 0;
      if (filled === capacity) {
        // Read ahead one segment: only then do we know whether the current one is the last (GCM binds that in).
        next = await pool.acquire(signal);
        nextFilled = await readFull(source, next.subarray(0, plaintextCapacity(cipher.kind, index + 1)), signal);
      }
      const isLast = nextFilled === 0;
      current.fill(0, filled, SEGMENT_SIZE);
      size += filled;
      consume(processor.process({ index, isLast, cipher, buffer: current }, signal));
      if (isLast) {
        if (next) pool.release(next);
        break;
      }
      current = next!;
      filled = nextFilled;
      index++;
    }
    await ordered;
  } catch (err) {
    abort.abort(err);
    await ordered.catch(() => {});
    throw failure ?? err;
  } finally {
    pool.drain();
  }
  if (failure) throw failure;
  return { fid: fidFromSegmentHashes(segments.map((s) => s.hash)), size, segments };
}

function isParams(c: CipherSpec | CipherParams | undefined): c is CipherParams {
  return !!c && (c.kind === 'none' || 'header' in c || 'iv' in c);
}

/** At most `limit` buffers out for one stream; acquire waits while all are out. Buffers come from a shared cache. */
class BufferPool {
  readonly #free: Uint8Array[] = [];
  readonly #waiters: ((b: Uint8Array) => void)[] = [];
  readonly #limit: number;
  readonly #cache: SegmentBufferCache;
  #out = 0;
  constructor(limit: number, cache: SegmentBufferCache) {
    this.#limit = limit;
    this.#cache = cache;
  }

  async acquire(signal: AbortSignal): Promise<Uint8Array> {
    signal.throwIfAborted();
    const free = this.#free.pop();
    if (free) return free;
    if (this.#out < this.#limit) {
      this.#out++;
      return this.#cache.take();
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push((b) => {
        signal.removeEventListener('abort', onAbort);
        resolve(b);
      });
    });
  }

  release(buffer: Uint8Array): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(buffer);
    else this.#free.push(buffer);
  }

  /** Returns the idle buffers to the shared cache at the end of the stream. */
  drain(): void {
    for (const b of this.#free.splice(0)) this.#cache.give(b);
  }
}
