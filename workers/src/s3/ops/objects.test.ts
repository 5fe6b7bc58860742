import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it } from 'vitest';
import type { EdgeBindings, EdgeContext } from '../../context.ts';
import { bucketIndex } from '../../namespace/env.ts';
import type { ObjectInput } from '../../namespace/types.ts';
import { OriginClient } from '../../upstream/origin-client.ts';
import { S3Error } from '../errors.ts';
import type { S3Call } from './common.ts';
import { sha256Hex } from '../sigv4.ts';
import { copyObject, deleteObjects, putObject } from './objects.ts';

// PutObject against the real bucket index (a Durable Object) and an origin played by a fetch function: it answers
// the two-line write-behind report (origin/src/api/internal.ts) and holds the commit line until the test says so.
// File reference counts are recorded by a stand-in: the real FileReferences would queue releases for its alarm, and
// an alarm outliving its test stalls vitest-pool-workers (file-references.test.ts tests that object).

const OWNER = 'cXjmuHdBk4J3Zyt2oGodwGegNFaTFPcfC48PZ9NMmcUFzF6cc';
/** What handlers passed to waitUntil (reference releases). */
const later: Promise<unknown>[] = [];

afterEach(async () => {
  await Promise.all(later.splice(0));
});

/** FileReferences as the handlers call it, recording retains and releases. */
function recordedReferences() {
  const retained: string[] = [];
  const released: string[] = [];
  /** Runs before a retain is recorded: what another request did meanwhile. */
  const before: { retain?: () => Promise<void> } = {};
  const stub = {
    retain: async (fids: string[]) => {
      const meanwhile = before.retain;
      before.retain = undefined;
      await meanwhile?.();
      retained.push(...fids);
    },
    release: async (fids: string[]) => (released.push(...fids), fids),
  };
  const namespace = { idFromName: (name: string) => name, get: () => stub };
  return { retained, released, before, namespace };
}

function committingOrigin() {
  let commit!: (line: object) => void;
  const committed = new Promise<object>((resolve) => (commit = resolve));
  let n = 0;
  const fetchImpl = (async (_url: string, init: RequestInit) => {
    const bytes = new Uint8Array(await new Response(init.body).arrayBuffer());
    const ref = `pack-${'a'.repeat(32)}-${30 + 1000 * n++}-${bytes.length}`;
    const digest = new Uint8Array(await crypto.subtle.digest('MD5', bytes));
    const md5 = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode(`${JSON.stringify({ fid: ref, size: bytes.length, md5, state: 'packed' })}\n`));
        controller.enqueue(encoder.encode(`${JSON.stringify(await committed)}\n`));
        controller.close();
      },
    });
    return new Response(body, { headers: { 'Content-Type': 'application/x-ndjson' } });
  }) as unknown as typeof fetch;
  return { fetchImpl, commit };
}

async function setup() {
  const bucket = `t-${crypto.randomUUID().slice(0, 13)}`;
  const index = bucketIndex(env, bucket);
  await index.create({ name: bucket, owner: OWNER, territory: 'default' });
  const origin = committingOrigin();
  const refs = recordedReferences();
  const e = {
    config: { maxPutBytes: 1024 * 1024 },
    env: { ...(env as unknown as EdgeBindings), FILE_REFERENCES: refs.namespace },
    origin: new OriginClient({ origins: [{ url: 'http://origin.test', region: 'here' }], secret: 'test', fetch: origin.fetchImpl }),
    placement: {},
    requestId: 'TEST',
    waitUntil: (p: Promise<unknown>) => void later.push(p.catch(() => {})),
  } as unknown as EdgeContext;
  const put = (key: string, text: string) => {
    const req = new Request(`http://s3.test/${bucket}/${key}`, { method: 'PUT', body: text, headers: { 'Content-Length': String(text.length) } });
    const call: S3Call = { e, req, principal: { accessKeyId: 'AKID', account: OWNER, territory: 'default' } };
    return putObject(call, { bucket, key, payload: { mode: 'unsigned' }, headers: { metadata: {} } });
  };
  const copy = (sourceKey: string, key: string) => {
    const req = new Request(`http://s3.test/${bucket}/${key}`, { method: 'PUT', headers: { 'x-amz-copy-source': `${bucket}/${sourceKey}` } });
    const call: S3Call = { e, req, principal: { accessKeyId: 'AKID', account: OWNER, territory: 'default' } };
    return copyObject(call, { bucket, key, sourceBucket: bucket, sourceKey, metadataDirective: 'COPY', headers: { metadata: {} } });
  };
  const deleteMany = (body: string, payload: S3Call['payload']) => {
    const req = new Request(`http://s3.test/${bucket}?delete`, { method: 'POST', body });
    const call: S3Call = { e, req, principal: { accessKeyId: 'AKID', account: OWNER, territory: 'default' }, payload };
    return deleteObjects(call, { bucket });
  };
  return { bucket, index, put, copy, deleteMany, commit: origin.commit, refs };
}

const previous: ObjectInput = { size: 3, etag: 'c'.repeat(32), parts: [{ fid: 'b'.repeat(64), size: 3 }], metadata: { v: '1' } };

/** Whether `p` settled within 100 ms. */
async function state(p: Promise<unknown>): Promise<'pending' | 'settled'> {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setTimeout(r, 100));
  return settled ? 'settled' : 'pending';
}

describe('PutObject with the origin still committing', () => {
  it('records the object while the origin commits, and answers only after the commit', async () => {
    const t = await setup();
    const answer = t.put('k', 'new bytes');
    await expect.poll(async () => (await t.index.getObject('k'))?.size).toBe(9); // recorded before the commit ended
    expect(await state(answer)).toBe('pending');
    t.commit({ durable: true });
    const res = await answer;
    expect(res.status).toBe(200);
    const recorded = (await t.index.getObject('k'))!;
    expect(res.headers.get('ETag')).toBe(`"${recorded.etag}"`);
    // A new pack reference's only holder is implied (FileReferences): the PUT counts nothing.
    expect(recorded.parts[0].fid).toMatch(/^pack-/);
    expect(t.refs.retained).toEqual([]);
    expect(t.refs.released).toEqual([]);
  });

  it('takes the entry back when the commit fails, restoring the object it replaced', async () => {
    const t = await setup();
    await t.index.putObject('k', previous);
    const answer = t.put('k', 'new bytes');
    await expect.poll(async () => (await t.index.getObject('k'))?.size).toBe(9);
    t.commit({ durable: false, code: 500, msg: 'disk failed' });
    const err = await answer.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(S3Error);
    expect((err as S3Error).code).toBe('ServiceUnavailable');
    const restored = await t.index.getObject('k');
    expect(restored).toMatchObject({ size: 3, etag: previous.etag, metadata: { v: '1' }, parts: previous.parts });
    // The new reference is dropped again (which frees it); the replaced object's file is not released.
    await Promise.all(later.splice(0));
    expect(t.refs.retained).toEqual([]);
    expect(t.refs.released).toEqual([expect.stringMatching(/^pack-/)]);
    expect(t.refs.released).not.toContain(previous.parts[0].fid);
  });

  it('removes a new key again when the commit fails, and leaves a later write alone', async () => {
    const t = await setup();
    const answer = t.put('fresh', 'new bytes');
    await expect.poll(async () => (await t.index.getObject('fresh'))?.size).toBe(9);
    t.commit({ durable: false, code: 500, msg: 'disk failed' });
    await expect(answer).rejects.toBeInstanceOf(S3Error);
    expect(await t.index.getObject('fresh')).toBeUndefined();

    // A write that replaced the pending entry meanwhile is not undone by the failed one.
    const u = await setup();
    const failing = u.put('k', 'first');
    await expect.poll(async () => (await u.index.getObject('k'))?.size).toBe(5);
    await u.index.putObject('k', previous);
    u.commit({ durable: false, code: 500, msg: 'disk failed' });
    await expect(failing).rejects.toBeInstanceOf(S3Error);
    expect(await u.index.getObject('k')).toMatchObject({ etag: previous.etag, size: 3 });
  });
});

describe('CopyObject sharing its source\'s files', () => {
  const other: ObjectInput = { size: 5, etag: 'd'.repeat(32), parts: [{ fid: 'e'.repeat(64), size: 5 }], metadata: {} };

  it('counts the files first, then finds the source deleted meanwhile: NoSuchKey, and its count taken back', async () => {
    const t = await setup();
    await t.index.putObject('src', previous);
    t.refs.before.retain = async () => void (await t.index.deleteObject('src'));
    const err = await t.copy('src', 'dst').catch((e: unknown) => e);
    expect((err as S3Error).code).toBe('NoSuchKey');
    expect(await t.index.getObject('dst')).toBeUndefined();
    await Promise.all(later.splice(0));
    expect(t.refs.retained).toEqual([previous.parts[0].fid]);
    expect(t.refs.released).toEqual([previous.parts[0].fid]);
  });

  it('starts again from the source as it is now when it was overwritten meanwhile', async () => {
    const t = await setup();
    await t.index.putObject('src', previous);
    t.refs.before.retain = async () => void (await t.index.putObject('src', other));
    expect((await t.copy('src', 'dst')).status).toBe(200);
    expect(await t.index.getObject('dst')).toMatchObject({ etag: other.etag, parts: other.parts });
    await Promise.all(later.splice(0));
    expect(t.refs.retained).toEqual([previous.parts[0].fid, other.parts[0].fid]);
    expect(t.refs.released).toEqual([previous.parts[0].fid]);
  });
});

describe('DeleteObjects', () => {
  it('refuses a body that is not the one signed, and deletes nothing', async () => {
    const t = await setup();
    await t.index.putObject('keep', previous);
    await t.index.putObject('gone', previous);
    const signedFor = '<Delete><Object><Key>gone</Key></Object></Delete>';
    const payload = { mode: 'sha256' as const, sha256: await sha256Hex(signedFor) };
    const err = await t.deleteMany(signedFor.replace('gone', 'keep'), payload).catch((e: unknown) => e);
    expect((err as S3Error).code).toBe('XAmzContentSHA256Mismatch');
    expect(await t.index.getObject('keep')).toBeDefined();
    const res = await t.deleteMany(signedFor, payload);
    expect(await res.text()).toContain('<Key>gone</Key>');
    expect(await t.index.getObject('gone')).toBeUndefined();
    expect(await t.index.getObject('keep')).toBeDefined();
  });
});
