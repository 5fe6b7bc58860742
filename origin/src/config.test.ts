import { describe, expect, it } from 'vitest';
import { originConfig } from './config.ts';

describe('originConfig: caching and peering settings', () => {
  it('defaults: cache on, peering on, loopback listen, key under home', () => {
    const c = originConfig({}, { DEOSS_HOME: '/tmp/h' });
    expect(c.cacheEnabled).toBe(true);
    expect(c.p2p.enabled).toBe(true);
    expect(c.p2p.listen).toEqual(['/ip4/127.0.0.1/tcp/0']);
    expect(c.p2p.keyPath).toBe('/tmp/h/p2p/peer.key');
    expect(c.p2p.mdnsTag).toBeUndefined();
    expect(c.chainDb).toBe('/tmp/h/chain/ledger.sqlite');
    expect(c.p2p).toMatchObject({ parallel: 2, deadlineMs: 15_000, stallMs: 2000, maxConnections: 64, announceIntervalMs: 300_000 });
  });

  it('reads the environment', () => {
    const c = originConfig(
      {},
      {
        DEOSS_HOME: '/tmp/h',
        DEOSS_CACHE: 'off',
        DEOSS_P2P: 'no',
        DEOSS_CHAIN_DB: '/tmp/shared/ledger.sqlite',
        DEOSS_P2P_LISTEN: '/ip4/0.0.0.0/tcp/4001, /ip6/::/tcp/4001',
        DEOSS_P2P_BOOTSTRAP: '/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWA',
        DEOSS_P2P_ALLOW: 'a,b',
        DEOSS_P2P_DENY: 'c',
        DEOSS_P2P_MDNS_TAG: 'lab',
        DEOSS_P2P_DEADLINE_MS: '5000',
        DEOSS_P2P_STALL_MS: '750',
      },
    );
    expect(c.cacheEnabled).toBe(false);
    expect(c.p2p.enabled).toBe(false);
    expect(c.chainDb).toBe('/tmp/shared/ledger.sqlite');
    expect(c.p2p.listen).toEqual(['/ip4/0.0.0.0/tcp/4001', '/ip6/::/tcp/4001']);
    expect(c.p2p.bootstrap).toEqual(['/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWA']);
    expect([c.p2p.allow, c.p2p.deny, c.p2p.mdnsTag]).toEqual([['a', 'b'], ['c'], 'lab']);
    expect([c.p2p.deadlineMs, c.p2p.stallMs]).toEqual([5000, 750]);
  });

  it('refuses nonsense with the setting named', () => {
    expect(() => originConfig({}, { DEOSS_CACHE: 'maybe' })).toThrow(/DEOSS_CACHE must be on or off/);
    expect(() => originConfig({}, { DEOSS_P2P_STALL_MS: 'soon' })).toThrow(/stallMs must be a positive integer/);
    expect(() => originConfig({}, { DEOSS_P2P_PARALLEL: '0' })).toThrow(/parallel must be a positive integer/);
  });
});
