import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CessConnection, openCessChain, type CessChain } from '../../origin/src/chain/cess/index.ts';
import { startTcpProxy, type TcpProxy } from '../../origin/src/chain/cess/testing/tcp-proxy.ts';
import { CHAIN, type ChainEvent } from '../../origin/src/chain/port.ts';
import { DevChain } from './dev-chain.ts';

/**
 * The cess adapter on a live CESS dev chain reached through a TCP proxy that the test takes down mid-transaction.
 * `CESS_RPC=ws://127.0.0.1:9944 npm run test:chain-live`; skipped without CESS_RPC.
 */
const rpc = (process.env.CESS_RPC ?? '').split(',').filter(Boolean);

describe.skipIf(rpc.length === 0)('cess adapter through a node outage (live)', () => {
  let dev: DevChain;
  let proxy: TcpProxy;
  let conn: CessConnection;
  let payer: CessChain;
  const until = async (what: () => boolean | Promise<boolean>, ms = 30_000) => {
    const end = Date.now() + ms;
    while (!(await what())) {
      if (Date.now() > end) throw new Error('timed out waiting');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  beforeAll(async () => {
    dev = await DevChain.open(rpc);
    const target = new URL(rpc[0]);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    conn = await CessConnection.open({ endpoints: [proxy.url], reconnectDelayMs: 200 });
    payer = await openCessChain({ suri: dev.suri('outage-payer'), connection: conn, submit: { scanIntervalMs: 500 } });
    await dev.fund(payer.account, 1_000n * CHAIN.unit);
  });
  afterAll(async () => {
    await payer?.close();
    await conn?.close();
    await proxy?.close();
    await dev?.close();
  });

  it('finds a transaction in the chain after the socket watching it dropped, and keeps counting nonces', async () => {
    const payee = await dev.key('outage-payee');
    let drops = 0;
    const off = conn.onDisconnect(() => drops++);
    const before = await payer.balance(payee.address);
    const sending = payer.transfer(payee.address, 7n * CHAIN.unit);
    // Cut the proxy while the transaction waits in the node's pool.
    await until(async () => ((await dev.conn.send<string[]>('author_pendingExtrinsics', [])).length > 0));
    await proxy.down();
    await new Promise((r) => setTimeout(r, 2_500));
    await proxy.up();
    const receipt = await sending;
    off();
    expect(drops).toBe(1);
    expect(receipt.events).toContainEqual({ type: 'Transfer', from: payer.account, to: payee.address, amount: 7n * CHAIN.unit });
    expect(await payer.balance(payee.address)).toBe(before + 7n * CHAIN.unit);
    // The next transactions (nonce re-read from the node after the reconnect) go through.
    const [a, b] = await Promise.all([payer.transfer(payee.address, CHAIN.unit), payer.transfer(payee.address, CHAIN.unit)]);
    expect(a.block).toBeGreaterThan(0);
    expect(b.block).toBeGreaterThan(0);
    expect(await payer.balance(payee.address)).toBe(before + 9n * CHAIN.unit);
  });

  it('delivers the events of blocks made while the node was unreachable', async () => {
    const other = await dev.client('outage-other');
    const seen: ChainEvent[] = [];
    const ac = new AbortController();
    const watching = (async () => {
      for await (const e of payer.events({ signal: ac.signal })) if (e.type === 'Transfer' && e.from === other.account) seen.push(e);
    })();
    await new Promise((r) => setTimeout(r, 1_500));
    await proxy.down();
    // Sent over the direct connection while the watcher's socket is down.
    await other.transfer(payer.account, 2n * CHAIN.unit);
    await other.transfer(payer.account, 3n * CHAIN.unit);
    await proxy.up();
    await until(() => seen.length === 2);
    ac.abort();
    await watching;
    expect(seen.map((e) => (e as { amount: bigint }).amount)).toEqual([2n * CHAIN.unit, 3n * CHAIN.unit]);
  });
});
