import { describe, expect, it } from 'vitest';
import type { Territory } from './port.ts';
import { TerritoryCache } from './territory-cache.ts';

const territory = (name: string): Territory => ({
  owner: 'alice',
  name,
  token: `0x${'1'.repeat(64)}`,
  totalSpace: 10n,
  usedSpace: 0n,
  lockedSpace: 0n,
  remainingSpace: 10n,
  start: 1,
  deadline: 100,
  state: 'Active',
});

/** A chain that answers from a table, counting its queries; `fail` makes the next query throw. */
function countingChain(known: Record<string, Territory>) {
  const calls = { territory: 0, blockNumber: 0 };
  let block = 1;
  let fail = false;
  const chain = {
    async territory(_owner: string, name: string) {
      calls.territory++;
      if (fail) {
        fail = false;
        throw new Error('rpc down');
      }
      return known[name];
    },
    async blockNumber() {
      calls.blockNumber++;
      return block++;
    },
  };
  return { chain, calls, failNext: () => (fail = true) };
}

describe('TerritoryCache', () => {
  it('reuses a found territory and the block number for ttlMs, then asks again', async () => {
    let now = 0;
    const { chain, calls } = countingChain({ t: territory('t') });
    const cache = new TerritoryCache(chain, { ttlMs: 2000, now: () => now });
    expect((await cache.territory('alice', 't'))?.name).toBe('t');
    expect(await cache.blockNumber()).toBe(1);
    now = 1999;
    await cache.territory('alice', 't');
    expect(await cache.blockNumber()).toBe(1);
    expect(calls).toEqual({ territory: 1, blockNumber: 1 });
    now = 2000;
    await cache.territory('alice', 't');
    expect(await cache.blockNumber()).toBe(2);
    expect(calls).toEqual({ territory: 2, blockNumber: 2 });
    // Another owner's territory of the same name is its own entry.
    await cache.territory('bob', 't');
    expect(calls.territory).toBe(3);
  });

  it('does not remember a missing territory or a failed lookup, and shares a lookup under way', async () => {
    const known: Record<string, Territory> = {};
    const { chain, calls, failNext } = countingChain(known);
    const cache = new TerritoryCache(chain, { ttlMs: 60_000 });
    expect(await cache.territory('alice', 'new')).toBeUndefined();
    known.new = territory('new'); // bought just now: usable at once
    expect((await cache.territory('alice', 'new'))?.name).toBe('new');
    expect(calls.territory).toBe(2);

    failNext();
    await expect(cache.territory('alice', 'other')).rejects.toThrow('rpc down');
    known.other = territory('other');
    const [a, b] = await Promise.all([cache.territory('alice', 'other'), cache.territory('alice', 'other')]);
    expect(a).toBe(b);
    expect(calls.territory).toBe(4);
  });

  it('asks the chain every time with ttlMs 0', async () => {
    const { chain, calls } = countingChain({ t: territory('t') });
    const cache = new TerritoryCache(chain, { ttlMs: 0 });
    await cache.territory('alice', 't');
    await cache.territory('alice', 't');
    await cache.blockNumber();
    await cache.blockNumber();
    expect(calls).toEqual({ territory: 2, blockNumber: 2 });
  });
});
