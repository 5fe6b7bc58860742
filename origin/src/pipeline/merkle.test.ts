import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fidFromSegmentHashes } from './merkle.ts';

const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const h = (n: number) => sha(Buffer.from([n]));

describe('fidFromSegmentHashes', () => {
  it('gives the FID of the file `hello` (DESIGN golden value)', () => {
    expect(fidFromSegmentHashes(['edaadc8d26c6d18a9d7b3fd557c81ebef5ab9f42a036d29b33763153b24723ea'])).toBe(
      'c1f6e523054d358591ebee84a9fd71329abcaa9e3e51e20bf19ae7b3f4e774c2',
    );
  });

  it('hashes a single segment with itself, pairs, and pairs an odd last node with itself', () => {
    const [a, b, c] = [h(1), h(2), h(3)];
    expect(fidFromSegmentHashes([a.toString('hex')])).toBe(sha(a, a).toString('hex'));
    expect(fidFromSegmentHashes([a, b].map((x) => x.toString('hex')))).toBe(sha(a, b).toString('hex'));
    const three = sha(sha(a, b), sha(c, c));
    expect(fidFromSegmentHashes([a, b, c].map((x) => x.toString('hex')))).toBe(three.toString('hex'));
    const five = [1, 2, 3, 4, 5].map(h);
    const l1 = [sha(five[0], five[1]), sha(five[2], five[3]), sha(five[4], five[4])];
    const l2 = [sha(l1[0], l1[1]), sha(l1[2], l1[2])];
    expect(fidFromSegmentHashes(five.map((x) => x.toString('hex')))).toBe(sha(l2[0], l2[1]).toString('hex'));
  });

  it('refuses empty input and malformed digests', () => {
    expect(() => fidFromSegmentHashes([])).toThrow(RangeError);
    expect(() => fidFromSegmentHashes(['ABCD'])).toThrow(TypeError);
    expect(() => fidFromSegmentHashes([h(1).toString('hex').toUpperCase()])).toThrow(TypeError);
  });
});
