import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { BucketIndex } from './bucket-index.ts';
import { bucketIndex, type BucketIndexRpc } from './env.ts';
import { unwrapNamespaceError } from './errors.ts';
import { NAMESPACE_LIMITS } from './limits.ts';
import type { ListObjectsOptions, ObjectInput } from './types.ts';

// Every test uses its own bucket (its own Durable Object), through real RPC stubs unless it says otherwise.

const OWNER = 'cXjmuHdBk4J3Zyt2oGodwGegNFaTFPcfC48PZ9NMmcUFzF6cc';
const OWNER_GENERIC = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
const OTHER = 'cXiCk1Z1bva3fpsYHqsfzXJmQ9jSMw5FrZJFE61E6YVLkU6w2';
const MiB = 1024 * 1024;

const fid = (i: number) => i.toString(16).padStart(64, '0');
const md5hex = (i: number) => i.toString(16).padStart(32, '0');
const object = (i: number, size = 10, extra: Partial<ObjectInput> = {}): ObjectInput => ({ size, etag: md5hex(i), parts: [{ fid: fid(i), size }], metadata: {}, ...extra });

/** The raw stub, for runInDurableObject. */
const rawStub = (name: string) => env.BUCKET_INDEX.get(env.BUCKET_INDEX.idFromName(name));

async function newBucket(): Promise<{ name: string; stub: BucketIndexRpc; raw: DurableObjectStub<BucketIndex> }> {
  const name = `t-${crypto.randomUUID().slice(0, 13)}`;
  const stub = bucketIndex(env, name);
  await stub.create({ name, owner: OWNER, territory: 'default' });
  return { name, stub, raw: rawStub(name) };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    const u = unwrapNamespaceError(e);
    if (!u) throw e;
    return u.code;
  }
  return undefined;
}

/** UTF-8 byte order, independent of the code under test. */
function utf8Order(a: string, b: string): number {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** What S3 lists, entry by entry ('K:' key or 'P:' common prefix), for a prefix, delimiter and marker. */
function expectedListing(keys: string[], o: { prefix: string; delimiter?: string; marker?: string }): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const k of [...new Set(keys)].sort(utf8Order)) {
    if (!k.startsWith(o.prefix)) continue;
    if (o.marker !== undefined && utf8Order(k, o.marker) <= 0) continue;
    const i = o.delimiter ? k.indexOf(o.delimiter, o.prefix.length) : -1;
    if (i >= 0) {
      const cp = k.slice(0, i + o.delimiter!.length);
      if (cp === o.marker || seen.has(cp)) continue;
      seen.add(cp);
      out.push(`P:${cp}`);
    } else out.push(`K:${k}`);
  }
  return out;
}

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('BucketIndex: bucket record', () => {
  it('creates once, tells the owner from others, and refuses every call before creation', async () => {
    const name = `t-${crypto.randomUUID().slice(0, 13)}`;
    const stub = bucketIndex(env, name);
    expect(await stub.info()).toBeUndefined();
    expect(await codeOf(stub.getObject('k'))).toBe('NoSuchBucket');
    expect(await codeOf(stub.listObjects())).toBe('NoSuchBucket');
    expect(await codeOf(stub.create({ name: 'Bad_Name', owner: OWNER, territory: 'default' }))).toBe('InvalidBucketName');
    const rec = await stub.create({ name, owner: OWNER, territory: 'default' });
    expect(rec).toMatchObject({ name, owner: OWNER, territory: 'default', acl: 'private' });
    expect(await stub.info()).toEqual(rec);
    expect(await codeOf(stub.create({ name, owner: OWNER, territory: 'default' }))).toBe('BucketAlreadyOwnedByYou');
    // The same account in its generic SS58 spelling is the same owner.
    expect(await codeOf(stub.create({ name, owner: OWNER_GENERIC, territory: 'default' }))).toBe('BucketAlreadyOwnedByYou');
    expect(await codeOf(stub.createMultipart('k', { initiator: 'cXnotanaccount', headers: { metadata: {} } }))).toBe('InvalidArgument');
    expect((await stub.createMultipart('k', { initiator: OWNER_GENERIC, headers: { metadata: {} } })).initiator).toBe(OWNER);
    expect(await codeOf(stub.create({ name, owner: OTHER, territory: 'default' }))).toBe('BucketAlreadyExists');
    expect((await stub.setAcl('public-read')).acl).toBe('public-read');
    expect(await codeOf(stub.setAcl('public-read-write' as 'private'))).toBe('InvalidArgument');
  });

  it('stores CORS and website configurations and validates them', async () => {
    const { stub } = await newBucket();
    expect(await stub.getCors()).toBeUndefined();
    const rules = [{ allowedOrigins: ['https://*.example.com'], allowedMethods: ['GET' as const, 'PUT' as const], allowedHeaders: ['*'], maxAgeSeconds: 600 }];
    await stub.putCors(rules);
    expect(await stub.getCors()).toEqual(rules);
    expect(await codeOf(stub.putCors([{ allowedOrigins: ['*'], allowedMethods: ['PATCH' as 'GET'] }]))).toBe('InvalidRequest');
    expect(await codeOf(stub.putCors([]))).toBe('MalformedXML');
    await stub.deleteCors();
    expect(await stub.getCors()).toBeUndefined();

    expect(await stub.getWebsite()).toBeUndefined();
    await stub.putWebsite({ indexDocument: { suffix: 'index.html' }, errorDocument: { key: '404.html' } });
    expect(await stub.getWebsite()).toEqual({ indexDocument: { suffix: 'index.html' }, errorDocument: { key: '404.html' } });
    expect(await codeOf(stub.putWebsite({ indexDocument: { suffix: 'a/index.html' } }))).toBe('InvalidArgument');
    await stub.putWebsite({ redirectAllRequestsTo: { hostName: 'example.com', protocol: 'https' } });
    expect(await stub.getWebsite()).toEqual({ redirectAllRequestsTo: { hostName: 'example.com', protocol: 'https' } });
    await stub.deleteWebsite();
    expect(await stub.getWebsite()).toBeUndefined();
  });

  it('refuses to delete a non-empty bucket, discards unfinished uploads on delete and can be created again', async () => {
    const { name, stub } = await newBucket();
    await stub.putObject('k', object(1));
    const up = await stub.createMultipart('big', { initiator: OWNER, headers: { metadata: {} } });
    await stub.putPart('big', up.uploadId, { partNumber: 1, etag: md5hex(7), size: 5 * MiB, staged: 'stage-1' });
    await stub.putPart('big', up.uploadId, { partNumber: 2, etag: md5hex(8), size: 1, staged: 'stage-2' });
    expect(await codeOf(stub.destroy())).toBe('BucketNotEmpty');
    await stub.deleteObject('k');
    const { releasedStagedParts } = await stub.destroy();
    expect(releasedStagedParts.sort()).toEqual(['stage-1', 'stage-2']);
    expect(await stub.info()).toBeUndefined();
    expect(await codeOf(stub.listMultipartUploads())).toBe('NoSuchBucket');
    await stub.create({ name, owner: OTHER, territory: 't2' });
    expect((await stub.info())?.owner).toBe(OTHER);
    expect((await stub.listMultipartUploads()).uploads).toEqual([]);
  });
});

describe('BucketIndex: objects', () => {
  it('round-trips every stored field and keeps the SSE-C key MD5 but nothing else of the key', async () => {
    const { stub } = await newBucket();
    const input: ObjectInput = {
      size: 30,
      etag: md5hex(3),
      parts: [{ fid: fid(3), size: 30 }],
      contentType: 'text/plain; charset=utf-8',
      contentEncoding: 'gzip',
      contentDisposition: 'attachment; filename="a.txt"',
      contentLanguage: 'en',
      cacheControl: 'max-age=60',
      expires: 'Wed, 21 Oct 2037 07:28:00 GMT',
      metadata: { color: 'blue', 'x-y': 'é' },
      checksum: { algorithm: 'CRC32C', value: 'yZRlqg==', type: 'FULL_OBJECT' },
      sseCustomerAlgorithm: 'AES256',
      sseCustomerKeyMd5: 'ZjQ0ZDZkNzE4ZmVjNTIxMA==',
    };
    const { object: written, previous } = await stub.putObject('dir/a.txt', input);
    expect(previous).toBeUndefined();
    expect(written).toMatchObject({ ...input, key: 'dir/a.txt', fid: fid(3) });
    expect(await stub.getObject('dir/a.txt')).toEqual(written);
    expect(await stub.getObject('dir/missing')).toBeUndefined();
    // A read's single call: the bucket (to authorize) and the object, or no bucket at all.
    const found = await stub.lookup('dir/a.txt');
    expect(found.object).toEqual(written);
    expect(found.bucket).toMatchObject({ owner: OWNER, territory: 'default' });
    expect(await stub.lookup('dir/missing')).toEqual({ bucket: found.bucket, object: undefined });
    expect(await bucketIndex(env, `t-${crypto.randomUUID().slice(0, 13)}`).lookup('k')).toEqual({});
    expect(await codeOf(stub.lookup(''))).toBe('InvalidArgument');
  });

  it('returns what a write replaced and releases a FID only when no other key references it', async () => {
    const { stub } = await newBucket();
    await stub.putObject('k1', object(1));
    await stub.putObject('k2', object(1)); // same content, same FID
    const r1 = await stub.putObject('k1', object(2));
    expect(r1.previous?.fid).toBe(fid(1));
    expect(r1.releasable).toEqual([]); // k2 still points at fid(1)
    const d2 = await stub.deleteObject('k2');
    expect(d2.previous?.etag).toBe(md5hex(1));
    expect(d2.releasable).toEqual([{ fid: fid(1), size: 10 }]);
    const again = await stub.deleteObject('k2'); // idempotent
    expect(again).toEqual({ releasable: [] });
    // Objects made of several files; empty objects have none.
    const multi = await stub.putObject('m', { size: 25, etag: `${md5hex(9)}-2`, parts: [{ fid: fid(4), size: 20 }, { fid: fid(5), size: 5 }], partsCount: 2, metadata: {} });
    expect(multi.object.fid).toBeNull();
    const empty = await stub.putObject('e', { size: 0, etag: 'd41d8cd98f00b204e9800998ecf8427e', parts: [], metadata: {} });
    expect(empty.object.fid).toBeNull();
    expect((await stub.deleteObject('m')).releasable.map((f) => f.fid).sort()).toEqual([fid(4), fid(5)]);
  });

  it('deletes many keys in one call', async () => {
    const { stub } = await newBucket();
    await stub.putObject('a', object(1));
    await stub.putObject('b', object(1));
    await stub.putObject('c', object(2));
    const r = await stub.deleteObjects(['a', 'b', 'nope']);
    expect(r.deleted).toEqual([
      { key: 'a', existed: true, etag: md5hex(1) },
      { key: 'b', existed: true, etag: md5hex(1) },
      { key: 'nope', existed: false },
    ]);
    expect(r.releasable).toEqual([{ fid: fid(1), size: 10 }]);
    expect(await codeOf(stub.deleteObjects(Array.from({ length: 1001 }, (_, i) => `k${i}`)))).toBe('MalformedXML');
    expect(await codeOf(stub.deleteObjects([]))).toBe('MalformedXML');
  });

  it('applies If-None-Match and If-Match atomically with the write', async () => {
    const { stub } = await newBucket();
    await stub.putObject('k', object(1), { ifNoneMatch: '*' });
    expect(await codeOf(stub.putObject('k', object(2), { ifNoneMatch: '*' }))).toBe('PreconditionFailed');
    expect(await codeOf(stub.putObject('k', object(2), { ifMatch: md5hex(9) }))).toBe('PreconditionFailed');
    await stub.putObject('k', object(2), { ifMatch: `"${md5hex(1)}"` });
    expect((await stub.getObject('k'))?.etag).toBe(md5hex(2));
    expect(await codeOf(stub.putObject('new', object(3), { ifMatch: '*' }))).toBe('PreconditionFailed');
  });

  it('records a write only while the bucket belongs to the owner the caller authorized against', async () => {
    const { stub } = await newBucket();
    await stub.putObject('k', object(1), { owner: OWNER });
    expect(await codeOf(stub.putObject('k', object(2), { owner: OTHER }))).toBe('AccessDenied');
    expect((await stub.getObject('k'))?.etag).toBe(md5hex(1));
  });

  it('enforces key, metadata and layout limits with the S3 codes', async () => {
    const { stub } = await newBucket();
    expect(await codeOf(stub.putObject('x'.repeat(1025), object(1)))).toBe('KeyTooLongError');
    await stub.putObject('é'.repeat(512), object(1)); // 1024 bytes exactly
    expect(await codeOf(stub.putObject('k', object(1, 10, { metadata: { big: 'v'.repeat(2046) } })))).toBe('MetadataTooLarge');
    await stub.putObject('k', object(1, 10, { metadata: { big: 'v'.repeat(2045) } })); // 3 + 2045 = 2048
    expect(await codeOf(stub.putObject('k', { ...object(1), size: 11 }))).toBe('InvalidArgument'); // parts do not add up
    expect(await codeOf(stub.putObject('k', { ...object(1), etag: '"abc"' }))).toBe('InvalidArgument');
    expect(await codeOf(stub.putObject('k', { ...object(1), parts: [{ fid: 'nothex', size: 10 }] }))).toBe('InvalidArgument');
    expect(await codeOf(stub.putObject('bad\uD800', object(1)))).toBe('InvalidArgument');
    // The largest layout (10,000 files) fits in one row, well under the 2 MB row limit.
    const files = Array.from({ length: NAMESPACE_LIMITS.maxLayoutFiles }, (_, i) => ({ fid: fid(i + 1), size: 5 * MiB }));
    const size = files.length * 5 * MiB;
    await stub.putObject('huge', { size, etag: `${md5hex(1)}-10000`, parts: files, partsCount: 10000, metadata: { m: 'v'.repeat(2000) } });
    expect((await stub.getObject('huge'))?.parts).toHaveLength(10000);
    const tooMany = [...files, { fid: fid(0xffff), size: 1 }];
    expect(await codeOf(stub.putObject('huge2', { size: size + 1, etag: md5hex(1), parts: tooMany, metadata: {} }))).toBe('InvalidArgument');
  });

  it('keeps the S3 code of an error across the RPC boundary', async () => {
    const { stub } = await newBucket();
    const err = await stub.deleteObjects([]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(unwrapNamespaceError(err)).toEqual({ code: 'MalformedXML', message: 'DeleteObjects needs at least one key' });
    expect(unwrapNamespaceError(new Error('something else'))).toBeUndefined();
  });
});

describe('BucketIndex: refusals over RPC', () => {
  it('returns an S3 refusal instead of throwing it (no uncaught exception in the object), and the client view throws it', async () => {
    const { name, stub, raw } = await newBucket();
    const again = { name, owner: OWNER, territory: 'default' };
    expect(await raw.create(again)).toEqual({ namespaceFailure: { code: 'BucketAlreadyOwnedByYou', detail: expect.any(String) } });
    expect(await codeOf(stub.create(again))).toBe('BucketAlreadyOwnedByYou');
    expect(await codeOf(stub.getUpload('k', 'no-such-upload'))).toBe('NoSuchUpload');
  });
});

describe('BucketIndex: listing', () => {
  it('lists with prefix, delimiter and both pagination styles exactly like the S3 model (randomised keys)', async () => {
    const { raw } = await newBucket();
    const alphabet = ['a', 'b', '/', '-', 'é', '\u{FF5A}', '\u{1F600}'];
    const rand = rng(7);
    const keys = Array.from({ length: 160 }, () => Array.from({ length: 1 + Math.floor(rand() * 6) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(''));
    const markers = ['a', 'a/', 'b/é', '\u{FF5A}', 'zzz', ...keys.slice(0, 4)];
    await runInDurableObject(raw, async (instance: BucketIndex) => {
      for (const [i, k] of keys.entries()) await instance.putObject(k, object(i + 1));

      for (const prefix of ['', 'a', 'a/', 'b/é', '\u{1F600}', 'none']) {
        for (const delimiter of [undefined, '/', '-/', 'é']) {
          const full = expectedListing(keys, { prefix, delimiter });
          const entries = (r: { contents: { key: string }[]; commonPrefixes: string[] }) =>
            [...r.contents.map((c) => `K:${c.key}`), ...r.commonPrefixes.map((p) => `P:${p}`)].sort((x, y) => utf8Order(x.slice(2), y.slice(2)));
          const all = await instance.listObjects({ prefix, delimiter });
          expect(entries(all)).toEqual(full);
          expect(all.isTruncated).toBe(false);

          for (const maxKeys of [1, 2, 3, 7]) {
            for (const style of ['v1', 'v2'] as const) {
              const pages: string[] = [];
              let opts: ListObjectsOptions = { prefix, delimiter, maxKeys };
              for (let guard = 0; ; guard++) {
                expect(guard).toBeLessThan(200);
                const page = await instance.listObjects(opts);
                const got = entries(page);
                expect(page.keyCount).toBe(got.length);
                pages.push(...got);
                if (!page.isTruncated) break;
                expect(got.length).toBe(maxKeys); // common prefixes count toward max-keys
                opts = style === 'v1' ? { prefix, delimiter, maxKeys, marker: page.nextMarker } : { prefix, delimiter, maxKeys, continuationToken: page.nextContinuationToken };
              }
              expect(pages).toEqual(full);
            }
          }
          for (const marker of markers) {
            const r = await instance.listObjects({ prefix, delimiter, startAfter: marker });
            expect(entries(r)).toEqual(expectedListing(keys, { prefix, delimiter, marker }));
          }
        }
      }
    });
  });

  it('reports owners only when asked, max-keys 0 and bad tokens', async () => {
    const { stub } = await newBucket();
    await stub.putObject('a', object(1, 10, { checksum: { algorithm: 'SHA256', value: 'x', type: 'FULL_OBJECT' } }));
    const plain = await stub.listObjects();
    expect(plain.contents[0]).toEqual({ key: 'a', lastModified: plain.contents[0].lastModified, etag: md5hex(1), size: 10, storageClass: 'STANDARD', checksumAlgorithm: 'SHA256', checksumType: 'FULL_OBJECT' });
    expect((await stub.listObjects({ fetchOwner: true })).contents[0].owner).toEqual({ id: OWNER, displayName: OWNER });
    expect(await stub.listObjects({ maxKeys: 0 })).toEqual({ contents: [], commonPrefixes: [], isTruncated: false, keyCount: 0 });
    expect(await codeOf(stub.listObjects({ continuationToken: 'garbage!' }))).toBe('InvalidArgument');
    expect(await codeOf(stub.listObjects({ maxKeys: -1 }))).toBe('InvalidArgument');
    expect((await stub.listObjects({ maxKeys: 5000 })).contents).toHaveLength(1);
  });

  it('reads SQL rows lazily, so a seek past a common prefix does not read the rest of the batch', async () => {
    const { raw } = await newBucket();
    await runInDurableObject(raw, async (instance: BucketIndex, state) => {
      for (let i = 0; i < 1500; i++) await instance.putObject(`logs/${String(i).padStart(5, '0')}`, object(i + 1));
      await instance.putObject('z', object(9999));
      const cursor = state.storage.sql.exec('SELECT key FROM objects WHERE key >= ? ORDER BY key LIMIT 1001', '');
      for (const _row of cursor) break;
      // SQLite steps at most one row ahead of the iterator; not the 1001 rows the LIMIT allows.
      expect(cursor.rowsRead).toBeLessThanOrEqual(2);
      const listed = await instance.listObjects({ delimiter: '/' });
      expect(listed.commonPrefixes).toEqual(['logs/']);
      expect(listed.contents.map((c) => c.key)).toEqual(['z']);
    });
  });
});

describe('BucketIndex: multipart uploads', () => {
  async function withParts(sizes: number[]) {
    const { stub } = await newBucket();
    const up = await stub.createMultipart('video.mp4', { initiator: OWNER, headers: { contentType: 'video/mp4', metadata: { a: 'b' }, checksumAlgorithm: 'CRC32' } });
    for (const [i, size] of sizes.entries()) await stub.putPart('video.mp4', up.uploadId, { partNumber: i + 1, etag: md5hex(100 + i), size, staged: `s${i + 1}` });
    return { stub, up };
  }
  const req = (...numbers: number[]) => numbers.map((n) => ({ partNumber: n, etag: `"${md5hex(99 + n)}"` }));

  it('validates completions with the AWS codes', async () => {
    const { stub, up } = await withParts([5 * MiB, 5 * MiB, 1, 4 * MiB]);
    const key = 'video.mp4';
    expect(await codeOf(stub.completeMultipart(key, up.uploadId, []))).toBe('MalformedXML');
    expect(await codeOf(stub.completeMultipart(key, up.uploadId, req(2, 1)))).toBe('InvalidPartOrder');
    expect(await codeOf(stub.completeMultipart(key, up.uploadId, req(1, 1)))).toBe('InvalidPartOrder');
    expect(await codeOf(stub.completeMultipart(key, up.uploadId, req(1, 5)))).toBe('InvalidPart');
    expect(await codeOf(stub.completeMultipart(key, up.uploadId, [{ partNumber: 1, etag: md5hex(1) }]))).toBe('InvalidPart');
    expect(await codeOf(stub.completeMultipart(key, up.uploadId, req(1, 3, 4)))).toBe('EntityTooSmall'); // part 3 (1 byte) is not last
    expect(await codeOf(stub.completeMultipart(key, 'no-such-upload', req(1)))).toBe('NoSuchUpload');
    expect(await codeOf(stub.completeMultipart('other-key', up.uploadId, req(1)))).toBe('NoSuchUpload');
    // A failed validation takes no lease: a valid completion still goes through.
    const plan = await stub.completeMultipart(key, up.uploadId, req(1, 2, 3));
    expect(plan.status).toBe('ready');
  });

  it('completes in two steps: ordered parts and the S3 ETag first, then the object replaces the upload atomically', async () => {
    const { stub, up } = await withParts([5 * MiB, 6 * MiB, 123]);
    const key = 'video.mp4';
    await stub.putObject(key, object(1)); // an older object the completion replaces
    const plan = await stub.completeMultipart(key, up.uploadId, req(1, 3));
    if (plan.status !== 'ready') throw new Error('expected a ready plan');
    expect(plan.parts.map((p) => [p.partNumber, p.staged])).toEqual([[1, 's1'], [3, 's3']]);
    expect(plan.unused.map((p) => p.staged)).toEqual(['s2']);
    expect(plan.size).toBe(5 * MiB + 123);
    // ETag: MD5 over the binary part MD5s (computed here with WebCrypto, not the implementation's MD5).
    const bin = new Uint8Array(32);
    bin.set(Uint8Array.from(md5hex(100).match(/../g)!, (h) => parseInt(h, 16)), 0);
    bin.set(Uint8Array.from(md5hex(102).match(/../g)!, (h) => parseInt(h, 16)), 16);
    const digest = new Uint8Array(await crypto.subtle.digest('MD5', bin));
    expect(plan.etag).toBe(`${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}-2`);
    expect(plan.headers).toMatchObject({ contentType: 'video/mp4', metadata: { a: 'b' } });

    // While the completion holds the upload: no second completion, no part changes.
    expect(await codeOf(stub.completeMultipart(key, up.uploadId, req(1, 3)))).toBe('OperationAborted');
    expect(await codeOf(stub.putPart(key, up.uploadId, { partNumber: 2, etag: md5hex(5), size: 1, staged: 'late' }))).toBe('OperationAborted');
    expect((await stub.getObject(key))?.etag).toBe(md5hex(1)); // nothing written yet

    expect(await codeOf(stub.finishMultipart(key, up.uploadId, 'wrong-token', { files: [{ fid: fid(50), size: plan.size }] }))).toBe('OperationAborted');
    expect(await codeOf(stub.finishMultipart(key, up.uploadId, plan.completionToken, { files: [{ fid: fid(50), size: plan.size - 1 }] }))).toBe('InvalidArgument');
    const done = await stub.finishMultipart(key, up.uploadId, plan.completionToken, { files: [{ fid: fid(50), size: 5 * MiB }, { fid: fid(51), size: 123 }] });
    expect(done.object).toMatchObject({ key, size: plan.size, etag: plan.etag, partsCount: 2, contentType: 'video/mp4', metadata: { a: 'b' }, fid: null });
    expect(done.previous?.etag).toBe(md5hex(1));
    expect(done.releasable).toEqual([{ fid: fid(1), size: 10 }]);
    expect(await stub.getObject(key)).toEqual(done.object);
    expect((await stub.listMultipartUploads()).uploads).toEqual([]);
    expect(await codeOf(stub.getUpload(key, up.uploadId))).toBe('NoSuchUpload');
    expect(await codeOf(stub.listParts(key, up.uploadId))).toBe('NoSuchUpload');
    // A client retrying CompleteMultipartUpload gets the same answer.
    expect(await stub.completeMultipart(key, up.uploadId, req(1, 3))).toEqual({ status: 'completed', uploadId: up.uploadId, key, etag: plan.etag, size: plan.size });
  });

  it('replaces re-uploaded parts, pages through parts and aborts', async () => {
    const { stub, up } = await withParts([5 * MiB, 5 * MiB, 5 * MiB, 5 * MiB, 7]);
    const key = 'video.mp4';
    const again = await stub.putPart(key, up.uploadId, { partNumber: 2, etag: md5hex(42), size: 6 * MiB, staged: 's2b' });
    expect(again.previous?.staged).toBe('s2');
    const first = await stub.putPart(key, up.uploadId, { partNumber: 9, etag: md5hex(43), size: 1, staged: 's9' });
    expect(first.previous).toBeUndefined();
    expect(await codeOf(stub.putPart(key, up.uploadId, { partNumber: 10001, etag: md5hex(1), size: 1, staged: 'x' }))).toBe('InvalidArgument');
    expect(await codeOf(stub.putPart(key, up.uploadId, { partNumber: 1, etag: md5hex(1), size: 5 * 1024 ** 3 + 1, staged: 'x' }))).toBe('EntityTooLarge');

    const seen: number[] = [];
    let marker: number | undefined;
    for (;;) {
      const page = await stub.listParts(key, up.uploadId, { maxParts: 2, partNumberMarker: marker });
      seen.push(...page.parts.map((p) => p.partNumber));
      expect(page.upload.uploadId).toBe(up.uploadId);
      if (!page.isTruncated) break;
      marker = page.nextPartNumberMarker;
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 9]);
    expect((await stub.listParts(key, up.uploadId)).parts.find((p) => p.partNumber === 2)).toMatchObject({ etag: md5hex(42), size: 6 * MiB, staged: 's2b' });

    const { released } = await stub.abortMultipart(key, up.uploadId);
    expect(released.map((p) => p.staged)).toEqual(['s1', 's2b', 's3', 's4', 's5', 's9']);
    expect(await codeOf(stub.abortMultipart(key, up.uploadId))).toBe('NoSuchUpload');
    expect(await codeOf(stub.putPart(key, up.uploadId, { partNumber: 1, etag: md5hex(1), size: 1, staged: 'x' }))).toBe('NoSuchUpload');
  });

  it('makes a completion whose upload was aborted meanwhile fail with NoSuchUpload', async () => {
    const { stub, up } = await withParts([5 * MiB, 1]);
    const plan = await stub.completeMultipart('video.mp4', up.uploadId, req(1, 2));
    if (plan.status !== 'ready') throw new Error('expected a ready plan');
    await stub.abortMultipart('video.mp4', up.uploadId);
    expect(await codeOf(stub.finishMultipart('video.mp4', up.uploadId, plan.completionToken, { files: [{ fid: fid(1), size: plan.size }] }))).toBe('NoSuchUpload');
    expect(await stub.getObject('video.mp4')).toBeUndefined();
  });

  it('lists uploads by key then initiation, with delimiter and key/upload-id markers', async () => {
    const { stub } = await newBucket();
    const made: Array<{ key: string; uploadId: string }> = [];
    for (const key of ['a/1', 'a/2', 'b', 'b', 'c/x/y', 'd', 'b']) {
      const u = await stub.createMultipart(key, { initiator: OWNER, headers: { metadata: {} } });
      made.push({ key, uploadId: u.uploadId });
    }
    const order = [...made].sort((x, y) => utf8Order(x.key, y.key) || utf8Order(x.uploadId, y.uploadId));
    // Uploads of one key come out in creation order.
    expect(order.filter((u) => u.key === 'b').map((u) => u.uploadId)).toEqual(made.filter((u) => u.key === 'b').map((u) => u.uploadId));

    const all = await stub.listMultipartUploads();
    expect(all.uploads.map((u) => [u.key, u.uploadId])).toEqual(order.map((u) => [u.key, u.uploadId]));
    expect(all.uploads[0].initiator).toBe(OWNER);

    const grouped = await stub.listMultipartUploads({ delimiter: '/' });
    expect(grouped.commonPrefixes).toEqual(['a/', 'c/']);
    expect(grouped.uploads.map((u) => u.key)).toEqual(['b', 'b', 'b', 'd']);
    expect((await stub.listMultipartUploads({ prefix: 'c/', delimiter: '/' })).commonPrefixes).toEqual(['c/x/']);

    // Page one entry at a time with the next markers: every upload exactly once, in order.
    const paged: string[] = [];
    let markers: { keyMarker?: string; uploadIdMarker?: string } = {};
    for (let guard = 0; guard < 20; guard++) {
      const page = await stub.listMultipartUploads({ maxUploads: 1, ...markers });
      paged.push(...page.uploads.map((u) => u.uploadId));
      if (!page.isTruncated) break;
      markers = { keyMarker: page.nextKeyMarker, uploadIdMarker: page.nextUploadIdMarker };
    }
    expect(paged).toEqual(order.map((u) => u.uploadId));
    // key-marker alone skips that key's uploads entirely.
    expect((await stub.listMultipartUploads({ keyMarker: 'b' })).uploads.map((u) => u.key)).toEqual(['c/x/y', 'd']);
    // Delimited paging: a common prefix as key-marker is not returned again.
    const p1 = await stub.listMultipartUploads({ delimiter: '/', maxUploads: 1 });
    expect(p1).toMatchObject({ commonPrefixes: ['a/'], isTruncated: true, nextKeyMarker: 'a/' });
    const p2 = await stub.listMultipartUploads({ delimiter: '/', maxUploads: 2, keyMarker: p1.nextKeyMarker });
    expect(p2.uploads.map((u) => u.key)).toEqual(['b', 'b']);
  });
});

describe('BucketIndex: tags and website redirects', () => {
  it('keeps an object\'s tags and redirect with it, and replaces the tags alone', async () => {
    const { stub } = await newBucket();
    await stub.putObject('k', object(1, 10, { tags: [['a', '1'], ['b', 'two words']], websiteRedirectLocation: '/elsewhere' }));
    const stored = (await stub.getObject('k'))!;
    expect(stored.tags).toEqual([['a', '1'], ['b', 'two words']]);
    expect(stored.websiteRedirectLocation).toBe('/elsewhere');
    expect(await stub.putObjectTags('k', [['c', '3']])).toEqual([['c', '3']]);
    const retagged = (await stub.getObject('k'))!;
    expect(retagged.tags).toEqual([['c', '3']]);
    // Nothing else changes, Last-Modified included.
    expect(retagged.lastModified).toBe(stored.lastModified);
    expect(retagged.websiteRedirectLocation).toBe('/elsewhere');
    await stub.putObjectTags('k', []);
    expect((await stub.getObject('k'))!.tags).toBeUndefined();
    // An overwrite without tags has none.
    await stub.putObjectTags('k', [['c', '3']]);
    await stub.putObject('k', object(2));
    expect((await stub.getObject('k'))!.tags).toBeUndefined();
    expect(await codeOf(stub.putObjectTags('missing', [['a', '1']]))).toBe('NoSuchKey');
  });

  it('refuses tag sets S3 refuses', async () => {
    const { stub } = await newBucket();
    await stub.putObject('k', object(1));
    const eleven = Array.from({ length: 11 }, (_, i): [string, string] => [`k${i}`, 'v']);
    expect(await codeOf(stub.putObjectTags('k', eleven))).toBe('InvalidTag');
    expect(await codeOf(stub.putObjectTags('k', [['a', '1'], ['a', '2']]))).toBe('InvalidTag');
    expect(await codeOf(stub.putObject('j', object(2, 10, { tags: eleven })))).toBe('InvalidTag');
    expect(await codeOf(stub.putBucketTags(Array.from({ length: 51 }, (_, i): [string, string] => [`k${i}`, 'v'])))).toBe('InvalidTag');
  });

  it('keeps bucket tags until they are removed', async () => {
    const { stub } = await newBucket();
    expect(await stub.getBucketTags()).toBeUndefined();
    await stub.putBucketTags([['team', 'storage']]);
    expect(await stub.getBucketTags()).toEqual([['team', 'storage']]);
    await stub.putBucketTags(undefined);
    expect(await stub.getBucketTags()).toBeUndefined();
  });

  it('adds the new columns to a bucket made before they existed, keeping its objects', async () => {
    const { raw } = await newBucket();
    await runInDurableObject(raw, async (instance: BucketIndex, state) => {
      await instance.putObject('old', object(1));
      for (const [table, column] of [['objects', 'tags'], ['objects', 'website_redirect'], ['bucket', 'tags'], ['bucket', 'policy'], ['bucket', 'versioning']]) state.storage.sql.exec(`ALTER TABLE ${table} DROP COLUMN ${column}`);
      const Index = instance.constructor as new (ctx: DurableObjectState, env: unknown) => BucketIndex;
      const upgraded = new Index(state, env);
      expect(await upgraded.getObject('old')).toMatchObject({ etag: md5hex(1) });
      await upgraded.putObjectTags('old', [['a', '1']]);
      expect((await upgraded.getObject('old'))!.tags).toEqual([['a', '1']]);
      await upgraded.putBucketTags([['b', '2']]);
      expect(await upgraded.getBucketTags()).toEqual([['b', '2']]);
      expect((await upgraded.setPolicy('{"Statement":[]}')).policy).toBe('{"Statement":[]}');
      expect((await upgraded.suspendVersioning()).versioning).toBe('Suspended');
    });
  });

  it('records suspended versioning in the bucket record', async () => {
    const { stub } = await newBucket();
    expect((await stub.info())?.versioning).toBeUndefined();
    await stub.suspendVersioning();
    expect((await stub.info())?.versioning).toBe('Suspended');
    expect((await stub.lookup('any')).bucket?.versioning).toBe('Suspended');
  });

  it('keeps a bucket policy until it is removed, in the record every read gets', async () => {
    const { stub } = await newBucket();
    expect((await stub.info())?.policy).toBeUndefined();
    await stub.setPolicy('{"p":1}');
    expect((await stub.info())?.policy).toBe('{"p":1}');
    expect((await stub.lookup('any')).bucket?.policy).toBe('{"p":1}');
    await stub.setPolicy(null);
    expect((await stub.info())?.policy).toBeUndefined();
  });
});
