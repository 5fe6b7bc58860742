import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SegmentCache } from '../cache/segment-cache.ts';
import { CacheAnnouncer } from './announcing-cache.ts';
import { emptyPeerStats, noPeers, segmentKey, type SegmentKey, type SegmentPeers } from './segment-peers.ts';

/** A recording SegmentPeers (stands in for the network: this test is about the cache side only). */
function recordingPeers() {
  const held = new Set<string>();
  const log: string[] = [];
  const peers: SegmentPeers = {
    enabled: true,
    holders: () => [],
    fetch: async () => undefined,
    announce: (keys: SegmentKey[]) => keys.forEach((k) => (held.add(segmentKey(k)), log.push(`+${k.fid.slice(0, 1)}${k.index}`))),
    withdraw: (keys: SegmentKey[]) => keys.forEach((k) => (held.delete(segmentKey(k)), log.push(`-${k.fid.slice(0, 1)}${k.index}`))),
    stats: emptyPeerStats,
    close: async () => {},
  };
  return { peers, held, log };
}

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deoss-announce-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('CacheAnnouncer', () => {
  it('announces what enters the cache and withdraws what leaves it, evictions included', async () => {
    const inner = await SegmentCache.open({ dir, capacity: 3000 });
    const { peers, held, log } = recordingPeers();
    const { cache } = new CacheAnnouncer(inner, peers);
    await cache.put(A, 0, new Uint8Array(1000));
    await cache.put(A, 1, new Uint8Array(1000));
    await cache.put(B, 0, new Uint8Array(1000));
    expect([...held].sort()).toEqual([`${A}/0`, `${A}/1`, `${B}/0`]);
    // A fourth segment evicts the least recently used (A/0).
    await cache.put(B, 1, new Uint8Array(1000));
    expect(held.has(`${A}/0`)).toBe(false);
    expect(log).toEqual(['+a0', '+a1', '+b0', '+b1', '-a0']);
    await cache.delete(B);
    expect([...held]).toEqual([`${A}/1`]);
    cache.forget(A, 1);
    expect(held.size).toBe(0);
    // Reads and stats pass through to the real cache (its private state works through the proxy).
    expect(cache.stats().entries).toBe(0);
    expect(cache.has(A, 1)).toBe(false);
  });

  it('announces the segments a cache already holds at start', async () => {
    const first = await SegmentCache.open({ dir, capacity: 10_000 });
    await first.put(A, 0, new Uint8Array(10));
    await first.put(B, 3, new Uint8Array(10));
    const reopened = await SegmentCache.open({ dir, capacity: 10_000 });
    const { peers, held } = recordingPeers();
    expect(await new CacheAnnouncer(reopened, peers).announceExisting(dir)).toBe(2);
    expect([...held].sort()).toEqual([`${A}/0`, `${B}/3`]);
  });

  it('is the plain cache when peering is off', async () => {
    const inner = await SegmentCache.open({ dir, capacity: 100 });
    expect(new CacheAnnouncer(inner, noPeers).cache).toBe(inner);
  });
});
