import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FRAGMENT_SIZE, ZERO_FRAGMENT_HASH } from '../pipeline/constants.ts';

export class FragmentDiskError extends Error {
  override name = 'FragmentDiskError';
}
/** The bytes did not hash to the fragment id they were sent under, or were not 8 MiB. */
export class FragmentMismatchError extends FragmentDiskError {
  override name = 'FragmentMismatchError';
}
/** Storing the fragment would exceed the node's configured capacity. */
export class CapacityExceededError extends FragmentDiskError {
  override name = 'CapacityExceededError';
}

export interface FragmentDiskOptions {
  /** Root directory; fragments live in `<dir>/fragments/<fid>/<fragment hash>`. */
  dir: string;
  /** Bytes this node offers. */
  capacity: number;
}

/**
 * Durable fragment files of a storage node. A write streams into a temp file while hashing, checks size and
 * SHA-256, fsyncs, then renames into place and fsyncs the directory, so a crash leaves either nothing or a whole,
 * verified fragment. All-zero fragments are known by their hash: only an empty marker file records that this node
 * was given one (so it can tell which columns of a deal it holds), and reads of them produce zeros.
 */
export class FragmentDisk {
  readonly dir: string;
  readonly capacity: number;
  #used = 0;
  #reserved = 0;

  private constructor(options: FragmentDiskOptions) {
    this.dir = options.dir;
    this.capacity = options.capacity;
  }

  static async open(options: FragmentDiskOptions): Promise<FragmentDisk> {
    const disk = new FragmentDisk(options);
    await mkdir(join(disk.dir, 'fragments'), { recursive: true });
    await rm(join(disk.dir, 'tmp'), { recursive: true, force: true });
    await mkdir(join(disk.dir, 'tmp'), { recursive: true });
    for (const fid of await readdir(join(disk.dir, 'fragments'))) {
      for (const name of await readdir(join(disk.dir, 'fragments', fid))) {
        disk.#used += (await stat(join(disk.dir, 'fragments', fid, name))).size;
      }
    }
    return disk;
  }

  /** Bytes held. */
  get used(): number {
    return this.#used;
  }

  path(fid: string, hash: string): string {
    return join(this.dir, 'fragments', fid, hash);
  }

  async has(fid: string, hash: string): Promise<boolean> {
    return stat(this.path(fid, hash)).then(
      () => true,
      () => false,
    );
  }

  /** Streams `body` to disk as fragment `hash` of `fid`. Idempotent: an existing fragment is kept. */
  async write(fid: string, hash: string, body: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    if (await this.has(fid, hash)) {
      for await (const _ of body) signal?.throwIfAborted(); // drain: held already
      return;
    }
    if (hash === ZERO_FRAGMENT_HASH) {
      for await (const _ of body) signal?.throwIfAborted(); // the body is known; keep only the marker
      const dir = join(this.dir, 'fragments', fid);
      await mkdir(dir, { recursive: true });
      await (await open(this.path(fid, hash), 'w')).close();
      await syncDir(dir);
      return;
    }
    if (this.#used + this.#reserved + FRAGMENT_SIZE > this.capacity) {
      throw new CapacityExceededError(`storage node is full (${this.#used} of ${this.capacity} bytes used)`);
    }
    this.#reserved += FRAGMENT_SIZE;
    const tmp = join(this.dir, 'tmp', randomBytes(12).toString('hex'));
    const file = await open(tmp, 'w');
    let committed = false;
    try {
      const sha = createHash('sha256');
      let size = 0;
      for await (const chunk of body) {
        signal?.throwIfAborted();
        size += chunk.length;
        if (size > FRAGMENT_SIZE) throw new FragmentMismatchError(`fragment is larger than ${FRAGMENT_SIZE} bytes`);
        sha.update(chunk);
        await file.write(chunk);
      }
      if (size !== FRAGMENT_SIZE) throw new FragmentMismatchError(`fragment has ${size} bytes, expected ${FRAGMENT_SIZE}`);
      const actual = sha.digest('hex');
      if (actual !== hash) throw new FragmentMismatchError(`fragment hashes to ${actual}, not ${hash}`);
      await file.sync();
      await file.close();
      const dir = join(this.dir, 'fragments', fid);
      await mkdir(dir, { recursive: true });
      await rename(tmp, this.path(fid, hash));
      await syncDir(dir);
      committed = true;
      this.#used += FRAGMENT_SIZE;
    } finally {
      this.#reserved -= FRAGMENT_SIZE;
      if (!committed) {
        await file.close().catch(() => {});
        await rm(tmp, { force: true });
      }
    }
  }

  /** Bytes [start, end] (inclusive) of a fragment as a stream, or undefined when not held. */
  async read(fid: string, hash: string, range?: { start: number; end: number }): Promise<AsyncIterable<Uint8Array> | undefined> {
    const start = range?.start ?? 0;
    const end = range?.end ?? FRAGMENT_SIZE - 1;
    if (!(await this.has(fid, hash))) return undefined;
    if (hash === ZERO_FRAGMENT_HASH) return zeros(end - start + 1);
    return createReadStream(this.path(fid, hash), { start, end, highWaterMark: 2 * 1024 * 1024 });
  }

  async remove(fid: string): Promise<void> {
    const dir = join(this.dir, 'fragments', fid);
    const names = await readdir(dir).catch(() => [] as string[]);
    await rm(dir, { recursive: true, force: true });
    this.#used -= names.filter((n) => n !== ZERO_FRAGMENT_HASH).length * FRAGMENT_SIZE;
  }
}

async function* zeros(length: number): AsyncGenerator<Uint8Array> {
  const block = new Uint8Array(Math.min(length, 1024 * 1024));
  for (let left = length; left > 0; left -= block.length) yield left >= block.length ? block : block.subarray(0, left);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
