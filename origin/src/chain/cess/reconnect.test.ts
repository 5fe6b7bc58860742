import { createServer } from 'node:net';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, sr25519Verify } from '@polkadot/util-crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHAIN, ChainDispatchError, ChainUnavailableError, type ChainEvent } from '../port.ts';
import { CessConnection } from './connection.ts';
import { openCessChain, type CessChain } from './cess-chain.ts';
import { CessRuntimeError } from './runtime.ts';
import { eventRecords, fixtureRegistry, metadataHex } from './testing/fixtures.ts';
import { MockCessNode } from './testing/mock-cess-node.ts';
import { startTcpProxy, type TcpProxy } from './testing/tcp-proxy.ts';

/**
 * The adapter against a MOCK CESS node (testing/mock-cess-node.ts: spec-137 metadata, a block counter, storage the
 * test writes) behind a real TCP proxy that the test takes down and brings back. Transactions are not covered
 * here (the mock runs none); the live suite covers them on a real runtime.
 */
const hex = (n: number) => n.toString(16).padStart(64, '0');
const keyring = new Keyring({ type: 'sr25519', ss58Format: CHAIN.ss58Prefix });
let user: ReturnType<Keyring['addFromUri']>;
let gateway: ReturnType<Keyring['addFromUri']>;
let node: MockCessNode;
let proxy: TcpProxy;
const closers: (() => Promise<unknown>)[] = [];
const until = async (what: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

beforeAll(async () => {
  await cryptoWaitReady();
  user = keyring.addFromUri('//ReconnectUser');
  gateway = keyring.addFromUri('//ReconnectGateway');
  node = await MockCessNode.start({ metadata: metadataHex(137), specVersion: 137 });
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

async function connect(o: { endpoints?: string[]; connectTimeoutMs?: number } = {}): Promise<{ conn: CessConnection; chain: CessChain }> {
  const conn = await CessConnection.open({ endpoints: o.endpoints ?? [proxy.url], reconnectDelayMs: 100, connectTimeoutMs: o.connectTimeoutMs ?? 10_000, requestTimeoutMs: 10_000 });
  const chain = await openCessChain({ suri: '//ReconnectGateway', connection: conn, eventPollMs: 50 });
  closers.push(() => conn.close(), () => chain.close());
  return { conn, chain };
}

describe('cess adapter across a node that goes away (mock CESS node, real TCP proxy)', () => {
  it('detects the runtime at connect time and reads storage through the proxy', async () => {
    const { conn, chain } = await connect();
    expect(conn.runtime()).toMatchObject({ specVersion: 137, userBriefHasBucket: false, minerAddress: 'endpoint', checkMqSequence: false });
    node.setStorage(conn.api.query.oss.authorityList.key(user.publicKey), conn.api.registry.createType('Vec<AccountId32>', [gateway.publicKey]).toHex());
    expect(await chain.isAuthorized(user.address, gateway.address)).toBe(true);
    expect(await chain.isAuthorized(gateway.address, user.address)).toBe(false);
    node.newBlock();
    expect(await chain.blockNumber()).toBe(node.head.number);
  });

  it('re-registering a gateway with what the chain already holds submits nothing', async () => {
    const { conn, chain } = await connect();
    const value = conn.api.registry.createType('PalletOssOssInfo', { peerId: new Uint8Array(38), domain: 'https://gw.example' });
    node.setStorage(conn.api.query.oss.oss.key(gateway.publicKey), value.toHex());
    expect(await chain.gateway(gateway.address)).toEqual({ account: gateway.address, endpoint: 'https://gw.example', domain: 'https://gw.example' });
    const before = node.submitted.length;
    const receipt = await chain.registerGateway({ endpoint: 'https://gw.example', domain: '' });
    expect(receipt).toEqual({ block: node.head.number, finalized: false, events: [], fee: 0n });
    expect(node.submitted.length).toBe(before);
    // A different endpoint is a real update: offered to the node (which, being a mock, refuses it).
    await expect(chain.registerGateway({ endpoint: 'https://other.example', domain: '' })).rejects.toBeInstanceOf(ChainDispatchError);
    expect(node.submitted.length).toBe(before + 1);
    const sent = conn.api.registry.createType('Extrinsic', node.submitted[before]);
    expect([sent.method.section, sent.method.method]).toEqual(['oss', 'update']);
  });

  it('a read made while the node is away waits for the reconnection and succeeds', async () => {
    const { conn, chain } = await connect();
    node.setStorage(conn.api.query.oss.authorityList.key(user.publicKey), conn.api.registry.createType('Vec<AccountId32>', [gateway.publicKey]).toHex());
    const before = proxy.accepted;
    await proxy.down();
    let settled = false;
    const read = chain.isAuthorized(user.address, gateway.address).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 600));
    expect(settled).toBe(false);
    await proxy.up();
    expect(await read).toBe(true);
    expect(proxy.accepted).toBeGreaterThan(before);
  });

  it('fails with ChainUnavailableError when the node stays away longer than connectTimeoutMs, and recovers after', async () => {
    const { chain } = await connect({ connectTimeoutMs: 400 });
    await proxy.down();
    await new Promise((r) => setTimeout(r, 50));
    await expect(chain.balance(user.address)).rejects.toBeInstanceOf(ChainUnavailableError);
    await proxy.up();
    expect(await chain.balance(user.address)).toBe(0n);
  });

  it('keeps delivering events across an outage, without losing the blocks made meanwhile', async () => {
    const { conn, chain } = await connect();
    const f = fixtureRegistry(137);
    const eventsKey = conn.api.query.system.events.key();
    const declared = (n: number) => `0x${Buffer.from(eventRecords(f, [[1, 'fileBank', 'UploadDeclaration', [gateway.publicKey, user.publicKey, hex(n)]]])).toString('hex')}`;
    const seen: (ChainEvent & { block: number })[] = [];
    const ac = new AbortController();
    const iterating = (async () => {
      for await (const e of chain.events({ signal: ac.signal })) seen.push(e);
    })();
    await new Promise((r) => setTimeout(r, 200));
    const b1 = node.newBlock({ [eventsKey]: declared(1) });
    await until(() => seen.length === 1);
    await proxy.down();
    const b2 = node.newBlock({ [eventsKey]: declared(2) });
    node.newBlock({ [eventsKey]: null });
    const b4 = node.newBlock({ [eventsKey]: declared(4) });
    await new Promise((r) => setTimeout(r, 400));
    expect(seen).toHaveLength(1);
    await proxy.up();
    await until(() => seen.length === 3);
    ac.abort();
    await iterating;
    expect(seen).toEqual([b1, b2, b4].map((b, i) => ({ type: 'UploadDeclaration', operator: gateway.address, owner: user.address, fid: hex([1, 2, 4][i]), block: b.number })));
  });

  it('fails over to the next endpoint when the first does not answer', async () => {
    const dead = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    const { chain } = await connect({ endpoints: [`ws://127.0.0.1:${dead}`, proxy.url] });
    expect(await chain.blockNumber()).toBe(node.head.number);
  });

  it('builds a territory transaction for the user to sign and assembles the signed extrinsic from it', async () => {
    const { conn, chain } = await connect();
    node.setStorage(conn.api.query.storageHandler.unitPrice.key(), `0x${Buffer.from(conn.api.registry.createType('u128', CHAIN.unitPrice).toU8a()).toString('hex')}`);
    const tx = await chain.buildTerritoryTx(user.address, { kind: 'mint', name: 'site', gib: 2, days: 30 });
    expect(tx).toMatchObject({ signer: user.address, price: 60n * CHAIN.unitPrice, validUntil: node.head.number + 63 });
    const bytes = Buffer.from(tx.signingPayload.slice(2), 'hex');
    const payload = JSON.parse(JSON.stringify(tx.payload));
    const before = node.submitted.length;
    // Wrong key, wrong call: refused before anything reaches the node.
    await expect(chain.submitSignedTx({ signer: user.address, payload, signature: gateway.sign(bytes) })).rejects.toMatchObject({ id: 'transaction.BadProof' });
    const other = { ...payload, method: conn.api.tx.balances.transferKeepAlive(gateway.address, 1n).method.toHex() };
    await expect(chain.submitSignedTx({ signer: user.address, payload: other, signature: user.sign(bytes) })).rejects.toMatchObject({ id: 'system.BadCall' });
    expect(node.submitted).toHaveLength(before);
    // Signed right: offered to the node (which, being a mock, refuses to run it).
    await expect(chain.submitSignedTx({ signer: user.address, payload, signature: user.sign(bytes) })).rejects.toBeInstanceOf(ChainDispatchError);
    expect(node.submitted).toHaveLength(before + 1);
    const ext = conn.api.registry.createType('Extrinsic', node.submitted[before]);
    expect(ext.isSigned).toBe(true);
    expect(ext.signer.toString()).toBe(user.address);
    expect([ext.method.section, ext.method.method]).toEqual(['storageHandler', 'mintTerritory']);
    expect(sr25519Verify(bytes, ext.signature.toU8a(), user.publicKey)).toBe(true);
  });

  it('refuses a runtime without the calls the gateway needs, naming them', async () => {
    const substrate = (await import('@polkadot/types-support/metadata/static-substrate')).default as string;
    const other = await MockCessNode.start({ metadata: substrate, specVersion: 268, specName: 'node' });
    closers.push(() => other.stop());
    const err = await CessConnection.open({ endpoints: [other.url], connectTimeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CessRuntimeError);
    expect((err as Error).message).toMatch(/node spec 268.*call FileBank\.upload_declaration/);
  });

  it('connects to the spec-100 devnet runtime with CESS signed extension', async () => {
    const devnet = await MockCessNode.start({ metadata: metadataHex(100), specVersion: 100 });
    closers.push(() => devnet.stop());
    const { conn } = await connect({ endpoints: [devnet.url] });
    expect(conn.runtime()).toMatchObject({ specVersion: 100, userBriefHasBucket: true, minerAddress: 'peerId', checkMqSequence: true });
    expect(conn.api.registry.signedExtensions).toContain('CheckMqSequence');
  });
});
