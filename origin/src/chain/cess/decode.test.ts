import { Keyring } from '@polkadot/keyring';
import type { Codec } from '@polkadot/types/types';
import { base58Encode, cryptoWaitReady } from '@polkadot/util-crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeAccounts, decodeDeal, decodeFile, decodeFreeBalance, decodeGateway, decodeMiner, decodeTerritory, decodeUserFiles, decodeUserFileSlices, some } from './decode.ts';
import { fixtureRegistry, type FixtureSpec } from './testing/fixtures.ts';

const hex = (n: number) => n.toString(16).padStart(64, '0');
const MiB = 1024n * 1024n;
const keyring = new Keyring({ type: 'sr25519', ss58Format: 11330 });
let alice: ReturnType<Keyring['addFromUri']>;
let bob: ReturnType<Keyring['addFromUri']>;
beforeAll(async () => {
  await cryptoWaitReady();
  alice = keyring.addFromUri('//Alice');
  bob = keyring.addFromUri('//Bob');
});

/**
 * A storage value as the node would return it: built with the runtime's own type for `section.item`, encoded to
 * bytes, and decoded back, so the decoders see exactly what a query hands them.
 */
function stored(f: ReturnType<typeof fixtureRegistry>, section: string, item: string, value: unknown): Codec {
  const entry = (f.decorated.query as unknown as Record<string, Record<string, { meta: { type: { isMap: boolean; asMap: { value: { toNumber(): number } }; asPlain: { toNumber(): number } } } }>>)[section][item];
  const t = entry.meta.type;
  const type = f.registry.createLookupType((t.isMap ? t.asMap.value : t.asPlain).toNumber());
  const bytes = f.registry.createTypeUnsafe(type, [value]).toU8a();
  return f.registry.createTypeUnsafe(type, [bytes]);
}

describe.each([137, 100] as FixtureSpec[])('storage decoders on CESS spec %i', (spec) => {
  let f: ReturnType<typeof fixtureRegistry>;
  beforeAll(() => {
    f = fixtureRegistry(spec);
  });
  const brief = (user: Uint8Array, fileName: string, territoryName: string) => ({ user, fileName, territoryName, ...(spec === 100 ? { bucketName: 'deoss' } : {}) });
  const portBrief = (user: string, fileName: string, territoryName: string) => ({ user, fileName, territoryName, ...(spec === 100 ? { bucketName: 'deoss' } : {}) });

  it('decodes FileBank.File: fragments with miners, owners, size, completion, state', () => {
    const fragments = Array.from({ length: 12 }, (_, i) => ({ hash: hex(200 + i), avail: i !== 3, tag: i === 0 ? 9 : null, miner: i % 2 ? bob.publicKey : alice.publicKey }));
    const value = stored(f, 'fileBank', 'file', {
      segmentList: [{ hash: hex(100), fragmentList: fragments }],
      owner: [brief(alice.publicKey, 'hello.txt', 't1'), brief(bob.publicKey, 'copy.txt', 't2')],
      fileSize: 2n ** 40n + 5n,
      completion: 1234,
      stat: 'Recovery',
    });
    const file = decodeFile(hex(1), value);
    expect(file).toEqual({
      fid: hex(1),
      fileSize: 2n ** 40n + 5n,
      segments: [{ hash: hex(100), fragments: fragments.map((x, i) => ({ hash: hex(200 + i), avail: i !== 3, miner: i % 2 ? bob.address : alice.address })) }],
      owners: [portBrief(alice.address, 'hello.txt', 't1'), portBrief(bob.address, 'copy.txt', 't2')],
      completion: 1234,
      state: 'Recovery',
    });
  });

  it('decodes FileBank.DealMap with the reported columns', () => {
    const value = stored(f, 'fileBank', 'dealMap', {
      fileSize: 5,
      segmentList: [{ hash: hex(100), fragmentList: Array.from({ length: 12 }, (_, i) => hex(300 + i)) }],
      user: brief(alice.publicKey, 'hello.txt', 't1'),
      completeList: [{ index: 1, miner: bob.publicKey }, { index: 12, miner: alice.publicKey }],
    });
    expect(decodeDeal(hex(2), value)).toEqual({
      fid: hex(2),
      fileSize: 5n,
      segments: [{ hash: hex(100), fragments: Array.from({ length: 12 }, (_, i) => hex(300 + i)) }],
      user: portBrief(alice.address, 'hello.txt', 't1'),
      completed: [{ index: 1, miner: bob.address }, { index: 12, miner: alice.address }],
    });
  });

  it('decodes UserHoldFileList and replaces the charged space with the file size when known', () => {
    const value = stored(f, 'fileBank', 'userHoldFileList', [
      { territoryName: 't1', fileHash: hex(5), fileSize: 96n * MiB },
      { territoryName: 'other', fileHash: hex(6), fileSize: 192n * MiB },
    ]);
    const slices = decodeUserFileSlices(value);
    expect(slices).toEqual([
      { fid: hex(5), territoryName: 't1', space: 96n * MiB },
      { fid: hex(6), territoryName: 'other', space: 192n * MiB },
    ]);
    expect(decodeUserFiles(slices, new Map([[hex(5), 5n]]))).toEqual([
      { fid: hex(5), territoryName: 't1', fileSize: 5n },
      { fid: hex(6), territoryName: 'other', fileSize: 192n * MiB },
    ]);
  });

  it('decodes StorageHandler.Territory', () => {
    const value = stored(f, 'storageHandler', 'territory', {
      token: `0x${'ab'.repeat(32)}`,
      totalSpace: 2048n * MiB,
      usedSpace: 96n * MiB,
      lockedSpace: 192n * MiB,
      remainingSpace: 1760n * MiB,
      start: 10,
      deadline: 432_010,
      state: 'Frozen',
    });
    expect(decodeTerritory(alice.address, 't1', value)).toEqual({
      owner: alice.address,
      name: 't1',
      token: `0x${'ab'.repeat(32)}`,
      totalSpace: 2048n * MiB,
      usedSpace: 96n * MiB,
      lockedSpace: 192n * MiB,
      remainingSpace: 1760n * MiB,
      start: 10,
      deadline: 432_010,
      state: 'Frozen',
    });
  });

  it('decodes Sminer.MinerItems with this runtime address field, and unknown states as offline', () => {
    const endpoint = 'http://10.0.0.7:9001';
    const address = spec === 100 ? { peerId: Uint8Array.from([...Buffer.from(endpoint), ...new Uint8Array(38 - endpoint.length)]) } : { endpoint };
    const miner = (state: string) => stored(f, 'sminer', 'minerItems', { beneficiary: bob.publicKey, stakingAccount: bob.publicKey, ...address, state, idleSpace: 4n * 1024n ** 4n, serviceSpace: 96n * MiB });
    expect(decodeMiner(bob.address, miner('positive'))).toEqual({ account: bob.address, endpoint, state: 'positive', idleSpace: 4n * 1024n ** 4n, serviceSpace: 96n * MiB });
    expect(decodeMiner(bob.address, miner('notready')).state).toBe('offline');
    expect(decodeMiner(bob.address, miner('frozen')).state).toBe('frozen');
  });

  it('decodes Oss.Oss (domain, optional peer id), AuthorityList, AllMiner and balances', () => {
    const peer = Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...alice.publicKey]);
    expect(decodeGateway(alice.address, stored(f, 'oss', 'oss', { peerId: peer, domain: 'https://gw.example' }))).toEqual({
      account: alice.address,
      endpoint: 'https://gw.example',
      domain: 'https://gw.example',
      peerId: base58Encode(peer),
    });
    expect(decodeGateway(alice.address, stored(f, 'oss', 'oss', { peerId: new Uint8Array(38), domain: '' }))).toEqual({ account: alice.address, endpoint: '', domain: '' });
    expect(decodeAccounts(stored(f, 'oss', 'authorityList', [bob.publicKey, alice.publicKey]))).toEqual([bob.address, alice.address]);
    expect(decodeAccounts(stored(f, 'sminer', 'allMiner', []))).toEqual([]);
    expect(decodeFreeBalance(stored(f, 'system', 'account', { nonce: 3, providers: 1, data: { free: 10n ** 30n, reserved: 7 } }))).toBe(10n ** 30n);
  });

  it('tells a present Option from None', () => {
    const none = f.registry.createType('Option<u32>', null);
    const present = f.registry.createType('Option<u32>', 7);
    expect(some(none)).toBeUndefined();
    expect(some(present)?.toString()).toBe('7');
  });
});
