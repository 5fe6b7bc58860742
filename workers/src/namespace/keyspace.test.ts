import { describe, expect, it } from 'vitest';
import { commonPrefixOf, compareKeys, decodeContinuationToken, encodeContinuationToken, prefixSuccessor } from './keyspace.ts';
import { unwrapNamespaceError } from './errors.ts';

/** UTF-8 byte order, computed independently of compareKeys. */
const utf8Order = (a: string, b: string) => {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
};

describe('key order', () => {
  it('compares by code point (UTF-8 bytes), not UTF-16 units', () => {
    // U+FF5A sorts before U+1F600 in UTF-8 but after it in UTF-16.
    expect('\u{FF5A}' < '\u{1F600}').toBe(false);
    expect(compareKeys('\u{FF5A}', '\u{1F600}')).toBeLessThan(0);
    const words = ['a', 'a/', 'a/b', 'ab', '\u{FF5A}', '\u{1F600}', 'é', 'a\u{1F600}', 'a\u{FF5A}', ''];
    expect([...words].sort(compareKeys)).toEqual([...words].sort(utf8Order));
  });

  it('prefixSuccessor bounds exactly the strings with the prefix', () => {
    expect(prefixSuccessor('a/')).toBe('a0');
    expect(prefixSuccessor('')).toBeUndefined();
    expect(prefixSuccessor('a\u{10FFFF}')).toBe('b');
    expect(prefixSuccessor('\u{10FFFF}')).toBeUndefined();
    expect(prefixSuccessor('x\u{D7FF}')).toBe('x\u{E000}');
    for (const p of ['a/', 'photos/2024/', 'é', '\u{1F600}', 'z\u{FFFF}']) {
      const s = prefixSuccessor(p)!;
      for (const tail of ['', 'a', '\u{10FFFF}\u{10FFFF}', '\u{FFFF}']) expect(compareKeys(p + tail, s)).toBeLessThan(0);
      expect(compareKeys(p, s)).toBeLessThan(0);
    }
  });

  it('finds the common prefix after the listing prefix, for multi-character delimiters too', () => {
    expect(commonPrefixOf('a/b/c', '', '/')).toBe('a/');
    expect(commonPrefixOf('a/b/c', 'a/', '/')).toBe('a/b/');
    expect(commonPrefixOf('a/b', 'a/', '/')).toBeUndefined();
    expect(commonPrefixOf('x--y--z', 'x', '--')).toBe('x--');
    expect(commonPrefixOf('a/b', '', undefined)).toBeUndefined();
  });

  it('continuation tokens round-trip any key and refuse garbage', () => {
    for (const k of ['a', 'a/b/', '\u{1F600}/é', 'x'.repeat(1024)]) expect(decodeContinuationToken(encodeContinuationToken(k))).toBe(k);
    for (const bad of ['', 'not a token!', btoa('no version'), 'AAAA']) {
      let err: unknown;
      try {
        decodeContinuationToken(bad);
      } catch (e) {
        err = e;
      }
      expect(unwrapNamespaceError(err)?.code).toBe('InvalidArgument');
    }
  });
});
