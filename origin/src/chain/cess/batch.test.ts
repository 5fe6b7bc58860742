import { describe, expect, it } from 'vitest';
import { ChainDispatchError } from '../port.ts';
import { Batcher } from './batch.ts';
import type { CallSpec } from './calls.ts';
import type { RawEvent } from './events.ts';
import type { Accepted, Included } from './submit.ts';

const call = (n: number): CallSpec => ({ section: 'fileBank', method: 'uploadDeclaration', args: [n] });
const ev = (section: string, method: string, tag = 0): RawEvent => ({ section, method, data: Object.assign([], { names: [] as string[], tag }) as never });

/**
 * A fake node for the Batcher: records each extrinsic's calls; a call whose arg is negative fails, and a batch
 * with such a call fails as a whole (batch_all is all-or-nothing).
 */
function fakeNode() {
  const sent: number[][] = [];
  const send = async (calls: CallSpec[]): Promise<Accepted> => {
    const ns = calls.map((c) => c.args[0] as number);
    sent.push(ns);
    await new Promise((r) => setTimeout(r, 5));
    const failed = ns.some((n) => n < 0);
    const events = failed
      ? [ev('system', 'ExtrinsicFailed')]
      : [...ns.flatMap((n) => [ev('fileBank', 'UploadDeclaration', n), ...(ns.length > 1 ? [ev('utility', 'ItemCompleted')] : [])]), ...(ns.length > 1 ? [ev('utility', 'BatchCompleted')] : []), ev('transactionPayment', 'TransactionFeePaid'), ev('system', 'ExtrinsicSuccess')];
    const included: Included = { block: sent.length, finalized: false, events, error: failed ? new ChainDispatchError('fileBank', 'NoPermission') : undefined };
    return { hash: `0x${sent.length}`, included: Promise.resolve(included) };
  };
  return { sent, send };
}
const tags = (events: RawEvent[]) => events.filter((e) => e.method === 'UploadDeclaration').map((e) => (e.data as unknown as { tag: number }).tag);

describe('Batcher', () => {
  it('sends calls queued in the same tick as one batch, and gives each call its own events', async () => {
    const node = fakeNode();
    const b = new Batcher({ maxCalls: 8, maxBytes: 1 << 20, available: () => true, send: node.send });
    const results = await Promise.all([1, 2, 3].map((n) => b.submit(call(n), 100)));
    expect(node.sent).toEqual([[1, 2, 3]]);
    expect(results.map((r) => tags(r.events))).toEqual([[1], [2], [3]]);
    expect(results.every((r) => r.batched === 3 && r.events.some((e) => e.method === 'TransactionFeePaid'))).toBe(true);
  });

  it('respects the call and byte limits, and sends one by one when the runtime has no batch_all', async () => {
    const node = fakeNode();
    const b = new Batcher({ maxCalls: 2, maxBytes: 250, available: () => true, send: node.send });
    await Promise.all([1, 2, 3, 4, 5].map((n) => b.submit(call(n), 100)));
    expect(node.sent).toEqual([[1, 2], [3, 4], [5]]);
    const plain = fakeNode();
    const single = new Batcher({ maxCalls: 8, maxBytes: 1 << 20, available: () => false, send: plain.send });
    await Promise.all([1, 2].map((n) => single.submit(call(n), 10)));
    expect(plain.sent).toEqual([[1], [2]]);
  });

  it('re-sends every call of a failed batch alone, so only the bad one fails', async () => {
    const node = fakeNode();
    const b = new Batcher({ maxCalls: 8, maxBytes: 1 << 20, available: () => true, send: node.send });
    const results = await Promise.allSettled([1, -2, 3].map((n) => b.submit(call(n), 10)));
    expect(node.sent[0]).toEqual([1, -2, 3]);
    expect(node.sent.slice(1).sort()).toEqual([[-2], [1], [3]]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const [ok1, bad, ok3] = results.map((r) => (r as PromiseFulfilledResult<Included & { batched: number }>).value);
    expect(ok1.error).toBeUndefined();
    expect(ok1.batched).toBe(1);
    expect(bad.error?.id).toBe('fileBank.NoPermission');
    expect(ok3.error).toBeUndefined();
  });

  it('rejects the calls of a batch the node would not take', async () => {
    const b = new Batcher({ maxCalls: 8, maxBytes: 1 << 20, available: () => true, send: async () => Promise.reject(new ChainDispatchError('transaction', 'Payment')) });
    const results = await Promise.allSettled([1, 2].map((n) => b.submit(call(n), 10)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
