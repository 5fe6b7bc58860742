import { describe, expect, it } from 'vitest';
import { TtlMap } from './ttl-map.ts';

describe('TtlMap', () => {
  it('keeps a value for its time to live, forgets it when deleted, and holds at most its entry limit', () => {
    let now = 0;
    const map = new TtlMap<string>({ maxEntries: 2, now: () => now });
    map.set('a', 'x', 1000);
    expect(map.get('a')).toBe('x');
    now = 999;
    expect(map.get('a')).toBe('x');
    now = 1000;
    expect(map.get('a')).toBeUndefined();
    map.set('a', 'x', 1000);
    map.delete('a');
    expect(map.get('a')).toBeUndefined();
    map.set('a', '1', 1000);
    map.set('b', '2', 1000);
    map.set('c', '3', 1000);
    expect([map.get('a'), map.get('b'), map.get('c')]).toEqual([undefined, '2', '3']);
  });
});
