import { createHash } from 'node:crypto';
import type { ErasureWorkspace, ReedSolomon } from '../../../wasm/src/erasure.ts';
import { encryptSegment, plaintextCapacity, type CipherParams } from './cipher.ts';
import { DATA_SHARDS, FRAGMENT_COUNT, FRAGMENT_SIZE, PARITY_SHARDS, SEGMENT_SIZE } from './constants.ts';

/** The identity of one stored segment: its SHA-256 and those of its 12 fragments (lowercase hex). */
export interface SegmentDigest {
  hash: string;
  fragments: string[];
}

/** One unit of pipeline work: a segment's plaintext, zero-padded to its capacity, at the start of `buffer`. */
export interface SegmentJob {
  index: number;
  isLast: boolean;
  cipher: CipherParams;
  /** SEGMENT_SIZE bytes; on return holds the stored (ciphertext) segment. Ownership passes to the processor. */
  buffer: Uint8Array;
}

export interface SegmentResult extends SegmentDigest {
  index: number;
  /** The job's buffer, handed back: now the stored segment exactly as its fragments were cut from it. */
  buffer: Uint8Array;
}

/**
 * Encrypts (if asked), hashes and erasure-codes segments inside one thread. It owns one codec workspace in WASM
 * memory, so a segment costs no allocation: plaintext is encrypted or copied straight into the workspace, parity
 * is computed in place, and every digest is taken from views of WASM memory.
 */
export class SegmentCoder {
  readonly #workspace: ErasureWorkspace;

  constructor(codec: ReedSolomon) {
    if (codec.dataShards !== DATA_SHARDS || codec.parityShards !== PARITY_SHARDS) {
      throw new RangeError(`the CESS format needs a ${DATA_SHARDS}+${PARITY_SHARDS} codec`);
    }
    this.#workspace = codec.workspace(FRAGMENT_SIZE);
  }

  process(job: SegmentJob): SegmentResult {
    const { index, isLast, cipher, buffer } = job;
    if (buffer.length !== SEGMENT_SIZE) throw new RangeError('segment buffer must be SEGMENT_SIZE bytes');
    const segment = this.#workspace.data();
    const plain = buffer.subarray(0, plaintextCapacity(cipher.kind, index));
    if (cipher.kind === 'none') segment.set(plain);
    else encryptSegment(cipher, plain, index, isLast, segment);
    const hash = sha256Hex(segment);
    this.#workspace.encode();
    const fragments: string[] = [];
    for (let i = 0; i < FRAGMENT_COUNT; i++) fragments.push(sha256Hex(this.#workspace.shard(i)));
    if (cipher.kind !== 'none') buffer.set(segment);
    return { index, hash, fragments, buffer };
  }

  /** Reads fragment `i` of the last processed segment (a view into WASM memory, valid until the next call). */
  fragment(i: number): Uint8Array {
    return this.#workspace.shard(i);
  }

  close(): void {
    this.#workspace.free();
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
