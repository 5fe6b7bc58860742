import { describe, expect, it } from 'vitest';
import { parseByteRange } from '../http/range.ts';
import { piecesOf } from './object-reader.ts';
import { evaluateConditions } from './serve-object.ts';

describe('byte ranges', () => {
  it('parses the forms S3 and DeOSS send', () => {
    expect(parseByteRange('bytes=0-99', 1000)).toEqual({ start: 0, end: 99 });
    expect(parseByteRange('bytes=900-', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseByteRange('bytes=-10', 1000)).toEqual({ start: 990, end: 999 });
    expect(parseByteRange('bytes=-5000', 1000)).toEqual({ start: 0, end: 999 });
    expect(parseByteRange('bytes=10-5000', 1000)).toEqual({ start: 10, end: 999 });
    expect(parseByteRange('bytes 5-6', 1000)).toEqual({ start: 5, end: 6 });
    expect(parseByteRange('bytes=1000-', 1000)).toBe('unsatisfiable');
    expect(parseByteRange('bytes=-0', 1000)).toBe('unsatisfiable');
    expect(parseByteRange('bytes=0-1,5-6', 1000)).toBe('invalid');
    expect(parseByteRange('items=0-1', 1000)).toBe('invalid');
    expect(parseByteRange(undefined, 1000)).toBeUndefined();
  });

  it('maps an object range onto the files the object is made of', () => {
    const files = [
      { fid: 'a', size: 10 },
      { fid: 'b', size: 5 },
      { fid: 'c', size: 20 },
    ];
    expect(piecesOf(files, 8, 16)).toEqual([
      { fid: 'a', size: 10, start: 8, end: 9 },
      { fid: 'b', size: 5, start: 0, end: 4 },
      { fid: 'c', size: 20, start: 0, end: 1 },
    ]);
    expect(piecesOf(files, 12, 12)).toEqual([{ fid: 'b', size: 5, start: 2, end: 2 }]);
  });
});

describe('conditional requests (RFC 7232 order)', () => {
  const etag = '"abc"';
  const modified = Date.parse('2026-01-02T03:04:05Z');
  const check = (h: Record<string, string>) => evaluateConditions(new Headers(h), etag, modified);
  it('answers 412 and 304 as S3 does', () => {
    expect(check({})).toBeUndefined();
    expect(check({ 'If-Match': '"abc"' })).toBeUndefined();
    expect(check({ 'If-Match': '"zzz"' })).toBe(412);
    expect(check({ 'If-None-Match': '"abc"' })).toBe(304);
    expect(check({ 'If-None-Match': '"zzz"' })).toBeUndefined();
    expect(check({ 'If-Modified-Since': 'Fri, 02 Jan 2026 03:04:05 GMT' })).toBe(304);
    expect(check({ 'If-Modified-Since': 'Thu, 01 Jan 2026 00:00:00 GMT' })).toBeUndefined();
    expect(check({ 'If-Unmodified-Since': 'Thu, 01 Jan 2026 00:00:00 GMT' })).toBe(412);
    // If-Match wins over If-Unmodified-Since; If-None-Match wins over If-Modified-Since.
    expect(check({ 'If-Match': '"abc"', 'If-Unmodified-Since': 'Thu, 01 Jan 2026 00:00:00 GMT' })).toBeUndefined();
    expect(check({ 'If-None-Match': '"zzz"', 'If-Modified-Since': 'Sat, 03 Jan 2026 00:00:00 GMT' })).toBeUndefined();
  });
});
