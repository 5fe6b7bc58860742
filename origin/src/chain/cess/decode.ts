import type { Codec } from '@polkadot/types/types';
import type { DealRecord, FileRecord, FileState, GatewayInfo, MinerInfo, MinerState, Territory, TerritoryState, UserBrief, UserFile } from '../port.ts';
import { cessAddress, hashText, minerPeerIdText, peerIdText, text } from './codec.ts';

/**
 * Storage values (polkadot-js codecs built from the runtime's metadata) to the port's plain types. Fields are read
 * by their metadata names, so the decoders follow both spec 100 and spec 137 layouts; a missing field is an error
 * that names it rather than a silent undefined.
 */

/** polkadot-js renames fields that clash with Codec members (`hash` → `hash_`). */
function lookup(value: Codec, name: string): Codec | undefined {
  const get = (value as unknown as { get?(key: string): Codec | undefined }).get;
  return get?.call(value, name) ?? get?.call(value, `${name}_`);
}

function field(value: Codec, name: string): Codec {
  const v = lookup(value, name);
  if (v === undefined) throw new TypeError(`CESS storage value ${value.toRawType().slice(0, 60)} has no field ${name}`);
  return v;
}

function has(value: Codec, name: string): boolean {
  return lookup(value, name) !== undefined;
}

const big = (c: Codec): bigint => (c as unknown as { toBigInt(): bigint }).toBigInt();
const num = (c: Codec): number => (c as unknown as { toNumber(): number }).toNumber();
const bytes = (c: Codec): Uint8Array => Uint8Array.from(c as unknown as Uint8Array);
const list = (c: Codec): Codec[] => [...(c as unknown as Codec[])];
const variant = (c: Codec): string => (c as unknown as { type: string }).type;
const account = (c: Codec): string => cessAddress(c.toU8a());

/** An `Option<T>` storage value: the inner value, or undefined for None. */
export function some(c: Codec): Codec | undefined {
  const o = c as unknown as { isSome?: boolean; isNone?: boolean; unwrap(): Codec };
  if (o.isNone) return undefined;
  return o.isSome ? o.unwrap() : c;
}

export function decodeUserBrief(c: Codec): UserBrief {
  const brief: UserBrief = { user: account(field(c, 'user')), fileName: text(bytes(field(c, 'fileName'))), territoryName: text(bytes(field(c, 'territoryName'))) };
  if (has(c, 'bucketName')) brief.bucketName = text(bytes(field(c, 'bucketName')));
  return brief;
}

export function decodeTerritory(owner: string, name: string, c: Codec): Territory {
  return {
    owner,
    name,
    token: field(c, 'token').toHex(),
    totalSpace: big(field(c, 'totalSpace')),
    usedSpace: big(field(c, 'usedSpace')),
    lockedSpace: big(field(c, 'lockedSpace')),
    remainingSpace: big(field(c, 'remainingSpace')),
    start: num(field(c, 'start')),
    deadline: num(field(c, 'deadline')),
    state: variant(field(c, 'state')) as TerritoryState,
  };
}

export function decodeDeal(fid: string, c: Codec): DealRecord {
  return {
    fid,
    fileSize: big(field(c, 'fileSize')),
    segments: list(field(c, 'segmentList')).map((s) => ({ hash: hashText(bytes(field(s, 'hash'))), fragments: list(field(s, 'fragmentList')).map((f) => hashText(bytes(f))) })),
    user: decodeUserBrief(field(c, 'user')),
    completed: list(field(c, 'completeList')).map((x) => ({ index: num(field(x, 'index')), miner: account(field(x, 'miner')) })),
  };
}

export function decodeFile(fid: string, c: Codec): FileRecord {
  return {
    fid,
    fileSize: big(field(c, 'fileSize')),
    segments: list(field(c, 'segmentList')).map((s) => ({
      hash: hashText(bytes(field(s, 'hash'))),
      fragments: list(field(s, 'fragmentList')).map((f) => ({ hash: hashText(bytes(field(f, 'hash'))), avail: (field(f, 'avail') as unknown as { isTrue: boolean }).isTrue, miner: account(field(f, 'miner')) })),
    })),
    owners: list(field(c, 'owner')).map(decodeUserBrief),
    completion: num(field(c, 'completion')),
    state: variant(field(c, 'stat')) as FileState,
  };
}

/** `UserHoldFileList` entries. Their `file_size` is the territory space the file takes (96 MiB per segment). */
export function decodeUserFileSlices(c: Codec): { fid: string; territoryName: string; space: bigint }[] {
  return list(c).map((x) => ({ fid: hashText(bytes(field(x, 'fileHash'))), territoryName: text(bytes(field(x, 'territoryName'))), space: big(field(x, 'fileSize')) }));
}

export function decodeUserFiles(slices: { fid: string; territoryName: string; space: bigint }[], sizes: Map<string, bigint>): UserFile[] {
  return slices.map((s) => ({ fid: s.fid, territoryName: s.territoryName, fileSize: sizes.get(s.fid) ?? s.space }));
}

const MINER_STATES = new Set(['positive', 'frozen', 'exit', 'lock', 'offline']);

export function decodeMiner(accountId: string, c: Codec): MinerInfo {
  const state = text(bytes(field(c, 'state')));
  return {
    account: accountId,
    endpoint: has(c, 'endpoint') ? text(bytes(field(c, 'endpoint'))) : minerPeerIdText(bytes(field(c, 'peerId'))),
    // CESS also has states the port does not name (e.g. "notready" before TEE certification): reported as offline.
    state: (MINER_STATES.has(state) ? state : 'offline') as MinerState,
    idleSpace: big(field(c, 'idleSpace')),
    serviceSpace: big(field(c, 'serviceSpace')),
  };
}

export function decodeGateway(accountId: string, c: Codec): GatewayInfo {
  const domain = text(bytes(field(c, 'domain')));
  const info: GatewayInfo = { account: accountId, endpoint: domain, domain };
  const peerId = peerIdText(bytes(field(c, 'peerId')));
  if (peerId) info.peerId = peerId;
  return info;
}

export function decodeAccounts(c: Codec): string[] {
  return list(c).map(account);
}

export function decodeFreeBalance(c: Codec): bigint {
  return big(field(field(c, 'data'), 'free'));
}
