import { describe, expect, it } from 'vitest';
import { PeerScores } from './peer-scores.ts';

describe('PeerScores', () => {
  it('ranks measured fast peers first, unknown peers next, failing and slow peers last', () => {
    const s = new PeerScores({ banMs: 1000 });
    s.success('fast', 32e6, 100); // 320 MB/s
    s.success('slow', 32e6, 3200); // 10 MB/s
    s.failure('flaky');
    s.failure('flaky');
    expect(s.rank(['slow', 'unknown', 'flaky', 'fast'])).toEqual(['fast', 'unknown', 'flaky', 'slow']);
    // A success clears past failures.
    s.success('flaky', 32e6, 50);
    expect(s.rank(['fast', 'flaky'])[0]).toBe('flaky');
  });

  it('leaves banned peers out until the ban ends', () => {
    const s = new PeerScores({ banMs: 1000 });
    s.ban('liar', 0);
    expect(s.banned('liar', 999)).toBe(true);
    expect(s.rank(['liar', 'other'], 500)).toEqual(['other']);
    expect(s.rank(['liar', 'other'], 1001)).toEqual(['liar', 'other']);
  });
});
