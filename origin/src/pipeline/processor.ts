import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { loadErasureModuleFromDisk } from '../../../wasm/src/node.ts';
import { SegmentBufferCache } from './segment-buffers.ts';
import { buffersOf, SegmentCoder, type EncodeJob, type EncodeResult, type RebuildJob, type RebuildResult, type SegmentJob, type SegmentResult } from './segment.ts';
import { jobOf, type WorkerReply, type WorkerWork } from './segment-worker-protocol.ts';

/** Runs segment jobs: in this thread, or on a pool of worker threads. Results come back per job, in any order. */
export interface SegmentProcessor {
  /** Jobs this processor works on at the same time; callers keep about this many in flight. */
  readonly parallelism: number;
  /** Segment buffers shared by every stream this processor serves. */
  readonly buffers: SegmentBufferCache;
  process(job: SegmentJob, signal?: AbortSignal): Promise<SegmentResult>;
  /** Regenerates a stored segment's fragments for dispatch (see SegmentCoder.encode). */
  encode(job: EncodeJob, signal?: AbortSignal): Promise<EncodeResult>;
  /** Rebuilds a segment read back from fragments, some of them parity (see SegmentCoder.rebuild). */
  rebuild(job: RebuildJob, signal?: AbortSignal): Promise<RebuildResult>;
  close(): Promise<void>;
}

export interface SegmentProcessorOptions {
  /**
   * Worker threads. 0 runs everything in the calling thread (no start-up cost: best for a single segment).
   * @default os.availableParallelism()
   */
  threads?: number;
}

export async function createSegmentProcessor(options: SegmentProcessorOptions = {}): Promise<SegmentProcessor> {
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 0) throw new RangeError('threads must be a non-negative integer');
  if (threads === 0) return new InlineProcessor(new SegmentCoder((await loadErasureModuleFromDisk()).createCodec()));
  return new SegmentWorkerPool(threads);
}

class InlineProcessor implements SegmentProcessor {
  readonly parallelism = 1;
  readonly buffers = new SegmentBufferCache(3);
  readonly #coder: SegmentCoder;
  constructor(coder: SegmentCoder) {
    this.#coder = coder;
  }
  async process(job: SegmentJob, signal?: AbortSignal): Promise<SegmentResult> {
    signal?.throwIfAborted();
    return this.#coder.process(job);
  }
  async encode(job: EncodeJob, signal?: AbortSignal): Promise<EncodeResult> {
    signal?.throwIfAborted();
    return this.#coder.encode(job);
  }
  async rebuild(job: RebuildJob, signal?: AbortSignal): Promise<RebuildResult> {
    signal?.throwIfAborted();
    return this.#coder.rebuild(job);
  }
  async close(): Promise<void> {
    this.#coder.close();
  }
}

interface Pending {
  id: number;
  work: WorkerWork;
  resolve: (r: SegmentResult | EncodeResult | RebuildResult) => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
}

/**
 * A fixed pool of worker threads, each with its own WASM codec. Segment buffers are transferred, not copied, to the
 * worker and back. A job aborted while queued never starts; a job already running finishes in its thread (a segment
 * takes tens of milliseconds) and its result is dropped.
 */
export class SegmentWorkerPool implements SegmentProcessor {
  readonly parallelism: number;
  readonly #idle: Worker[] = [];
  readonly #all: Worker[] = [];
  readonly #queue: Pending[] = [];
  readonly #running = new Map<Worker, Pending>();
  #nextId = 0;
  #closed = false;

  readonly buffers: SegmentBufferCache;

  constructor(threads: number) {
    this.parallelism = threads;
    this.buffers = new SegmentBufferCache(threads + 2);
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(new URL('./segment-worker.ts', import.meta.url));
      worker.on('message', (reply: WorkerReply) => this.#onReply(worker, reply));
      worker.on('error', (err) => this.#onCrash(worker, err));
      this.#all.push(worker);
      this.#idle.push(worker);
    }
  }

  process(job: SegmentJob, signal?: AbortSignal): Promise<SegmentResult> {
    return this.#submit({ job }, signal) as Promise<SegmentResult>;
  }

  encode(job: EncodeJob, signal?: AbortSignal): Promise<EncodeResult> {
    return this.#submit({ encode: job }, signal) as Promise<EncodeResult>;
  }

  rebuild(job: RebuildJob, signal?: AbortSignal): Promise<RebuildResult> {
    return this.#submit({ rebuild: job }, signal) as Promise<RebuildResult>;
  }

  #submit(work: WorkerWork, signal?: AbortSignal): Promise<SegmentResult | EncodeResult | RebuildResult> {
    if (this.#closed) return Promise.reject(new Error('segment processor is closed'));
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, work, resolve, reject, signal });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const pending = this.#queue.shift()!;
      if (pending.signal?.aborted) {
        pending.reject(pending.signal.reason);
        continue;
      }
      const worker = this.#idle.pop()!;
      this.#running.set(worker, pending);
      worker.postMessage({ id: pending.id, ...pending.work }, buffersOf(jobOf(pending.work)));
    }
  }

  #onReply(worker: Worker, reply: WorkerReply): void {
    const pending = this.#running.get(worker);
    this.#running.delete(worker);
    this.#idle.push(worker);
    if (pending && pending.id === reply.id) {
      if (reply.ok) pending.resolve(reply.result);
      else pending.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name }));
    }
    this.#pump();
  }

  #onCrash(worker: Worker, err: Error): void {
    const pending = this.#running.get(worker);
    this.#running.delete(worker);
    pending?.reject(err);
    // A crashed worker is not replaced: fail the rest rather than spin.
    for (const p of this.#queue.splice(0)) p.reject(err);
    this.#closed = true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const p of this.#queue.splice(0)) p.reject(new Error('segment processor closed'));
    await Promise.all(this.#all.map((w) => w.terminate()));
  }
}
