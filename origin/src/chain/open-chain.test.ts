import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originConfig } from '../config.ts';
import { CessChain } from './cess/index.ts';
import { metadataHex } from './cess/testing/fixtures.ts';
import { MockCessNode } from './cess/testing/mock-cess-node.ts';
import { openChain } from './open-chain.ts';

let dir: string;
let node: MockCessNode;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deoss-open-chain-'));
  node = await MockCessNode.start({ metadata: metadataHex(137), specVersion: 137 });
});
afterAll(async () => {
  await node.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('openChain', () => {
  it('uses the local chain without RPC endpoints, and the cess adapter with them', async () => {
    const local = await openChain({ suri: '//Alice', localPath: join(dir, 'ledger.sqlite') });
    expect(local.chain).not.toBeInstanceOf(CessChain);
    await local.chain.close();
    const config = originConfig({ home: dir }, { DEOSS_CHAIN_RPC: node.url, DEOSS_CHAIN_SURI: '//Alice', DEOSS_CHAIN_WAIT: 'finalized', DEOSS_CHAIN_BATCH_MAX: '4' });
    expect(config.chainRpc).toEqual([node.url]);
    expect(config.chain).toEqual({ waitFor: 'finalized', txTimeoutMs: 120_000, connectTimeoutMs: 30_000, batchMax: 4, bucketName: 'deoss' });
    const cess = await openChain({ suri: config.gatewaySuri, localPath: config.chainDb, rpc: config.chainRpc, cess: config.chain });
    expect(cess.chain).toBeInstanceOf(CessChain);
    // Both sign as the same key: the chain client and the message signer.
    expect(cess.chain.account).toBe(local.chain.account);
    expect(cess.signer.address).toBe(cess.chain.account);
    expect(await cess.chain.blockNumber()).toBe(node.head.number);
    await cess.chain.close();
  });

  it('refuses bad chain settings with a clear message', () => {
    expect(() => originConfig({ home: dir }, { DEOSS_CHAIN_RPC: 'http://node:9933' })).toThrow(/ws:\/\/ or wss:\/\//);
    expect(() => originConfig({ home: dir }, { DEOSS_CHAIN_WAIT: 'soon' })).toThrow(/inBlock or finalized/);
    expect(() => originConfig({ home: dir }, { DEOSS_CHAIN_BATCH_MAX: '0' })).toThrow(/at least 1/);
  });
});
