import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Account } from '../accounts.ts';
import { isValidAddress, toCessAddress, verifySr25519 } from '../accounts.ts';
import { proxyAuthorizationMessage } from '../proxy-authorization.ts';
import {
  CHAIN,
  ChainDispatchError,
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
import { migrate } from './schema.ts';

export interface LocalChainOptions {
  /** The ledger file; every process of a local cluster opens the same one. */
  path: string;
  /** The account this client signs as. */
  signer: Pick<Account, 'address'>;
  /** Time source in ms (tests move it to expire territories). @default Date.now */
  clock?: () => number;
  /** How often `events()` polls for new rows, ms. @default 150 */
  pollMs?: number;
}

/** The local adapter adds what a dev chain's sudo would do. */
export interface LocalChain extends Chain {
  /** Mints `amount` to `account` (dev only). */
  fund(account: AccountId, amount: Amount): Promise<void>;
}

const MAX_SEGMENTS = 1000;
const AUTHORITY_LIMIT = 20;
const HASH = /^[0-9a-f]{64}$/;
const GIB = 1024 ** 3;
const FRAGMENT_BYTES = Number(CHAIN.fragmentSize);

/** Opens (creating if needed) the local chain ledger as `signer`. */
export async function openLocalChain(options: LocalChainOptions): Promise<LocalChain> {
  const db = await openLedger(options.path);
  const clock = options.clock ?? Date.now;
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('genesis_ms', ?)").run(String(clock()));
  return new LedgerChain(db, toCessAddress(options.signer.address), clock, options.pollMs ?? 150);
}

/**
 * Creates the ledger file if needed, in WAL mode and migrated, and closes it. `deoss start` calls this before it
 * starts a dozen processes that open the ledger at once, so none of them has to switch the journal mode.
 */
export async function prepareLocalLedger(path: string): Promise<void> {
  (await openLedger(path)).close();
}

/** How long a process waits for another one's lock on the ledger before it gives up. */
const LEDGER_BUSY_TIMEOUT_MS = 10_000;

async function openLedger(path: string): Promise<Database.Database> {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma(`busy_timeout = ${LEDGER_BUSY_TIMEOUT_MS}`);
    // SQLite may answer SQLITE_BUSY at once, without waiting, while another process switches the journal mode or
    // recovers the WAL; so the switch is tried again until the same timeout, and skipped when already done.
    for (const deadline = Date.now() + LEDGER_BUSY_TIMEOUT_MS; ; ) {
      try {
        if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
      }
    }
    db.pragma('synchronous = NORMAL');
    db.transaction(() => migrate(db)).immediate();
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

const fail = (pallet: string, error: string, detail?: string): never => {
  throw new ChainDispatchError(pallet, error, detail);
};

interface TerritoryRow {
  owner: string;
  name: string;
  token: string;
  total: number;
  used: number;
  locked: number;
  start: number;
  deadline: number;
  frozen: number;
}

/**
 * An embedded ledger with CESS's rules for what gateways, storage nodes and users touch (docs/local-chain.md).
 * Every transaction is one `BEGIN IMMEDIATE` SQLite transaction that re-reads, checks and writes, so several
 * processes can share one ledger file. Blocks are derived from the clock (6 s each since genesis) and every
 * transaction is final at once.
 */
class LedgerChain implements LocalChain {
  readonly account: AccountId;
  readonly #db: Database.Database;
  readonly #clock: () => number;
  readonly #pollMs: number;
  readonly #genesis: number;
  #closed = false;

  constructor(db: Database.Database, account: AccountId, clock: () => number, pollMs: number) {
    this.#db = db;
    this.account = account;
    this.#clock = clock;
    this.#pollMs = pollMs;
    this.#genesis = Number((db.prepare("SELECT value FROM meta WHERE key = 'genesis_ms'").get() as { value: string }).value);
  }

  // ── helpers ──────────────────────────────────────────────────────────────

  #block(): BlockNumber {
    return Math.floor((this.#clock() - this.#genesis) / (CHAIN.blockSeconds * 1000)) + 1;
  }

  /** Runs a transaction: checks and writes atomically; returns the receipt with the events it emitted. */
  async #tx(signal: AbortSignal | undefined, body: (emit: (e: ChainEvent) => void, block: BlockNumber) => void): Promise<TxReceipt> {
    signal?.throwIfAborted();
    const events: ChainEvent[] = [];
    const block = this.#block();
    const insert = this.#db.prepare('INSERT INTO events (block, event) VALUES (?, ?)');
    this.#db
      .transaction(() => {
        body((e) => {
          events.push(e);
          insert.run(block, JSON.stringify(e, bigintReplacer));
        }, block);
      })
      .immediate();
    return { block, finalized: true, events, fee: 0n };
  }

  async #read<T>(signal: AbortSignal | undefined, body: () => T): Promise<T> {
    signal?.throwIfAborted();
    return body();
  }

  #free(address: string): bigint {
    const row = this.#db.prepare('SELECT free FROM accounts WHERE address = ?').get(address) as { free: string } | undefined;
    return row ? BigInt(row.free) : 0n;
  }

  #setFree(address: string, amount: bigint): void {
    this.#db.prepare('INSERT INTO accounts (address, free) VALUES (?, ?) ON CONFLICT(address) DO UPDATE SET free = excluded.free').run(address, amount.toString());
  }

  #charge(address: string, amount: bigint): void {
    const free = this.#free(address);
    if (free < amount) fail('balances', 'InsufficientBalance', `needs ${amount}, has ${free}`);
    this.#setFree(address, free - amount);
  }

  #territoryRow(owner: string, name: string): TerritoryRow | undefined {
    return this.#db.prepare('SELECT * FROM territories WHERE owner = ? AND name = ?').get(owner, name) as TerritoryRow | undefined;
  }

  #toTerritory(row: TerritoryRow, block: BlockNumber): Territory {
    const state = row.frozen ? 'Frozen' : row.deadline < block ? 'Expired' : 'Active';
    return {
      owner: row.owner,
      name: row.name,
      token: row.token,
      totalSpace: BigInt(row.total),
      usedSpace: BigInt(row.used),
      lockedSpace: BigInt(row.locked),
      remainingSpace: BigInt(row.total - row.used - row.locked),
      start: row.start,
      deadline: row.deadline,
      state,
    };
  }

  #activeTerritory(owner: string, name: string, block: BlockNumber): TerritoryRow {
    const row = this.#territoryRow(owner, name) ?? fail('storageHandler', 'NotHaveTerritory', `${owner} has no territory "${name}"`);
    if (row.frozen) fail('storageHandler', 'TerritoryFrozen');
    if (row.deadline < block) fail('storageHandler', 'TerritoryExpired');
    return row;
  }

  #isAuthorized(owner: string, operator: string): boolean {
    return owner === operator || !!this.#db.prepare('SELECT 1 FROM authorities WHERE owner = ? AND operator = ?').get(owner, operator);
  }

  #deal(fid: string): DealRecord | undefined {
    const row = this.#db.prepare('SELECT record FROM deals WHERE fid = ?').get(fid) as { record: string } | undefined;
    return row ? reviveSizes(JSON.parse(row.record)) : undefined;
  }

  #file(fid: string): FileRecord | undefined {
    const row = this.#db.prepare('SELECT record FROM files WHERE fid = ?').get(fid) as { record: string } | undefined;
    return row ? reviveSizes(JSON.parse(row.record)) : undefined;
  }

  #saveFile(file: FileRecord): void {
    this.#db.prepare('INSERT INTO files (fid, record) VALUES (?, ?) ON CONFLICT(fid) DO UPDATE SET record = excluded.record').run(file.fid, JSON.stringify(file, bigintReplacer));
  }

  #moveSpace(owner: string, name: string, from: 'locked' | 'used' | 'remaining', to: 'locked' | 'used' | 'remaining', bytes: number): void {
    const delta = (col: string) => (col === 'remaining' ? '' : col);
    const sets: string[] = [];
    if (delta(from)) sets.push(`${from} = ${from} - ${bytes}`);
    if (delta(to)) sets.push(`${to} = ${to} + ${bytes}`);
    this.#db.prepare(`UPDATE territories SET ${sets.join(', ')} WHERE owner = ? AND name = ?`).run(owner, name);
  }

  // ── accounts ─────────────────────────────────────────────────────────────

  blockNumber(opts?: CallOptions): Promise<BlockNumber> {
    return this.#read(opts?.signal, () => this.#block());
  }

  balance(account: AccountId, opts?: CallOptions): Promise<Amount> {
    return this.#read(opts?.signal, () => this.#free(toCessAddress(account)));
  }

  async fund(account: AccountId, amount: Amount): Promise<void> {
    const to = toCessAddress(account);
    await this.#tx(undefined, (emit) => {
      this.#setFree(to, this.#free(to) + amount);
      emit({ type: 'Transfer', from: 'sudo', to, amount });
    });
  }

  transfer(to: AccountId, amount: Amount, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx(opts?.signal, (emit) => {
      if (!isValidAddress(to)) fail('balances', 'InvalidAccount');
      if (amount <= 0n) fail('balances', 'ZeroAmount');
      const dest = toCessAddress(to);
      this.#charge(this.account, amount);
      this.#setFree(dest, this.#free(dest) + amount);
      emit({ type: 'Transfer', from: this.account, to: dest, amount });
    });
  }

  // ── gateways ─────────────────────────────────────────────────────────────

  registerGateway(p: { endpoint: string; domain: string }, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx(opts?.signal, (emit) => {
      if (Buffer.byteLength(p.domain) > CHAIN.maxDomainBytes) fail('oss', 'LengthExceedsLimit', 'domain is longer than 50 bytes');
      this.#db
        .prepare('INSERT INTO gateways (address, endpoint, domain) VALUES (?, ?, ?) ON CONFLICT(address) DO UPDATE SET endpoint = excluded.endpoint, domain = excluded.domain')
        .run(this.account, p.endpoint, p.domain);
      emit({ type: 'OssRegister', account: this.account, endpoint: p.endpoint });
    });
  }

  gateway(account: AccountId, opts?: CallOptions): Promise<GatewayInfo | undefined> {
    return this.#read(opts?.signal, () => {
      const row = this.#db.prepare('SELECT * FROM gateways WHERE address = ?').get(toCessAddress(account)) as
        | { address: string; endpoint: string; domain: string }
        | undefined;
      return row && { account: row.address, endpoint: row.endpoint, domain: row.domain };
    });
  }

  authorize(operator: AccountId, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx(opts?.signal, (emit) => {
      const op = toCessAddress(operator);
      if (!this.#db.prepare('SELECT 1 FROM gateways WHERE address = ?').get(op)) fail('oss', 'NotOss', `${op} is not a registered gateway`);
      if (this.#db.prepare('SELECT 1 FROM authorities WHERE owner = ? AND operator = ?').get(this.account, op)) return;
      const count = (this.#db.prepare('SELECT COUNT(*) AS n FROM authorities WHERE owner = ?').get(this.account) as { n: number }).n;
      if (count >= AUTHORITY_LIMIT) fail('oss', 'BoundedVecError', `at most ${AUTHORITY_LIMIT} authorized gateways`);
      this.#db.prepare('INSERT INTO authorities (owner, operator) VALUES (?, ?)').run(this.account, op);
      emit({ type: 'Authorize', owner: this.account, operator: op });
    });
  }

  cancelAuthorize(operator: AccountId, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx(opts?.signal, (emit) => {
      const op = toCessAddress(operator);
      const { changes } = this.#db.prepare('DELETE FROM authorities WHERE owner = ? AND operator = ?').run(this.account, op);
      if (!changes) fail('oss', 'NoAuthorization', `${op} is not authorized`);
      emit({ type: 'CancelAuthorize', owner: this.account, operator: op });
    });
  }

  isAuthorized(owner: AccountId, operator: AccountId, opts?: CallOptions): Promise<boolean> {
    return this.#read(opts?.signal, () => {
      const o = toCessAddress(owner);
      const op = toCessAddress(operator);
      return o !== op && this.#isAuthorized(o, op);
    });
  }

  async proxyAuthorize(p: ProxyAuthorization, opts?: CallOptions): Promise<TxReceipt> {
    const owner = toCessAddress(p.owner);
    const op = toCessAddress(p.operator);
    if (p.signature.length !== 64) fail('oss', 'MalformedSignature', 'an sr25519 signature is 64 bytes');
    const valid = await verifySr25519(proxyAuthorizationMessage({ operator: op, exp: p.exp }), p.signature, owner);
    // CESS emits no event for a proxy authorization; neither do we.
    return this.#tx(opts?.signal, (_emit, block) => {
      if (!(p.exp + CHAIN.proxyPayloadExpiryBlocks > block)) fail('oss', 'Expired', `signed for block ${p.exp}; now ${block}`);
      if (!valid) fail('oss', 'VerifySigFailed', 'the signature does not match owner and payload');
      if (!this.#db.prepare('SELECT 1 FROM gateways WHERE address = ?').get(op)) fail('oss', 'NotOss', `${op} is not a registered gateway`);
      if (this.#db.prepare('SELECT 1 FROM authorities WHERE owner = ? AND operator = ?').get(owner, op)) fail('oss', 'Existed', 'already authorized');
      const count = (this.#db.prepare('SELECT COUNT(*) AS n FROM authorities WHERE owner = ?').get(owner) as { n: number }).n;
      if (count >= AUTHORITY_LIMIT) fail('oss', 'BoundedVecError', `at most ${AUTHORITY_LIMIT} authorized gateways`);
      this.#db.prepare('INSERT INTO authorities (owner, operator) VALUES (?, ?)').run(owner, op);
    });
  }

  // ── territories ──────────────────────────────────────────────────────────

  mintTerritory(p: { name: string; gib: number; days: number }, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx(opts?.signal, (emit, block) => this.#mint(this.account, p, emit, block));
  }

  expandTerritory(p: { name: string; gib: number }, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx(opts?.signal, (_emit, block) => this.#expand(this.account, p, block));
  }

  renewTerritory(p: { name: string; days: number }, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx(opts?.signal, (_emit, block) => this.#renew(this.account, p, block));
  }

  #mint(account: string, p: { name: string; gib: number; days: number }, emit: (e: ChainEvent) => void, block: BlockNumber): void {
    checkTerritoryName(p.name);
    if (!Number.isInteger(p.gib) || p.gib < 1) fail('storageHandler', 'BugInvalid', 'gib must be a positive integer');
    if (!Number.isInteger(p.days) || p.days < 1) fail('storageHandler', 'BugInvalid', 'days must be a positive integer');
    if (this.#territoryRow(account, p.name)) fail('storageHandler', 'DuplicateName', `territory "${p.name}" exists`);
    this.#charge(account, this.#price({ kind: 'mint', ...p }, account, block));
    const token = `0x${createHash('sha256').update(`${account}/${p.name}/${block}/${randomBytes(16).toString('hex')}`).digest('hex')}`;
    this.#db
      .prepare('INSERT INTO territories (owner, name, token, total, used, locked, start, deadline) VALUES (?, ?, ?, ?, 0, 0, ?, ?)')
      .run(account, p.name, token, p.gib * GIB, block, block + p.days * CHAIN.blocksPerDay);
    emit({ type: 'MintTerritory', owner: account, name: p.name, space: BigInt(p.gib * GIB) });
  }

  #expand(account: string, p: { name: string; gib: number }, block: BlockNumber): void {
    this.#activeTerritory(account, p.name, block);
    if (!Number.isInteger(p.gib) || p.gib < 1) fail('storageHandler', 'BugInvalid', 'gib must be a positive integer');
    this.#charge(account, this.#price({ kind: 'expand', ...p }, account, block));
    this.#db.prepare('UPDATE territories SET total = total + ? WHERE owner = ? AND name = ?').run(p.gib * GIB, account, p.name);
  }

  #renew(account: string, p: { name: string; days: number }, block: BlockNumber): void {
    const row = this.#territoryRow(account, p.name) ?? fail('storageHandler', 'NotHaveTerritory');
    if (!Number.isInteger(p.days) || p.days < 1) fail('storageHandler', 'BugInvalid', 'days must be a positive integer');
    this.#charge(account, this.#price({ kind: 'renew', ...p }, account, block));
    // An expired territory is renewed from now; an active one is extended.
    const base = Math.max(row.deadline, block);
    this.#db.prepare('UPDATE territories SET deadline = ? WHERE owner = ? AND name = ?').run(base + p.days * CHAIN.blocksPerDay, account, p.name);
  }

  /** What a territory call costs at CESS's price: GiB × days × unit price (expansion: the days left). */
  #price(call: TerritoryTx, account: string, block: BlockNumber): bigint {
    if (call.kind === 'mint') return CHAIN.unitPrice * BigInt(call.gib) * BigInt(call.days);
    const row = this.#territoryRow(account, call.name);
    if (!row) return 0n;
    if (call.kind === 'expand') {
      const daysLeft = Math.max(1, Math.ceil((row.deadline - block) / CHAIN.blocksPerDay));
      return CHAIN.unitPrice * BigInt(call.gib) * BigInt(daysLeft);
    }
    return CHAIN.unitPrice * BigInt(Math.ceil(row.total / GIB)) * BigInt(call.days);
  }

  /**
   * The local chain's stand-in for an extrinsic: a canonical JSON payload with a per-account nonce and a last
   * valid block, signed (sr25519) over `deoss-local-tx:` + that JSON. Replays fail on the nonce.
   */
  async buildTerritoryTx(signer: AccountId, call: TerritoryTx, opts?: CallOptions): Promise<UnsignedTx> {
    return this.#read(opts?.signal, () => {
      const account = toCessAddress(signer);
      const block = this.#block();
      const payload = localTxPayload({ signer: account, nonce: this.#nonce(account), validUntil: block + LOCAL_TX_VALID_BLOCKS, call: checkTerritoryTx(call) });
      return {
        signer: account,
        call: payload.call,
        signingPayload: `0x${Buffer.from(localSigningBytes(payload)).toString('hex')}`,
        payload: { ...payload },
        validUntil: payload.validUntil,
        price: this.#price(payload.call, account, block),
      };
    });
  }

  async submitSignedTx(tx: SignedTx, opts?: CallOptions): Promise<TxReceipt> {
    const payload = parseLocalTxPayload(tx.payload);
    const signer = toCessAddress(tx.signer);
    if (payload.signer !== signer) fail('system', 'BadSigner', 'the payload names another signer');
    if (!(await verifySr25519(localSigningBytes(payload), stripSignatureType(tx.signature), signer))) fail('system', 'BadProof', 'the signature does not match the payload');
    return this.#tx(opts?.signal, (emit, block) => {
      if (block > payload.validUntil) fail('system', 'AncientBirthBlock', `the transaction expired at block ${payload.validUntil}`);
      const nonce = this.#nonce(signer);
      if (payload.nonce < nonce) fail('system', 'Stale', 'nonce already used');
      if (payload.nonce > nonce) fail('system', 'Future', 'nonce is ahead of the account');
      this.#db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(`nonce:${signer}`, String(nonce + 1));
      const call = payload.call;
      if (call.kind === 'mint') this.#mint(signer, call, emit, block);
      else if (call.kind === 'expand') this.#expand(signer, call, block);
      else this.#renew(signer, call, block);
    });
  }

  #nonce(account: string): number {
    const row = this.#db.prepare('SELECT value FROM meta WHERE key = ?').get(`nonce:${account}`) as { value: string } | undefined;
    return row ? Number(row.value) : 0;
  }

  territory(owner: AccountId, name: string, opts?: CallOptions): Promise<Territory | undefined> {
    return this.#read(opts?.signal, () => {
      const row = this.#territoryRow(toCessAddress(owner), name);
      return row && this.#toTerritory(row, this.#block());
    });
  }

  // ── files ────────────────────────────────────────────────────────────────

  declareUpload(p: { fid: Hash64; segments: SegmentSpec[]; user: UserBrief; fileSize: Amount }, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx(opts?.signal, (emit, block) => {
      const owner = toCessAddress(p.user.user);
      if (!this.#isAuthorized(owner, this.account)) fail('fileBank', 'NoPermission', `${this.account} may not act for ${owner}`);
      checkHash(p.fid);
      const nameBytes = Buffer.byteLength(p.user.fileName);
      if (nameBytes < CHAIN.minFileNameBytes || nameBytes > CHAIN.maxFileNameBytes) fail('fileBank', 'InvalidFileName', 'file names are 3..63 bytes');
      if (p.segments.length < 1 || p.segments.length > MAX_SEGMENTS) fail('fileBank', 'BoundedVecError', `1..${MAX_SEGMENTS} segments`);
      for (const s of p.segments) {
        checkHash(s.hash);
        if (s.fragments.length !== CHAIN.fragmentCount) fail('fileBank', 'SpecError', 'every segment has exactly 12 fragments');
        s.fragments.forEach(checkHash);
      }
      if (p.fileSize <= 0n) fail('fileBank', 'SpecError', 'file size must be positive');
      const need = p.segments.length * CHAIN.fragmentCount * FRAGMENT_BYTES;
      const territory = this.#activeTerritory(owner, p.user.territoryName, block);
      // CESS requires strictly more room than the declaration takes.
      if (territory.total - territory.used - territory.locked <= need) fail('fileBank', 'InsufficientAvailableSpace');
      const user: UserBrief = { user: owner, fileName: p.user.fileName, territoryName: p.user.territoryName };
      const stored = this.#file(p.fid);
      if (stored) {
        // "Fly upload": the bytes are on the network already; the user becomes an owner at once.
        if (stored.owners.some((o) => o.user === owner)) fail('fileBank', 'IsOwned', 'the account already owns this file');
        stored.owners.push(user);
        this.#saveFile(stored);
        this.#moveSpace(owner, user.territoryName, 'remaining', 'used', need);
        this.#db.prepare('INSERT OR REPLACE INTO user_files (owner, fid, territory, size) VALUES (?, ?, ?, ?)').run(owner, p.fid, user.territoryName, stored.fileSize.toString());
      } else {
        if (this.#deal(p.fid)) fail('fileBank', 'IsDealing', 'this file is being stored already');
        const deal: DealRecord = { fid: p.fid, fileSize: p.fileSize, segments: p.segments.map((s) => ({ hash: s.hash, fragments: [...s.fragments] })), user, completed: [] };
        this.#db.prepare('INSERT INTO deals (fid, record) VALUES (?, ?)').run(p.fid, JSON.stringify(deal, bigintReplacer));
        this.#moveSpace(owner, user.territoryName, 'remaining', 'locked', need);
      }
      emit({ type: 'UploadDeclaration', operator: this.account, owner, fid: p.fid });
    });
  }

  transferReport(p: { index: number; fid: Hash64 }, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx(opts?.signal, (emit, block) => {
      const miner = this.#db.prepare('SELECT state FROM miners WHERE address = ?').get(this.account) as { state: string } | undefined;
      if (!miner || miner.state !== 'positive') fail('fileBank', 'NotQualified', `${this.account} is not an active storage node`);
      if (!Number.isInteger(p.index) || p.index < 1 || p.index > CHAIN.fragmentCount) fail('fileBank', 'IndexError', 'index is 1..12');
      const deal = this.#deal(p.fid) ?? fail('fileBank', 'NonExistent', 'no pending deal for this file');
      if (deal.completed.some((c) => c.index === p.index)) fail('fileBank', 'Existed', `column ${p.index} was reported already`);
      if (deal.completed.some((c) => c.miner === this.account)) fail('fileBank', 'Existed', 'this node reported a column of this file already');
      deal.completed.push({ index: p.index, miner: this.account });
      emit({ type: 'TransferReport', miner: this.account, fid: p.fid, index: p.index });
      if (deal.completed.length < CHAIN.fragmentCount) {
        this.#db.prepare('UPDATE deals SET record = ? WHERE fid = ?').run(JSON.stringify(deal, bigintReplacer), p.fid);
        return;
      }
      const holder = new Map(deal.completed.map((c) => [c.index - 1, c.miner]));
      const file: FileRecord = {
        fid: deal.fid,
        fileSize: deal.fileSize,
        segments: deal.segments.map((s) => ({ hash: s.hash, fragments: s.fragments.map((hash, i) => ({ hash, avail: true, miner: holder.get(i)! })) })),
        owners: [deal.user],
        completion: block,
        state: 'Active',
      };
      this.#saveFile(file);
      this.#db.prepare('DELETE FROM deals WHERE fid = ?').run(p.fid);
      const need = deal.segments.length * CHAIN.fragmentCount * FRAGMENT_BYTES;
      this.#moveSpace(deal.user.user, deal.user.territoryName, 'locked', 'used', need);
      this.#db
        .prepare('INSERT OR REPLACE INTO user_files (owner, fid, territory, size) VALUES (?, ?, ?, ?)')
        .run(deal.user.user, deal.fid, deal.user.territoryName, deal.fileSize.toString());
      for (const [i, m] of holder) {
        void i;
        this.#db.prepare('UPDATE miners SET idle = MAX(idle - ?, 0), service = service + ? WHERE address = ?').run(deal.segments.length * FRAGMENT_BYTES, deal.segments.length * FRAGMENT_BYTES, m);
      }
      emit({ type: 'StorageCompleted', fid: p.fid });
    });
  }

  deleteFile(p: { owner: AccountId; fid: Hash64 }, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx(opts?.signal, (emit) => {
      const owner = toCessAddress(p.owner);
      if (!this.#isAuthorized(owner, this.account)) fail('fileBank', 'NoPermission', `${this.account} may not act for ${owner}`);
      const file = this.#file(p.fid);
      if (file) {
        const claim = file.owners.find((o) => o.user === owner) ?? fail('fileBank', 'NotOwner', 'the account does not own this file');
        const need = file.segments.length * CHAIN.fragmentCount * FRAGMENT_BYTES;
        this.#moveSpace(owner, claim.territoryName, 'used', 'remaining', need);
        file.owners = file.owners.filter((o) => o.user !== owner);
        if (file.owners.length) this.#saveFile(file);
        else this.#db.prepare('DELETE FROM files WHERE fid = ?').run(p.fid);
        this.#db.prepare('DELETE FROM user_files WHERE owner = ? AND fid = ?').run(owner, p.fid);
      } else {
        const deal = this.#deal(p.fid);
        if (!deal || deal.user.user !== owner) fail('fileBank', 'NonExistent', 'no such file for this owner');
        this.#moveSpace(owner, deal!.user.territoryName, 'locked', 'remaining', deal!.segments.length * CHAIN.fragmentCount * FRAGMENT_BYTES);
        this.#db.prepare('DELETE FROM deals WHERE fid = ?').run(p.fid);
      }
      emit({ type: 'DeleteFile', operator: this.account, owner, fid: p.fid });
    });
  }

  deal(fid: Hash64, opts?: CallOptions): Promise<DealRecord | undefined> {
    return this.#read(opts?.signal, () => this.#deal(fid));
  }

  file(fid: Hash64, opts?: CallOptions): Promise<FileRecord | undefined> {
    return this.#read(opts?.signal, () => this.#file(fid));
  }

  userFiles(owner: AccountId, opts?: CallOptions): Promise<UserFile[]> {
    return this.#read(opts?.signal, () =>
      (this.#db.prepare('SELECT fid, territory, size FROM user_files WHERE owner = ? ORDER BY rowid').all(toCessAddress(owner)) as { fid: string; territory: string; size: string }[]).map(
        (r) => ({ fid: r.fid, territoryName: r.territory, fileSize: BigInt(r.size) }),
      ),
    );
  }

  // ── storage nodes ────────────────────────────────────────────────────────

  registerMiner(p: { endpoint: string; idleSpace: Amount }, opts?: CallOptions): Promise<TxReceipt> {
    return this.#tx(opts?.signal, () => {
      if (Buffer.byteLength(p.endpoint) > 100) fail('sminer', 'LengthExceedsLimit', 'endpoint is longer than 100 bytes');
      this.#db
        .prepare(
          "INSERT INTO miners (address, endpoint, state, idle, service) VALUES (?, ?, 'positive', ?, 0) ON CONFLICT(address) DO UPDATE SET endpoint = excluded.endpoint, idle = excluded.idle, state = 'positive'",
        )
        .run(this.account, p.endpoint, Number(p.idleSpace));
    });
  }

  miners(opts?: CallOptions): Promise<MinerInfo[]> {
    return this.#read(opts?.signal, () =>
      (this.#db.prepare('SELECT * FROM miners ORDER BY rowid').all() as { address: string; endpoint: string; state: MinerInfo['state']; idle: number; service: number }[]).map((r) => ({
        account: r.address,
        endpoint: r.endpoint,
        state: r.state,
        idleSpace: BigInt(r.idle),
        serviceSpace: BigInt(r.service),
      })),
    );
  }

  // ── events ───────────────────────────────────────────────────────────────

  async *events(opts: CallOptions & { fromBlock?: BlockNumber } = {}): AsyncIterable<ChainEvent & { block: BlockNumber }> {
    let last =
      opts.fromBlock === undefined
        ? ((this.#db.prepare('SELECT MAX(id) AS id FROM events').get() as { id: number | null }).id ?? 0)
        : ((this.#db.prepare('SELECT MIN(id) - 1 AS id FROM events WHERE block >= ?').get(opts.fromBlock) as { id: number | null }).id ??
          ((this.#db.prepare('SELECT MAX(id) AS id FROM events').get() as { id: number | null }).id ?? 0));
    const next = this.#db.prepare('SELECT id, block, event FROM events WHERE id > ? ORDER BY id LIMIT 500');
    while (!opts.signal?.aborted && !this.#closed) {
      const rows = next.all(last) as { id: number; block: number; event: string }[];
      for (const row of rows) {
        last = row.id;
        yield { ...(JSON.parse(row.event, bigintReviver) as ChainEvent), block: row.block };
      }
      if (rows.length === 0) await pause(this.#pollMs, opts.signal);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

/** How long a locally built transaction stays valid, in blocks (CESS's default mortality is 64 blocks). */
const LOCAL_TX_VALID_BLOCKS = 64;

interface LocalTxPayload {
  chain: 'deoss-local';
  signer: string;
  nonce: number;
  validUntil: number;
  call: TerritoryTx;
}

function localTxPayload(p: Omit<LocalTxPayload, 'chain'>): LocalTxPayload {
  return { chain: 'deoss-local', signer: p.signer, nonce: p.nonce, validUntil: p.validUntil, call: p.call };
}

/** Canonical bytes: fixed key order, so the signer and the chain see the same text. */
function localSigningBytes(p: LocalTxPayload): Uint8Array {
  const c = p.call;
  const call = c.kind === 'mint' ? { kind: c.kind, name: c.name, gib: c.gib, days: c.days } : c.kind === 'expand' ? { kind: c.kind, name: c.name, gib: c.gib } : { kind: c.kind, name: c.name, days: c.days };
  return new TextEncoder().encode(`deoss-local-tx:${JSON.stringify({ chain: p.chain, signer: p.signer, nonce: p.nonce, validUntil: p.validUntil, call })}`);
}

function parseLocalTxPayload(raw: Record<string, unknown>): LocalTxPayload {
  if (raw.chain !== 'deoss-local' || typeof raw.signer !== 'string' || !Number.isInteger(raw.nonce) || !Number.isInteger(raw.validUntil)) {
    fail('system', 'BadProof', 'not a transaction built by this chain');
  }
  return localTxPayload({ signer: raw.signer as string, nonce: raw.nonce as number, validUntil: raw.validUntil as number, call: checkTerritoryTx(raw.call as TerritoryTx) });
}

function checkTerritoryTx(call: TerritoryTx): TerritoryTx {
  const positive = (n: unknown) => Number.isInteger(n) && (n as number) > 0;
  if (!call || typeof call !== 'object' || typeof call.name !== 'string') fail('storageHandler', 'BugInvalid', 'a territory call needs a name');
  checkTerritoryName(call.name);
  if (call.kind === 'mint' && positive(call.gib) && positive(call.days)) return { kind: 'mint', name: call.name, gib: call.gib, days: call.days };
  if (call.kind === 'expand' && positive(call.gib)) return { kind: 'expand', name: call.name, gib: call.gib };
  if (call.kind === 'renew' && positive(call.days)) return { kind: 'renew', name: call.name, days: call.days };
  return fail('storageHandler', 'BugInvalid', 'expected {kind: mint, gib, days} | {kind: expand, gib} | {kind: renew, days} with positive integers');
}

/** Accepts a bare 64-byte sr25519 signature or a MultiSignature with the sr25519 prefix (0x01). */
function stripSignatureType(sig: Uint8Array): Uint8Array {
  return sig.length === 65 && sig[0] === 1 ? sig.subarray(1) : sig;
}

function checkHash(hash: string): void {
  if (!HASH.test(hash)) fail('fileBank', 'SpecError', `not a 64-character lowercase hex hash: ${JSON.stringify(hash).slice(0, 80)}`);
}

function checkTerritoryName(name: string): void {
  const n = Buffer.byteLength(name);
  if (n < 1 || n > CHAIN.maxTerritoryNameBytes) fail('storageHandler', 'InvalidTerritoryName', 'territory names are 1..63 bytes');
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? { $big: value.toString() } : value;
}

function bigintReviver(_key: string, value: unknown): unknown {
  return value && typeof value === 'object' && '$big' in value ? BigInt((value as { $big: string }).$big) : value;
}

function reviveSizes<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), bigintReviver) as T;
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
