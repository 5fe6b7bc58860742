import { describe, expect, it } from 'vitest';
import { compareKeys } from './keyspace.ts';
import { positionAfterMarker, scan, type OrderedSource } from './listing.ts';

/** An in-memory ordered source that counts the rows it hands out, to show that common prefixes are skipped by seeking. */
function arraySource(keys: string[]): OrderedSource<string> & { rowsRead: number; fetches: number } {
  const sorted = [...keys].sort(compareKeys);
  const src = {
    rowsRead: 0,
    fetches: 0,
    *fetch(from: { key: string; inclusive: boolean }, below: string | undefined, limit: number) {
      src.fetches++;
      let n = 0;
      for (const k of sorted) {
        const c = compareKeys(k, from.key);
        if (c < 0 || (c === 0 && !from.inclusive)) continue;
        if (below !== undefined && compareKeys(k, below) >= 0) break;
        src.rowsRead++;
        yield k;
        if (++n === limit) break;
      }
    },
    keyOf: (k: string) => k,
    after: (k: string) => ({ key: k, inclusive: false }),
  };
  return src;
}

describe('scan', () => {
  it('skips a large common prefix with one seek instead of reading its keys', () => {
    const keys = ['a.txt', ...Array.from({ length: 20_000 }, (_, i) => `logs/${String(i).padStart(6, '0')}`), 'photos/1.jpg', 'photos/2.jpg', 'z.txt'];
    const src = arraySource(keys);
    const { entries, truncated } = scan(src, { prefix: '', delimiter: '/', max: 1000 });
    expect(entries.map((e) => ('row' in e ? e.row : e.commonPrefix))).toEqual(['a.txt', 'logs/', 'photos/', 'z.txt']);
    expect(truncated).toBe(false);
    // A handful of rows, not 20,000: each common prefix costs one row plus one seek.
    expect(src.rowsRead).toBeLessThan(10);
  });

  it('counts common prefixes toward max and reports truncation only when something follows', () => {
    const keys = ['a/1', 'a/2', 'b/1', 'c', 'd/1'];
    const page = (max: number) => scan(arraySource(keys), { prefix: '', delimiter: '/', max });
    expect(page(2).entries.map((e) => ('row' in e ? e.row : e.commonPrefix))).toEqual(['a/', 'b/']);
    expect(page(2).truncated).toBe(true);
    expect(page(4).truncated).toBe(false);
    expect(page(3).truncated).toBe(true);
    expect(page(0)).toEqual({ entries: [], truncated: false });
  });

  it('treats a marker equal to a common prefix as already returned', () => {
    const keys = ['a/1', 'a/2', 'b'];
    const start = positionAfterMarker('a/', '', '/');
    expect(start).toEqual({ key: 'a0', inclusive: true });
    const r = scan(arraySource(keys), { prefix: '', delimiter: '/', max: 10, start: start as { key: string; inclusive: boolean } });
    expect(r.entries).toEqual([{ row: 'b' }]);
    // A marker inside a group (not the group itself) resumes after that key: the group shows again.
    const inside = positionAfterMarker('a/1', '', '/');
    expect(inside).toEqual({ key: 'a/1', inclusive: false });
    expect(scan(arraySource(keys), { prefix: '', delimiter: '/', max: 10, start: inside as { key: string; inclusive: boolean } }).entries).toEqual([
      { commonPrefix: 'a/' },
      { row: 'b' },
    ]);
  });
});
