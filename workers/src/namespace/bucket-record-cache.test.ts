import { describe, expect, it } from 'vitest';
import { BucketRecordCache } from './bucket-record-cache.ts';
import type { BucketRecord } from './types.ts';

const record = (owner: string): BucketRecord => ({ name: 'b', owner, territory: 'default', acl: 'private', created: 0 });

describe('BucketRecordCache', () => {
  it('remembers a record for its time to live, forgets it when invalidated, and keeps at most its entry limit', () => {
    let now = 0;
    const cache = new BucketRecordCache({ ttlMs: 1000, maxEntries: 2, now: () => now });
    cache.set('a', record('x'));
    expect(cache.get('a')?.owner).toBe('x');
    now = 999;
    expect(cache.get('a')?.owner).toBe('x');
    now = 1000;
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', record('x'));
    cache.invalidate('a');
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', record('1'));
    cache.set('b', record('2'));
    cache.set('c', record('3'));
    expect([cache.get('a'), cache.get('b')?.owner, cache.get('c')?.owner]).toEqual([undefined, '2', '3']);
  });
});
