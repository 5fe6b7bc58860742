import type { CallSpec } from './calls.ts';
import { splitBatch, type RawEvent } from './events.ts';
import type { Accepted, Included } from './submit.ts';

export interface BatcherOptions {
  /** Most calls in one `utility.batch_all`; 1 turns batching off. @default 8 */
  maxCalls: number;
  /** Most encoded call bytes in one batch (a 1000-segment declaration is ~830 KB). @default 512 KiB */
  maxBytes: number;
  /** Whether the runtime has `utility.batch_all` (checked at each flush: a runtime upgrade may change it). */
  available: () => boolean;
  /** Hands one extrinsic with these calls to the pool. */
  send: (calls: CallSpec[]) => Promise<Accepted>;
}

export const BATCH_DEFAULTS = { maxCalls: 8, maxBytes: 512 * 1024 } as const;

/** One call's share of an extrinsic: its own events, and the extrinsic's block, finality and error. */
export interface CallIncluded extends Included {
  /** How many calls shared the extrinsic (and its fee). */
  batched: number;
}

interface Item {
  call: CallSpec;
  bytes: number;
  resolve: (v: CallIncluded) => void;
  reject: (e: unknown) => void;
}

/**
 * Opportunistic batching of upload declarations: calls that queue up while the previous extrinsic is being handed
 * to the pool go out together in one `utility.batch_all` (no timer, so a lone call waits for nothing). batch_all is
 * all-or-nothing, so when a batch fails every call in it is sent again on its own: each gets its own result, and
 * one bad declaration never sinks the others.
 */
export class Batcher {
  readonly #o: BatcherOptions;
  readonly #queue: Item[] = [];
  #flushing = false;

  constructor(options: BatcherOptions) {
    this.#o = options;
  }

  /** Queues a call; resolves with its events once its extrinsic is included. */
  submit(call: CallSpec, bytes: number): Promise<CallIncluded> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ call, bytes, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      // Let calls made in the same tick join the first batch.
      await new Promise((r) => setImmediate(r));
      while (this.#queue.length) {
        const group = this.#take();
        try {
          const accepted = await this.#o.send(group.map((i) => i.call));
          void this.#settle(group, accepted.included);
        } catch (err) {
          if (group.length === 1) group[0].reject(err);
          else for (const item of group) this.#alone(item);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  #take(): Item[] {
    const max = this.#o.available() ? Math.max(1, this.#o.maxCalls) : 1;
    const group = [this.#queue.shift()!];
    let bytes = group[0].bytes;
    while (group.length < max && this.#queue.length && bytes + this.#queue[0].bytes <= this.#o.maxBytes) {
      bytes += this.#queue[0].bytes;
      group.push(this.#queue.shift()!);
    }
    return group;
  }

  async #settle(group: Item[], included: Promise<Included>): Promise<void> {
    let result: Included;
    try {
      result = await included;
    } catch (err) {
      for (const item of group) item.reject(err);
      return;
    }
    if (group.length === 1) {
      group[0].resolve({ ...result, batched: 1 });
      return;
    }
    if (result.error) {
      for (const item of group) this.#alone(item);
      return;
    }
    const parts: RawEvent[][] | undefined = splitBatch(result.events, group.length);
    // The extrinsic-level events (fee, success) belong to every call of the batch.
    const tail = parts ? result.events.filter((e) => e.section !== 'utility' && !parts.some((p) => p.includes(e))) : [];
    group.forEach((item, i) => item.resolve({ ...result, events: parts ? [...parts[i], ...tail] : result.events, batched: group.length }));
  }

  /** Sends one call of a failed batch by itself. */
  #alone(item: Item): void {
    this.#o
      .send([item.call])
      .then((a) => a.included)
      .then((r) => item.resolve({ ...r, batched: 1 }), item.reject);
  }
}
