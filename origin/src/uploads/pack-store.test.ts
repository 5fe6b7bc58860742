import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ByteSource } from '../pipeline/source.ts';
import { PACK_HEADER_BYTES, PackStore, PackStoreBusyError, type PackStoreOptions } from './pack-store.ts';
import { BodyTooLargeError } from './durable-file.ts';
import type { UploadService } from './upload-service.ts';

const owner = { owner: 'alice', territory: 'default' };
const MiB = 1024 * 1024;
let dir: string | undefined;
const stores: PackStore[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/**
 * A stand-in for the upload service that records what a seal would stage (its bytes) and answers with their
 * SHA-256 as the "FID". The real service, with the pipeline, chain and storage nodes, runs in
 * test/e2e/origin-robustness.e2e.test.ts.
 */
function recordingUploads() {
  const staged: { fileName: string; bytes: Buffer }[] = [];
  const uploads = {
    async stage(source: ByteSource, request: { fileName: string }) {
      const chunks: Buffer[] = [];
      for (;;) {
        const buf = new Uint8Array(64 * 1024);
        const n = await source.read(buf);
        if (n === 0) break;
        chunks.push(Buffer.from(buf.subarray(0, n)));
      }
      const bytes = Buffer.concat(chunks);
      staged.push({ fileName: request.fileName, bytes });
      return { fid: createHash('sha256').update(bytes).digest('hex') };
    },
  } as unknown as UploadService;
  return { uploads, staged };
}

async function openStore(o: Partial<PackStoreOptions> = {}) {
  dir ??= await mkdtemp(join(tmpdir(), 'packs-'));
  const { uploads, staged } = recordingUploads();
  const deleted: string[] = [];
  const store = await PackStore.open({ dir, uploads, maxAgeMs: 60_000, deleteFile: async (_o, fid) => void deleted.push(fid), ...o });
  stores.push(store);
  return { store, staged, deleted };
}

async function* chunksOf(bytes: Uint8Array, size = 100_000) {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

const put = (store: PackStore, bytes: Uint8Array, extra: Partial<Parameters<PackStore['put']>[1]> = {}) =>
  store.put(chunksOf(bytes), { ...owner, sizeHint: bytes.length, maxBytes: 64 * MiB, ...extra });

describe('PackStore', () => {
  it('packs small objects after a unique header, seals them as one file, and deletes it when all are released', async () => {
    const { store, staged, deleted } = await openStore();
    const a = randomBytes(1000);
    const b = randomBytes(MiB + 1);
    const ra = await put(store, a);
    const rb = await put(store, b);
    expect(ra).toMatchObject({ size: 1000, md5: createHash('md5').update(a).digest('hex') });
    const id = ra.ref.split('-')[1];
    expect(ra.ref).toBe(`pack-${id}-${PACK_HEADER_BYTES}-1000`);
    expect(rb.ref).toBe(`pack-${id}-${PACK_HEADER_BYTES + 1000}-${MiB + 1}`);
    expect(store.resolve(rb.ref)).toMatchObject({ kind: 'staged', offset: PACK_HEADER_BYTES + 1000, size: MiB + 1 });
    expect(store.pending()).toEqual({ packs: 1, bytes: PACK_HEADER_BYTES + 1000 + MiB + 1 });

    await store.flush();
    expect(staged).toHaveLength(1);
    expect(staged[0].fileName).toBe(`s3-pack-${id}`);
    expect(staged[0].bytes.subarray(PACK_HEADER_BYTES).equals(Buffer.concat([a, b]))).toBe(true);
    const fid = createHash('sha256').update(staged[0].bytes).digest('hex');
    expect(store.resolve(ra.ref)).toEqual({ kind: 'file', fid, fileSize: staged[0].bytes.length, offset: PACK_HEADER_BYTES, size: 1000 });
    expect(store.pending()).toEqual({ packs: 0, bytes: 0 });

    // Two packs never share a FID: the header differs even for the same members.
    const again = await put(store, a);
    await store.flush();
    expect(staged[1].bytes.subarray(PACK_HEADER_BYTES).equals(a)).toBe(true);
    expect(staged[1].bytes.equals(staged[0].bytes.subarray(0, staged[1].bytes.length))).toBe(false);

    expect(await store.release(ra.ref, 'mallory')).toBe(false);
    expect(await store.release(ra.ref, owner.owner)).toBe(true);
    expect(store.resolve(ra.ref)).toBeUndefined();
    expect(deleted).toEqual([]);
    expect(await store.release(rb.ref, owner.owner)).toBe(true);
    expect(deleted).toEqual([fid]);
    expect(await store.release(rb.ref, owner.owner)).toBe(false);
    expect(store.resolve(again.ref)?.kind).toBe('file');
  });

  it('takes concurrent uploads into separate packs without mixing their bytes', async () => {
    const { store, staged } = await openStore();
    const objects = Array.from({ length: 12 }, (_, i) => randomBytes(50_000 + i * 1000));
    const refs = await Promise.all(objects.map((o) => put(store, o)));
    const packs = new Set(refs.map((r) => r.ref.split('-')[1]));
    expect(packs.size).toBeGreaterThan(1); // a pack takes one writer at a time
    for (const [i, r] of refs.entries()) {
      const at = store.resolve(r.ref)!;
      expect(at.kind).toBe('staged');
      if (at.kind !== 'staged') continue;
      expect((await readFile(at.path)).subarray(at.offset, at.offset + at.size).equals(objects[i])).toBe(true);
    }
    await store.flush();
    expect(staged).toHaveLength(packs.size);
    const fids = new Set(refs.map((r) => (store.resolve(r.ref) as { fid: string }).fid));
    expect(fids.size).toBe(packs.size);
  });

  it("reads a body's first bytes while a new pack is made, and leaves the pack usable when that read fails", async () => {
    const { store } = await openStore();
    const object = randomBytes(300_000);
    // Before, the first chunk was asked for only once the new pack's files were created and synced (and counted).
    let packsAtFirstRead: number | undefined;
    async function* body() {
      packsAtFirstRead = store.pending().packs;
      yield* chunksOf(object);
    }
    const first = await store.put(body(), { ...owner, sizeHint: object.length, maxBytes: 64 * MiB });
    expect(packsAtFirstRead).toBe(0);
    const at = store.resolve(first.ref)!;
    expect(at.kind === 'staged' && (await readFile(at.path)).subarray(at.offset, at.offset + at.size).equals(object)).toBe(true);

    // A body that fails while the next pack is being made: nothing is kept, and that pack takes the next object.
    const { store: other } = await openStore({ dir: join(dir!, 'other') });
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield object.subarray(0, 1000);
      throw new Error('client went away');
    }
    await expect(other.put(broken(), { ...owner, sizeHint: object.length, maxBytes: 64 * MiB })).rejects.toThrow('client went away');
    const next = await put(other, object);
    expect(next.ref).toMatch(new RegExp(`^pack-[0-9a-f]{32}-${PACK_HEADER_BYTES}-${object.length}$`));
    expect(other.pending()).toEqual({ packs: 1, bytes: PACK_HEADER_BYTES + object.length });
  });

  it('gives large objects a pack of their own, sealed at once', async () => {
    const { store, staged } = await openStore({ objectMaxBytes: MiB });
    const small = await put(store, randomBytes(10));
    const large = await put(store, randomBytes(2 * MiB));
    expect(large.ref.split('-')[1]).not.toBe(small.ref.split('-')[1]);
    await until(() => staged.length === 1);
    expect(staged[0].bytes.length).toBe(PACK_HEADER_BYTES + 2 * MiB);
    expect(store.resolve(small.ref)?.kind).toBe('staged');
    // Unknown size (no Content-Length): alone as well.
    const unknown = await store.put(chunksOf(randomBytes(10)), { ...owner, maxBytes: MiB });
    expect(unknown.ref.split('-')[1]).not.toBe(small.ref.split('-')[1]);
  });

  it('makes new uploads wait while the unsealed backlog is at its limit, and refuses them as busy after a while', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { uploads, staged } = recordingUploads();
    const slow = { stage: async (...a: Parameters<UploadService['stage']>) => (await gate, uploads.stage(...a)) } as unknown as UploadService;
    const { store } = await openStore({ uploads: slow, pendingMaxBytes: MiB, objectMaxBytes: 0, busyWaitMs: 300 });
    await put(store, randomBytes(MiB)); // alone in its pack, whose seal hangs at the gate
    await expect(put(store, randomBytes(10))).rejects.toBeInstanceOf(PackStoreBusyError);
    const waiting = put(store, randomBytes(10));
    release();
    await expect(waiting).resolves.toMatchObject({ size: 10 });
    await store.flush();
    expect(staged).toHaveLength(2);
  });

  it('starts a new pack rather than spill a member into another segment', async () => {
    const { store, staged } = await openStore({ targetBytes: 3 * MiB });
    const first = await put(store, randomBytes(2 * MiB));
    const second = await put(store, randomBytes(2 * MiB));
    expect(second.ref.split('-')[1]).not.toBe(first.ref.split('-')[1]);
    await until(() => staged.length === 1); // the first pack was sealed to make way
  });

  it('keeps nothing of a write that fails a check, is too large, or is empty', async () => {
    const { store } = await openStore();
    const kept = await put(store, randomBytes(500));
    const bad = put(store, randomBytes(700), {
      check: () => {
        throw new Error('digest mismatch');
      },
    });
    await expect(bad).rejects.toThrow('digest mismatch');
    await expect(put(store, randomBytes(2000), { maxBytes: 1000 })).rejects.toBeInstanceOf(BodyTooLargeError);
    await expect(put(store, new Uint8Array(0))).rejects.toThrow('empty body');
    const next = await put(store, randomBytes(300));
    // The failed writes left no bytes behind: the next member follows the kept one directly.
    expect(next.ref.split('-').slice(1, 3)).toEqual([kept.ref.split('-')[1], String(PACK_HEADER_BYTES + 500)]);
    const id = kept.ref.split('-')[1];
    expect((await stat(join(dir!, id, 'data'))).size).toBe(PACK_HEADER_BYTES + 800);
  });

  it('retires a pack whose commit failed: the object is refused, the pack takes no more members and is sealed as it is', async () => {
    const { store, staged } = await openStore();
    const first = randomBytes(500);
    const kept = await put(store, first);
    const id = kept.ref.split('-')[1];
    // The commit log can no longer be appended to (nor replaced): what a failing disk looks like from here.
    await rm(join(dir!, id, 'members'));
    await mkdir(join(dir!, id, 'members'));
    await expect(put(store, randomBytes(700))).rejects.toThrow();
    const next = await put(store, randomBytes(300));
    expect(next.ref.split('-')[1]).not.toBe(id);
    // Sealed: staged as one file, then recorded (resolve says `file` only once the seal is recorded, after staging).
    await until(() => store.resolve(kept.ref)?.kind === 'file');
    expect(staged).toHaveLength(1);
    const header = staged[0].bytes.subarray(0, PACK_HEADER_BYTES);
    expect(staged[0].bytes.equals(Buffer.concat([header, first]))).toBe(true);
  });

  it('reports a member once its bytes are written: readable before its commit ends, gone if the commit fails', async () => {
    const { store } = await openStore();
    const bytes = randomBytes(700);
    const seen: { ref: string; readable: string | undefined; committed: boolean }[] = [];
    let committed = false;
    const stored = put(store, bytes, { onWritten: (r) => seen.push({ ref: r.ref, readable: store.resolve(r.ref)?.kind, committed }) }).then((r) => ((committed = true), r));
    const done = await stored;
    expect(seen).toEqual([{ ref: done.ref, readable: 'staged', committed: false }]);
    const at = store.resolve(done.ref);
    expect(at).toMatchObject({ kind: 'staged', size: 700 });
    const file = await readFile((at as { path: string }).path);
    expect(file.subarray(at!.offset, at!.offset + 700).equals(bytes)).toBe(true);

    // A release that arrives while the commit is under way (the edge recorded the object and a delete followed at
    // once) waits for the commit, then releases the member.
    let releasing: Promise<boolean> | undefined;
    const next = await put(store, randomBytes(200), { onWritten: (r) => (releasing = store.release(r.ref, owner.owner)) });
    expect(await releasing).toBe(true);
    expect(store.resolve(next.ref)).toBeUndefined();

    // The commit log fails: the reported member is not kept.
    const id = done.ref.split('-')[1];
    await rm(join(dir!, id, 'members'));
    await mkdir(join(dir!, id, 'members'));
    let reported: string | undefined;
    await expect(put(store, randomBytes(300), { onWritten: (r) => (reported = r.ref) })).rejects.toThrow();
    expect(reported).toMatch(/^pack-/);
    expect(store.resolve(reported!)).toBeUndefined();
  });

  it('drops a last member whose line reached the disk before its bytes did', async () => {
    const root = (dir = await mkdtemp(join(tmpdir(), 'packs-')));
    const id = 'cd'.repeat(16);
    const a = randomBytes(3000);
    const b = randomBytes(2000);
    const header = Buffer.concat([Buffer.from('deoss pack v1\n'), randomBytes(16)]);
    await mkdir(join(root, id));
    await writeFile(join(root, id, 'pack.json'), JSON.stringify({ ...owner, solo: false }));
    // b's line is whole, but only part of its bytes (and then other bytes) made it before the crash.
    await writeFile(join(root, id, 'data'), Buffer.concat([header, a, b.subarray(0, 1000), randomBytes(1000)]));
    const md5 = (x: Buffer) => createHash('md5').update(x).digest('hex');
    const lines = [
      { offset: PACK_HEADER_BYTES, size: 3000, md5: md5(a) },
      { offset: PACK_HEADER_BYTES + 3000, size: 2000, md5: md5(b) },
    ];
    await writeFile(join(root, id, 'members'), lines.map((l) => JSON.stringify(l) + '\n').join(''));
    await writeFile(join(root, id, 'released'), '');

    const { store, staged } = await openStore();
    expect(store.resolve(`pack-${id}-${PACK_HEADER_BYTES}-3000`)).toMatchObject({ kind: 'staged', size: 3000 });
    expect(store.resolve(`pack-${id}-${PACK_HEADER_BYTES + 3000}-2000`)).toBeUndefined();
    expect(await readFile(join(root, id, 'members'), 'utf8')).toBe(JSON.stringify(lines[0]) + '\n');
    expect((await stat(join(root, id, 'data'))).size).toBe(PACK_HEADER_BYTES + 3000);
    store.start();
    await store.flush();
    expect(staged[0].bytes.equals(Buffer.concat([header, a]))).toBe(true);
  });

  it('recovers after a crash: committed members stay, a torn write and a torn log line go, then it seals', async () => {
    const root = (dir = await mkdtemp(join(tmpdir(), 'packs-')));
    const id = 'ab'.repeat(16);
    const member = randomBytes(4000);
    const header = Buffer.concat([Buffer.from('deoss pack v1\n'), randomBytes(16)]);
    await mkdir(join(root, id));
    await writeFile(join(root, id, 'pack.json'), JSON.stringify({ ...owner, solo: false }));
    // The second write crashed after some bytes and half its log line.
    await writeFile(join(root, id, 'data'), Buffer.concat([header, member, randomBytes(1234)]));
    const committed = { offset: PACK_HEADER_BYTES, size: 4000, md5: createHash('md5').update(member).digest('hex') };
    await writeFile(join(root, id, 'members'), `${JSON.stringify(committed)}\n{"offset":${PACK_HEADER_BYTES + 4000},"si`);
    await writeFile(join(root, id, 'released'), '12');
    await mkdir(join(root, 'not-a-pack'));

    const { store, staged } = await openStore();
    const ref = `pack-${id}-${PACK_HEADER_BYTES}-4000`;
    expect(store.resolve(ref)).toMatchObject({ kind: 'staged', size: 4000 });
    expect(store.resolve(`pack-${id}-${PACK_HEADER_BYTES + 4000}-1234`)).toBeUndefined();
    expect((await stat(join(root, id, 'data'))).size).toBe(PACK_HEADER_BYTES + 4000);
    expect(await readFile(join(root, id, 'released'), 'utf8')).toBe('');
    await expect(stat(join(root, 'not-a-pack'))).rejects.toThrow();
    expect(staged).toHaveLength(0); // nothing is sealed before start()
    store.start();
    await store.flush();
    expect(staged).toHaveLength(1);
    expect(staged[0].bytes.equals(Buffer.concat([header, member]))).toBe(true);
    expect(store.resolve(ref)?.kind).toBe('file');
  });
});

async function until(ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
