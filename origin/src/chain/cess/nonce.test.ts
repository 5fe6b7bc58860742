import { describe, expect, it } from 'vitest';
import { NonceTracker, type NonceOutcome } from './nonce.ts';

/** A node whose nonce view the test controls, counting how often it is asked. */
function node(start: number) {
  const n = { value: start, asked: 0 };
  return { n, source: async () => (n.asked++, n.value) };
}

describe('NonceTracker', () => {
  it('counts locally after asking the node once, even when the node lags', async () => {
    const { n, source } = node(5);
    const t = new NonceTracker(source);
    const used: number[] = [];
    for (let i = 0; i < 4; i++) await t.use(async (nonce) => (used.push(nonce), { nonce: 'used' as NonceOutcome, value: undefined }));
    // The node still says 5 (its view lags): the tracker did not ask again.
    expect(used).toEqual([5, 6, 7, 8]);
    expect(n.asked).toBe(1);
  });

  it('hands out nonces one submission at a time, in call order, while earlier ones are still in flight', async () => {
    const { source } = node(0);
    const t = new NonceTracker(source);
    const order: string[] = [];
    const inclusion: Promise<void>[] = [];
    const submit = (name: string, ms: number) =>
      t.use(async (nonce) => {
        order.push(`start ${name}@${nonce}`);
        await new Promise((r) => setTimeout(r, ms));
        order.push(`pooled ${name}`);
        // Inclusion is awaited outside the tracker: the next submission does not wait for it.
        inclusion.push(new Promise((r) => setTimeout(r, 50)));
        return { nonce: 'used' as NonceOutcome, value: nonce };
      });
    const got = await Promise.all([submit('a', 20), submit('b', 1), submit('c', 5)]);
    expect(got).toEqual([0, 1, 2]);
    expect(order).toEqual(['start a@0', 'pooled a', 'start b@1', 'pooled b', 'start c@2', 'pooled c']);
    await Promise.all(inclusion);
  });

  it('reuses a nonce the pool refused, and keeps going after a submission throws', async () => {
    const { source } = node(10);
    const t = new NonceTracker(source);
    expect(await t.use(async (nonce) => ({ nonce: 'unused' as NonceOutcome, value: nonce }))).toBe(10);
    await expect(t.use(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    // A throw is "unknown": the next one asks the node again.
    expect(await t.use(async (nonce) => ({ nonce: 'used' as NonceOutcome, value: nonce }))).toBe(10);
    expect(await t.use(async (nonce) => ({ nonce: 'used' as NonceOutcome, value: nonce }))).toBe(11);
  });

  it('after "stale" asks the node, but never goes below the nonce after the stale one', async () => {
    const { n, source } = node(3);
    const t = new NonceTracker(source);
    expect(await t.use(async (nonce) => ({ nonce: 'stale' as NonceOutcome, value: nonce }))).toBe(3);
    // The node's own view still says 3 (it lags): the tracker uses 4.
    expect(await t.use(async (nonce) => ({ nonce: 'used' as NonceOutcome, value: nonce }))).toBe(4);
    // Someone else used the account: the node is ahead; a resync follows it.
    n.value = 9;
    t.resync();
    expect(await t.use(async (nonce) => ({ nonce: 'used' as NonceOutcome, value: nonce }))).toBe(9);
    expect(n.asked).toBe(3);
  });

  it('stops before asking when the signal is aborted', async () => {
    const { n, source } = node(0);
    const t = new NonceTracker(source);
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(t.use(async (nonce) => ({ nonce: 'used' as NonceOutcome, value: nonce }), ac.signal)).rejects.toThrow('stop');
    expect(n.asked).toBe(0);
  });

  it('asks the node again when a resync comes while a submission is still in flight (the pool dropped it at once)', async () => {
    const { n, source } = node(0);
    const t = new NonceTracker(source);
    await t.use(async (nonce) => {
      t.resync(); // the transaction's watch reported it invalid before its submission returned
      return { nonce: 'used' as NonceOutcome, value: nonce };
    });
    const next = await t.use(async (nonce) => ({ nonce: 'used' as NonceOutcome, value: nonce }));
    expect(next).toBe(0); // the node's word, not the in-flight submission's count of 1
    expect(n.asked).toBe(2);
  });
});
