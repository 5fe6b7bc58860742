import type { Metadata } from '@polkadot/types';
import type { ApiOptions } from '@polkadot/api/types';

/**
 * CESS's own signed extension (runtimes with the CesMq pallet, e.g. the spec-100 devnet): it adds nothing to the
 * extrinsic or to the signed payload, but polkadot-js must know it, or it cannot lay out the signed payload.
 */
export const CESS_SIGNED_EXTENSIONS = { CheckMqSequence: { extrinsic: {}, payload: {} } } satisfies ApiOptions['signedExtensions'];

/** What the adapter learned about the connected runtime from its metadata. */
export interface CessRuntime {
  specName: string;
  specVersion: number;
  /** `UserBrief` carries `bucket_name` (runtimes up to spec 125). */
  userBriefHasBucket: boolean;
  /** How `Sminer.MinerItems` holds a miner's address: `endpoint` (Bytes ≤ 100, spec ≥ 126) or a 38-byte `peer_id`. */
  minerAddress: 'endpoint' | 'peerId';
  /** `utility.batch_all` exists, so several declarations can share one extrinsic. */
  batchAll: boolean;
  /** `Oss.proxy_authorzie` exists. */
  proxyAuthorize: boolean;
  /** `Sminer.regnstk` exists (storage-node registration). */
  minerRegistration: boolean;
  /** The runtime lists CESS's `CheckMqSequence` signed extension. */
  checkMqSequence: boolean;
}

/** The connected runtime lacks something the adapter needs. Not retryable: the node runs another runtime. */
export class CessRuntimeError extends Error {
  override name = 'CessRuntimeError';
  readonly missing: string[];
  constructor(spec: string, missing: string[]) {
    super(`the CESS runtime at the configured RPC (${spec}) lacks what the gateway needs: ${missing.join(', ')}`);
    this.missing = missing;
  }
}

/** Calls the gateway, the storage-node role and territory management submit (pallet → calls, as in metadata). */
const REQUIRED_CALLS: Record<string, string[]> = {
  Balances: ['transfer_keep_alive'],
  Oss: ['register', 'update', 'authorize', 'cancel_authorize'],
  FileBank: ['upload_declaration', 'delete_file', 'transfer_report'],
  StorageHandler: ['mint_territory', 'expanding_territory', 'renewal_territory'],
};

const REQUIRED_STORAGE: Record<string, string[]> = {
  System: ['Account', 'Events'],
  Oss: ['Oss', 'AuthorityList'],
  FileBank: ['File', 'DealMap', 'UserHoldFileList'],
  StorageHandler: ['Territory', 'UnitPrice'],
  Sminer: ['AllMiner', 'MinerItems'],
};

const REQUIRED_EVENTS: Record<string, string[]> = {
  FileBank: ['UploadDeclaration', 'TransferReport', 'StorageCompleted', 'DeleteFile'],
  Oss: ['Authorize', 'CancelAuthorize'],
};

/**
 * Reads the runtime's calls, storage and types from its metadata and says which CESS variant it is.
 * Throws CessRuntimeError naming every missing call, storage item or event.
 */
export function inspectRuntime(metadata: Metadata, version: { specName: string; specVersion: number }): CessRuntime {
  const registry = metadata.registry;
  const latest = metadata.asLatest;
  const pallets = new Map(latest.pallets.map((p) => [p.name.toString(), p]));
  const variants = (typeId: { toNumber(): number } | undefined): string[] =>
    typeId === undefined ? [] : registry.lookup.getSiType(typeId.toNumber()).def.asVariant.variants.map((v) => v.name.toString());
  const calls = (pallet: string) => {
    const p = pallets.get(pallet);
    return p?.calls.isSome ? variants(p.calls.unwrap().type) : [];
  };
  const events = (pallet: string) => {
    const p = pallets.get(pallet);
    return p?.events.isSome ? variants(p.events.unwrap().type) : [];
  };
  const storage = (pallet: string) => {
    const p = pallets.get(pallet);
    return p?.storage.isSome ? p.storage.unwrap().items.map((i) => i.name.toString()) : [];
  };

  const missing: string[] = [];
  const need = (table: Record<string, string[]>, list: (pallet: string) => string[], kind: string) => {
    for (const [pallet, names] of Object.entries(table)) {
      const have = new Set(list(pallet));
      for (const n of names) if (!have.has(n)) missing.push(`${kind} ${pallet}.${n}`);
    }
  };
  need(REQUIRED_CALLS, calls, 'call');
  need(REQUIRED_STORAGE, storage, 'storage');
  need(REQUIRED_EVENTS, events, 'event');
  if (missing.length) throw new CessRuntimeError(`${version.specName} spec ${version.specVersion}`, missing);

  const callFields = (pallet: string, call: string): { name: string; type: number }[] => {
    const p = pallets.get(pallet)!;
    const v = registry.lookup.getSiType(p.calls.unwrap().type.toNumber()).def.asVariant.variants.find((x) => x.name.toString() === call)!;
    return v.fields.map((f) => ({ name: f.name.unwrapOr('').toString(), type: f.type.toNumber() }));
  };
  const structFields = (typeId: number): string[] => {
    const def = registry.lookup.getSiType(typeId).def;
    return def.isComposite ? def.asComposite.fields.map((f) => f.name.unwrapOr('').toString()) : [];
  };
  const brief = callFields('FileBank', 'upload_declaration').find((f) => f.name === 'user_brief');
  const minerItems = pallets.get('Sminer')!.storage.unwrap().items.find((i) => i.name.toString() === 'MinerItems')!;
  const minerFields = structFields(minerItems.type.asMap.value.toNumber());
  const extensions = (latest.extrinsic as unknown as { transactionExtensions?: { identifier: { toString(): string } }[]; signedExtensions?: { identifier: { toString(): string } }[] });
  const extensionNames = (extensions.transactionExtensions ?? extensions.signedExtensions ?? []).map((e) => e.identifier.toString());

  return {
    specName: version.specName,
    specVersion: version.specVersion,
    userBriefHasBucket: brief ? structFields(brief.type).includes('bucket_name') : false,
    minerAddress: minerFields.includes('endpoint') ? 'endpoint' : 'peerId',
    batchAll: calls('Utility').includes('batch_all'),
    proxyAuthorize: calls('Oss').includes('proxy_authorzie'),
    minerRegistration: calls('Sminer').includes('regnstk') && (calls('Sminer').includes('update_endpoint') || calls('Sminer').includes('update_peer_id')),
    checkMqSequence: extensionNames.includes('CheckMqSequence'),
  };
}
