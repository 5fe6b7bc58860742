import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BatchedWriter, BodyTooLargeError, syncDirectory, writeDurably } from './durable-file.ts';

/**
 * Staged parts of S3 multipart uploads. A part is kept on the origin's disk, not on chain, until the upload is
 * completed: then the parts are streamed, in order, through the pipeline as ONE CESS file. Storing each part as
 * its own CESS file would pad every 8 MiB part to a 32 MiB segment and cost 4× the space.
 *
 * Parts of SSE-C objects never touch the disk in plaintext: they are sealed with AES-256-GCM under a key derived
 * (HKDF) from the customer's key and a per-part random salt, so the caller must present the same key to read them.
 * File layout: `<handle>.part` = [salt 16][iv 12][ciphertext][tag 16] when sealed, the raw bytes otherwise;
 * `<handle>.json` = {@link PartInfo}. Handles are random, so parts cannot be guessed or overwritten.
 */
export interface PartInfo {
  handle: string;
  /** Plaintext bytes. */
  size: number;
  /** Hex MD5 of the plaintext (the part's S3 ETag). */
  md5: string;
  sealed: boolean;
  created: number;
}

export interface PartStoreOptions {
  dir: string;
  /** Parts not completed or released within this time are swept away (abandoned uploads), ms. @default 7 days */
  maxAgeMs?: number;
}

export class PartNotFoundError extends Error {
  override name = 'PartNotFoundError';
}

export class PartKeyError extends Error {
  override name = 'PartKeyError';
}

const SALT = 16;
const IV = 12;
const TAG = 16;
const HANDLE = /^[0-9a-f]{32}$/;

export class PartStore {
  readonly #dir: string;
  readonly #maxAgeMs: number;

  private constructor(dir: string, maxAgeMs: number) {
    this.#dir = dir;
    this.#maxAgeMs = maxAgeMs;
  }

  static async open(options: PartStoreOptions): Promise<PartStore> {
    await mkdir(options.dir, { recursive: true });
    return new PartStore(options.dir, options.maxAgeMs ?? 7 * 24 * 3600 * 1000);
  }

  /**
   * Writes a part durably (temp file, fsync, rename, then its info). `key` seals it; `maxBytes` bounds it.
   * `check` runs after the last byte and before the part becomes visible, so a bad digest stages nothing.
   */
  async put(
    chunks: AsyncIterable<Uint8Array>,
    options: {
      key?: Uint8Array;
      maxBytes: number;
      signal?: AbortSignal;
      check?: () => void;
      /** The chunks' buffers are reused by their producer once the next is pulled (file reads): copy them. */
      lent?: boolean;
    },
  ): Promise<PartInfo> {
    const handle = randomBytes(16).toString('hex');
    const tmp = join(this.#dir, `${handle}.tmp`);
    const file = await open(tmp, 'wx');
    const md5 = createHash('md5');
    let size = 0;
    try {
      const salt = randomBytes(SALT);
      const iv = randomBytes(IV);
      const cipher = options.key ? createCipheriv('aes-256-gcm', partKey(options.key, salt), iv) : undefined;
      const writer = new BatchedWriter(file, 0, { syncEveryBytes: 32 * 1024 * 1024 });
      try {
        if (cipher) await writer.write(Buffer.concat([salt, iv]));
        for await (const chunk of chunks) {
          options.signal?.throwIfAborted();
          size += chunk.length;
          if (size > options.maxBytes) throw new BodyTooLargeError('part', options.maxBytes);
          md5.update(chunk);
          await writer.write(cipher ? cipher.update(chunk) : options.lent ? chunk.slice() : chunk);
        }
        if (cipher) await writer.write(Buffer.concat([cipher.final(), cipher.getAuthTag()]));
        await writer.finish();
      } catch (err) {
        await writer.settle();
        throw err;
      }
      options.check?.();
      await file.sync();
    } catch (err) {
      await file.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await file.close();
    await rename(tmp, join(this.#dir, `${handle}.part`));
    const info: PartInfo = { handle, size, md5: md5.digest('hex'), sealed: !!options.key, created: Date.now() };
    await writeDurably(join(this.#dir, `${handle}.json`), JSON.stringify(info));
    await syncDirectory(this.#dir);
    return info;
  }

  async info(handle: string): Promise<PartInfo> {
    if (!HANDLE.test(handle)) throw new PartNotFoundError(`no staged part ${JSON.stringify(handle)}`);
    try {
      return JSON.parse(await readFile(join(this.#dir, `${handle}.json`), 'utf8')) as PartInfo;
    } catch {
      throw new PartNotFoundError(`no staged part ${handle}`);
    }
  }

  /**
   * Streams a part's plaintext. A sealed part needs the key it was sealed with; its tag is checked at the end, so
   * a consumer sees an error (never silently wrong bytes) if the file was altered or the key is wrong.
   */
  async *read(handle: string, key?: Uint8Array, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const info = await this.info(handle);
    if (info.sealed && !key) throw new PartKeyError('this part was uploaded with SSE-C: the same key is required');
    const file = await open(join(this.#dir, `${handle}.part`), 'r');
    try {
      const { size } = await file.stat();
      if (!info.sealed) {
        yield* file.createReadStream({ highWaterMark: 1024 * 1024, signal, autoClose: false }) as AsyncIterable<Uint8Array>;
        return;
      }
      const head = Buffer.alloc(SALT + IV);
      await file.read(head, 0, head.length, 0);
      const tag = Buffer.alloc(TAG);
      await file.read(tag, 0, TAG, size - TAG);
      const decipher = createDecipheriv('aes-256-gcm', partKey(key!, head.subarray(0, SALT)), head.subarray(SALT));
      decipher.setAuthTag(tag);
      const body = file.createReadStream({ start: SALT + IV, end: size - TAG - 1, highWaterMark: 1024 * 1024, signal, autoClose: false });
      for await (const chunk of body as AsyncIterable<Uint8Array>) yield decipher.update(chunk);
      try {
        decipher.final();
      } catch {
        throw new PartKeyError('the staged part does not decrypt with this key (wrong key or altered part)');
      }
    } finally {
      await file.close();
    }
  }

  async release(handle: string): Promise<void> {
    if (!HANDLE.test(handle)) return;
    await rm(join(this.#dir, `${handle}.json`), { force: true });
    await rm(join(this.#dir, `${handle}.part`), { force: true });
  }

  /** Removes parts older than the configured age and unfinished temp files. Returns how many it removed. */
  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.#dir)) {
      const path = join(this.#dir, name);
      const modified = (await stat(path).catch(() => undefined))?.mtimeMs;
      if (modified === undefined || now - modified <= this.#maxAgeMs) continue;
      await rm(path, { force: true });
      if (name.endsWith('.json')) removed++;
    }
    return removed;
  }
}

function partKey(customerKey: Uint8Array, salt: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', customerKey, salt, 'deoss staged part v1', 32));
}
