import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SegmentCache } from './segment-cache.ts';

const FID_A = 'a'.repeat(64);
const FID_B = 'b'.repeat(64);
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deoss-cache-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const seg = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('SegmentCache', () => {
  it('returns what was put, counts hits and misses', async () => {
    const cache = await SegmentCache.open({ dir, capacity: 1000 });
    expect(await cache.get(FID_A, 0)).toBeUndefined();
    await cache.put(FID_A, 0, seg(100, 7));
    expect(Buffer.from((await cache.get(FID_A, 0))!).equals(Buffer.from(seg(100, 7)))).toBe(true);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, bytes: 100, entries: 1 });
  });

  it('evicts the least recently used segments beyond its capacity', async () => {
    const cache = await SegmentCache.open({ dir, capacity: 300 });
    await cache.put(FID_A, 0, seg(100, 1));
    await cache.put(FID_A, 1, seg(100, 2));
    await cache.put(FID_B, 0, seg(100, 3));
    await cache.get(FID_A, 0); // A/0 is now the most recent
    await cache.put(FID_B, 1, seg(100, 4)); // evicts A/1, the least recently used
    expect(cache.has(FID_A, 1)).toBe(false);
    expect(cache.has(FID_A, 0) && cache.has(FID_B, 0) && cache.has(FID_B, 1)).toBe(true);
    expect(cache.stats()).toMatchObject({ bytes: 300, evictions: 1 });
  });

  it('survives a restart with its contents and recency, and deletes by file', async () => {
    const first = await SegmentCache.open({ dir, capacity: 300 });
    await first.put(FID_A, 0, seg(100, 1));
    await new Promise((r) => setTimeout(r, 20));
    await first.put(FID_B, 0, seg(100, 2));
    await new Promise((r) => setTimeout(r, 20));
    await first.get(FID_A, 0);
    const second = await SegmentCache.open({ dir, capacity: 150 }); // smaller: must drop the least recent (B/0)
    expect(second.has(FID_A, 0)).toBe(true);
    expect(second.has(FID_B, 0)).toBe(false);
    await second.delete(FID_A);
    expect(second.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });
});
