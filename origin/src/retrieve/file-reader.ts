import {
  decryptSegment,
  plaintextCapacity,
  prepareDecryption,
  segmentCount,
  segmentPlaintextOffset,
  type CipherParams,
  type CipherSpec,
} from '../pipeline/cipher.ts';
import { SEGMENT_SIZE } from '../pipeline/constants.ts';
import type { Retriever } from './retriever.ts';
import { open } from 'node:fs/promises';

export interface ReadOptions {
  fid: string;
  /** The file's size as declared on chain (plaintext bytes). */
  size: number;
  /** Decrypt with this; without it the stored bytes are returned as they are (ciphertext for encrypted files). */
  cipher?: CipherSpec;
  /** Inclusive byte range of the (plaintext) file. @default the whole file */
  range?: { start: number; end: number };
  signal?: AbortSignal;
  /** Segments fetched ahead of the one being sent (storage-node reads). @default DEFAULT_READ_AHEAD */
  readAhead?: number;
}

/** Segments a download fetches ahead: enough to hide a storage-node round trip, 32 MiB of memory each. */
export const DEFAULT_READ_AHEAD = 2;

/**
 * Streams a stored file, or a byte range of it, fetching only the segments the range touches. Encrypted segments
 * are decrypted whole (GCM authenticates per segment) and then sliced.
 */
export async function* readFile(retriever: Retriever, options: ReadOptions): AsyncGenerator<Uint8Array> {
  const { fid, size, signal } = options;
  const start = options.range?.start ?? 0;
  const end = options.range?.end ?? size - 1;
  if (start > end) return;
  const kind = options.cipher?.kind ?? 'none';
  if (kind === 'none' || !options.cipher) {
    const last = Math.floor(end / SEGMENT_SIZE);
    // Read-ahead: up to `readAhead` segments past the one being sent are fetched meanwhile, so storage-node
    // latency overlaps with sending. Each costs a segment of memory while in flight.
    const ahead = new Map<number, Promise<Uint8Array>>();
    const depth = options.readAhead ?? DEFAULT_READ_AHEAD;
    const fetchSegment = (index: number) => {
      const p = retriever.segment(fid, index, signal);
      p.catch(() => {}); // observed when awaited
      ahead.set(index, p);
    };
    try {
      for (let index = Math.floor(start / SEGMENT_SIZE); index <= last; index++) {
        const base = index * SEGMENT_SIZE;
        const from = Math.max(start - base, 0);
        const to = Math.min(end - base, SEGMENT_SIZE - 1);
        const path = ahead.has(index) ? undefined : retriever.cachedPath(fid, index);
        const handle = path ? await open(path, 'r').catch(() => retriever.forgetCached(fid, index)) : undefined;
        if (handle) {
          // Cached: stream the range straight from disk in 1 MiB reads, never holding the segment.
          yield* handle.createReadStream({ start: from, end: to, highWaterMark: 1024 * 1024, signal }) as AsyncIterable<Uint8Array>;
          continue;
        }
        if (!ahead.has(index)) fetchSegment(index);
        for (let next = index + 1; next <= Math.min(last, index + depth); next++) {
          if (!ahead.has(next) && !retriever.isCached(fid, next)) fetchSegment(next);
        }
        const current = ahead.get(index)!;
        ahead.delete(index);
        yield (await current).subarray(from, to + 1);
      }
    } finally {
      ahead.clear();
    }
    return;
  }
  const params: CipherParams = await prepareDecryption(options.cipher, (await retriever.segment(fid, 0, signal)).subarray(0, 64));
  const count = segmentCount(kind, size);
  const plain = new Uint8Array(SEGMENT_SIZE);
  for (let index = segmentOf(kind, start); index < count; index++) {
    const base = segmentPlaintextOffset(kind, index);
    if (base > end) break;
    const segment = await retriever.segment(fid, index, signal);
    const n = decryptSegment(params, segment, index, index === count - 1, plain);
    if (n !== plaintextCapacity(kind, index)) throw new Error('decrypted segment has an unexpected size');
    yield plain.slice(Math.max(start - base, 0), Math.min(end - base, n - 1) + 1);
  }
}

function segmentOf(kind: CipherSpec['kind'], offset: number): number {
  const first = plaintextCapacity(kind, 0);
  return offset < first ? 0 : 1 + Math.floor((offset - first) / plaintextCapacity(kind, 1));
}
