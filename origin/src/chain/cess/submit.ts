import type { ApiPromise } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { DispatchError } from '@polkadot/types/interfaces';
import { ChainDispatchError, ChainUnavailableError } from '../port.ts';
import type { CallSpec } from './calls.ts';
import type { CessConnection } from './connection.ts';
import { classifySubmitError, toDispatchError } from './errors.ts';
import { byExtrinsic, failure, type RawEvent, type RawEventRecord } from './events.ts';
import { NonceTracker } from './nonce.ts';
import { sleep } from '../../sleep.ts';

export interface SubmitOptions {
  /** What a transaction waits for before it counts as done. @default inBlock */
  waitFor: 'inBlock' | 'finalized';
  /** Longest wait from handing a transaction to the node until it is in a block (or final). @default 120_000 */
  txTimeoutMs: number;
  /** Blocks a signed transaction stays valid (mortal era; polkadot-js rounds to a power of two). @default 64 */
  mortalityBlocks: number;
  /** Re-signs with a fresh nonce when the node calls ours stale or taken, at most this many times. @default 3 */
  nonceRetries: number;
  /** How often a transaction whose watch was cut looks for itself in new blocks, ms. @default 3_000 */
  scanIntervalMs: number;
}

export const SUBMIT_DEFAULTS: SubmitOptions = { waitFor: 'inBlock', txTimeoutMs: 120_000, mortalityBlocks: 64, nonceRetries: 3, scanIntervalMs: 3_000 };

/** An extrinsic in a block: its events (in emission order), and its dispatch error if it failed. */
export interface Included {
  block: number;
  finalized: boolean;
  events: RawEvent[];
  error?: ChainDispatchError;
}

/** A transaction the pool took: `included` settles when it is in a block (or final), or fails as unavailable. */
export interface Accepted {
  hash: string;
  included: Promise<Included>;
}

interface Track {
  hash: string;
  hex: string;
  signer: string;
  nonce: number;
  /** Best block when it was signed: it cannot be in an earlier one. */
  from: number;
  validUntil: number;
}

/**
 * Signs and submits extrinsics for one account. Nonces come from a local NonceTracker, held only while a
 * transaction is handed to the pool, so several transactions are in flight at once. Inclusion is watched over the
 * subscription; if the socket drops meanwhile, the same signed bytes are offered again after the reconnect and
 * new blocks are searched for the transaction's hash until it shows up, its era ends, or its nonce is used by
 * another transaction.
 */
export class Submitter {
  readonly #conn: CessConnection;
  readonly #pair: KeyringPair;
  readonly #o: SubmitOptions;
  readonly #nonces: NonceTracker;
  readonly #offReconnect: () => void;

  constructor(conn: CessConnection, pair: KeyringPair, options: Partial<SubmitOptions> = {}) {
    this.#conn = conn;
    this.#pair = pair;
    this.#o = { ...SUBMIT_DEFAULTS, ...options };
    this.#nonces = new NonceTracker((signal) => conn.read('account nonce', signal, async (api) => (await api.rpc.system.accountNextIndex(pair.address)).toNumber()));
    // Another endpoint may hold another pool: count from what the node we are talking to knows.
    this.#offReconnect = conn.onReconnect(() => this.#nonces.resync());
  }

  get nonces(): NonceTracker {
    return this.#nonces;
  }

  /**
   * One extrinsic carrying `calls` (through `utility.batch_all` when several), handed to the pool. `budget`: how
   * many more times it may be signed again (stale nonce, dropped by the pool).
   */
  async send(calls: CallSpec[], signal?: AbortSignal, budget = this.#o.nonceRetries): Promise<Accepted> {
    if (calls.length === 0) throw new Error('nothing to submit');
    for (let attempt = 0; ; attempt++) {
      const api = await this.#conn.ready(signal);
      const tx = buildExtrinsic(api, calls);
      type Attempt = { accepted: Accepted; track: Track } | { refused: ChainDispatchError } | { retry: ChainDispatchError };
      const r = await this.#nonces.use<Attempt>(async (nonce) => {
        const from = (await api.rpc.chain.getHeader()).number.toNumber();
        await tx.signAsync(this.#pair, { nonce, era: this.#o.mortalityBlocks });
        const track: Track = { hash: tx.hash.toHex(), hex: tx.toHex(), signer: this.#pair.address, nonce, from, validUntil: deathOf(tx, from) };
        try {
          const { included } = await this.#handOver(track, signal);
          return { nonce: 'used' as const, value: { accepted: { hash: track.hash, included }, track } };
        } catch (err) {
          const refusal = classifySubmitError(err);
          switch (refusal.kind) {
            case 'invalid':
              return { nonce: 'unused' as const, value: { refused: refusal.error } };
            case 'nonce':
              return { nonce: refusal.reason === 'Stale' ? ('stale' as const) : ('unknown' as const), value: { retry: refusal.error } };
            case 'conflict':
              return { nonce: 'unknown' as const, value: { retry: refusal.error } };
            case 'known':
              return { nonce: 'used' as const, value: { accepted: { hash: track.hash, included: this.#recover(track, false, signal) }, track } };
            case 'network':
              // We cannot tell whether the node took it: find out after the reconnect, without offering it again
              // (the tracker may hand its nonce to the next transaction).
              return { nonce: 'unknown' as const, value: { accepted: { hash: track.hash, included: this.#recover(track, true, signal) }, track } };
          }
        }
      }, signal);
      if ('accepted' in r) {
        const { track } = r;
        const retries = budget - attempt;
        return {
          hash: r.accepted.hash,
          included: r.accepted.included.catch((err: unknown) => (err instanceof TxDroppedError && retries > 0 ? this.#again(calls, track, retries, signal) : Promise.reject(err))),
        };
      }
      if ('refused' in r) throw r.refused;
      if (attempt >= budget) throw r.retry;
    }
  }

  /**
   * The pool let go of a transaction it had taken (revalidation after a block: a block that ran out of room on a
   * dev chain, a nonce taken by another transaction…). Unless it landed after all, sign the calls again.
   */
  async #again(calls: CallSpec[], track: Track, retries: number, signal?: AbortSignal): Promise<Included> {
    const head = await this.#conn.read('chain head', signal, async (a) => (await a.rpc.chain.getHeader()).number.toNumber());
    for (let n = track.from; n <= head; n++) {
      const found = await this.#conn.read('block', signal, (a) => findInBlock(a, n, track.hash));
      if (found) return { ...found, finalized: false };
    }
    return (await this.send(calls, signal, retries - 1)).included;
  }

  /** Hands over an extrinsic somebody else signed (their nonce, their fee). */
  async sendSigned(tx: SubmittableExtrinsic<'promise'>, signal?: AbortSignal): Promise<Accepted> {
    const api = await this.#conn.ready(signal);
    const from = (await api.rpc.chain.getHeader()).number.toNumber();
    const track: Track = { hash: tx.hash.toHex(), hex: tx.toHex(), signer: tx.signer.toString(), nonce: tx.nonce.toNumber(), from, validUntil: deathOf(tx, from) };
    try {
      return { hash: track.hash, included: (await this.#handOver(track, signal)).included };
    } catch (err) {
      const refusal = classifySubmitError(err);
      if (refusal.kind === 'known' || refusal.kind === 'network') return { hash: track.hash, included: this.#recover(track, refusal.kind === 'network', signal) };
      throw refusal.error;
    }
  }

  /** Submits and waits: the common case. */
  async submit(calls: CallSpec[], signal?: AbortSignal): Promise<Included> {
    return (await this.send(calls, signal)).included;
  }

  close(): void {
    this.#offReconnect();
  }

  /**
   * Offers the signed bytes with `author_submitAndWatchExtrinsic`. Resolves as soon as the node answers with a
   * subscription id (the pool took it), with the promise of its inclusion; rejects with what the node said when it
   * refused. Statuses are read raw: some nodes (chopsticks) send no `ready` status before `inBlock`.
   */
  async #handOver(track: Track, signal?: AbortSignal): Promise<{ included: Promise<Included> }> {
    let settle!: (v: Included | Promise<Included>) => void;
    let fail!: (e: unknown) => void;
    const included = new Promise<Included>((res, rej) => {
      settle = res;
      fail = rej;
    });
    included.catch(() => undefined); // the caller may stop listening (abort); never an unhandled rejection
    let accepted = false;
    let done = false;
    let subscription: string | number | undefined;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      offDisconnect();
      signal?.removeEventListener('abort', onAbort);
      if (subscription !== undefined) void this.#conn.unsubscribe('author_extrinsicUpdate', 'author_unwatchExtrinsic', subscription).catch(() => undefined);
      f();
    };
    const timer = setTimeout(
      () => finish(() => fail(new ChainUnavailableError(`transaction ${track.hash} not in a block after ${this.#o.txTimeoutMs} ms`))),
      this.#o.txTimeoutMs,
    );
    // The node's watch does not survive a reconnect: look for the transaction in the chain instead.
    const offDisconnect = this.#conn.onDisconnect(() => {
      if (accepted) finish(() => settle(this.#recover(track, false, signal)));
    });
    // Aborting stops the wait; the transaction itself may still land.
    const onAbort = () => finish(() => fail(signal!.reason));
    signal?.addEventListener('abort', onAbort, { once: true });

    const onStatus = (err: Error | null, status: unknown) => {
      if (err || done) return;
      const s = (typeof status === 'string' ? { [status]: null } : (status ?? {})) as Record<string, unknown>;
      const inBlock = typeof s.inBlock === 'string' ? s.inBlock : undefined;
      const final = typeof s.finalized === 'string' ? s.finalized : undefined;
      if (final || (inBlock && this.#o.waitFor === 'inBlock')) {
        finish(() => settle(this.#includedAt(final ?? inBlock!, track, Boolean(final), signal)));
      } else if ('dropped' in s || 'invalid' in s || 'usurped' in s || 'finalityTimeout' in s) {
        // Its nonce may be free again, or taken: ask the node before the next transaction.
        this.#nonces.resync();
        finish(() => fail(new TxDroppedError(`transaction ${track.hash} left the pool: ${JSON.stringify(status)}`)));
      }
    };
    try {
      subscription = await this.#conn.subscribe('author_extrinsicUpdate', 'author_submitAndWatchExtrinsic', [track.hex], onStatus);
    } catch (err) {
      finish(() => undefined);
      throw err;
    }
    accepted = true;
    if (done) void this.#conn.unsubscribe('author_extrinsicUpdate', 'author_unwatchExtrinsic', subscription).catch(() => undefined);
    return { included };
  }

  /** The extrinsic's events in the block the node said it is in (read again after a reconnect if cut). */
  async #includedAt(blockHash: string, track: Track, finalized: boolean, signal?: AbortSignal): Promise<Included> {
    try {
      const found = await this.#conn.read('block', signal, (a) => findInBlockHash(a, blockHash, track.hash));
      if (found) return { ...found, finalized };
    } catch {
      /* fall back to searching the chain */
    }
    return this.#recover(track, false, signal);
  }

  /**
   * The watch was cut (or never established): find the transaction in the chain. With `uncertain` the node may
   * never have seen it, so it is not offered again; otherwise the same signed bytes are offered to the node we
   * reconnected to (its pool may be another one) before searching new blocks for the hash.
   */
  async #recover(track: Track, uncertain: boolean, signal?: AbortSignal): Promise<Included> {
    const deadline = Date.now() + this.#o.txTimeoutMs;
    const api = await this.#conn.ready(signal);
    if (!uncertain) {
      await api.rpc.author.submitExtrinsic(track.hex).catch(() => undefined); // known, stale (landed) or expired: the search tells
    }
    let next = track.from;
    for (;;) {
      signal?.throwIfAborted();
      const head = await this.#conn.read('chain head', signal, async (a) =>
        this.#o.waitFor === 'finalized' ? (await a.rpc.chain.getHeader(await a.rpc.chain.getFinalizedHead())).number.toNumber() : (await a.rpc.chain.getHeader()).number.toNumber(),
      );
      for (; next <= head; next++) {
        const found = await this.#conn.read('block', signal, (a) => findInBlock(a, next, track.hash));
        if (found) return { ...found, finalized: this.#o.waitFor === 'finalized' };
      }
      if (head > track.validUntil) throw new ChainUnavailableError(`transaction ${track.hash} did not land before its era ended (block ${track.validUntil})`);
      const onChain = await this.#conn.read('account nonce', signal, async (a) => ((await a.query.system.account(track.signer)) as unknown as { nonce: { toNumber(): number } }).nonce.toNumber());
      if (onChain > track.nonce) {
        // Its nonce is used and it is in none of the blocks since it was signed: another transaction took the slot.
        this.#nonces.resync();
        throw new ChainUnavailableError(`transaction ${track.hash} was replaced: nonce ${track.nonce} used by another transaction`);
      }
      if (Date.now() > deadline) throw new ChainUnavailableError(`transaction ${track.hash} not in a block after ${this.#o.txTimeoutMs} ms`);
      await sleep(this.#o.scanIntervalMs, signal);
    }
  }
}

/** A transaction the pool took and then let go of (`dropped`, `invalid`, `usurped`): it will not land from there. */
export class TxDroppedError extends ChainUnavailableError {
  override name = 'TxDroppedError';
}

/** `calls[0]`, or `utility.batch_all(calls)`. */
export function buildExtrinsic(api: ApiPromise, calls: CallSpec[]): SubmittableExtrinsic<'promise'> {
  const make = (c: CallSpec) => {
    const fn = api.tx[c.section]?.[c.method];
    if (!fn) throw new ChainDispatchError(c.section, 'Unsupported', `the runtime has no ${c.section}.${c.method}`);
    return fn(...c.args);
  };
  return calls.length === 1 ? make(calls[0]) : api.tx.utility.batchAll(calls.map((c) => make(c).method));
}

/** The last block at which a signed, mortal extrinsic is still valid. */
function deathOf(tx: SubmittableExtrinsic<'promise'>, current: number): number {
  const era = tx.era;
  if (!era.isMortalEra) return Number.MAX_SAFE_INTEGER;
  return Number(era.asMortalEra.death(current)) - 1;
}

/** Looks for an extrinsic by hash in block `number`; its events and dispatch error if it is there. */
export async function findInBlock(api: ApiPromise, number: number, hash: string): Promise<Omit<Included, 'finalized'> | undefined> {
  return findInBlockHash(api, (await api.rpc.chain.getBlockHash(number)).toHex(), hash);
}

async function findInBlockHash(api: ApiPromise, blockHash: string, hash: string): Promise<Omit<Included, 'finalized'> | undefined> {
  const block = await api.rpc.chain.getBlock(blockHash);
  const index = block.block.extrinsics.findIndex((x) => x.hash.toHex() === hash);
  if (index < 0) return undefined;
  const records = (await (await api.at(blockHash)).query.system.events()) as unknown as RawEventRecord[];
  const events = byExtrinsic(records).get(index) ?? [];
  const failed = failure(events);
  return { block: block.block.header.number.toNumber(), events, error: failed ? toDispatchError(api.registry, failed as unknown as DispatchError) : undefined };
}
