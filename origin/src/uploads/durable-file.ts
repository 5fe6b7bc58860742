import { randomBytes } from 'node:crypto';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Writes a file so that after a crash it is either absent/old or complete: write a temp file beside it, fsync,
 * rename over the target, fsync the directory.
 */
export async function writeDurably(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(8).toString('hex')}.tmp`);
  await writeSynced(tmp, bytes);
  await rename(tmp, path);
  await syncDirectory(dirname(path));
}

/** Creates a file (it must not exist) with these bytes and fsyncs it. Its directory entry is the caller's to sync. */
export async function writeSynced(path: string, bytes: Uint8Array | string): Promise<void> {
  const file = await open(path, 'wx');
  try {
    await file.write(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
    await file.sync();
  } finally {
    await file.close();
  }
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes a stream of chunks to a file at a position, gathered into `batchBytes` vectored writes with one write in
 * flight while the caller produces the next batch: a write per socket chunk would stall an upload on a thread-pool
 * round trip every 64 KiB. Chunks are kept (not copied) until written, so they must not be reused by the caller.
 */
export class BatchedWriter {
  readonly #file: FileHandle;
  readonly #batchBytes: number;
  #position: number;
  #batch: Uint8Array[] = [];
  #batched = 0;
  #inFlight?: Promise<void>;
  readonly #syncEveryBytes: number;
  #unsynced = 0;
  #syncing?: Promise<void>;

  /**
   * `syncEveryBytes` starts an fdatasync in the background each time that many bytes were written since the last
   * one, so the caller's final sync finds little left to flush (a large object's ack no longer waits for the
   * writeback of all its bytes at once). 0: never.
   */
  constructor(file: FileHandle, position: number, options: { batchBytes?: number; syncEveryBytes?: number } = {}) {
    this.#file = file;
    this.#position = position;
    this.#batchBytes = options.batchBytes ?? 1024 * 1024;
    this.#syncEveryBytes = options.syncEveryBytes ?? 0;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#batch.push(chunk);
    this.#batched += chunk.length;
    if (this.#batched < this.#batchBytes) return;
    await this.#inFlight;
    this.#inFlight = this.#flush();
    this.#inFlight.catch(() => {}); // surfaced by the next write or by finish()
  }

  /** Writes what is left; resolves with the position after the last byte. The caller still syncs. */
  async finish(): Promise<number> {
    await this.#inFlight;
    if (this.#batch.length) await this.#flush();
    await this.#syncing;
    return this.#position;
  }

  /** Waits for writes and syncs in flight without caring how they ended (before truncating after a failure). */
  async settle(): Promise<void> {
    await this.#inFlight?.catch(() => {});
    await this.#syncing?.catch(() => {});
  }

  async #flush(): Promise<void> {
    const chunks = this.#batch;
    const at = this.#position;
    const length = this.#batched;
    this.#position += length;
    this.#batch = [];
    this.#batched = 0;
    await writeAllv(this.#file, chunks, at);
    this.#unsynced += length;
    if (this.#syncEveryBytes && this.#unsynced >= this.#syncEveryBytes) {
      await this.#syncing; // at most one in flight; its failure fails this write
      this.#unsynced = 0;
      this.#syncing = this.#file.datasync();
      this.#syncing.catch(() => {}); // surfaced by the next flush or by finish()
    }
  }
}

/** Writes every byte of `chunks` at `position` (a vectored write may stop short). */
async function writeAllv(file: FileHandle, chunks: Uint8Array[], position: number): Promise<void> {
  let rest = chunks;
  while (rest.length) {
    const { bytesWritten } = await file.writev(rest, position);
    position += bytesWritten;
    let skip = bytesWritten;
    const next: Uint8Array[] = [];
    for (const c of rest) {
      if (skip >= c.length) skip -= c.length;
      else {
        next.push(skip ? c.subarray(skip) : c);
        skip = 0;
      }
    }
    rest = next;
  }
}

/** A streamed body (an object for a pack, a staged part) went past its size limit; nothing of it is kept. */
export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
  readonly limit: number;
  constructor(what: string, limit: number) {
    super(`${what} larger than the limit of ${limit} bytes`);
    this.limit = limit;
  }
}
