import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fdatasync, openSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { fileSource } from '../pipeline/source.ts';
import { BatchedWriter, BodyTooLargeError, syncDirectory, writeDurably, writeSynced } from './durable-file.ts';
import type { UploadService } from './upload-service.ts';
import { packFileName } from '../chain/sealed-packs.ts';

/**
 * Write-behind for the edge's unencrypted objects. An object is acknowledged once its raw bytes are durable on the
 * origin's disk; it becomes (part of) a CESS file afterwards, in the background. Small objects share "packs": a
 * CESS file always pads to whole 32 MiB segments and writes 96 MiB of fragments per segment, so a 1 MiB object
 * stored alone costs 32× its size in coding, hashing and node writes. Packed together, thirty 1 MiB objects cost
 * one segment.
 *
 * The edge keeps the member's reference (`pack-<id>-<offset>-<size>`) where it would keep a FID; reads resolve it
 * to the pack's staged bytes, or, once sealed, to a byte range of the pack's CESS file. A pack's CESS file begins
 * with a random header, so its FID is unique: no other object or upload ever shares it, and the file is deleted
 * from the chain once every member is released.
 *
 * On disk, one directory per pack: `pack.json` (owner, territory), `data` (header + members' bytes, appended),
 * `members` (one JSON line per member with its MD5: the commit point), `released` (offsets of released members,
 * one per line), `sealed.json` ({fid}) once the pack is a CESS file. A member's bytes and its line are fsynced
 * together, not one after the other (a disk round trip less per object): a line may reach the disk before its
 * bytes, so recovery keeps a pack's last member only if its bytes match its MD5. Only the last can be in doubt:
 * a pack takes its next member once both fsyncs of the previous one succeeded.
 */
export interface PackStoreOptions {
  dir: string;
  uploads: UploadService;
  /** Objects up to this size share packs; larger ones get a pack of their own. @default 8 MiB */
  objectMaxBytes?: number;
  /** A shared pack is sealed once it holds this much (one segment). @default 32 MiB */
  targetBytes?: number;
  /** ...or once it has been open this long, ms. @default 1000 */
  maxAgeMs?: number;
  /** Unsealed bytes beyond which new objects wait for seals to catch up. @default 2 GiB */
  pendingMaxBytes?: number;
  /** Longest such wait before an upload is refused as busy, ms. @default 30000 */
  busyWaitMs?: number;
  /** Deletes a sealed pack's CESS file once every member is released. */
  deleteFile: (owner: string, fid: string) => Promise<void>;
  log?: (msg: string) => void;
}

export interface PackMember {
  offset: number;
  size: number;
  md5: string;
}

/** Where a member's bytes are: still staged in the pack's data file, or a range of the sealed pack's CESS file. */
export type PackedBytes =
  | { kind: 'staged'; path: string; offset: number; size: number }
  | { kind: 'file'; fid: string; fileSize: number; offset: number; size: number };

export const PACK_REF = /^pack-([0-9a-f]{32})-(\d{1,15})-(\d{1,15})$/;

/** A member as `put` reports it: its reference (kept by the edge where a FID would be), size and MD5. */
export interface PackedRef {
  ref: string;
  size: number;
  md5: string;
}

/**
 * A shared pack's member goes to the page cache in writes of this size while the rest still arrives (and is
 * hashed), so little is left to write after the last byte: 0.3 to 0.9 ms less per 1 MiB object than one write at
 * the end. A large object (a pack of its own) keeps BatchedWriter's 1 MiB writes: fewer thread-pool round trips.
 */
export const PACK_WRITE_BATCH_BYTES = 256 * 1024;
/** Bytes before the first member: a magic line and 16 random bytes, so every pack is a distinct file. */
const HEADER_MAGIC = Buffer.from('deoss pack v1\n');
export const PACK_HEADER_BYTES = HEADER_MAGIC.length + 16;

interface Pack {
  id: string;
  owner: string;
  territory: string;
  dir: string;
  members: PackMember[];
  released: Set<number>;
  /** Bytes in `data`, header included. */
  size: number;
  /** open: takes members; writing: one member is being written; sealing: queued or being staged; sealed: a file. */
  state: 'open' | 'writing' | 'sealing' | 'sealed';
  solo: boolean;
  fid?: string;
  /** Seal as soon as the current write ends (the age limit passed during it). */
  sealWhenIdle?: boolean;
  /** A failed commit left `members` in doubt: the pack takes no more members and is sealed as it is. */
  retired?: boolean;
  /** The member whose bytes are written and whose commit (fsyncs) is under way; `committed` settles when it ends. */
  pending?: { member: PackMember; committed: Promise<void> };
  timer?: NodeJS.Timeout;
}

export class PackStore {
  readonly #o: Required<Omit<PackStoreOptions, 'log'>> & Pick<PackStoreOptions, 'log'>;
  readonly #packs = new Map<string, Pack>();
  readonly #roomWaiters: (() => void)[] = [];
  readonly #stop = new AbortController();
  #sealQueue: Promise<void> = Promise.resolve();

  private constructor(o: PackStoreOptions) {
    this.#o = { objectMaxBytes: 8 * 1024 * 1024, targetBytes: 32 * 1024 * 1024, maxAgeMs: 1000, pendingMaxBytes: 2 * 1024 ** 3, busyWaitMs: 30_000, ...o };
  }

  /** Opens the store and recovers every pack: committed members stay, torn writes go; `start()` seals the rest. */
  static async open(options: PackStoreOptions): Promise<PackStore> {
    const store = new PackStore(options);
    await mkdir(options.dir, { recursive: true });
    for (const id of await readdir(options.dir)) await store.#recover(id);
    return store;
  }

  /**
   * Writes an object's bytes durably into a pack and commits it. `sizeHint` (the request's Content-Length) decides
   * whether it shares a pack; `check` runs after the last byte and before the commit, so a bad digest keeps nothing.
   */
  async put(
    chunks: AsyncIterable<Uint8Array>,
    p: {
      owner: string;
      territory: string;
      sizeHint?: number;
      maxBytes: number;
      signal?: AbortSignal;
      check?: () => void;
      /**
       * Called once every byte is written and checked, before the commit's fsyncs: the reference is readable from
       * then on, and `put` resolves when it is durable (or rejects when the commit failed and the bytes are gone).
       */
      onWritten?: (member: PackedRef) => void;
    },
  ): Promise<PackedRef> {
    await this.#room(p.signal);
    // The body's first bytes (one write batch at most) are read while the pack is found or made: a new pack's files
    // are created and synced first, ~3 ms the upload would otherwise spend before its first byte is read.
    const body = chunks[Symbol.asyncIterator]();
    const [found, ahead] = await Promise.allSettled([this.#packFor(p.owner, p.territory, p.sizeHint), readAhead(body, PACK_WRITE_BATCH_BYTES)]);
    if (found.status === 'rejected') {
      await body.return?.();
      throw found.reason;
    }
    const pack = found.value;
    if (ahead.status === 'rejected') {
      pack.state = 'open';
      this.#afterWrite(pack);
      throw ahead.reason;
    }
    const start = pack.size;
    const md5 = createHash('md5');
    let size = 0;
    const data = await open(join(pack.dir, 'data'), 'r+');
    const writer = new BatchedWriter(data, start, { batchBytes: pack.solo ? undefined : PACK_WRITE_BATCH_BYTES, syncEveryBytes: 32 * 1024 * 1024 });
    let commitEnded: (() => void) | undefined;
    try {
      for await (const chunk of continued(ahead.value, body)) {
        p.signal?.throwIfAborted();
        size += chunk.length;
        if (size > p.maxBytes) throw new BodyTooLargeError('object', p.maxBytes);
        md5.update(chunk);
        await writer.write(chunk);
      }
      await writer.finish();
      if (size === 0) throw new EmptyObjectError();
      p.check?.();
      const member: PackMember = { offset: start, size, md5: md5.digest('hex') };
      const written: PackedRef = { ref: `pack-${pack.id}-${start}-${size}`, size, md5: member.md5 };
      pack.pending = { member, committed: new Promise<void>((resolve) => (commitEnded = resolve)) };
      p.onWritten?.(written);
      // The line is appended first (synchronously, see appendDurably): written while a sync of the data was under
      // way, it could wait for that sync's journal commit.
      const settled = await Promise.allSettled([appendDurably(join(pack.dir, 'members'), memberLines([member])), data.datasync()]);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        // Take the line back (it may be whole, torn, or durable ahead of bytes that are not).
        await writeDurably(join(pack.dir, 'members'), memberLines(pack.members)).catch(() => (pack.retired = true));
        throw failed.reason;
      }
      pack.members.push(member);
      pack.size = start + size;
      return written;
    } catch (err) {
      await writer.settle();
      await data.truncate(start).catch(() => {});
      throw err;
    } finally {
      pack.pending = undefined;
      commitEnded?.();
      await data.close();
      pack.state = 'open';
      this.#afterWrite(pack);
    }
  }

  /** Seals the packs an earlier process left unsealed. Call once the upload service has resumed its journal. */
  start(): void {
    for (const pack of this.#packs.values()) {
      if (pack.state !== 'writing') continue;
      pack.state = 'open';
      this.#seal(pack);
    }
  }

  /** Where a member's bytes are, or undefined for an unknown reference. */
  resolve(ref: string): PackedBytes | undefined {
    const found = this.#member(ref, { pending: true });
    if (!found) return undefined;
    const { pack, member } = found;
    if (pack.state === 'sealed') return { kind: 'file', fid: pack.fid!, fileSize: pack.size, offset: member.offset, size: member.size };
    return { kind: 'staged', path: join(pack.dir, 'data'), offset: member.offset, size: member.size };
  }

  /** Drops a member (no S3 key refers to it any more). The pack and its CESS file go once every member is released. */
  async release(ref: string, owner: string): Promise<boolean> {
    // A member reported before its commit may already be referred to, and dropped, at the edge: wait for the commit.
    await this.#packs.get(PACK_REF.exec(ref)?.[1] ?? '')?.pending?.committed;
    const found = this.#member(ref);
    if (!found || found.pack.owner !== owner) return false;
    const { pack, member } = found;
    if (!pack.released.has(member.offset)) {
      await appendDurably(join(pack.dir, 'released'), `${member.offset}\n`);
      pack.released.add(member.offset);
    }
    await this.#collect(pack);
    return true;
  }

  /** Unsealed packs and their bytes: write-behind work the origin still owes (metrics, benchmarks). */
  pending(): { packs: number; bytes: number } {
    let packs = 0;
    let bytes = 0;
    for (const p of this.#packs.values()) {
      if (p.state === 'sealed') continue;
      packs++;
      bytes += p.size;
    }
    return { packs, bytes };
  }

  /** Seals every open pack now and waits for all seals (shutdown, tests). */
  async flush(): Promise<void> {
    for (const pack of this.#packs.values()) if (pack.state === 'open' && pack.members.length) this.#seal(pack);
    await this.#sealQueue;
  }

  async close(): Promise<void> {
    for (const pack of this.#packs.values()) clearTimeout(pack.timer);
    this.#stop.abort(new Error('pack store closed'));
    await this.#sealQueue.catch(() => {});
  }

  /** A committed member; with `pending`, also the one whose commit is under way (readable, not yet releasable). */
  #member(ref: string, o: { pending?: boolean } = {}): { pack: Pack; member: PackMember } | undefined {
    const m = PACK_REF.exec(ref);
    if (!m) return undefined;
    const pack = this.#packs.get(m[1]);
    const is = (x: PackMember | undefined) => x?.offset === Number(m[2]) && x.size === Number(m[3]);
    const member = pack?.members.find(is) ?? (o.pending && is(pack?.pending?.member) ? pack!.pending!.member : undefined);
    return pack && member && !pack.released.has(member.offset) ? { pack, member } : undefined;
  }

  async #packFor(owner: string, territory: string, sizeHint: number | undefined): Promise<Pack> {
    const shared = sizeHint !== undefined && sizeHint <= this.#o.objectMaxBytes;
    if (shared) {
      for (const pack of this.#packs.values()) {
        if (pack.solo || pack.retired || pack.state !== 'open' || pack.owner !== owner || pack.territory !== territory) continue;
        // A member that would spill into another mostly empty segment starts a new pack instead.
        if (pack.size + sizeHint > this.#o.targetBytes) {
          this.#seal(pack);
          continue;
        }
        pack.state = 'writing';
        return pack;
      }
    }
    const id = randomBytes(16).toString('hex');
    const dir = join(this.#o.dir, id);
    await mkdir(dir);
    // Every file exists (fsynced, with its directory entry) before the first member: later appends only fdatasync.
    // The four files, then the two directories, are synced together (one journal commit each time on ext4).
    await Promise.all([
      writeSynced(join(dir, 'data'), Buffer.concat([HEADER_MAGIC, randomBytes(16)])),
      writeSynced(join(dir, 'members'), ''),
      writeSynced(join(dir, 'released'), ''),
      writeSynced(join(dir, 'pack.json'), JSON.stringify({ owner, territory, solo: !shared, created: Date.now() })),
    ]);
    await Promise.all([syncDirectory(dir), syncDirectory(this.#o.dir)]);
    const pack: Pack = { id, owner, territory, dir, members: [], released: new Set(), size: PACK_HEADER_BYTES, state: 'writing', solo: !shared };
    this.#packs.set(id, pack);
    if (shared) pack.timer = setTimeout(() => (pack.state === 'writing' ? (pack.sealWhenIdle = true) : this.#seal(pack)), this.#o.maxAgeMs).unref();
    return pack;
  }

  #afterWrite(pack: Pack): void {
    if (pack.members.length === 0) {
      if (pack.solo) void this.#discard(pack);
      return;
    }
    if (pack.solo || pack.retired || pack.sealWhenIdle || pack.size >= this.#o.targetBytes) this.#seal(pack);
  }

  /** Queues a pack to become a CESS file. Seals run one at a time; each is a normal upload of the pack's bytes. */
  #seal(pack: Pack): void {
    if (pack.state !== 'open') return;
    clearTimeout(pack.timer);
    pack.state = 'sealing';
    this.#sealQueue = this.#sealQueue.then(async () => {
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            await this.#stage(pack);
            return;
          } catch (err) {
            if (this.#stop.signal.aborted) return;
            this.#o.log?.(`pack ${pack.id}: sealing failed (${(err as Error).message}); retrying`);
            await new Promise((r) => setTimeout(r, Math.min(60_000, 1000 * 2 ** attempt)));
          }
        }
      } finally {
        for (const wake of this.#roomWaiters.splice(0)) wake();
      }
    });
  }

  async #stage(pack: Pack): Promise<void> {
    if (pack.members.every((m) => pack.released.has(m.offset))) return this.#discard(pack);
    const data = join(pack.dir, 'data');
    // Read straight into the pipeline's segment buffers. Nothing writes to a pack once it is sealing.
    const file = await open(data, 'r');
    let record;
    try {
      record = await this.#o.uploads.stage(fileSource(file), { owner: pack.owner, territory: pack.territory, fileName: packFileName(pack.id) }, this.#stop.signal);
    } finally {
      await file.close();
    }
    await writeDurably(join(pack.dir, 'sealed.json'), JSON.stringify({ fid: record.fid }));
    pack.fid = record.fid;
    pack.state = 'sealed';
    // Readers that opened the data file keep it until they finish (POSIX unlink); new reads go to the CESS file.
    await rm(data, { force: true });
    await this.#collect(pack);
  }

  /** Removes a pack whose members are all released: its CESS file from the chain, then its directory. */
  async #collect(pack: Pack): Promise<void> {
    if (!pack.members.every((m) => pack.released.has(m.offset))) return;
    if (pack.state === 'sealed') {
      try {
        await this.#o.deleteFile(pack.owner, pack.fid!);
      } catch (err) {
        // The members stay released on disk; the next start tries again.
        this.#o.log?.(`pack ${pack.id}: deleting file ${pack.fid} failed: ${(err as Error).message}`);
        return;
      }
      await this.#discard(pack);
    } else if (pack.state === 'open') await this.#discard(pack);
    // writing/sealing: looked at again when that ends
  }

  async #discard(pack: Pack): Promise<void> {
    clearTimeout(pack.timer);
    this.#packs.delete(pack.id);
    await rm(pack.dir, { recursive: true, force: true });
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }

  /**
   * Waits while the unsealed bytes exceed the limit: write-behind must not outrun the pipeline without bound. Gives
   * up after `busyWaitMs` with PackStoreBusyError (the client sees 503 and retries) rather than hold it forever.
   */
  async #room(signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.#o.busyWaitMs;
    while (this.pending().bytes >= this.#o.pendingMaxBytes) {
      signal?.throwIfAborted();
      const left = deadline - Date.now();
      if (left <= 0) throw new PackStoreBusyError();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#roomWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  async #recover(id: string): Promise<void> {
    const dir = join(this.#o.dir, id);
    const info = await readJson<{ owner: string; territory: string; solo: boolean }>(join(dir, 'pack.json'));
    if (!info || !/^[0-9a-f]{32}$/.test(id)) {
      await rm(dir, { recursive: true, force: true });
      return;
    }
    const members = parseLines(await readFile(join(dir, 'members'), 'utf8').catch(() => ''), (l) => JSON.parse(l) as PackMember);
    const sealed = await readJson<{ fid: string }>(join(dir, 'sealed.json'));
    // The last member's line may have reached the disk before its bytes did (see above): keep it only if they match.
    const last = members[members.length - 1];
    if (!sealed && last && !(await bytesMatch(join(dir, 'data'), last))) {
      members.pop();
      await writeDurably(join(dir, 'members'), memberLines(members));
    }
    const releasedText = await readFile(join(dir, 'released'), 'utf8').catch(() => '');
    const released = new Set(parseLines(releasedText, Number));
    // A torn last line would run into the next append.
    if (releasedText && !releasedText.endsWith('\n')) await writeDurably(join(dir, 'released'), [...released].map((o) => `${o}\n`).join(''));
    const kept = members[members.length - 1];
    const pack: Pack = {
      id,
      owner: info.owner,
      territory: info.territory,
      dir,
      members,
      released,
      size: kept ? kept.offset + kept.size : PACK_HEADER_BYTES,
      state: sealed ? 'sealed' : 'open',
      solo: info.solo,
      fid: sealed?.fid,
    };
    this.#packs.set(id, pack);
    if (!sealed) {
      // Bytes after the last committed member belong to a write the crash interrupted.
      const data = await open(join(dir, 'data'), 'r+').catch(() => undefined);
      if (!data) {
        await this.#discard(pack);
        return;
      }
      await data.truncate(pack.size);
      await data.close();
      if (members.length === 0) await this.#discard(pack);
      else pack.state = 'writing'; // taken by nobody until start() seals it
      return;
    }
    await this.#collect(pack);
  }
}

export class PackStoreBusyError extends Error {
  override name = 'PackStoreBusyError';
  constructor() {
    super('the origin is still storing earlier uploads (write-behind backlog at its limit): retry shortly');
  }
}

export class EmptyObjectError extends Error {
  override name = 'EmptyObjectError';
  constructor() {
    super('empty body');
  }
}

const fdatasyncAsync = promisify(fdatasync);

async function appendDurably(path: string, line: string): Promise<void> {
  // The open and the append are synchronous (a line into the page cache, tens of microseconds) so that the sync is
  // asked for at once and a commit's two syncs run together. As a chain of thread-pool calls, each step waiting for
  // the event loop, the line's sync began only after the data's had ended: ~1.5 ms more per small PUT
  // (docs/performance.md).
  const fd = openSync(path, 'a');
  try {
    const bytes = Buffer.from(line);
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
    await fdatasyncAsync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The `members` log's text for these members: one JSON line each. */
function memberLines(members: PackMember[]): string {
  return members.map((m) => JSON.stringify(m) + '\n').join('');
}

/** Do a member's bytes in `data` match its MD5? (False when the file is too short or gone.) */
async function bytesMatch(path: string, member: PackMember): Promise<boolean> {
  const file = await open(path, 'r').catch(() => undefined);
  if (!file) return false;
  try {
    const md5 = createHash('md5');
    const buf = Buffer.allocUnsafe(Math.min(member.size, 1024 * 1024));
    for (let at = 0; at < member.size; ) {
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, member.size - at), member.offset + at);
      if (bytesRead === 0) return false;
      md5.update(buf.subarray(0, bytesRead));
      at += bytesRead;
    }
    return md5.digest('hex') === member.md5;
  } finally {
    await file.close();
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Complete lines only: a line torn by a crash (no newline, or not parseable) is dropped with everything after. */
function parseLines<T>(text: string, parse: (line: string) => T): T[] {
  const out: T[] = [];
  const lines = text.split('\n');
  lines.pop(); // the part after the last newline is incomplete (or empty)
  for (const line of lines) {
    try {
      out.push(parse(line));
    } catch {
      break;
    }
  }
  return out;
}

/** Reads a body's chunks until at least `bytes` are in hand or it ends. */
async function readAhead(body: AsyncIterator<Uint8Array>, bytes: number): Promise<{ chunks: Uint8Array[]; ended: boolean }> {
  const chunks: Uint8Array[] = [];
  for (let have = 0; have < bytes; ) {
    const next = await body.next();
    if (next.done) return { chunks, ended: true };
    chunks.push(next.value);
    have += next.value.length;
  }
  return { chunks, ended: false };
}

/** The chunks read ahead, then the rest of the body (closed, as `for await` would, if the reader stops early). */
async function* continued(ahead: { chunks: Uint8Array[]; ended: boolean }, body: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  let ended = ahead.ended;
  try {
    yield* ahead.chunks;
    while (!ended) {
      const next = await body.next();
      if (next.done) ended = true;
      else yield next.value;
    }
  } finally {
    if (!ended) await body.return?.();
  }
}
