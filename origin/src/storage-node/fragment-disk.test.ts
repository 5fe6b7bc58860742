import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FRAGMENT_SIZE, ZERO_FRAGMENT_HASH } from '../pipeline/constants.ts';
import { CapacityExceededError, FragmentDisk, FragmentMismatchError } from './fragment-disk.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const FID = 'a'.repeat(64);
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deoss-disk-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function* chunks(b: Uint8Array, size = 1 << 20) {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

describe('FragmentDisk', () => {
  it('writes verified fragments durably, counts capacity, and refuses beyond it', async () => {
    const disk = await FragmentDisk.open({ dir, capacity: FRAGMENT_SIZE });
    const a = randomBytes(FRAGMENT_SIZE);
    await disk.write(FID, sha(a), chunks(a));
    expect(disk.used).toBe(FRAGMENT_SIZE);
    const b = randomBytes(FRAGMENT_SIZE);
    await expect(disk.write(FID, sha(b), chunks(b))).rejects.toThrow(CapacityExceededError);
    expect(await disk.has(FID, ZERO_FRAGMENT_HASH)).toBe(false); // only once it was given one
    await disk.write(FID, ZERO_FRAGMENT_HASH, chunks(new Uint8Array(FRAGMENT_SIZE))); // a marker: costs no capacity
    expect(await disk.has(FID, ZERO_FRAGMENT_HASH)).toBe(true);
    const reopened = await FragmentDisk.open({ dir, capacity: FRAGMENT_SIZE });
    expect(reopened.used).toBe(FRAGMENT_SIZE);
  });

  it('refuses wrong sizes and wrong hashes, leaving nothing behind', async () => {
    const disk = await FragmentDisk.open({ dir, capacity: 4 * FRAGMENT_SIZE });
    const a = randomBytes(FRAGMENT_SIZE);
    await expect(disk.write(FID, sha(a), chunks(a.subarray(1)))).rejects.toThrow(FragmentMismatchError);
    await expect(disk.write(FID, sha(a), chunks(Buffer.concat([a, Buffer.from([1])])))).rejects.toThrow(FragmentMismatchError);
    const b = randomBytes(FRAGMENT_SIZE);
    await expect(disk.write(FID, sha(a), chunks(b))).rejects.toThrow(/hashes to/);
    expect(disk.used).toBe(0);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    expect(await disk.has(FID, sha(a))).toBe(false);
  });
});
