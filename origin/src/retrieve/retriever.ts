import { createHash } from 'node:crypto';
import type { SegmentCache } from '../cache/segment-cache.ts';
import type { Chain, FileRecord } from '../chain/port.ts';
import type { FragmentClient } from '../dispatch/fragment-client.ts';
import type { NodeHealth } from '../dispatch/node-health.ts';
import type { SegmentPeers } from '../p2p/segment-peers.ts';
import { DATA_SHARDS, FRAGMENT_COUNT, FRAGMENT_SIZE, PARITY_SHARDS, SEGMENT_SIZE } from '../pipeline/constants.ts';
import type { SegmentProcessor } from '../pipeline/processor.ts';
import { SegmentBufferCache, SegmentLease } from '../pipeline/segment-buffers.ts';

export class SegmentUnavailableError extends Error {
  override name = 'SegmentUnavailableError';
}

/** Where a segment came from, for metrics. */
export type SegmentSource = 'cache' | 'staging' | 'peers' | 'storage-nodes';

export interface RetrieverOptions {
  chain: Chain;
  client: FragmentClient;
  health: NodeHealth;
  /** Rebuilds segments read back with parity fragments (off the event loop when it has worker threads). */
  processor: SegmentProcessor;
  cache?: SegmentCache;
  /** Reads a segment still staged on this origin, if any (into `into`). */
  staged?: (fid: string, index: number, into: Uint8Array) => Promise<Uint8Array | undefined>;
  /** Where segment buffers come from and go back to. @default a cache of its own keeping 4 */
  buffers?: SegmentBufferCache;
  /** Other origins that may hold the segment in their caches; asked before storage nodes. */
  peers?: SegmentPeers;
  /** Start one more fragment fetch when the outstanding ones take longer than this. @default 2000 */
  hedgeMs?: number;
  onSegment?: (source: SegmentSource) => void;
  onFragment?: (ok: boolean) => void;
}

/**
 * Finds stored segments: this origin's cache, then its staging area, then peer origins' caches (verified against
 * the segment hash on chain, within the peers' deadline), then storage nodes.
 * Rebuilds stored segments from any 4 of their 12 fragments. Data fragments are asked for first (no decoding
 * needed); fetches run in parallel; a slow node is hedged with one more fetch; every fragment is checked against
 * its on-chain SHA-256, and a failing or lying node only costs a fetch from the next one. Segments are cached.
 */
export class Retriever {
  readonly #o: RetrieverOptions;
  readonly #records = new Map<string, { record: FileRecord; at: number }>();
  readonly #buffers: SegmentBufferCache;

  constructor(options: RetrieverOptions) {
    this.#o = options;
    this.#buffers = options.buffers ?? new SegmentBufferCache(4);
  }

  /**
   * The stored bytes (ciphertext if encrypted) of segment `index` of `fid`: exactly SEGMENT_SIZE bytes, in a
   * reused buffer that the caller must release.
   */
  async segment(fid: string, index: number, signal?: AbortSignal): Promise<SegmentLease> {
    const lease = SegmentLease.from(this.#buffers);
    try {
      for (const [source, read] of [
        ['cache', this.#o.cache && ((into: Uint8Array) => this.#o.cache!.get(fid, index, into))],
        ['staging', this.#o.staged && ((into: Uint8Array) => this.#o.staged!(fid, index, into))],
      ] as const) {
        const local = await read?.(lease.bytes);
        if (!local) continue;
        if (local.length !== SEGMENT_SIZE) throw new SegmentUnavailableError(`segment ${index} of ${fid} is ${local.length} bytes on this origin`);
        this.#o.onSegment?.(source);
        return lease;
      }
      const fromNetwork = await this.#fromNetwork(fid, index, lease.bytes, signal);
      if (fromNetwork !== lease.bytes) {
        lease.release();
        return this.#cached(fid, index, new SegmentLease(fromNetwork));
      }
      return this.#cached(fid, index, lease);
    } catch (err) {
      lease.release();
      throw err;
    }
  }

  /** A SEGMENT_SIZE working buffer from the same reused buffers (e.g. for decrypted segments). */
  buffer(): SegmentLease {
    return SegmentLease.from(this.#buffers);
  }

  /** Caches a segment read from the network in the background: the reader should not wait for 32 MiB to reach the disk. */
  #cached(fid: string, index: number, lease: SegmentLease): SegmentLease {
    const cache = this.#o.cache;
    if (cache) {
      lease.retain();
      cache.put(fid, index, lease.bytes).catch(() => {}).finally(() => lease.release());
    }
    return lease;
  }

  /** From peer origins or storage nodes: the peer's own buffer, or `into` filled from storage nodes. */
  async #fromNetwork(fid: string, index: number, into: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const record = await this.fileRecord(fid, signal);
    if (!record) throw new SegmentUnavailableError(`file ${fid} is not stored on chain`);
    const spec = record.segments[index];
    if (!spec) throw new SegmentUnavailableError(`file ${fid} has no segment ${index}`);
    if (this.#o.peers?.enabled) {
      // Resolves undefined when no peer delivered bytes matching spec.hash in time; throws only if `signal` aborted.
      const fromPeer = await this.#o.peers.fetch({ fid, index, hash: spec.hash }, signal);
      if (fromPeer) {
        this.#o.onSegment?.('peers');
        return fromPeer;
      }
    }
    const segment = await this.#fromNodes(fid, spec, into, signal);
    this.#o.onSegment?.('storage-nodes');
    return segment;
  }

  /** A cached segment's file went missing: drop the entry so the next read goes to the network. */
  forgetCached(fid: string, index: number): undefined {
    this.#o.cache?.forget(fid, index);
    return undefined;
  }

  isCached(fid: string, index: number): boolean {
    return this.#o.cache?.has(fid, index) ?? false;
  }

  /** The on-disk path of a cached segment, to stream it without loading it whole. */
  cachedPath(fid: string, index: number): string | undefined {
    const path = this.#o.cache?.pathOf(fid, index);
    if (path) this.#o.onSegment?.('cache');
    return path;
  }

  /** Drops a remembered file record (after a delete). */
  forgetRecord(fid: string): void {
    this.#records.delete(fid);
  }

  /** The chain's file record, remembered briefly (it only changes when owners come and go). */
  async fileRecord(fid: string, signal?: AbortSignal): Promise<FileRecord | undefined> {
    const hit = this.#records.get(fid);
    if (hit && Date.now() - hit.at < 30_000) return hit.record;
    const record = await this.#o.chain.file(fid, { signal });
    if (record) this.#records.set(fid, { record, at: Date.now() });
    return record;
  }

  /**
   * Fills `segment` (SEGMENT_SIZE) from storage nodes. Returns the buffer holding the segment: `segment`, or, when
   * parity fragments were needed and the rebuild ran on a worker thread, the same memory come back from it (`segment`
   * itself is then detached).
   */
  async #fromNodes(fid: string, spec: FileRecord['segments'][number], segment: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const endpoints = new Map((await this.#o.chain.miners({ signal })).map((m) => [m.account, m.endpoint]));
    // Data fragments first, then parity; nodes known to be failing last.
    const order = [...Array(FRAGMENT_COUNT).keys()].sort(
      (a, b) =>
        Number(!this.#o.health.healthy(spec.fragments[a].miner)) - Number(!this.#o.health.healthy(spec.fragments[b].miner)) ||
        Number(a >= DATA_SHARDS) - Number(b >= DATA_SHARDS) ||
        a - b,
    );
    // Data fragments land straight in their quarter of the segment; parity fragments in one buffer of their own,
    // made on the first one (a whole ArrayBuffer, so it can go to a worker thread with the segment).
    let parity: Uint8Array | undefined;
    const target = (column: number) => {
      if (column < DATA_SHARDS) return segment.subarray(column * FRAGMENT_SIZE, (column + 1) * FRAGMENT_SIZE);
      parity ??= new Uint8Array(PARITY_SHARDS * FRAGMENT_SIZE);
      return parity.subarray((column - DATA_SHARDS) * FRAGMENT_SIZE, (column - DATA_SHARDS + 1) * FRAGMENT_SIZE);
    };
    const got = new Map<number, Uint8Array>();
    const abort = new AbortController();
    const fetchSignal = signal ? AbortSignal.any([signal, abort.signal]) : abort.signal;
    let next = 0;
    let running = 0;
    const errors: string[] = [];

    await new Promise<void>((resolve, reject) => {
      let hedge: NodeJS.Timeout | undefined;
      const finish = (err?: Error) => {
        clearTimeout(hedge);
        abort.abort();
        if (err) reject(err);
        else resolve();
      };
      const armHedge = () => {
        clearTimeout(hedge);
        hedge = setTimeout(() => {
          if (got.size < DATA_SHARDS) launch();
          armHedge();
        }, this.#o.hedgeMs ?? 2000);
      };
      const launch = (): boolean => {
        if (next >= order.length) return false;
        const column = order[next++];
        const fragment = spec.fragments[column];
        running++;
        this.#fetchFragment(endpoints.get(fragment.miner), fid, fragment.hash, target(column), fetchSignal).then(
          (bytes) => {
            running--;
            this.#o.health.ok(fragment.miner);
            this.#o.onFragment?.(true);
            if (got.size < DATA_SHARDS) got.set(column, bytes);
            if (got.size === DATA_SHARDS) finish();
          },
          (err: Error) => {
            running--;
            if (fetchSignal.aborted) return;
            this.#o.health.failed(fragment.miner);
            this.#o.onFragment?.(false);
            errors.push(`fragment ${column}: ${err.message}`);
            if (!launch() && running === 0 && got.size < DATA_SHARDS) {
              finish(new SegmentUnavailableError(`only ${got.size} of ${DATA_SHARDS} fragments could be fetched: ${errors.join('; ')}`));
            }
          },
        );
        return true;
      };
      signal?.addEventListener('abort', () => finish(signal.reason), { once: true });
      for (let i = 0; i < DATA_SHARDS; i++) launch();
      armHedge();
    });

    if ([...got.keys()].every((c) => c < DATA_SHARDS)) {
      // The segment is its four data fragments, each verified against its on-chain hash: nothing to decode, and
      // hashing 32 MiB again would only re-check what the uploader declared.
      return segment;
    }
    // Missing data quarters are rebuilt into the segment itself and the result is checked whole, on a worker thread
    // (decoding and hashing 32 MiB would hold the event loop for a large part of a second).
    const present = Array.from({ length: FRAGMENT_COUNT }, (_, c) => got.has(c));
    const rebuilt = await this.#o.processor.rebuild({ segment, parity: parity!, present }, signal);
    if (rebuilt.hash !== spec.hash) throw new SegmentUnavailableError(`segment rebuilt from verified fragments hashes to ${rebuilt.hash}, not ${spec.hash}`);
    return rebuilt.segment;
  }

  /** Fetches a fragment into `bytes` (FRAGMENT_SIZE) and checks its hash. */
  async #fetchFragment(endpoint: string | undefined, fid: string, hash: string, bytes: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    if (!endpoint) throw new Error('storage node has no endpoint on chain');
    // Hashed as it arrives, so the check costs no time after the last byte.
    const sha = createHash('sha256');
    const n = await this.#o.client.getInto(endpoint, { fid, hash }, bytes, { signal, onBytes: (piece) => sha.update(piece) });
    if (n !== FRAGMENT_SIZE) throw new Error(`storage node sent ${n} bytes, not a whole fragment`);
    const actual = sha.digest('hex');
    if (actual !== hash) throw new Error(`storage node sent bytes hashing to ${actual.slice(0, 12)}…, not the fragment`);
    return bytes;
  }
}
