import type { ApiPromise } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { u8aEq } from '@polkadot/util';
import { blake2AsU8a, cryptoWaitReady, decodeAddress, sr25519Verify } from '@polkadot/util-crypto';
import {
  CHAIN,
  ChainDispatchError,
  ChainUnavailableError,
  type AccountId,
  type Amount,
  type BlockNumber,
  type CallOptions,
  type Chain,
  type ChainEvent,
  type DealRecord,
  type FileRecord,
  type GatewayInfo,
  type Hash64,
  type MinerInfo,
  type ProxyAuthorization,
  type SegmentSpec,
  type SignedTx,
  type Territory,
  type TerritoryTx,
  type TxReceipt,
  type UnsignedTx,
  type UserBrief,
  type UserFile,
} from '../port.ts';
import { Batcher, BATCH_DEFAULTS, type BatcherOptions } from './batch.ts';
import {
  authorizeCall,
  cancelAuthorizeCall,
  declarationCall,
  deleteFileCall,
  gatewayCall,
  minerRegisterCall,
  minerUpdateCall,
  proxyAuthorizeCall,
  territoryCall,
  transferCall,
  transferReportCall,
  type CallSpec,
} from './calls.ts';
import { accountBytes, boundedText, cessAddress, hashBytes, refuseEarly } from './codec.ts';
import { CessConnection, type CessConnectionOptions } from './connection.ts';
import { decodeAccounts, decodeDeal, decodeFile, decodeFreeBalance, decodeGateway, decodeMiner, decodeTerritory, decodeUserFiles, decodeUserFileSlices, some } from './decode.ts';
import { byExtrinsic, feePaid, toChainEvents, type RawEvent, type RawEventRecord } from './events.ts';
import type { CessRuntime } from './runtime.ts';
import { buildExtrinsic, Submitter, SUBMIT_DEFAULTS, type Included, type SubmitOptions } from './submit.ts';

export interface CessChainOptions {
  /** The signing key: mnemonic or SURI (`//Alice`, `word … //hard/soft`). */
  suri: string;
  /** A connection to share (several accounts over one socket), or how to open one owned by this client. */
  connection: CessConnection | CessConnectionOptions;
  /** Submission: what to wait for, timeouts, mortality (submit.ts). */
  submit?: Partial<SubmitOptions>;
  /** Declarations batched into `utility.batch_all` (batch.ts). */
  batch?: Partial<Pick<BatcherOptions, 'maxCalls' | 'maxBytes'>>;
  /** Bucket for declarations on runtimes whose UserBrief still has `bucket_name` (spec ≤ 125). @default deoss */
  bucketName?: string;
  /** How often `events()` looks for new blocks, ms. @default 1_000 */
  eventPollMs?: number;
  /** Storage keys per multi-read (`state_queryStorageAt`). @default 500 */
  readChunk?: number;
}

const DEFAULT_BUCKET = 'deoss';
const GIB = 1024n ** 3n;
const TERRITORY_CALLS = new Set(['mintTerritory', 'expandingTerritory', 'renewalTerritory']);

/** Opens the `cess` adapter: @polkadot/api against a CESS node, signing as `suri`. */
export async function openCessChain(options: CessChainOptions, signal?: AbortSignal): Promise<CessChain> {
  await cryptoWaitReady();
  const owned = !(options.connection instanceof CessConnection);
  const conn = options.connection instanceof CessConnection ? options.connection : await CessConnection.open(options.connection, signal);
  const pair = new Keyring({ type: 'sr25519', ss58Format: CHAIN.ss58Prefix }).addFromUri(options.suri);
  return new CessChain(conn, pair, options, owned);
}

/**
 * The Chain port over a CESS node. What each operation maps to on chain is in docs/chain.md. Reads go through
 * CessConnection.read (one retry across a reconnect); transactions through a Submitter (local nonces, no global
 * lock) and, for declarations, a Batcher.
 */
export class CessChain implements Chain {
  readonly account: AccountId;
  readonly connection: CessConnection;
  readonly #pair: KeyringPair;
  readonly #o: CessChainOptions;
  readonly #owned: boolean;
  readonly #submitter: Submitter;
  readonly #batcher: Batcher;
  #closed = false;

  constructor(conn: CessConnection, pair: KeyringPair, options: CessChainOptions, ownsConnection: boolean) {
    this.connection = conn;
    this.#pair = pair;
    this.#o = options;
    this.#owned = ownsConnection;
    this.account = cessAddress(pair.publicKey);
    this.#submitter = new Submitter(conn, pair, options.submit);
    this.#batcher = new Batcher({
      ...BATCH_DEFAULTS,
      ...options.batch,
      available: () => this.#runtimeOrUndefined()?.batchAll ?? false,
      send: (calls) => this.#submitter.send(calls),
    });
  }

  /** The connected runtime's capabilities (spec version, bucket field, …). */
  get runtime(): CessRuntime {
    return this.connection.runtime();
  }

  #runtimeOrUndefined(): CessRuntime | undefined {
    try {
      return this.connection.runtime();
    } catch {
      return undefined;
    }
  }

  #read<T>(what: string, opts: CallOptions | undefined, body: (api: ApiPromise) => Promise<T>): Promise<T> {
    return this.connection.read(what, opts?.signal, body);
  }

  async #tx(calls: CallSpec[], opts: CallOptions | undefined, ctx: { reportIndices?: number[] } = {}): Promise<TxReceipt> {
    this.connection.runtime();
    return receipt(await this.#submitter.submit(calls, opts?.signal), ctx);
  }

  // ── accounts ─────────────────────────────────────────────────────────────

  blockNumber(opts?: CallOptions): Promise<BlockNumber> {
    return this.#read('block number', opts, async (api) => (await api.rpc.chain.getHeader()).number.toNumber());
  }

  balance(account: AccountId, opts?: CallOptions): Promise<Amount> {
    const who = accountBytes(account);
    return this.#read('balance', opts, async (api) => decodeFreeBalance(await api.query.system.account(who)));
  }

  transfer(to: AccountId, amount: Amount, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx([transferCall(to, amount)], opts);
  }

  // ── gateways ─────────────────────────────────────────────────────────────

  /**
   * Registers, or updates the registration. When the chain already holds exactly what would be published, nothing is
   * submitted (the origin re-registers at every start) and the receipt is empty, with the current block.
   */
  async registerGateway(p: { endpoint: string; domain: string; peerId?: string }, opts?: CallOptions): Promise<TxReceipt> {
    const published = p.domain || p.endpoint;
    const current = await this.gateway(this.account, opts);
    const call = gatewayCall(current !== undefined, p);
    if (current && current.domain === published && (current.peerId ?? '') === (p.peerId ?? '')) {
      return { block: await this.blockNumber(opts), finalized: false, events: [], fee: 0n };
    }
    const r = await this.#tx([call], opts);
    return { ...r, events: r.events.map((e) => (e.type === 'OssRegister' && e.account === this.account ? { ...e, endpoint: published } : e)) };
  }

  gateway(account: AccountId, opts?: CallOptions): Promise<GatewayInfo | undefined> {
    const who = accountBytes(account);
    return this.#read('gateway', opts, async (api) => {
      const v = some(await api.query.oss.oss(who));
      return v && decodeGateway(cessAddress(who), v);
    });
  }

  /** CESS itself lets anyone be authorized; the port authorizes gateways only, so unregistered operators are refused. */
  async #requireGateway(operator: AccountId, opts?: CallOptions): Promise<void> {
    if (!(await this.gateway(operator, opts))) refuseEarly('oss', 'UnRegister', `${operator} is not a registered gateway`);
  }

  async authorize(operator: AccountId, opts?: CallOptions): Promise<TxReceipt> {
    const call = authorizeCall(operator);
    await this.#requireGateway(operator, opts);
    return this.#tx([call], opts);
  }

  cancelAuthorize(operator: AccountId, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx([cancelAuthorizeCall(operator)], opts);
  }

  isAuthorized(owner: AccountId, operator: AccountId, opts?: CallOptions): Promise<boolean> {
    const o = accountBytes(owner);
    const op = accountBytes(operator);
    if (u8aEq(o, op)) return Promise.resolve(false);
    return this.#read('authority list', opts, async (api) => decodeAccounts(await api.query.oss.authorityList(o)).includes(cessAddress(op)));
  }

  async proxyAuthorize(p: ProxyAuthorization, opts?: CallOptions): Promise<TxReceipt> {
    const call = proxyAuthorizeCall(this.connection.runtime(), p);
    await this.#requireGateway(p.operator, opts);
    return this.#tx([call], opts);
  }

  // ── territories ──────────────────────────────────────────────────────────

  mintTerritory(p: { name: string; gib: number; days: number }, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx([territoryCall({ kind: 'mint', ...p })], opts);
  }

  expandTerritory(p: { name: string; gib: number }, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx([territoryCall({ kind: 'expand', ...p })], opts);
  }

  renewTerritory(p: { name: string; days: number }, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx([territoryCall({ kind: 'renew', ...p })], opts);
  }

  territory(owner: AccountId, name: string, opts?: CallOptions): Promise<Territory | undefined> {
    const who = accountBytes(owner);
    const key = boundedText(name, CHAIN.maxTerritoryNameBytes, 'storageHandler', 'territory name');
    return this.#read('territory', opts, async (api) => {
      const v = some(await api.query.storageHandler.territory(who, key));
      return v && decodeTerritory(cessAddress(who), name, v);
    });
  }

  /**
   * A territory call as polkadot-js's SignerPayload for `signer`: their next nonce, a mortal era from the current
   * block, and the bytes their key must sign. Nothing is stored here; `submitSignedTx` rebuilds the extrinsic from
   * the payload the client sends back, so a web client or CLI can sign with any sr25519 wallet.
   */
  async buildTerritoryTx(signer: AccountId, call: TerritoryTx, opts?: CallOptions): Promise<UnsignedTx> {
    const spec = territoryCall(call);
    const who = accountBytes(signer);
    const address = cessAddress(who);
    const mortality = this.#o.submit?.mortalityBlocks ?? SUBMIT_DEFAULTS.mortalityBlocks;
    return this.#read('territory transaction', opts, async (api) => {
      const tx = buildExtrinsic(api, [spec]);
      const [nonce, header, price] = await Promise.all([api.rpc.system.accountNextIndex(address), api.rpc.chain.getHeader(), this.#territoryPrice(api, address, call)]);
      const era = api.registry.createType('ExtrinsicEra', { current: header.number.toNumber(), period: mortality });
      const payload = api.registry.createType('SignerPayload', {
        address,
        blockHash: header.hash,
        blockNumber: header.number,
        era,
        genesisHash: api.genesisHash,
        method: tx.method,
        nonce,
        runtimeVersion: api.runtimeVersion,
        signedExtensions: api.registry.signedExtensions,
        tip: 0,
        version: api.extrinsicVersion,
      });
      const json = payload.toPayload();
      return {
        signer: address,
        call: { ...call },
        signingPayload: `0x${Buffer.from(signingBytes(api, json as unknown as Record<string, unknown>)).toString('hex')}`,
        payload: { ...json } as unknown as Record<string, unknown>,
        validUntil: Number(era.asMortalEra.death(header.number.toNumber())) - 1,
        price,
      };
    });
  }

  /** Price at today's `UnitPrice`: GiB × days (expansion: days left, rounded up; renewal: the territory's GiB). */
  async #territoryPrice(api: ApiPromise, owner: string, call: TerritoryTx): Promise<bigint> {
    const unit = some(await api.query.storageHandler.unitPrice());
    const unitPrice = unit ? BigInt(unit.toString()) : 0n;
    if (call.kind === 'mint') return unitPrice * BigInt(call.gib) * BigInt(call.days);
    const t = some(await api.query.storageHandler.territory(accountBytes(owner), boundedText(call.name, CHAIN.maxTerritoryNameBytes, 'storageHandler', 'territory name')));
    if (!t) return 0n;
    const territory = decodeTerritory(owner, call.name, t);
    if (call.kind === 'renew') return unitPrice * (territory.totalSpace / GIB) * BigInt(call.days);
    const now = (await api.rpc.chain.getHeader()).number.toNumber();
    const daysLeft = Math.max(0, Math.ceil((territory.deadline - now) / CHAIN.blocksPerDay));
    return unitPrice * BigInt(call.gib) * BigInt(daysLeft);
  }

  async submitSignedTx(tx: SignedTx, opts?: CallOptions): Promise<TxReceipt> {
    const signer = accountBytes(tx.signer, 'system', 'signer');
    const p = tx.payload;
    if (typeof p?.address !== 'string' || !u8aEq(accountBytes(p.address, 'system', 'payload address'), signer)) {
      refuseEarly('system', 'BadSigner', 'the payload names another signer');
    }
    if (typeof p.method !== 'string') refuseEarly('system', 'BadProof', 'the payload has no call');
    const signature = tx.signature.length === 65 && tx.signature[0] === 1 ? tx.signature.subarray(1) : tx.signature;
    if (signature.length !== 64) refuseEarly('transaction', 'BadProof', 'an sr25519 signature is 64 bytes');
    const api = await this.connection.ready(opts?.signal);
    let call;
    try {
      call = api.registry.createType('Call', p.method);
    } catch {
      return refuseEarly('system', 'BadProof', 'the payload call does not decode for this runtime');
    }
    // The gateway relays only what it builds: territory calls.
    if (call.section !== 'storageHandler' || !TERRITORY_CALLS.has(call.method)) refuseEarly('system', 'BadCall', `only territory transactions are relayed, not ${call.section}.${call.method}`);
    let bytes: Uint8Array;
    try {
      bytes = signingBytes(api, p);
    } catch (err) {
      return refuseEarly('system', 'BadProof', `the payload does not encode: ${(err as Error).message}`);
    }
    if (!sr25519Verify(bytes, signature, signer)) refuseEarly('transaction', 'BadProof', 'the signature does not match the payload');
    // A signed transaction runs once: its nonce is used as soon as it is in a pool or a block.
    const next = (await api.rpc.system.accountNextIndex(cessAddress(signer))).toNumber();
    if (Number(BigInt(String(p.nonce))) < next) refuseEarly('transaction', 'Stale', `nonce ${BigInt(String(p.nonce))} was used already (next is ${next})`);
    const ext = api.tx(call);
    ext.addSignature(cessAddress(signer), Uint8Array.from([1, ...signature]), p as never);
    const accepted = await this.#submitter.sendSigned(ext, opts?.signal);
    return receipt(await accepted.included, {});
  }

  // ── files ────────────────────────────────────────────────────────────────

  async declareUpload(p: { fid: Hash64; segments: SegmentSpec[]; user: UserBrief; fileSize: Amount }, opts?: CallOptions): Promise<TxReceipt> {
    const rt = this.connection.runtime();
    const call = declarationCall(rt, p, this.#o.bucketName ?? DEFAULT_BUCKET);
    // CESS overwrites a pending deal on a second declaration, dropping the reports so far (and the first
    // owner's claim): refused here, as the local chain refuses it.
    if (await this.#read('deal', opts, async (api) => some(await api.query.fileBank.dealMap(hashBytes(p.fid))) !== undefined)) {
      refuseEarly('fileBank', 'IsDealing', 'this file has a pending deal; declaring it again would reset its progress');
    }
    const api = await this.connection.ready(opts?.signal);
    const bytes = buildExtrinsic(api, [call]).method.encodedLength;
    return receipt(await abortable(this.#batcher.submit(call, bytes), opts?.signal), {});
  }

  transferReport(p: { index: number; fid: Hash64 }, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx([transferReportCall(p)], opts, { reportIndices: [p.index] });
  }

  /**
   * CESS accepts (and charges for) deleting a file the owner does not hold, as a no-op that still emits DeleteFile;
   * the adapter refuses that before submission, as the local chain does.
   */
  async deleteFile(p: { owner: AccountId; fid: Hash64 }, opts?: CallOptions): Promise<TxReceipt> {
    const call = deleteFileCall(p);
    const file = await this.file(p.fid, opts);
    if (!file) refuseEarly('fileBank', 'NonExistent', 'no stored file with this FID (pending deals cannot be deleted on CESS)');
    const owner = cessAddress(accountBytes(p.owner));
    if (!file.owners.some((o) => o.user === owner)) refuseEarly('fileBank', 'NotOwner', `${owner} does not own this file`);
    return this.#tx([call], opts);
  }

  deal(fid: Hash64, opts?: CallOptions): Promise<DealRecord | undefined> {
    const key = hashBytes(fid);
    return this.#read('deal', opts, async (api) => {
      const v = some(await api.query.fileBank.dealMap(key));
      return v && decodeDeal(fid, v);
    });
  }

  file(fid: Hash64, opts?: CallOptions): Promise<FileRecord | undefined> {
    const key = hashBytes(fid);
    return this.#read('file', opts, async (api) => {
      const v = some(await api.query.fileBank.file(key));
      return v && decodeFile(fid, v);
    });
  }

  /** `UserHoldFileList`, with each file's byte size from its `File` record (the list itself holds charged space). */
  userFiles(owner: AccountId, opts?: CallOptions): Promise<UserFile[]> {
    const who = accountBytes(owner);
    return this.#read('user files', opts, async (api) => {
      const slices = decodeUserFileSlices(await api.query.fileBank.userHoldFileList(who));
      const sizes = new Map<string, bigint>();
      const fids = [...new Set(slices.map((s) => s.fid))];
      for (let i = 0; i < fids.length; i += this.#chunk) {
        const part = fids.slice(i, i + this.#chunk);
        const records = await api.query.fileBank.file.multi(part.map((f) => hashBytes(f)));
        records.forEach((r, k) => {
          const v = some(r);
          if (v) sizes.set(part[k], decodeFile(part[k], v).fileSize);
        });
      }
      return decodeUserFiles(slices, sizes);
    });
  }

  get #chunk(): number {
    return Math.max(1, this.#o.readChunk ?? 500);
  }

  // ── storage nodes ────────────────────────────────────────────────────────

  /**
   * Updates the endpoint of a registered storage node, or registers one with the stake for its declared space
   * (4,000 CESS per TiB). A new node stays `notready` (reported as offline) until CESS certifies its idle space.
   */
  async registerMiner(p: { endpoint: string; idleSpace: Amount }, opts?: CallOptions): Promise<TxReceipt> {
    const rt = this.connection.runtime();
    if (!rt.minerRegistration) refuseEarly('sminer', 'Unsupported', `runtime spec ${rt.specVersion} has no miner registration calls`);
    const existing = await this.#read('miner', opts, async (api) => some(await api.query.sminer.minerItems(this.#pair.publicKey)) !== undefined);
    return this.#tx([existing ? minerUpdateCall(rt, p.endpoint) : minerRegisterCall(rt, this.account, p)], opts);
  }

  miners(opts?: CallOptions): Promise<MinerInfo[]> {
    return this.#read('miners', opts, async (api) => {
      const accounts = decodeAccounts(await api.query.sminer.allMiner());
      const out: MinerInfo[] = [];
      for (let i = 0; i < accounts.length; i += this.#chunk) {
        const part = accounts.slice(i, i + this.#chunk);
        const items = await api.query.sminer.minerItems.multi(part.map((a) => decodeAddress(a)));
        items.forEach((item, k) => {
          const v = some(item);
          if (v) out.push(decodeMiner(part[k], v));
        });
      }
      return out;
    });
  }

  // ── events ───────────────────────────────────────────────────────────────

  /**
   * Port events block by block, from the block after the current head (or from `fromBlock`), following finalized
   * blocks when transactions wait for finality and best blocks otherwise. Survives reconnects: it resumes at the
   * first block it has not read.
   */
  async *events(opts: CallOptions & { fromBlock?: BlockNumber } = {}): AsyncIterable<ChainEvent & { block: BlockNumber }> {
    const signal = opts.signal;
    const poll = this.#o.eventPollMs ?? 1_000;
    let next: number | undefined = opts.fromBlock;
    while (!signal?.aborted && !this.#closed) {
      let head: number;
      try {
        head = await this.#head(signal);
      } catch (err) {
        if (signal?.aborted || this.#closed) return;
        if (!(err instanceof ChainUnavailableError)) throw err;
        await pause(poll, signal);
        continue;
      }
      next ??= head + 1;
      while (next <= head && !signal?.aborted) {
        let events: (ChainEvent & { block: BlockNumber })[];
        try {
          events = await this.#blockEvents(next, signal);
        } catch (err) {
          if (signal?.aborted || this.#closed) return;
          if (!(err instanceof ChainUnavailableError)) throw err;
          await pause(poll, signal);
          continue;
        }
        for (const e of events) yield e;
        next++;
      }
      await pause(poll, signal);
    }
  }

  #head(signal?: AbortSignal): Promise<number> {
    const finalized = (this.#o.submit?.waitFor ?? SUBMIT_DEFAULTS.waitFor) === 'finalized';
    return this.connection.read('chain head', signal, async (api) =>
      finalized ? (await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead())).number.toNumber() : (await api.rpc.chain.getHeader()).number.toNumber(),
    );
  }

  #blockEvents(number: number, signal?: AbortSignal): Promise<(ChainEvent & { block: BlockNumber })[]> {
    return this.connection.read('block events', signal, async (api) => {
      const hash = await api.rpc.chain.getBlockHash(number);
      const at = await api.at(hash);
      const records = (await at.query.system.events()) as unknown as RawEventRecord[];
      let extrinsics: { method: { section: string; method: string; args: unknown[] } }[] | undefined;
      const out: (ChainEvent & { block: BlockNumber })[] = [];
      for (const [index, events] of byExtrinsic(records)) {
        const { signer } = feePaid(events);
        let reportIndices: number[] | undefined;
        if (events.some((e) => e.section === 'fileBank' && e.method === 'TransferReport')) {
          extrinsics ??= (await api.rpc.chain.getBlock(hash)).block.extrinsics as unknown as typeof extrinsics;
          reportIndices = reportIndicesOf(extrinsics![index]?.method);
        }
        for (const e of toChainEvents(events, { signer, reportIndices })) {
          if (e.type === 'OssRegister') {
            const reg = some(await at.query.oss.oss(decodeAddress(e.account)));
            if (reg) e.endpoint = decodeGateway(e.account, reg).endpoint;
          }
          out.push({ ...e, block: number });
        }
      }
      return out;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#submitter.close();
    if (this.#owned) await this.connection.close();
  }
}

/** A receipt for one call of an included extrinsic, or its dispatch error. */
function receipt(inc: Included, ctx: { reportIndices?: number[] }): TxReceipt {
  if (inc.error) throw inc.error;
  const { signer, fee } = feePaid(inc.events);
  return { block: inc.block, finalized: inc.finalized, events: toChainEvents(inc.events, { signer, reportIndices: ctx.reportIndices }), fee };
}

/** The bytes an sr25519 key signs for a SignerPayload: the extrinsic payload, blake2-256 hashed above 256 bytes. */
function signingBytes(api: ApiPromise, payload: Record<string, unknown>): Uint8Array {
  const raw = api.registry.createType('ExtrinsicPayload', payload, { version: Number(payload.version ?? api.extrinsicVersion) }).toU8a({ method: true });
  return raw.length > 256 ? blake2AsU8a(raw) : raw;
}

/** Column indices of the transfer_report calls in an extrinsic (direct, or inside a utility batch). */
function reportIndicesOf(method: { section: string; method: string; args: unknown[] } | undefined): number[] | undefined {
  if (!method) return undefined;
  if (method.section === 'fileBank' && method.method === 'transferReport') return [Number((method.args[0] as { toNumber(): number }).toNumber())];
  if (method.section === 'utility' && /^(batch|batchAll|forceBatch)$/.test(method.method)) {
    return (method.args[0] as { section: string; method: string; args: unknown[] }[]).flatMap((c) => reportIndicesOf(c) ?? []);
  }
  return undefined;
}

function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}
