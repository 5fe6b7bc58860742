import { Keyring } from '@polkadot/keyring';
import type { Call } from '@polkadot/types/interfaces';
import type { Codec } from '@polkadot/types/types';
import { base58Encode, cryptoWaitReady, decodeAddress, sr25519Verify } from '@polkadot/util-crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHAIN, ChainDispatchError } from '../port.ts';
import {
  authorizeCall,
  cancelAuthorizeCall,
  declarationCall,
  deleteFileCall,
  gatewayCall,
  MINER_STAKE_PER_TIB,
  minerRegisterCall,
  minerUpdateCall,
  proxyAuthorizeCall,
  territoryCall,
  transferCall,
  transferReportCall,
  type CallSpec,
} from './calls.ts';
import { CessRuntimeError, inspectRuntime, type CessRuntime } from './runtime.ts';
import { fixtureRegistry, type FixtureSpec } from './testing/fixtures.ts';

const hex = (n: number) => n.toString(16).padStart(64, '0');
const ascii = (c: Codec) => Buffer.from(Uint8Array.from(c as unknown as Uint8Array)).toString('utf8');
const keyring = new Keyring({ type: 'sr25519', ss58Format: 11330 });
let alice: ReturnType<Keyring['addFromUri']>;
let bob: ReturnType<Keyring['addFromUri']>;
beforeAll(async () => {
  await cryptoWaitReady();
  alice = keyring.addFromUri('//Alice');
  bob = keyring.addFromUri('//Bob');
});

/** Encodes a CallSpec with the fixture's metadata, then decodes the bytes as a fresh Call. */
function roundTrip(f: ReturnType<typeof fixtureRegistry>, spec: CallSpec): Call {
  const make = f.decorated.tx[spec.section]?.[spec.method];
  if (!make) throw new Error(`metadata has no ${spec.section}.${spec.method}`);
  const bytes = make(...spec.args).toU8a();
  return f.registry.createType('Call', bytes);
}

function args(call: Call): Record<string, Codec> {
  const names = call.meta.fields.map((f) => f.name.unwrap().toString());
  return Object.fromEntries(names.map((n, i) => [n, call.args[i]]));
}

const field = (c: Codec, name: string): Codec => {
  const s = c as unknown as { get(n: string): Codec | undefined };
  return s.get(name) ?? s.get(`${name}_`)!;
};

describe.each([137, 100] as FixtureSpec[])('calls against CESS spec %i metadata', (spec) => {
  let f: ReturnType<typeof fixtureRegistry>;
  let rt: CessRuntime;
  beforeAll(() => {
    f = fixtureRegistry(spec);
    rt = inspectRuntime(f.metadata, { specName: 'cess-node', specVersion: spec });
  });

  it('reads the runtime variant from the metadata', () => {
    expect(rt).toEqual({
      specName: 'cess-node',
      specVersion: spec,
      userBriefHasBucket: spec === 100,
      minerAddress: spec === 100 ? 'peerId' : 'endpoint',
      batchAll: true,
      proxyAuthorize: true,
      minerRegistration: true,
      checkMqSequence: spec === 100,
    });
  });

  it('encodes upload_declaration with 64-byte ASCII hashes, the UserBrief of this runtime and a u128 size', () => {
    const segments = [0, 1].map((s) => ({ hash: hex(100 + s), fragments: Array.from({ length: 12 }, (_, i) => hex(200 + s * 12 + i)) }));
    const call = roundTrip(f, declarationCall(rt, { fid: hex(1), segments, user: { user: alice.address, fileName: 'hello.txt', territoryName: 't1' }, fileSize: 2n ** 70n }, 'deoss'));
    expect([call.section, call.method]).toEqual(['fileBank', 'uploadDeclaration']);
    const a = args(call);
    expect(ascii(a.file_hash)).toBe(hex(1));
    const deal = a.deal_info as unknown as Codec[];
    expect(deal).toHaveLength(2);
    expect(ascii(field(deal[1], 'hash'))).toBe(hex(101));
    expect((field(deal[1], 'fragmentList') as unknown as Codec[]).map(ascii)).toEqual(segments[1].fragments);
    const brief = a.user_brief;
    expect(field(brief, 'user').toU8a()).toEqual(alice.publicKey);
    expect(ascii(field(brief, 'fileName'))).toBe('hello.txt');
    expect(ascii(field(brief, 'territoryName'))).toBe('t1');
    expect(field(brief, 'bucketName') === undefined).toBe(spec !== 100);
    if (spec === 100) expect(ascii(field(brief, 'bucketName'))).toBe('deoss');
    expect((a.file_size as unknown as { toBigInt(): bigint }).toBigInt()).toBe(2n ** 70n);
  });

  it('encodes a name that looks like hex as text, not as bytes', () => {
    const call = roundTrip(f, territoryCall({ kind: 'mint', name: '0xdead', gib: 3, days: 30 }));
    expect(ascii(args(call).territory_name)).toBe('0xdead');
  });

  it('encodes the storage-node, file and gateway calls', () => {
    const report = args(roundTrip(f, transferReportCall({ index: 7, fid: hex(9) })));
    expect(report.index.toString()).toBe('7');
    expect(ascii(report.deal_hash)).toBe(hex(9));

    const del = args(roundTrip(f, deleteFileCall({ owner: bob.address, fid: hex(9) })));
    expect(del.owner.toU8a()).toEqual(bob.publicKey);
    expect(ascii(del.file_hash)).toBe(hex(9));

    const peer = base58Encode(Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...alice.publicKey]));
    const register = roundTrip(f, gatewayCall(false, { endpoint: 'https://gw.example:8080', domain: '', peerId: peer }));
    expect(register.method).toBe('register');
    expect(base58Encode(args(register).endpoint.toU8a())).toBe(peer);
    expect(ascii(args(register).domain)).toBe('https://gw.example:8080');
    const update = roundTrip(f, gatewayCall(true, { endpoint: 'http://x', domain: 'gw.example', peerId: undefined }));
    expect(update.method).toBe('update');
    expect(args(update).endpoint.toU8a()).toEqual(new Uint8Array(38));
    expect(ascii(args(update).domain)).toBe('gw.example');

    expect(args(roundTrip(f, authorizeCall(bob.address))).operator.toU8a()).toEqual(bob.publicKey);
    expect(args(roundTrip(f, cancelAuthorizeCall(bob.address))).oss.toU8a()).toEqual(bob.publicKey);

    const signature = alice.sign(new Uint8Array([1, 2, 3]));
    const proxy = args(roundTrip(f, proxyAuthorizeCall(rt, { owner: alice.address, operator: bob.address, exp: 4242, signature })));
    expect(proxy.auth_puk.toU8a()).toEqual(alice.publicKey);
    expect(Uint8Array.from(proxy.sig as unknown as Uint8Array)).toEqual(signature);
    expect(field(proxy.payload, 'oss').toU8a()).toEqual(bob.publicKey);
    expect(field(proxy.payload, 'exp').toString()).toBe('4242');

    const transfer = args(roundTrip(f, transferCall(bob.address, 5n * CHAIN.unit)));
    expect((transfer.dest as unknown as { value: Codec }).value.toU8a()).toEqual(bob.publicKey);
    expect((transfer.value as unknown as { toBigInt(): bigint }).toBigInt()).toBe(5n * CHAIN.unit);
  });

  it('encodes territory purchase, expansion and renewal', () => {
    const mint = roundTrip(f, territoryCall({ kind: 'mint', name: 'photos', gib: 10, days: 30 }));
    expect([mint.method, ascii(args(mint).territory_name), args(mint).gib_count.toString(), args(mint).days.toString()]).toEqual(['mintTerritory', 'photos', '10', '30']);
    const expand = roundTrip(f, territoryCall({ kind: 'expand', name: 'photos', gib: 2 }));
    expect([expand.method, ascii(args(expand).territory_name), args(expand).gib_count.toString()]).toEqual(['expandingTerritory', 'photos', '2']);
    const renew = roundTrip(f, territoryCall({ kind: 'renew', name: 'photos', days: 60 }));
    expect([renew.method, ascii(args(renew).territory_name), args(renew).days.toString()]).toEqual(['renewalTerritory', 'photos', '60']);
  });

  it('encodes storage-node registration with this runtime endpoint field', () => {
    const reg = args(roundTrip(f, minerRegisterCall(rt, alice.address, { endpoint: 'http://10.0.0.1:9001', idleSpace: 3n * 1024n ** 4n + 1n })));
    expect(reg.beneficiary.toU8a()).toEqual(alice.publicKey);
    expect(reg.tib_count.toString()).toBe('4');
    expect((reg.staking_val as unknown as { toBigInt(): bigint }).toBigInt()).toBe(4n * MINER_STAKE_PER_TIB);
    const address = spec === 100 ? reg.peer_id : reg.endpoint;
    expect(ascii(address).replace(/\0+$/, '')).toBe('http://10.0.0.1:9001');
    const upd = roundTrip(f, minerUpdateCall(rt, 'http://10.0.0.2:9001'));
    expect(upd.method).toBe(spec === 100 ? 'updatePeerId' : 'updateEndpoint');
  });

  it('batches declarations in utility.batch_all and decodes each one back', () => {
    const decl = (n: number) => declarationCall(rt, { fid: hex(n), segments: [{ hash: hex(n + 1), fragments: Array(12).fill(hex(n + 2)) }], user: { user: alice.address, fileName: `f${n}.bin`, territoryName: 't' }, fileSize: BigInt(n) }, 'deoss');
    const calls = [decl(10), decl(20), decl(30)].map((c) => f.decorated.tx[c.section][c.method](...c.args));
    const batch = f.registry.createType('Call', f.decorated.tx.utility.batchAll(calls).toU8a());
    expect([batch.section, batch.method]).toEqual(['utility', 'batchAll']);
    const inner = batch.args[0] as unknown as Call[];
    expect(inner.map((c) => ascii(args(c).file_hash))).toEqual([hex(10), hex(20), hex(30)]);
  });

  it('signs an extrinsic with this runtime signed extensions, and the signature verifies over the payload', () => {
    const call = f.decorated.tx.balances.transferKeepAlive(...transferCall(bob.address, 1n).args);
    const genesisHash = `0x${'11'.repeat(32)}`;
    const blockHash = `0x${'22'.repeat(32)}`;
    const era = f.registry.createType('ExtrinsicEra', { current: 1000, period: 64 });
    const options = { blockHash, genesisHash, nonce: 7, era, runtimeVersion: { specVersion: spec, transactionVersion: 1 }, signedExtensions: f.registry.signedExtensions, tip: 0 };
    expect(f.registry.signedExtensions.includes('CheckMqSequence')).toBe(spec === 100);
    const ext = f.registry.createType('Extrinsic', call);
    ext.sign(alice, options as never);
    const back = f.registry.createType('Extrinsic', ext.toU8a());
    expect(back.isSigned).toBe(true);
    expect(back.signer.toString()).toBe(alice.address);
    expect(back.nonce.toNumber()).toBe(7);
    expect(back.method.toHex()).toBe(call.toHex());
    const payload = f.registry.createType('ExtrinsicPayload', { ...options, method: call.toHex(), era: era.toHex(), nonce: 7, specVersion: spec, transactionVersion: 1 }, { version: 4 }).toU8a({ method: true });
    expect(sr25519Verify(payload, back.signature.toU8a(), alice.publicKey)).toBe(true);
  });

  it('refuses what the runtime could not decode, before paying a fee for it', () => {
    const refused = (f: () => unknown) => {
      try {
        f();
        return 'accepted';
      } catch (err) {
        expect(err).toBeInstanceOf(ChainDispatchError);
        return (err as ChainDispatchError).id;
      }
    };
    const brief = { user: alice.address, fileName: 'name.txt', territoryName: 't' };
    expect(refused(() => declarationCall(rt, { fid: 'ABC', segments: [], user: brief, fileSize: 1n }, 'deoss'))).toBe('fileBank.SpecError');
    expect(refused(() => declarationCall(rt, { fid: hex(1), segments: [], user: { ...brief, fileName: 'n'.repeat(64) }, fileSize: 1n }, 'deoss'))).toBe('fileBank.BoundedVecError');
    expect(refused(() => declarationCall(rt, { fid: hex(1), segments: [], user: { ...brief, user: 'not-an-address' }, fileSize: 1n }, 'deoss'))).toBe('fileBank.InvalidAccount');
    expect(refused(() => gatewayCall(false, { endpoint: 'x', domain: 'd'.repeat(51) }))).toBe('oss.BoundedVecError');
    expect(refused(() => gatewayCall(false, { endpoint: 'x', domain: '', peerId: 'not base58 0OIl' }))).toBe('oss.ConvertError');
    expect(refused(() => territoryCall({ kind: 'mint', name: '', gib: 1, days: 30 }))).toBe('storageHandler.SpecError');
    expect(refused(() => territoryCall({ kind: 'mint', name: 't'.repeat(64), gib: 1, days: 30 }))).toBe('storageHandler.BoundedVecError');
    expect(refused(() => territoryCall({ kind: 'renew', name: 't', days: -1 }))).toBe('storageHandler.BugInvalid');
    expect(refused(() => proxyAuthorizeCall(rt, { owner: alice.address, operator: bob.address, exp: 1, signature: new Uint8Array(10) }))).toBe('oss.MalformedSignature');
    expect(refused(() => transferCall(bob.address, 0n))).toBe('balances.ZeroAmount');
    expect(decodeAddress(alice.address)).toEqual(alice.publicKey);
  });
});

describe('runtime inspection', () => {
  it('names every missing call, storage item and event of a runtime that is not CESS', async () => {
    const { Metadata, TypeRegistry } = await import('@polkadot/types');
    const substrate = (await import('@polkadot/types-support/metadata/static-substrate')).default as `0x${string}`;
    const registry = new TypeRegistry();
    const metadata = new Metadata(registry, substrate);
    registry.setMetadata(metadata);
    let error: unknown;
    try {
      inspectRuntime(metadata, { specName: 'node', specVersion: 268 });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CessRuntimeError);
    const e = error as CessRuntimeError;
    expect(e.missing).toContain('call FileBank.upload_declaration');
    expect(e.missing).toContain('call Oss.register');
    expect(e.missing).toContain('storage StorageHandler.Territory');
    expect(e.missing).toContain('event FileBank.StorageCompleted');
    expect(e.missing).not.toContain('call Balances.transfer_keep_alive');
    expect(e.message).toMatch(/\(node spec 268\) lacks what the gateway needs: .*call FileBank\.upload_declaration/);
  });
});
