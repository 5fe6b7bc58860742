import { createHash } from 'node:crypto';
import type { ErasureWorkspace, ReedSolomon } from '../../../wasm/src/erasure.ts';
import { encryptSegment, plaintextCapacity, type CipherParams } from './cipher.ts';
import { DATA_SHARDS, FRAGMENT_SIZE, PARITY_SHARDS, SEGMENT_SIZE } from './constants.ts';

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

/** A stored segment whose fragments are regenerated for dispatch; both buffers pass to the processor and back. */
export interface EncodeJob {
  /** SEGMENT_SIZE bytes: the stored segment (its first 4 fragments, one after another). */
  segment: Uint8Array;
  /** 8 × FRAGMENT_SIZE bytes, overwritten with the parity fragments, one after another. */
  parity: Uint8Array;
}

export interface EncodeResult extends EncodeJob {
  /** SHA-256 of the 12 fragments, to check against the digest recorded when the segment was staged. */
  fragments: string[];
}

/**
 * A segment read back from 4 of its fragments, some of them parity: the fragments at hand are in place (data
 * fragments in their quarter of `segment`, parity fragment p at p × FRAGMENT_SIZE of `parity`), `present` says which
 * of the 12 those are. Both buffers pass to the processor and back.
 */
export interface RebuildJob {
  segment: Uint8Array;
  parity: Uint8Array;
  present: boolean[];
}

export interface RebuildResult extends RebuildJob {
  /** SHA-256 of the rebuilt segment, to check against the chain's record. */
  hash: string;
}

export interface SegmentResult extends SegmentDigest {
  index: number;
  /** The job's buffer, handed back: now the stored segment exactly as its fragments were cut from it. */
  buffer: Uint8Array;
}

/** Bytes of each fragment coded per step: parity is produced and hashed a block at a time. */
const BLOCK = 1024 * 1024;

/**
 * Encrypts (if asked), hashes and erasure-codes segments inside one thread. Parity never exists whole: the codec
 * works on 1 MiB column blocks (a 12 MiB workspace in WASM memory), each block's parity is fed to 8 running
 * SHA-256s, and data fragments are hashed straight from the segment. The segment buffer is the job's own (or, for
 * encrypted segments, one reused ciphertext buffer), so a segment costs no allocation.
 */
export class SegmentCoder {
  readonly #workspace: ErasureWorkspace;
  /** Ciphertext of the segment being processed (encryption cannot run in place: GCM's header shifts segment 0). */
  #sealed?: Uint8Array;

  constructor(codec: ReedSolomon) {
    if (codec.dataShards !== DATA_SHARDS || codec.parityShards !== PARITY_SHARDS) {
      throw new RangeError(`the CESS format needs a ${DATA_SHARDS}+${PARITY_SHARDS} codec`);
    }
    this.#workspace = codec.workspace(BLOCK);
  }

  process(job: SegmentJob): SegmentResult {
    const { index, isLast, cipher, buffer } = job;
    if (buffer.length !== SEGMENT_SIZE) throw new RangeError('segment buffer must be SEGMENT_SIZE bytes');
    let segment = buffer;
    if (cipher.kind !== 'none') {
      this.#sealed ??= new Uint8Array(SEGMENT_SIZE);
      encryptSegment(cipher, buffer.subarray(0, plaintextCapacity(cipher.kind, index)), index, isLast, this.#sealed);
      segment = this.#sealed;
    }
    const hash = sha256Hex(segment);
    const fragments = this.#code(segment);
    if (segment !== buffer) buffer.set(segment);
    return { index, hash, fragments, buffer };
  }

  /** Regenerates a stored segment's parity fragments (for dispatch) and hashes all 12. */
  encode(job: EncodeJob): EncodeResult {
    if (job.segment.length !== SEGMENT_SIZE) throw new RangeError('segment buffer must be SEGMENT_SIZE bytes');
    if (job.parity.length !== PARITY_SHARDS * FRAGMENT_SIZE) throw new RangeError('parity buffer must hold 8 fragments');
    return { ...job, fragments: this.#code(job.segment, job.parity) };
  }

  /** Rebuilds the data fragments a RebuildJob lacks, into its segment, a column block at a time; then hashes it. */
  rebuild(job: RebuildJob): RebuildResult {
    const { segment, parity, present } = job;
    if (segment.length !== SEGMENT_SIZE) throw new RangeError('segment buffer must be SEGMENT_SIZE bytes');
    if (parity.length !== PARITY_SHARDS * FRAGMENT_SIZE) throw new RangeError('parity buffer must hold 8 fragments');
    if (present.length !== DATA_SHARDS + PARITY_SHARDS) throw new RangeError('present must name all 12 fragments');
    const column = (c: number, at: number) =>
      c < DATA_SHARDS ? segment.subarray(c * FRAGMENT_SIZE + at, c * FRAGMENT_SIZE + at + BLOCK) : parity.subarray((c - DATA_SHARDS) * FRAGMENT_SIZE + at, (c - DATA_SHARDS) * FRAGMENT_SIZE + at + BLOCK);
    for (let at = 0; at < FRAGMENT_SIZE; at += BLOCK) {
      for (let c = 0; c < present.length; c++) if (present[c]) this.#workspace.shard(c).set(column(c, at));
      this.#workspace.reconstruct(present, { dataOnly: true });
      for (let c = 0; c < DATA_SHARDS; c++) if (!present[c]) column(c, at).set(this.#workspace.shard(c));
    }
    return { ...job, hash: sha256Hex(segment) };
  }

  /** The 12 fragment hashes of `segment`; with `parityOut`, its parity fragments are kept there too. */
  #code(segment: Uint8Array, parityOut?: Uint8Array): string[] {
    const fragments: string[] = [];
    for (let i = 0; i < DATA_SHARDS; i++) fragments.push(sha256Hex(segment.subarray(i * FRAGMENT_SIZE, (i + 1) * FRAGMENT_SIZE)));
    const parity = Array.from({ length: PARITY_SHARDS }, () => createHash('sha256'));
    for (let at = 0; at < FRAGMENT_SIZE; at += BLOCK) {
      for (let i = 0; i < DATA_SHARDS; i++) this.#workspace.shard(i).set(segment.subarray(i * FRAGMENT_SIZE + at, i * FRAGMENT_SIZE + at + BLOCK));
      this.#workspace.encode();
      for (let p = 0; p < PARITY_SHARDS; p++) {
        const block = this.#workspace.shard(DATA_SHARDS + p);
        parity[p].update(block);
        parityOut?.set(block, p * FRAGMENT_SIZE + at);
      }
    }
    for (const h of parity) fragments.push(h.digest('hex'));
    return fragments;
  }

  close(): void {
    this.#workspace.free();
  }
}

/** The buffers a job carries to a worker thread and back (transferred, never copied). */
export function buffersOf(work: SegmentJob | EncodeJob | RebuildJob): ArrayBuffer[] {
  return ('parity' in work ? [work.segment.buffer, work.parity.buffer] : [work.buffer.buffer]) as ArrayBuffer[];
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
