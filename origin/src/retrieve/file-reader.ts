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
import type { SegmentLease } from '../pipeline/segment-buffers.ts';
import type { Retriever } from './retriever.ts';
import { open, type FileHandle } from 'node:fs/promises';

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
 *
 * Chunks are lent, not given: a chunk's bytes are valid until the generator is asked for the next one (segment
 * buffers are reused, since fresh 32 MiB buffers cost more in page faults than the transfer). A consumer that keeps
 * bytes longer copies them; `sendStream` writes each chunk to the socket before asking for the next.
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
    const ahead = new Map<number, Promise<SegmentLease>>();
    const depth = options.readAhead ?? DEFAULT_READ_AHEAD;
    let scratch: SegmentLease | undefined;
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
          // Cached: stream the range straight from disk, never holding the segment.
          scratch ??= retriever.buffer();
          try {
            yield* readPieces(handle, from, to, scratch.bytes, signal);
          } finally {
            await handle.close();
          }
          continue;
        }
        if (!ahead.has(index)) fetchSegment(index);
        for (let next = index + 1; next <= Math.min(last, index + depth); next++) {
          if (!ahead.has(next) && !retriever.isCached(fid, next)) fetchSegment(next);
        }
        const current = ahead.get(index)!;
        ahead.delete(index);
        const lease = await current;
        try {
          yield lease.bytes.subarray(from, to + 1);
        } finally {
          lease.release();
        }
      }
    } finally {
      // Segments fetched ahead and never sent go back to the buffer cache once they arrive.
      for (const p of ahead.values()) p.then((lease) => lease.release(), () => {});
      ahead.clear();
      scratch?.release();
    }
    return;
  }
  const first = await retriever.segment(fid, 0, signal);
  let params: CipherParams;
  try {
    params = await prepareDecryption(options.cipher, first.bytes.subarray(0, 64));
  } finally {
    first.release();
  }
  const count = segmentCount(kind, size);
  const plain = retriever.buffer();
  try {
    for (let index = segmentOf(kind, start); index < count; index++) {
      const base = segmentPlaintextOffset(kind, index);
      if (base > end) break;
      const segment = await retriever.segment(fid, index, signal);
      let n: number;
      try {
        n = decryptSegment(params, segment.bytes, index, index === count - 1, plain.bytes);
      } finally {
        segment.release();
      }
      if (n !== plaintextCapacity(kind, index)) throw new Error('decrypted segment has an unexpected size');
      yield plain.bytes.subarray(Math.max(start - base, 0), Math.min(end - base, n - 1) + 1);
    }
  } finally {
    plain.release();
  }
}

/** Bytes read from a cached segment file at a time: big enough for few system calls, small enough to overlap. */
const PIECE = 2 * 1024 * 1024;

/**
 * Bytes [from, to] of an open file in pieces read into two halves of `scratch` in turn: the next piece is read
 * (in libuv's thread pool) while the current one is being sent. Pieces are lent, like `readFile`'s chunks.
 */
async function* readPieces(handle: FileHandle, from: number, to: number, scratch: Uint8Array, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const halves = [scratch.subarray(0, PIECE), scratch.subarray(PIECE, 2 * PIECE)];
  const read = async (into: Uint8Array, position: number): Promise<Uint8Array> => {
    const want = Math.min(into.length, to + 1 - position);
    let at = 0;
    while (at < want) {
      const { bytesRead } = await handle.read(into, at, want - at, position + at);
      if (bytesRead === 0) throw new Error('cached segment file is shorter than a segment');
      at += bytesRead;
    }
    return into.subarray(0, want);
  };
  let position = from;
  let turn = 0;
  let next: Promise<Uint8Array> | undefined = read(halves[0], position);
  try {
    while (next) {
      const piece = await next;
      position += piece.length;
      turn ^= 1;
      next = position <= to ? read(halves[turn], position) : undefined;
      next?.catch(() => {}); // observed when awaited
      signal?.throwIfAborted();
      yield piece;
    }
  } finally {
    // A read still in flight writes into `scratch`: it must land before the buffer can go back.
    await next?.catch(() => {});
  }
}

function segmentOf(kind: CipherSpec['kind'], offset: number): number {
  const first = plaintextCapacity(kind, 0);
  return offset < first ? 0 : 1 + Math.floor((offset - first) / plaintextCapacity(kind, 1));
}
