import { Keyring } from '@polkadot/keyring';
import type { DispatchError } from '@polkadot/types/interfaces';
import { base58Encode, cryptoWaitReady } from '@polkadot/util-crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChainDispatchError, ChainUnavailableError } from '../port.ts';
import { classifySubmitError, toDispatchError } from './errors.ts';
import { byExtrinsic, failure, feePaid, splitBatch, toChainEvents, type RawEventRecord } from './events.ts';
import { eventRecords, fixtureRegistry, type FixtureSpec } from './testing/fixtures.ts';

const hex = (n: number) => n.toString(16).padStart(64, '0');
const keyring = new Keyring({ type: 'sr25519', ss58Format: 11330 });
let alice: ReturnType<Keyring['addFromUri']>;
let bob: ReturnType<Keyring['addFromUri']>;
beforeAll(async () => {
  await cryptoWaitReady();
  alice = keyring.addFromUri('//Alice');
  bob = keyring.addFromUri('//Bob');
});

describe.each([137, 100] as FixtureSpec[])('events of CESS spec %i', (spec) => {
  let f: ReturnType<typeof fixtureRegistry>;
  const records = (list: Parameters<typeof eventRecords>[1]) => f.registry.createType('Vec<EventRecord>', eventRecords(f, list)) as unknown as RawEventRecord[];
  beforeAll(() => {
    f = fixtureRegistry(spec);
  });

  it('decodes the gateway, file and territory events, grouped by extrinsic', () => {
    const peer = Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...bob.publicKey]);
    const all = records([
      [null, 'system', 'ExtrinsicSuccess', [{}]],
      [1, 'oss', 'Authorize', [alice.publicKey, bob.publicKey]],
      [1, 'transactionPayment', 'TransactionFeePaid', [alice.publicKey, 1234n, 5n]],
      [2, 'fileBank', 'UploadDeclaration', [bob.publicKey, alice.publicKey, hex(1)]],
      [2, 'fileBank', 'StorageCompleted', [hex(1)]],
      [2, 'fileBank', 'TransferReport', [bob.publicKey, hex(1)]],
      [2, 'fileBank', 'DeleteFile', [bob.publicKey, alice.publicKey, hex(2)]],
      [3, 'storageHandler', 'MintTerritory', [`0x${'cd'.repeat(32)}`, 'photos', 1024n ** 3n, 900n]],
      [3, 'transactionPayment', 'TransactionFeePaid', [bob.publicKey, 7n, 0n]],
      [4, 'oss', 'OssRegister', [bob.publicKey, peer]],
      [4, 'oss', 'CancelAuthorize', [alice.publicKey, bob.publicKey]],
      [4, 'balances', 'Transfer', [alice.publicKey, bob.publicKey, 10n ** 20n]],
    ]);
    const groups = byExtrinsic(all);
    expect([...groups.keys()]).toEqual([1, 2, 3, 4]);
    expect(feePaid(groups.get(1)!)).toEqual({ signer: alice.address, fee: 1239n });
    expect(toChainEvents(groups.get(1)!)).toEqual([{ type: 'Authorize', owner: alice.address, operator: bob.address }]);
    expect(toChainEvents(groups.get(2)!, { reportIndices: [7] })).toEqual([
      { type: 'UploadDeclaration', operator: bob.address, owner: alice.address, fid: hex(1) },
      { type: 'StorageCompleted', fid: hex(1) },
      { type: 'TransferReport', miner: bob.address, fid: hex(1), index: 7 },
      { type: 'DeleteFile', operator: bob.address, owner: alice.address, fid: hex(2) },
    ]);
    // MintTerritory carries no owner: it is the extrinsic's signer.
    const mint = groups.get(3)!;
    expect(toChainEvents(mint, { signer: feePaid(mint).signer })).toEqual([{ type: 'MintTerritory', owner: bob.address, name: 'photos', space: 1024n ** 3n }]);
    expect(toChainEvents(groups.get(4)!)).toEqual([
      { type: 'OssRegister', account: bob.address, endpoint: base58Encode(peer) },
      { type: 'CancelAuthorize', owner: alice.address, operator: bob.address },
      { type: 'Transfer', from: alice.address, to: bob.address, amount: 10n ** 20n },
    ]);
    // Without the report's column the event says so by leaving `index` out.
    expect(toChainEvents(groups.get(2)!).find((e) => e.type === 'TransferReport')).not.toHaveProperty('index');
  });

  it('splits a batch_all extrinsic into the events of each call', () => {
    const all = records([
      [1, 'fileBank', 'UploadDeclaration', [bob.publicKey, alice.publicKey, hex(1)]],
      [1, 'utility', 'ItemCompleted', []],
      [1, 'fileBank', 'UploadDeclaration', [bob.publicKey, alice.publicKey, hex(2)]],
      [1, 'utility', 'ItemCompleted', []],
      [1, 'utility', 'BatchCompleted', []],
      [1, 'transactionPayment', 'TransactionFeePaid', [bob.publicKey, 9n, 0n]],
    ]);
    const events = byExtrinsic(all).get(1)!;
    const parts = splitBatch(events, 2)!;
    expect(parts.map((p) => toChainEvents(p).map((e) => (e as { fid: string }).fid))).toEqual([[hex(1)], [hex(2)]]);
    expect(splitBatch(events, 3)).toBeUndefined();
  });

  it('turns ExtrinsicFailed into the runtime error by name', () => {
    const err = (f.decorated.errors as unknown as Record<string, Record<string, { meta: { index: { toNumber(): number } } }>>).fileBank.NoPermission.meta.index.toNumber();
    const pallet = f.metadata.asLatest.pallets.find((p) => p.name.toString() === 'FileBank')!.index.toNumber();
    expect(pallet).toBe(104);
    const all = records([[0, 'system', 'ExtrinsicFailed', [{ Module: { index: pallet, error: [err, 0, 0, 0] } }, {}]]]);
    const failed = failure(byExtrinsic(all).get(0)!)!;
    const e = toDispatchError(f.registry, failed as unknown as DispatchError);
    expect(e).toBeInstanceOf(ChainDispatchError);
    expect(e.id).toBe('fileBank.NoPermission');
    const token = f.registry.createType('SpRuntimeDispatchError', { Token: 'FundsUnavailable' }) as unknown as DispatchError;
    expect(toDispatchError(f.registry, token).id).toBe('token.FundsUnavailable');
    expect(toDispatchError(f.registry, f.registry.createType('SpRuntimeDispatchError', { BadOrigin: null }) as unknown as DispatchError).id).toBe('system.BadOrigin');
    const unknown = f.registry.createType('SpRuntimeDispatchError', { Module: { index: 250, error: [1, 0, 0, 0] } }) as unknown as DispatchError;
    expect(toDispatchError(f.registry, unknown).id).toBe('pallet250.error0x01000000');
  });
});

describe('submission refusals', () => {
  it.each([
    [{ code: 1010, message: '1010: Invalid Transaction: Transaction is outdated' }, 'nonce', 'transaction.Stale'],
    [new Error('1010: Invalid Transaction: Transaction will be valid in the future'), 'nonce', 'transaction.Future'],
    [new Error('1010: Invalid Transaction: Inability to pay some fees (e.g. account balance too low)'), 'invalid', 'transaction.Payment'],
    [new Error('1010: Invalid Transaction: Transaction has a bad signature'), 'invalid', 'transaction.BadProof'],
    [new Error('1010: {"invalid":{"stale":null}}'), 'nonce', 'transaction.Stale'],
    [new Error('1013: Transaction Already Imported'), 'known', undefined],
    [new Error('1014: Priority is too low: (0 vs 0)'), 'conflict', 'transaction.PriorityTooLow'],
    [new Error('disconnected from ws://127.0.0.1:9944: 1006:: Abnormal Closure'), 'network', undefined],
  ])('%s → %s', (err, kind, id) => {
    const r = classifySubmitError(err);
    expect(r.kind).toBe(kind);
    if (id) expect((r as { error: ChainDispatchError }).error.id).toBe(id);
    if (kind === 'network') expect((r as { error: Error }).error).toBeInstanceOf(ChainUnavailableError);
  });
});
