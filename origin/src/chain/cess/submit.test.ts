import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHAIN, ChainDispatchError } from '../port.ts';
import { openCessChain, type CessChain } from './cess-chain.ts';
import { CessConnection } from './connection.ts';
import { eventRecords, fixtureRegistry, metadataHex } from './testing/fixtures.ts';
import { MockCessNode } from './testing/mock-cess-node.ts';
import { startTcpProxy, type TcpProxy } from './testing/tcp-proxy.ts';

/**
 * Transaction submission against a MOCK CESS node that takes transactions into a pretend pool and lets the test say
 * what a node would: which block holds them, with which events, or that the pool let go of one. The runtime's
 * real behaviour is covered by the live suite; this covers the adapter's side: nonces, receipts, retries, outages.
 */
const keyring = new Keyring({ type: 'sr25519', ss58Format: CHAIN.ss58Prefix });
let node: MockCessNode;
let proxy: TcpProxy;
let f: ReturnType<typeof fixtureRegistry>;
let bob: ReturnType<Keyring['addFromUri']>;
let n = 0;
const closers: (() => Promise<unknown>)[] = [];
const until = async (what: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};
const hexOf = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;

beforeAll(async () => {
  await cryptoWaitReady();
  bob = keyring.addFromUri('//SubmitBob');
  f = fixtureRegistry(137);
  node = await MockCessNode.start({ metadata: metadataHex(137), specVersion: 137 });
  node.acceptTransactions = true;
  proxy = await startTcpProxy({ host: '127.0.0.1', port: node.port });
});
afterEach(async () => {
  while (closers.length) await closers.pop()!();
  await proxy.up();
});
afterAll(async () => {
  await proxy.close();
  await node.stop();
});

async function client(): Promise<{ chain: CessChain; conn: CessConnection; signer: ReturnType<Keyring['addFromUri']> }> {
  const suri = `//Submitter${++n}`;
  const conn = await CessConnection.open({ endpoints: [proxy.url], reconnectDelayMs: 100 });
  const chain = await openCessChain({ suri, connection: conn, submit: { scanIntervalMs: 100 } });
  closers.push(() => conn.close(), () => chain.close());
  return { chain, conn, signer: keyring.addFromUri(suri) };
}

/** The next extrinsic offered to the node. */
async function submission(index: number): Promise<string> {
  await until(() => node.submitted.length > index);
  return node.submitted[index];
}

/** A block holding `extrinsics`, with a Transfer, the fee and success for each. */
function block(conn: CessConnection, payer: Uint8Array, extrinsics: string[], fee = 123n) {
  const records = extrinsics.flatMap((_, i) => [
    [i, 'balances', 'Transfer', [payer, bob.publicKey, BigInt(i + 1) * CHAIN.unit]],
    [i, 'transactionPayment', 'TransactionFeePaid', [payer, fee, 0n]],
    [i, 'system', 'ExtrinsicSuccess', [{}]],
  ]) as Parameters<typeof eventRecords>[1];
  return node.newBlock({ [conn.api.query.system.events.key()]: hexOf(eventRecords(f, records)) }, extrinsics);
}

describe('transaction submission (mock CESS node)', () => {
  it('returns the events and fee of the block the node names', async () => {
    const { chain, conn, signer } = await client();
    const start = node.submitted.length;
    const sending = chain.transfer(bob.address, CHAIN.unit);
    const ext = await submission(start);
    const decoded = conn.api.registry.createType('Extrinsic', ext);
    expect(decoded.signer.toString()).toBe(signer.address);
    const b = block(conn, signer.publicKey, [ext], 777n);
    expect(node.status(ext, { inBlock: b.hash })).toBe(true);
    expect(await sending).toEqual({ block: b.number, finalized: false, fee: 777n, events: [{ type: 'Transfer', from: signer.address, to: bob.address, amount: CHAIN.unit }] });
  });

  it('keeps three transactions in flight with nonces 0, 1, 2 while the node still says 0', async () => {
    const { chain, conn, signer } = await client();
    const start = node.submitted.length;
    const sending = [1n, 2n, 3n].map((a) => chain.transfer(bob.address, a * CHAIN.unit));
    const exts = await Promise.all([0, 1, 2].map((i) => submission(start + i)));
    expect(exts.map((x) => conn.api.registry.createType('Extrinsic', x).nonce.toNumber())).toEqual([0, 1, 2]);
    const b = block(conn, signer.publicKey, exts);
    for (const x of exts) node.status(x, { inBlock: b.hash });
    const receipts = await Promise.all(sending);
    expect(receipts.map((r) => (r.events[0] as { amount: bigint }).amount)).toEqual([1n, 2n, 3n].map((a) => a * CHAIN.unit));
  });

  it('turns ExtrinsicFailed into the runtime error by name', async () => {
    const { chain, conn, signer } = await client();
    const start = node.submitted.length;
    const sending = chain.cancelAuthorize(bob.address);
    const ext = await submission(start);
    const errIndex = (f.decorated.errors as unknown as Record<string, Record<string, { meta: { index: { toNumber(): number } } }>>).oss.NoAuthorization.meta.index.toNumber();
    const records = eventRecords(f, [
      [0, 'transactionPayment', 'TransactionFeePaid', [signer.publicKey, 5n, 0n]],
      [0, 'system', 'ExtrinsicFailed', [{ Module: { index: 108, error: [errIndex, 0, 0, 0] } }, {}]],
    ]);
    const b = node.newBlock({ [conn.api.query.system.events.key()]: hexOf(records) }, [ext]);
    node.status(ext, { inBlock: b.hash });
    await expect(sending).rejects.toMatchObject({ id: 'oss.NoAuthorization' });
    await expect(sending).rejects.toBeInstanceOf(ChainDispatchError);
  });

  it('signs again when the pool lets go of a transaction it had taken', async () => {
    const { chain, conn, signer } = await client();
    const start = node.submitted.length;
    const sending = chain.transfer(bob.address, CHAIN.unit);
    const first = await submission(start);
    node.status(first, { invalid: { exhaustsResources: null } });
    const second = await submission(start + 1);
    expect(second).not.toBe(first);
    expect(conn.api.registry.createType('Extrinsic', second).nonce.toNumber()).toBe(0);
    const b = block(conn, signer.publicKey, [second]);
    node.status(second, { inBlock: b.hash });
    expect((await sending).block).toBe(b.number);
  });

  it('finds a transaction in its block after the socket watching it dropped', async () => {
    const { chain, conn, signer } = await client();
    const start = node.submitted.length;
    const sending = chain.transfer(bob.address, CHAIN.unit);
    const ext = await submission(start);
    await proxy.down();
    const b = block(conn, signer.publicKey, [ext]);
    await new Promise((r) => setTimeout(r, 300));
    await proxy.up();
    const receipt = await sending;
    expect(receipt.block).toBe(b.number);
    expect(receipt.events).toEqual([{ type: 'Transfer', from: signer.address, to: bob.address, amount: CHAIN.unit }]);
    // After the reconnect the same signed bytes were offered again (another node's pool may not have them).
    expect(node.submitted.slice(start)).toEqual([ext, ext]);
  });

  it('sends declarations made together as one utility.batch_all and gives each its own events', async () => {
    const { chain, conn, signer } = await client();
    const owner = keyring.addFromUri('//SubmitOwner');
    const fid = (i: number) => i.toString(16).padStart(64, '0');
    const declare = (i: number) =>
      chain.declareUpload({ fid: fid(i), segments: [{ hash: fid(100 + i), fragments: Array(12).fill(fid(200 + i)) }], user: { user: owner.address, fileName: `f${i}.bin`, territoryName: 't' }, fileSize: 5n });
    const start = node.submitted.length;
    const sending = [1, 2, 3].map(declare);
    const ext = await submission(start);
    const call = conn.api.registry.createType('Extrinsic', ext).method;
    expect([call.section, call.method, (call.args[0] as unknown as unknown[]).length]).toEqual(['utility', 'batchAll', 3]);
    const records = eventRecords(f, [
      ...[1, 2, 3].flatMap((i) => [
        [0, 'fileBank', 'UploadDeclaration', [signer.publicKey, owner.publicKey, fid(i)]],
        [0, 'utility', 'ItemCompleted', []],
      ]),
      [0, 'utility', 'BatchCompleted', []],
      [0, 'transactionPayment', 'TransactionFeePaid', [signer.publicKey, 900n, 0n]],
      [0, 'system', 'ExtrinsicSuccess', [{}]],
    ] as Parameters<typeof eventRecords>[1]);
    const b = node.newBlock({ [conn.api.query.system.events.key()]: hexOf(records) }, [ext]);
    node.status(ext, { inBlock: b.hash });
    const receipts = await Promise.all(sending);
    expect(receipts.map((r) => r.events)).toEqual([1, 2, 3].map((i) => [{ type: 'UploadDeclaration', operator: signer.address, owner: owner.address, fid: fid(i) }]));
    expect(receipts.map((r) => r.fee)).toEqual([900n, 900n, 900n]);
    expect(node.submitted.length).toBe(start + 1);
  });
});
