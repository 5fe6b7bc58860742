import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { readInto, type SegmentCache } from '../cache/segment-cache.ts';
import { ChainDispatchError, type Chain } from '../chain/port.ts';
import { NotEnoughNodesError, type Dispatcher } from '../dispatch/dispatcher.ts';
import { sleep } from '../sleep.ts';
import type { CipherSpec } from '../pipeline/cipher.ts';
import { digestStream } from '../pipeline/pipeline.ts';
import type { SegmentProcessor } from '../pipeline/processor.ts';
import type { ByteSource } from '../pipeline/source.ts';
import { syncDirectory } from './durable-file.ts';
import type { UploadJournal, UploadRecord, UploadState } from './journal.ts';

export interface UploadRequest {
  owner: string;
  fileName: string;
  territory: string;
  cipher?: CipherSpec;
}

export interface UploadServiceOptions {
  chain: Chain;
  journal: UploadJournal;
  processor: SegmentProcessor;
  dispatcher: Dispatcher;
  cache?: SegmentCache;
  /** How often to look for the chain's file record while storage nodes report. @default 1000 */
  reportPollMs?: number;
  /**
   * How long delivered columns may stay unreported before they are placed on other storage nodes (a node that took
   * a column and never told the chain). @default 600000
   */
  reportTimeoutMs?: number;
  /** Longest backoff between attempts of a failing step. @default 300000 */
  maxBackoffMs?: number;
  log?: (msg: string) => void;
}

/** Chain refusals that retrying cannot fix. */
const PERMANENT = new Set(['fileBank.NoPermission', 'fileBank.InsufficientAvailableSpace', 'storageHandler.NotHaveTerritory', 'storageHandler.TerritoryExpired']);

/**
 * The upload lifecycle: stage (pipeline → durable segments → journal), then in the background declare the deal,
 * dispatch the 12 columns, and wait for the chain's file record. Every step is journaled; `resumeAll` picks up
 * where a previous process stopped. Steps retry with capped exponential backoff, never in a spin.
 */
export class UploadService {
  readonly #o: UploadServiceOptions;
  readonly #running = new Map<string, Promise<void>>();
  readonly #waiters = new Map<string, ((r: UploadRecord) => void)[]>();
  readonly #records = new Map<string, UploadRecord>();
  readonly #stop = new AbortController();

  constructor(options: UploadServiceOptions) {
    this.#o = options;
  }

  /** Streams an upload to durable staging. Returns once every segment is fsynced and the upload is journaled. */
  async stage(
    source: ByteSource,
    request: UploadRequest,
    signal?: AbortSignal,
    /** Runs once all bytes are staged, before the upload is journaled; throwing discards the upload. */
    beforeCommit?: () => void,
  ): Promise<UploadRecord> {
    const id = randomBytes(16).toString('hex');
    const dir = this.#o.journal.uploadDir(id);
    await mkdir(dir, { recursive: true });
    try {
      const digest = await digestStream(source, {
        processor: this.#o.processor,
        cipher: request.cipher,
        signal,
        onSegment: async (segment) => {
          const file = await open(this.#o.journal.segmentPath(id, segment.index), 'w');
          try {
            await file.write(segment.buffer);
            await file.sync();
          } finally {
            await file.close();
          }
        },
      });
      await syncDirectory(dir);
      beforeCommit?.();
      const existing = [...this.#records.values()].find((r) => r.fid === digest.fid && r.owner === request.owner && r.state !== 'failed');
      if (existing) {
        await this.#o.journal.remove(id);
        return existing;
      }
      const record: UploadRecord = {
        id,
        fid: digest.fid,
        size: digest.size,
        owner: request.owner,
        fileName: request.fileName,
        territory: request.territory,
        cipher: request.cipher?.kind ?? 'none',
        segments: digest.segments,
        state: 'staged',
        columns: [],
        createdAt: Date.now(),
        updatedAt: Date.now(),
        attempts: 0,
      };
      await this.#o.journal.save(record);
      this.#records.set(id, record);
      this.#advance(record);
      return record;
    } catch (err) {
      await this.#o.journal.remove(id);
      throw err;
    }
  }

  /** Resolves when the upload reaches `stored` (or `failed`). */
  whenSettled(record: UploadRecord, signal?: AbortSignal): Promise<UploadRecord> {
    if (record.state === 'stored' || record.state === 'failed') return Promise.resolve(record);
    return new Promise((resolve, reject) => {
      const list = this.#waiters.get(record.id) ?? [];
      list.push(resolve);
      this.#waiters.set(record.id, list);
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }

  /** The newest local upload of a FID, if this origin staged it. */
  byFid(fid: string): UploadRecord | undefined {
    return [...this.#records.values()].filter((r) => r.fid === fid).sort((a, b) => b.createdAt - a.createdAt)[0];
  }

  /** Uploads not yet stored (or failed): work still owed to the storage nodes and the chain. */
  unsettled(): number {
    let n = 0;
    for (const r of this.#records.values()) if (r.state !== 'stored' && r.state !== 'failed') n++;
    return n;
  }

  /** A staged segment of a FID, while this origin still holds it. */
  async stagedSegment(fid: string, index: number, into?: Uint8Array): Promise<Uint8Array | undefined> {
    const record = [...this.#records.values()].find((r) => r.fid === fid && r.state !== 'stored');
    if (!record) return undefined;
    const path = this.#o.journal.segmentPath(record.id, index);
    return (into ? readInto(path, into) : readFile(path)).catch(() => undefined);
  }

  /** Picks up every journaled upload after a restart; drops uploads that never finished staging. */
  async resumeAll(): Promise<number> {
    await this.#o.journal.init();
    const { records, incomplete } = await this.#o.journal.list();
    for (const id of incomplete) await this.#o.journal.remove(id);
    for (const record of records) {
      this.#records.set(record.id, record);
      if (record.state !== 'stored' && record.state !== 'failed') this.#advance(record);
    }
    return records.length;
  }

  #advance(record: UploadRecord): void {
    if (this.#running.has(record.id)) return;
    const run = this.#drive(record)
      .catch((err) => this.#o.log?.(`upload ${record.id} stopped: ${(err as Error).message}`))
      .finally(() => this.#running.delete(record.id));
    this.#running.set(record.id, run);
  }

  async #drive(record: UploadRecord): Promise<void> {
    const signal = this.#stop.signal;
    while (record.state !== 'stored' && record.state !== 'failed') {
      signal.throwIfAborted();
      try {
        await this.#step(record, signal);
        record.attempts = 0;
        record.lastError = undefined;
      } catch (err) {
        if (signal.aborted) throw err;
        const id = err instanceof ChainDispatchError ? err.id : undefined;
        record.lastError = (err as Error).message;
        record.attempts++;
        if (id && PERMANENT.has(id)) {
          await this.#set(record, 'failed');
          break;
        }
        await this.#o.journal.save(record);
        const wait = Math.min(this.#o.maxBackoffMs ?? 300_000, 1000 * 2 ** Math.min(record.attempts - 1, 16));
        this.#o.log?.(`upload ${record.fid.slice(0, 12)} (${record.state}) failed: ${record.lastError}; retry in ${wait} ms`);
        await sleep(err instanceof NotEnoughNodesError ? Math.max(wait, 2000) : wait, signal);
      }
    }
    for (const resolve of this.#waiters.get(record.id) ?? []) resolve(record);
    this.#waiters.delete(record.id);
  }

  async #step(record: UploadRecord, signal: AbortSignal): Promise<void> {
    const { chain } = this.#o;
    switch (record.state) {
      case 'staged': {
        const file = await chain.file(record.fid, { signal });
        if (file?.owners.some((o) => o.user === record.owner)) return this.#finish(record);
        const deal = file ? undefined : await chain.deal(record.fid, { signal });
        if (!deal) {
          await chain.declareUpload(
            {
              fid: record.fid,
              segments: record.segments.map((s) => ({ hash: s.hash, fragments: s.fragments })),
              user: { user: record.owner, fileName: record.fileName, territoryName: record.territory },
              fileSize: BigInt(record.size),
            },
            { signal },
          );
          // A FID already stored by someone else becomes the owner's at once ("fly upload").
          if (file) return this.#finish(record);
        }
        return this.#set(record, 'dispatching');
      }
      case 'dispatching':
        await this.#o.dispatcher.dispatch(record, signal);
        return this.#set(record, 'reporting');
      case 'reporting': {
        const deadline = Date.now() + (this.#o.reportTimeoutMs ?? 600_000);
        for (;;) {
          if (await chain.file(record.fid, { signal })) return this.#finish(record);
          const deal = await chain.deal(record.fid, { signal });
          if (!deal) throw new Error('the deal disappeared from chain before completion');
          if (Date.now() > deadline) return this.#replaceSilentColumns(record, deal.completed.map((c) => c.miner));
          await sleep(this.#o.reportPollMs ?? 1000, signal);
        }
      }
    }
  }

  /**
   * Columns whose node never reported go to other nodes: back to dispatching with those columns unplaced. Judged by
   * node, not by index: equal fragments (all-zero ones) can sit in several columns, and a node may report any
   * column it holds in full.
   */
  async #replaceSilentColumns(record: UploadRecord, reportedBy: string[]): Promise<void> {
    const silent = record.columns.filter((c) => !reportedBy.includes(c.miner));
    for (const placement of silent) {
      this.#o.log?.(`column ${placement.column} of ${record.fid.slice(0, 12)} was never reported by ${placement.miner}; placing it again`);
      // A node that stayed silent is not trusted with any column of this file again.
      for (const c of record.columns) if (!c.failedMiners.includes(placement.miner)) c.failedMiners.push(placement.miner);
    }
    for (const placement of silent) Object.assign(placement, { miner: '', endpoint: '', delivered: 0 });
    record.lastError = `${silent.length} column(s) unreported; re-placed`;
    await this.#set(record, 'dispatching');
  }

  /** Stored: staged segments become cache entries (they are the stored bytes), and the staging area goes. */
  async #finish(record: UploadRecord): Promise<void> {
    await this.#set(record, 'stored');
    if (this.#o.cache) {
      for (let i = 0; i < record.segments.length; i++) {
        await this.#o.cache.adopt(record.fid, i, this.#o.journal.segmentPath(record.id, i), 32 * 1024 * 1024).catch(() => {});
      }
    }
    for (let i = 0; i < record.segments.length; i++) await rm(this.#o.journal.segmentPath(record.id, i), { force: true });
  }

  async #set(record: UploadRecord, state: UploadState): Promise<void> {
    record.state = state;
    await this.#o.journal.save(record);
    this.#o.log?.(`upload ${record.fid.slice(0, 12)} → ${state}`);
  }

  /** Progress for the state endpoint: columns delivered of 12, segments. */
  progress(record: UploadRecord): { state: UploadState; columnsDone: number; segments: number; lastError?: string } {
    const columnsDone = record.columns.filter((c) => c.delivered === record.segments.length).length;
    return { state: record.state, columnsDone, segments: record.segments.length, lastError: record.lastError };
  }

  async close(): Promise<void> {
    this.#stop.abort(new Error('upload service stopped'));
    await Promise.allSettled(this.#running.values());
  }
}
