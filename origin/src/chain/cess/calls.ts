import { CHAIN, type AccountId, type Amount, type Hash64, type ProxyAuthorization, type SegmentSpec, type TerritoryTx, type UserBrief } from '../port.ts';
import { accountBytes, boundedText, bytesArg, hashBytes, minerPeerIdBytes, peerIdBytes, refuseEarly } from './codec.ts';
import type { CessRuntime } from './runtime.ts';

/**
 * A call as data: `api.tx[section][method](...args)`. Builders only shape arguments for the connected runtime
 * (field names and layouts come from its metadata, see runtime.ts); encoding is polkadot-js's, so the same spec
 * can be encoded against any metadata in tests.
 */
export interface CallSpec {
  section: string;
  method: string;
  args: unknown[];
}

/** `Sminer` staking per declared TiB (runtime constant BASE_UNIT: 4,000 CESS). */
export const MINER_STAKE_PER_TIB = 4_000n * CHAIN.unit;
const TIB = 1024n ** 4n;
const MAX_MINER_ENDPOINT_BYTES = 100;
const u32 = (n: number, pallet: string, what: string): number => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) refuseEarly(pallet, 'BugInvalid', `${what} must be an integer 0..2^32-1`);
  return n;
};

export function transferCall(to: AccountId, amount: Amount): CallSpec {
  if (amount <= 0n) refuseEarly('balances', 'ZeroAmount', 'amount must be positive');
  return { section: 'balances', method: 'transferKeepAlive', args: [{ Id: accountBytes(to, 'balances', 'recipient') }, amount] };
}

export function gatewayCall(existing: boolean, p: { endpoint: string; domain: string; peerId?: string }): CallSpec {
  // CESS keeps one text field; it carries the domain, or the endpoint URL when no domain is configured.
  const domain = boundedText(p.domain || p.endpoint, CHAIN.maxDomainBytes, 'oss', 'domain');
  return { section: 'oss', method: existing ? 'update' : 'register', args: [peerIdBytes(p.peerId), domain] };
}

export function authorizeCall(operator: AccountId): CallSpec {
  return { section: 'oss', method: 'authorize', args: [accountBytes(operator, 'oss', 'operator')] };
}

export function cancelAuthorizeCall(operator: AccountId): CallSpec {
  return { section: 'oss', method: 'cancelAuthorize', args: [accountBytes(operator, 'oss', 'operator')] };
}

export function proxyAuthorizeCall(rt: CessRuntime, p: ProxyAuthorization): CallSpec {
  if (!rt.proxyAuthorize) refuseEarly('oss', 'Unsupported', `runtime spec ${rt.specVersion} has no Oss.proxy_authorzie`);
  if (p.signature.length !== 64) refuseEarly('oss', 'MalformedSignature', 'an sr25519 signature is 64 bytes');
  return {
    section: 'oss',
    method: 'proxyAuthorzie',
    args: [accountBytes(p.owner, 'oss', 'owner'), bytesArg(p.signature), { oss: accountBytes(p.operator, 'oss', 'operator'), exp: u32(p.exp, 'oss', 'exp') }],
  };
}

export function territoryCall(call: TerritoryTx): CallSpec {
  const name = boundedText(call?.name ?? '', CHAIN.maxTerritoryNameBytes, 'storageHandler', 'territory name', 1);
  switch (call.kind) {
    case 'mint':
      return { section: 'storageHandler', method: 'mintTerritory', args: [u32(call.gib, 'storageHandler', 'gib'), name, u32(call.days, 'storageHandler', 'days')] };
    case 'expand':
      return { section: 'storageHandler', method: 'expandingTerritory', args: [name, u32(call.gib, 'storageHandler', 'gib')] };
    case 'renew':
      return { section: 'storageHandler', method: 'renewalTerritory', args: [name, u32(call.days, 'storageHandler', 'days')] };
    default:
      return refuseEarly('storageHandler', 'BugInvalid', 'a territory call is mint, expand or renew');
  }
}

export interface Declaration {
  fid: Hash64;
  segments: SegmentSpec[];
  user: UserBrief;
  fileSize: Amount;
}

/** `FileBank.upload_declaration`; on runtimes whose UserBrief has `bucket_name`, the brief's or `defaultBucket`. */
export function declarationCall(rt: CessRuntime, d: Declaration, defaultBucket: string): CallSpec {
  const fid = hashBytes(d.fid);
  if (!Array.isArray(d.segments) || d.segments.length > CHAIN.maxSegments) refuseEarly('fileBank', 'BoundedVecError', `at most ${CHAIN.maxSegments} segments`);
  const segments = d.segments.map((s) => {
    if (!Array.isArray(s.fragments) || s.fragments.length > CHAIN.fragmentCount) refuseEarly('fileBank', 'SpecError', `a segment has ${CHAIN.fragmentCount} fragments`);
    return { hash: hashBytes(s.hash), fragmentList: s.fragments.map((f) => hashBytes(f)) };
  });
  const brief: Record<string, unknown> = {
    user: accountBytes(d.user.user, 'fileBank', 'owner'),
    fileName: boundedText(d.user.fileName, CHAIN.maxFileNameBytes, 'fileBank', 'file name'),
    territoryName: boundedText(d.user.territoryName, CHAIN.maxTerritoryNameBytes, 'fileBank', 'territory name'),
  };
  if (rt.userBriefHasBucket) brief.bucketName = boundedText(d.user.bucketName ?? defaultBucket, CHAIN.maxFileNameBytes, 'fileBank', 'bucket name');
  if (d.fileSize < 0n || d.fileSize >= 2n ** 128n) refuseEarly('fileBank', 'SpecError', 'file size must fit a u128');
  return { section: 'fileBank', method: 'uploadDeclaration', args: [fid, segments, brief, d.fileSize] };
}

export function transferReportCall(p: { index: number; fid: Hash64 }): CallSpec {
  if (!Number.isInteger(p.index) || p.index < 0 || p.index > 255) refuseEarly('fileBank', 'SpecError', 'index is 1..12');
  return { section: 'fileBank', method: 'transferReport', args: [p.index, hashBytes(p.fid)] };
}

export function deleteFileCall(p: { owner: AccountId; fid: Hash64 }): CallSpec {
  return { section: 'fileBank', method: 'deleteFile', args: [accountBytes(p.owner, 'fileBank', 'owner'), hashBytes(p.fid)] };
}

function minerEndpointArg(rt: CessRuntime, endpoint: string): Uint8Array | string {
  return rt.minerAddress === 'endpoint' ? boundedText(endpoint, MAX_MINER_ENDPOINT_BYTES, 'sminer', 'endpoint') : minerPeerIdBytes(endpoint);
}

/**
 * A new storage node stakes for its declared space (`Sminer.regnstk`); CESS turns it `positive` only after its idle
 * space is certified by a TEE worker, which no call here can do.
 */
export function minerRegisterCall(rt: CessRuntime, self: AccountId, p: { endpoint: string; idleSpace: Amount }): CallSpec {
  const tib = p.idleSpace <= 0n ? 1n : (p.idleSpace + TIB - 1n) / TIB;
  return { section: 'sminer', method: 'regnstk', args: [accountBytes(self), minerEndpointArg(rt, p.endpoint), tib * MINER_STAKE_PER_TIB, Number(tib)] };
}

export function minerUpdateCall(rt: CessRuntime, endpoint: string): CallSpec {
  return rt.minerAddress === 'endpoint'
    ? { section: 'sminer', method: 'updateEndpoint', args: [minerEndpointArg(rt, endpoint)] }
    : { section: 'sminer', method: 'updatePeerId', args: [minerEndpointArg(rt, endpoint)] };
}
