import { createHash } from 'node:crypto';
import type { ReedSolomon } from '../../../wasm/src/erasure.ts';
import type { SegmentCache } from '../cache/segment-cache.ts';
import type { Chain, FileRecord } from '../chain/port.ts';
import type { FragmentClient } from '../dispatch/fragment-client.ts';
import type { NodeHealth } from '../dispatch/node-health.ts';
import type { SegmentPeers } from '../p2p/segment-peers.ts';
import { DATA_SHARDS, FRAGMENT_COUNT, FRAGMENT_SIZE, SEGMENT_SIZE } from '../pipeline/constants.ts';

export class SegmentUnavailableError extends Error {
  override name = 'SegmentUnavailableError';
}

/** Where a segment came from, for metrics. */
export type SegmentSource = 'cache' | 'staging' | 'peers' | 'storage-nodes';

export interface RetrieverOptions {
  chain: Chain;
  client: FragmentClient;
  health: NodeHealth;
  codec: ReedSolomon;
  cache?: SegmentCache;
  /** Reads a segment still staged on this origin, if any. */
  staged?: (fid: string, index: number) => Promise<Uint8Array | undefined>;
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

  constructor(options: RetrieverOptions) {
    this.#o = options;
  }

  /** The stored bytes (ciphertext if encrypted) of segment `index` of `fid`: exactly SEGMENT_SIZE bytes. */
  async segment(fid: string, index: number, signal?: AbortSignal): Promise<Uint8Array> {
    const cached = await this.#o.cache?.get(fid, index);
    if (cached) {
      this.#o.onSegment?.('cache');
      return cached;
    }
    const staged = await this.#o.staged?.(fid, index);
    if (staged) {
      this.#o.onSegment?.('staging');
      return staged;
    }
    const record = await this.fileRecord(fid, signal);
    if (!record) throw new SegmentUnavailableError(`file ${fid} is not stored on chain`);
    const spec = record.segments[index];
    if (!spec) throw new SegmentUnavailableError(`file ${fid} has no segment ${index}`);
    if (this.#o.peers?.enabled) {
      // Resolves undefined when no peer delivered bytes matching spec.hash in time; throws only if `signal` aborted.
      const fromPeer = await this.#o.peers.fetch({ fid, index, hash: spec.hash }, signal);
      if (fromPeer) {
        this.#o.onSegment?.('peers');
        this.#o.cache?.put(fid, index, fromPeer).catch(() => {});
        return fromPeer;
      }
    }
    const segment = await this.#fromNodes(fid, spec, signal);
    this.#o.onSegment?.('storage-nodes');
    // Cache in the background: the reader should not wait for 32 MiB to reach the disk.
    this.#o.cache?.put(fid, index, segment).catch(() => {});
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

  async #fromNodes(fid: string, spec: FileRecord['segments'][number], signal?: AbortSignal): Promise<Uint8Array> {
    const endpoints = new Map((await this.#o.chain.miners({ signal })).map((m) => [m.account, m.endpoint]));
    // Data fragments first, then parity; nodes known to be failing last.
    const order = [...Array(FRAGMENT_COUNT).keys()].sort(
      (a, b) =>
        Number(!this.#o.health.healthy(spec.fragments[a].miner)) - Number(!this.#o.health.healthy(spec.fragments[b].miner)) ||
        Number(a >= DATA_SHARDS) - Number(b >= DATA_SHARDS) ||
        a - b,
    );
    // Data fragments land straight in their quarter of the segment; parity fragments in their own buffers.
    const segment = new Uint8Array(SEGMENT_SIZE);
    const target = (column: number) =>
      column < DATA_SHARDS ? segment.subarray(column * FRAGMENT_SIZE, (column + 1) * FRAGMENT_SIZE) : new Uint8Array(FRAGMENT_SIZE);
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
    // Missing data quarters are rebuilt in place, into the segment itself, and the result is checked whole.
    const shards = Array.from({ length: FRAGMENT_COUNT }, (_, c) => got.get(c) ?? (c < DATA_SHARDS ? target(c) : null));
    const present = shards.map((_, c) => got.has(c));
    this.#o.codec.reconstructData(shards, { present });
    const hash = createHash('sha256').update(segment).digest('hex');
    if (hash !== spec.hash) throw new SegmentUnavailableError(`segment rebuilt from verified fragments hashes to ${hash}, not ${spec.hash}`);
    return segment;
  }

  /** Fetches a fragment into `bytes` (FRAGMENT_SIZE) and checks its hash. */
  async #fetchFragment(endpoint: string | undefined, fid: string, hash: string, bytes: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    if (!endpoint) throw new Error('storage node has no endpoint on chain');
    const body = await this.#o.client.get(endpoint, { fid, hash }, { signal });
    let at = 0;
    // Hashed as it arrives, so the check costs no time after the last byte.
    const sha = createHash('sha256');
    for await (const chunk of body) {
      // Once enough fragments arrived, a straggler must not write into a quarter that is being rebuilt.
      signal.throwIfAborted();
      if (at + chunk.length > FRAGMENT_SIZE) throw new Error('storage node sent more than a fragment');
      bytes.set(chunk, at);
      sha.update(chunk);
      at += chunk.length;
    }
    if (at !== FRAGMENT_SIZE) throw new Error(`storage node sent ${at} bytes, not a whole fragment`);
    const actual = sha.digest('hex');
    if (actual !== hash) throw new Error(`storage node sent bytes hashing to ${actual.slice(0, 12)}…, not the fragment`);
    return bytes;
  }
}
