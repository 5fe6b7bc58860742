/**
 * The Chain port: everything the gateway, the storage-node role and dev tooling need from the CESS chain.
 * Adapters: `local` (an embedded SQLite ledger with CESS's rules, shared by every process of a local cluster) and
 * `cess` (@polkadot/api against a CESS node). Both pass test/conformance/chain.ts.
 *
 * A client is bound to one signing account (`account`): every transaction method submits as that account, the
 * way a CESS extrinsic is signed by one key. Vendor types (polkadot codecs, SQLite rows) never cross this port.
 */

/** An account as an SS58 address (CESS prefix 11330, addresses start with `cX`). */
export type AccountId = string;

/** A FID, segment or fragment hash: 64 lowercase hex characters (the chain stores these ASCII bytes). */
export type Hash64 = string;

/** Token amounts and byte counts are bigint: CESS has 18 decimals and u128 sizes. */
export type Amount = bigint;

/** Blocks are 6 seconds; territory lifetimes are counted in blocks. */
export type BlockNumber = number;

export interface CallOptions {
  signal?: AbortSignal;
}

/** What a submitted transaction reached. Failures throw ChainDispatchError instead. */
export interface TxReceipt {
  /** Block in which the transaction was included. */
  block: BlockNumber;
  /** True once the block is final (the local chain finalizes at once). */
  finalized: boolean;
  events: ChainEvent[];
  /**
   * Fee the signer paid for the transaction that carried this call (`TransactionPayment.TransactionFeePaid`);
   * shared by every call of a batch. The local chain charges no fees: 0.
   */
  fee: Amount;
}

export type TerritoryState = 'Active' | 'Frozen' | 'Expired' | 'OnConsignment';

/** `StorageHandler.Territory`: bought storage space, in bytes. */
export interface Territory {
  owner: AccountId;
  name: string;
  /** H256 hex, 0x-prefixed. */
  token: string;
  totalSpace: Amount;
  usedSpace: Amount;
  lockedSpace: Amount;
  remainingSpace: Amount;
  start: BlockNumber;
  deadline: BlockNumber;
  state: TerritoryState;
}

export interface SegmentSpec {
  hash: Hash64;
  /** Exactly 12 fragment hashes, in column order. */
  fragments: Hash64[];
}

/** Who a file belongs to, under which name, in which territory. */
export interface UserBrief {
  user: AccountId;
  /** 3..63 bytes. */
  fileName: string;
  territoryName: string;
  /**
   * Only on CESS runtimes up to spec 125, whose `UserBrief` has a `bucket_name` (the chain files every upload in a
   * bucket it creates on demand). Ignored elsewhere; the `cess` adapter fills in its configured default.
   */
  bucketName?: string;
}

/** `FileBank.DealMap`: a declared upload waiting for its 12 fragment columns to be reported. */
export interface DealRecord {
  fid: Hash64;
  fileSize: Amount;
  segments: SegmentSpec[];
  user: UserBrief;
  /** Columns reported so far: index 1..12 and the miner that holds that column. */
  completed: { index: number; miner: AccountId }[];
}

export type FileState = 'Active' | 'Calculate' | 'Missing' | 'Recovery';

/** `FileBank.File`: a stored file. */
export interface FileRecord {
  fid: Hash64;
  fileSize: Amount;
  segments: { hash: Hash64; fragments: { hash: Hash64; avail: boolean; miner: AccountId }[] }[];
  owners: UserBrief[];
  /** Block at which storage completed. */
  completion: BlockNumber;
  state: FileState;
}

/** One entry of `FileBank.UserHoldFileList`. */
export interface UserFile {
  fid: Hash64;
  territoryName: string;
  fileSize: Amount;
}

export type MinerState = 'positive' | 'frozen' | 'exit' | 'lock' | 'offline';

/** A storage node (`Sminer.MinerItems`). */
export interface MinerInfo {
  account: AccountId;
  /** Where the node serves the fragment protocol, e.g. `http://127.0.0.1:9001`. */
  endpoint: string;
  state: MinerState;
  idleSpace: Amount;
  serviceSpace: Amount;
}

/**
 * A gateway registration (`Oss.Oss`). CESS keeps one text field (`domain`, ≤ 50 bytes) and a 38-byte libp2p peer
 * id: the `cess` adapter publishes `domain || endpoint` there and reads it back as both (docs/chain.md).
 */
export interface GatewayInfo {
  account: AccountId;
  endpoint: string;
  domain: string;
  /** The gateway's libp2p peer id (base58), when it published one. */
  peerId?: string;
}

/**
 * `Oss.proxy_authorzie` (sic): a user's sr25519 signature that lets `operator` act for them, submitted (and paid
 * for) by someone else, usually the gateway. The user signs `proxyAuthorizationMessage({ operator, exp })`
 * (proxy-authorization.ts); the chain accepts it while `exp + CHAIN.proxyPayloadExpiryBlocks > current block`.
 */
export interface ProxyAuthorization {
  /** The user granting the authorization (the signer of the message). */
  owner: AccountId;
  /** The gateway being authorized. */
  operator: AccountId;
  /** Block number the signed payload carries. */
  exp: BlockNumber;
  /** 64-byte sr25519 signature. */
  signature: Uint8Array;
}

/** A territory transaction a user signs themselves (built by the gateway, which never holds the user's key). */
export type TerritoryTx =
  | { kind: 'mint'; name: string; gib: number; days: number }
  | { kind: 'expand'; name: string; gib: number }
  | { kind: 'renew'; name: string; days: number };

/**
 * A transaction built for `signer` to sign: sign `signingPayload` with sr25519 and hand back `payload` unchanged
 * with the signature (`submitSignedTx`).
 */
export interface UnsignedTx {
  signer: AccountId;
  call: TerritoryTx;
  /** 0x-hex of the exact bytes to sign (for CESS: the extrinsic payload, blake2-256 hashed when over 256 bytes). */
  signingPayload: string;
  /**
   * What the adapter needs to assemble the signed transaction, JSON-safe. For CESS it is polkadot-js's
   * `SignerPayloadJSON`, which a browser wallet's `signPayload` accepts as is.
   */
  payload: Record<string, unknown>;
  /** Last block at which the chain still accepts the signed transaction. */
  validUntil: BlockNumber;
  /** What the call will charge, in base units, at today's price (fees not included). */
  price: Amount;
}

/** A signed `UnsignedTx`: its payload and the signer's signature (64 bytes sr25519, or 65 with a type prefix). */
export interface SignedTx {
  signer: AccountId;
  payload: Record<string, unknown>;
  signature: Uint8Array;
}

export type ChainEvent =
  | { type: 'UploadDeclaration'; operator: AccountId; owner: AccountId; fid: Hash64 }
  /** `index` is the reported column (1..12); absent when the adapter could not read it from the block. */
  | { type: 'TransferReport'; miner: AccountId; fid: Hash64; index?: number }
  | { type: 'StorageCompleted'; fid: Hash64 }
  | { type: 'DeleteFile'; operator: AccountId; owner: AccountId; fid: Hash64 }
  | { type: 'Authorize'; owner: AccountId; operator: AccountId }
  | { type: 'CancelAuthorize'; owner: AccountId; operator: AccountId }
  | { type: 'OssRegister'; account: AccountId; endpoint: string }
  | { type: 'MintTerritory'; owner: AccountId; name: string; space: Amount }
  | { type: 'Transfer'; from: AccountId; to: AccountId; amount: Amount };

export interface Chain {
  /** The account this client signs as. */
  readonly account: AccountId;
  /** Current best block. */
  blockNumber(opts?: CallOptions): Promise<BlockNumber>;
  /** Free balance. */
  balance(account: AccountId, opts?: CallOptions): Promise<Amount>;
  transfer(to: AccountId, amount: Amount, opts?: CallOptions): Promise<TxReceipt>;

  // Gateway (`oss` pallet)
  /** Registers this account as a gateway, or updates its registration. `peerId`: optional libp2p id (base58). */
  registerGateway(p: { endpoint: string; domain: string; peerId?: string }, opts?: CallOptions): Promise<TxReceipt>;
  gateway(account: AccountId, opts?: CallOptions): Promise<GatewayInfo | undefined>;
  /** The user side: let `operator` (a registered gateway) act for this account. */
  authorize(operator: AccountId, opts?: CallOptions): Promise<TxReceipt>;
  cancelAuthorize(operator: AccountId, opts?: CallOptions): Promise<TxReceipt>;
  /** `Oss.AuthorityList[owner]` contains `operator`. */
  isAuthorized(owner: AccountId, operator: AccountId, opts?: CallOptions): Promise<boolean>;
  /** Submits a user's signed authorization of a gateway; this client pays the fee (`Oss.proxy_authorzie`). */
  proxyAuthorize(p: ProxyAuthorization, opts?: CallOptions): Promise<TxReceipt>;

  // Territories (`storage_handler` pallet), signed by their owner
  mintTerritory(p: { name: string; gib: number; days: number }, opts?: CallOptions): Promise<TxReceipt>;
  expandTerritory(p: { name: string; gib: number }, opts?: CallOptions): Promise<TxReceipt>;
  renewTerritory(p: { name: string; days: number }, opts?: CallOptions): Promise<TxReceipt>;
  territory(owner: AccountId, name: string, opts?: CallOptions): Promise<Territory | undefined>;
  /** Builds a territory purchase, expansion or renewal for `signer` to sign elsewhere (no key needed here). */
  buildTerritoryTx(signer: AccountId, call: TerritoryTx, opts?: CallOptions): Promise<UnsignedTx>;
  /** Submits a transaction built by `buildTerritoryTx` and signed by its signer; the signer pays. */
  submitSignedTx(tx: SignedTx, opts?: CallOptions): Promise<TxReceipt>;

  // Files (`file_bank` pallet)
  /** Signed by the owner or an operator the owner authorized. Locks 12 × 8 MiB per segment of the territory. */
  declareUpload(p: { fid: Hash64; segments: SegmentSpec[]; user: UserBrief; fileSize: Amount }, opts?: CallOptions): Promise<TxReceipt>;
  /** Storage-node role: this account holds fragment column `index` (1..12) of every segment of `fid`. */
  transferReport(p: { index: number; fid: Hash64 }, opts?: CallOptions): Promise<TxReceipt>;
  /** Signed by the owner or an authorized operator; removes `owner`'s claim on the file. */
  deleteFile(p: { owner: AccountId; fid: Hash64 }, opts?: CallOptions): Promise<TxReceipt>;
  deal(fid: Hash64, opts?: CallOptions): Promise<DealRecord | undefined>;
  file(fid: Hash64, opts?: CallOptions): Promise<FileRecord | undefined>;
  userFiles(owner: AccountId, opts?: CallOptions): Promise<UserFile[]>;

  // Storage nodes (`sminer` pallet)
  /** Registers (or updates) this account as a storage node serving `endpoint`. */
  registerMiner(p: { endpoint: string; idleSpace: Amount }, opts?: CallOptions): Promise<TxReceipt>;
  miners(opts?: CallOptions): Promise<MinerInfo[]>;

  /** Events from now on (or from `fromBlock`), until the signal aborts. */
  events(opts?: CallOptions & { fromBlock?: BlockNumber }): AsyncIterable<ChainEvent & { block: BlockNumber }>;
  close(): Promise<void>;
}

/** A transaction the runtime refused: `pallet` and `error` as CESS names them, e.g. fileBank / NoPermission. */
export class ChainDispatchError extends Error {
  override name = 'ChainDispatchError';
  readonly pallet: string;
  readonly error: string;
  constructor(pallet: string, error: string, detail?: string) {
    super(`${pallet}.${error}${detail ? `: ${detail}` : ''}`);
    this.pallet = pallet;
    this.error = error;
  }
  /** `fileBank.NoPermission` style identifier. */
  get id(): string {
    return `${this.pallet}.${this.error}`;
  }
}

/** The chain could not be reached or answered nonsense (retryable, unlike a dispatch error). */
export class ChainUnavailableError extends Error {
  override name = 'ChainUnavailableError';
}

/** CESS protocol constants the chain enforces. */
export const CHAIN = {
  ss58Prefix: 11330,
  decimals: 18,
  /** 1 CESS in base units. */
  unit: 10n ** 18n,
  /** Territory price per GiB per day (genesis `UnitPrice`). */
  unitPrice: 30n * 10n ** 18n,
  blockSeconds: 6,
  blocksPerDay: 14_400,
  fragmentCount: 12,
  fragmentSize: 8n * 1024n * 1024n,
  maxDomainBytes: 50,
  maxTerritoryNameBytes: 63,
  minFileNameBytes: 3,
  maxFileNameBytes: 63,
  /** Gateways one account may authorize (`Oss` AuthorLimit). */
  maxAuthorizedGateways: 20,
  /** A proxy authorization stays valid while `exp + this > current block` (runtime `PayloadExpired`). */
  proxyPayloadExpiryBlocks: 100,
  /** Most segments one declaration may carry (runtime `SegmentCount`). */
  maxSegments: 1000,
} as const;
