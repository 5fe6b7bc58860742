import { describe, expect, it } from 'vitest';
import { HolderIndex } from './holder-index.ts';

const fid = 'f'.repeat(64);
const seg = (index: number) => ({ fid, index });

describe('HolderIndex', () => {
  it('returns unexpired holders, most recently announced first', () => {
    const index = new HolderIndex({ maxEntries: 100, maxHoldersPerSegment: 8 });
    index.add('A', seg(0), 1000);
    index.add('B', seg(0), 2000);
    index.add('C', seg(1), 2000);
    expect(index.holders(seg(0), 500)).toEqual(['B', 'A']);
    expect(index.holders(seg(0), 1500)).toEqual(['B']);
    expect(index.size).toBe(2); // A's expired entry was dropped on sight
    expect(index.holders(seg(2), 0)).toEqual([]);
    // Re-announcing refreshes both expiry and recency.
    index.add('A', seg(1), 3000);
    expect(index.holders(seg(1), 0)).toEqual(['A', 'C']);
  });

  it('stays within its bounds, dropping the oldest announcements', () => {
    const index = new HolderIndex({ maxEntries: 3, maxHoldersPerSegment: 2 });
    index.add('A', seg(0), Infinity);
    index.add('B', seg(0), Infinity);
    index.add('C', seg(0), Infinity);
    expect(index.holders(seg(0))).toEqual(['C', 'B']);
    index.add('A', seg(1), Infinity);
    index.add('A', seg(2), Infinity);
    expect(index.size).toBe(3);
    expect(index.holders(seg(0))).toEqual(['C']);
    expect(index.holders(seg(2))).toEqual(['A']);
  });

  it('forgets one entry or a whole peer', () => {
    const index = new HolderIndex({ maxEntries: 10, maxHoldersPerSegment: 4 });
    index.add('A', seg(0), Infinity);
    index.add('A', seg(1), Infinity);
    index.add('B', seg(1), Infinity);
    index.remove('B', seg(1));
    expect(index.holders(seg(1))).toEqual(['A']);
    index.removePeer('A');
    expect(index.size).toBe(0);
    expect(index.holders(seg(0))).toEqual([]);
  });

  it('refuses nonsense bounds', () => {
    expect(() => new HolderIndex({ maxEntries: 0, maxHoldersPerSegment: 1 })).toThrow(/positive/);
  });
});
