import { open } from 'node:fs/promises';
import type { Chain, MinerInfo } from '../chain/port.ts';
import { DATA_SHARDS, FRAGMENT_COUNT, FRAGMENT_SIZE, PARITY_SHARDS, SEGMENT_SIZE } from '../pipeline/constants.ts';
import type { SegmentProcessor } from '../pipeline/processor.ts';
import type { EncodeJob } from '../pipeline/segment.ts';
import type { UploadJournal, UploadRecord } from '../uploads/journal.ts';
import type { FragmentClient } from './fragment-client.ts';
import type { NodeHealth } from './node-health.ts';
import { sleep } from '../sleep.ts';

export class NotEnoughNodesError extends Error {
  override name = 'NotEnoughNodesError';
}

export interface DispatcherOptions {
  chain: Chain;
  journal: UploadJournal;
  client: FragmentClient;
  health: NodeHealth;
  /**
   * Regenerates each segment's fragments: on the pipeline's worker threads, so that erasure coding a 32 MiB segment
   * (about a second of CPU here) never holds the event loop.
   */
  processor: Pick<SegmentProcessor, 'encode'>;
  /** Attempts per fragment on one node before the column moves to another node. @default 3 */
  attemptsPerNode?: number;
  /** First retry delay in ms; doubles per attempt. @default 250 */
  retryMs?: number;
  /** Times a column may move to another node within one run. @default 6 */
  maxReplacements?: number;
  /** Prefer these storage nodes (accounts) when placing columns. */
  preferredMiners?: string[];
  log?: (msg: string) => void;
}

/**
 * Places an upload's 12 fragment columns on 12 distinct storage nodes. Fragments are regenerated from the staged
 * segments on the fly (one segment encoded at a time, then all columns waiting for it are sent in parallel), so
 * the origin never keeps 3× the bytes. A node that keeps failing loses its column to another node, which then
 * receives the column from segment 0. Progress is journaled after every segment, so a restart resumes.
 */
export class Dispatcher {
  readonly #o: DispatcherOptions;
  /** One segment round at a time: every upload shares one segment's buffers. */
  #turn: Promise<void> = Promise.resolve();
  /** A segment and its parity (96 MiB), made when dispatching starts and dropped when none runs. */
  #buffers?: EncodeJob;
  #active = 0;

  constructor(options: DispatcherOptions) {
    this.#o = options;
  }

  /** Delivers every column of `record` (mutated and journaled as it goes). */
  async dispatch(record: UploadRecord, signal?: AbortSignal): Promise<void> {
    this.#active++;
    try {
      await this.#dispatch(record, signal);
    } finally {
      if (--this.#active === 0) this.#release();
    }
  }

  #release(): void {
    this.#buffers = undefined;
  }

  async #dispatch(record: UploadRecord, signal?: AbortSignal): Promise<void> {
    const replacements = new Map<number, number>();
    await this.#place(record, signal);
    for (;;) {
      signal?.throwIfAborted();
      const pending = record.columns.filter((c) => c.delivered < record.segments.length);
      if (pending.length === 0) return;
      const index = Math.min(...pending.map((c) => c.delivered));
      const round = pending.filter((c) => c.delivered === index);
      const failed: number[] = [];
      await this.#exclusive(async () => {
        const { segment, parity } = await this.#loadSegment(record, index, signal);
        await Promise.all(
          round.map(async (placement) => {
            const fragment = fragmentOf({ segment, parity }, placement.column);
            const hash = record.segments[index].fragments[placement.column];
            try {
              await this.#send(placement.endpoint, record.fid, hash, fragment, signal);
              placement.delivered++;
              this.#o.health.ok(placement.miner);
            } catch (err) {
              if (signal?.aborted) throw err;
              this.#o.log?.(`column ${placement.column} of ${record.fid.slice(0, 12)} failed on ${placement.endpoint}: ${(err as Error).message}`);
              this.#o.health.failed(placement.miner);
              failed.push(placement.column);
            }
          }),
        );
      });
      for (const column of failed) {
        const n = (replacements.get(column) ?? 0) + 1;
        replacements.set(column, n);
        if (n > (this.#o.maxReplacements ?? 6)) throw new Error(`column ${column} failed on ${n} storage nodes`);
        const placement = record.columns.find((c) => c.column === column)!;
        placement.failedMiners.push(placement.miner);
        placement.miner = '';
        placement.endpoint = '';
        placement.delivered = 0;
      }
      if (failed.length) await this.#place(record, signal);
      await this.#o.journal.save(record);
    }
  }

  async #exclusive(work: () => Promise<void>): Promise<void> {
    const previous = this.#turn;
    let release!: () => void;
    this.#turn = new Promise((r) => (release = r));
    await previous;
    try {
      await work();
    } finally {
      release();
    }
  }

  /** Assigns a node to every column without one: distinct nodes, healthy, with room, preferred ones first. */
  async #place(record: UploadRecord, signal?: AbortSignal): Promise<void> {
    const unplaced = Array.from({ length: FRAGMENT_COUNT }, (_, column) => column).filter(
      (column) => !record.columns.find((c) => c.column === column && c.miner),
    );
    if (unplaced.length === 0) return;
    const need = BigInt(FRAGMENT_SIZE) * BigInt(record.segments.length);
    const used = new Set(record.columns.filter((c) => c.miner).map((c) => c.miner));
    const preferred = new Set(this.#o.preferredMiners ?? []);
    const candidates = shuffle(
      (await this.#o.chain.miners({ signal })).filter(
        (m: MinerInfo) => m.state === 'positive' && m.endpoint && m.idleSpace >= need && !used.has(m.account) && this.#o.health.healthy(m.account),
      ),
    ).sort((a, b) => Number(preferred.has(b.account)) - Number(preferred.has(a.account)));
    for (const column of unplaced) {
      const existing = record.columns.find((c) => c.column === column);
      const pick = candidates.findIndex((m) => !existing?.failedMiners.includes(m.account));
      if (pick < 0) {
        throw new NotEnoughNodesError(`no storage node available for column ${column} (need 12 distinct healthy nodes)`);
      }
      const [miner] = candidates.splice(pick, 1);
      if (existing) Object.assign(existing, { miner: miner.account, endpoint: miner.endpoint, delivered: 0 });
      else record.columns.push({ column, miner: miner.account, endpoint: miner.endpoint, delivered: 0, failedMiners: [] });
    }
    record.columns.sort((a, b) => a.column - b.column);
    await this.#o.journal.save(record);
  }

  /** Reads staged segment `index`, regenerates its fragments and checks every fragment's hash. */
  async #loadSegment(record: UploadRecord, index: number, signal?: AbortSignal): Promise<EncodeJob> {
    const buffers = this.#buffers ?? { segment: new Uint8Array(SEGMENT_SIZE), parity: new Uint8Array(PARITY_SHARDS * FRAGMENT_SIZE) };
    // The buffers travel to a worker thread and back: until they are back, nobody else may hold them.
    this.#buffers = undefined;
    const file = await open(this.#o.journal.segmentPath(record.id, index), 'r');
    try {
      const { bytesRead } = await file.read(buffers.segment, 0, SEGMENT_SIZE, 0);
      if (bytesRead !== SEGMENT_SIZE) throw new Error(`staged segment ${index} of ${record.fid} is truncated`);
    } finally {
      await file.close();
    }
    const { segment, parity, fragments } = await this.#o.processor.encode(buffers, signal);
    this.#buffers = { segment, parity };
    record.segments[index].fragments.forEach((expected, column) => {
      if (fragments[column] !== expected) throw new Error(`staged segment ${index} of ${record.fid} is corrupt (fragment ${column})`);
    });
    return { segment, parity };
  }

  async #send(endpoint: string, fid: string, hash: string, fragment: Uint8Array, signal?: AbortSignal): Promise<void> {
    const attempts = this.#o.attemptsPerNode ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#o.client.put(endpoint, { fid, hash }, fragment, signal);
      } catch (err) {
        const permanent = (err as { permanent?: boolean }).permanent;
        if (signal?.aborted || permanent || attempt >= attempts) throw err;
        await sleep((this.#o.retryMs ?? 250) * 2 ** (attempt - 1), signal);
      }
    }
  }

  close(): void {
    this.#release();
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Fragment `column` of a segment: one of its first four quarters, or one of the parity fragments after them. */
function fragmentOf({ segment, parity }: EncodeJob, column: number): Uint8Array {
  const [bytes, at] = column < DATA_SHARDS ? [segment, column] : [parity, column - DATA_SHARDS];
  return bytes.subarray(at * FRAGMENT_SIZE, (at + 1) * FRAGMENT_SIZE);
}
