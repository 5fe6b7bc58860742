import { describe, expect, it } from 'vitest';
import { sleep } from './sleep.ts';

describe('sleep', () => {
  it('waits, and ends at once with the reason when aborted before or during the wait', async () => {
    const t0 = Date.now();
    await sleep(30);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    const reason = new Error('stopping');
    const during = new AbortController();
    const waiting = sleep(60_000, during.signal);
    during.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(sleep(60_000, AbortSignal.abort(reason))).rejects.toBe(reason);
  });
});
