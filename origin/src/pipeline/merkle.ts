import { createHash } from 'node:crypto';

/**
 * The FID of a file: the Merkle root over the raw 32-byte SHA-256 digests of its segments.
 * Pairs are hashed as SHA-256(left ‖ right); an odd last node is paired with itself, so a
 * single segment gives SHA-256(seg ‖ seg). Returns lowercase hex.
 *
 * @example fidFromSegmentHashes(['edaadc8d…']) // 'c1f6e523…' for the file `hello`
 */
export function fidFromSegmentHashes(segmentHashes: readonly string[]): string {
  if (segmentHashes.length === 0) throw new RangeError('a FID needs at least one segment hash');
  let level = segmentHashes.map(hexToDigest);
  do {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i];
      const right = level[i + 1] ?? left;
      next.push(createHash('sha256').update(left).update(right).digest());
    }
    level = next;
  } while (level.length > 1);
  return level[0].toString('hex');
}

function hexToDigest(hex: string): Buffer {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new TypeError(`not a lowercase hex SHA-256 digest: ${JSON.stringify(hex)}`);
  return Buffer.from(hex, 'hex');
}
