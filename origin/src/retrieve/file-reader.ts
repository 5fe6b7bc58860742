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

export interface ReadOptions {
  fid: string;
  /** The file's size as declared on chain (plaintext bytes). */
  size: number;
  /** Decrypt with this; without it the stored bytes are returned as they are (ciphertext for encrypted files). */
  cipher?: CipherSpec;
  /** Inclusive byte range of the (plaintext) file. @default the whole file */
  range?: { start: number; end: number };
  signal?: AbortSignal;
}

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
    for (let index = Math.floor(start / SEGMENT_SIZE); index * SEGMENT_SIZE <= end; index++) {
      const segment = await retriever.segment(fid, index, signal);
      const base = index * SEGMENT_SIZE;
      yield segment.subarray(Math.max(start - base, 0), Math.min(end - base, SEGMENT_SIZE - 1) + 1);
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
