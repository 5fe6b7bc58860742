import { createHash } from 'node:crypto';
import { ReedSolomonErasure } from '@digitaldefiance/reed-solomon-erasure.wasm';
import { loadOracle } from '../../wasm/src/test-support.ts';

/**
 * Test oracle: an independent klauspost/Backblaze-compatible Reed-Solomon (Rust, compiled to WASM by others) and a
 * straightforward re-statement of the CESS hashing rules. Used only to check our pipeline and codec.
 */
const SEGMENT = 32 * 1024 * 1024;
const FRAGMENT = SEGMENT / 4;


export const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Segment and fragment hashes of one stored 32 MiB segment, parity from the oracle. */
export async function oracleSegmentDigest(segment: Uint8Array): Promise<{ hash: string; fragments: string[] }> {
  if (segment.length !== SEGMENT) throw new Error('oracle expects a whole segment');
  const rs = loadOracle();
  const shards = new Uint8Array(FRAGMENT * 12);
  shards.set(segment);
  const result = rs.encode(shards, 4, 8);
  if (result !== ReedSolomonErasure.RESULT_OK) throw new Error(`oracle encode failed: ${result}`);
  const fragments = Array.from({ length: 12 }, (_, i) => sha256Hex(shards.subarray(i * FRAGMENT, (i + 1) * FRAGMENT)));
  return { hash: sha256Hex(segment), fragments };
}

/** Merkle root as the CESS SDK builds it, restated independently of origin/src/pipeline/merkle.ts. */
export function oracleFid(segmentHashes: string[]): string {
  let level: Buffer[] = segmentHashes.map((h) => Buffer.from(h, 'hex'));
  if (level.length === 1) level = [level[0], level[0]];
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(createHash('sha256').update(level[i]).update(level[i + 1] ?? level[i]).digest());
    }
    level = next;
  }
  return level[0].toString('hex');
}

/** The full expected digest of an unencrypted file held in memory. */
export async function oracleFileDigest(file: Uint8Array) {
  const segments = [];
  for (let at = 0; at < file.length; at += SEGMENT) {
    const segment = new Uint8Array(SEGMENT);
    segment.set(file.subarray(at, at + SEGMENT));
    segments.push(await oracleSegmentDigest(segment));
  }
  return { fid: oracleFid(segments.map((s) => s.hash)), size: file.length, segments };
}
