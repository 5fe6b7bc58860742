import { describe, expect, it } from 'vitest';
import { SegmentMemory } from './segment-memory.ts';

const bytes = (n: number, fill = 1) => new Blob([new Uint8Array(n).fill(fill)]);
const first = async (b: Blob | undefined) => (b ? new Uint8Array(await b.arrayBuffer())[0] : undefined);

describe('SegmentMemory', () => {
  it('holds segments up to its entry limit and evicts the least recently used to stay within capacity', async () => {
    const m = new SegmentMemory({ capacityBytes: 300, entryMaxBytes: 150 });
    m.set('a', bytes(100, 1));
    m.set('b', bytes(100, 2));
    m.set('too-big', bytes(151));
    m.set('empty', bytes(0));
    expect(m.get('too-big')).toBeUndefined();
    expect(m.get('empty')).toBeUndefined();
    expect(await first(m.get('a'))).toBe(1); // a is now the most recently used
    m.set('c', bytes(100, 3));
    expect(m.bytes).toBe(300);
    m.set('d', bytes(100, 4)); // evicts b, the least recently used
    expect(m.get('b')).toBeUndefined();
    expect([await first(m.get('a')), await first(m.get('c')), await first(m.get('d'))]).toEqual([1, 3, 4]);
    expect(m.bytes).toBe(300);
  });

  it('replaces an entry without counting it twice, and forgets deleted ones', () => {
    const m = new SegmentMemory({ capacityBytes: 1000, entryMaxBytes: 1000 });
    m.set('a', bytes(400));
    m.set('a', bytes(500));
    expect(m.bytes).toBe(500);
    m.delete('a');
    m.delete('missing');
    expect(m.bytes).toBe(0);
    expect(m.get('a')).toBeUndefined();
  });

  it('never holds an entry larger than its whole capacity', () => {
    const m = new SegmentMemory({ capacityBytes: 100, entryMaxBytes: 1000 });
    expect(m.entryMaxBytes).toBe(100);
    expect(m.holds(101)).toBe(false);
  });
});
