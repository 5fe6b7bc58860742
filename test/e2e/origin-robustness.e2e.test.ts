import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { signInternal } from '../../origin/src/auth/internal-hmac.ts';
import { signHeaders } from '../../origin/src/auth/signed-message.ts';
import { accountFromSuri, type Account } from '../../origin/src/chain/accounts.ts';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestFile } from '../../origin/src/pipeline/file-digest.ts';
import { startCluster, type Cluster } from '../support/cluster.ts';

const MiB = 1024 * 1024;
const MAX_UPLOAD = 80 * MiB;
const EDGE_SECRET = 'test-edge-secret';
let cluster: Cluster;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  // Packs stay open long enough that sequential test uploads share one.
  cluster = await startCluster({ env: { DEOSS_MAX_UPLOAD_BYTES: String(MAX_UPLOAD), DEOSS_EDGE_SECRET: EDGE_SECRET, DEOSS_PACK_MAX_AGE_MS: '4000' } });
  alice = await accountFromSuri(cluster.user.suri);
  bob = await accountFromSuri('//Bob');
}, 120_000);
afterAll(() => cluster?.close());

function form(body: Uint8Array, name = 'file.bin') {
  const boundary = `b${randomBytes(8).toString('hex')}`;
  return {
    body: Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n\r\n`),
      body,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

async function put(body: Uint8Array, headers: Record<string, string>, name?: string) {
  const f = form(body, name);
  const res = await fetch(`${cluster.origin.url}/file`, {
    method: 'PUT',
    body: f.body,
    headers: { 'Content-Type': f.type, Territory: cluster.user.territory, ...headers },
  });
  return { status: res.status, body: (await res.json()) as { code: number; msg: string; data?: { fid: string } } };
}

const sign = (account: Account, message: string) => `0x${Buffer.from(account.sign(new TextEncoder().encode(message))).toString('hex')}`;

describe('origin refuses bad input clearly and loses nothing', () => {
  it('refuses bad, expired, far-future and replayed signatures, and unauthorized accounts', async () => {
    const small = randomBytes(1000);
    const now = Math.floor(Date.now() / 1000);
    const forged = { Account: alice.address, Message: String(now + 60), Signature: sign(bob, String(now + 60)) };
    expect(await put(small, forged)).toMatchObject({ status: 403, body: { code: 403, msg: expect.stringMatching(/does not verify/) } });
    const expired = { Account: alice.address, Message: String(now - 5), Signature: sign(alice, String(now - 5)) };
    expect(await put(small, expired)).toMatchObject({ status: 403, body: { msg: expect.stringMatching(/expired/) } });
    const far = String(now + 3 * 86400);
    expect(await put(small, { Account: alice.address, Message: far, Signature: sign(alice, far) })).toMatchObject({ status: 403, body: { msg: expect.stringMatching(/at most/) } });
    const noExpiry = { Account: alice.address, Message: 'hello there', Signature: sign(alice, 'hello there') };
    expect(await put(small, noExpiry)).toMatchObject({ status: 403, body: { msg: expect.stringMatching(/expiry/) } });
    const once = signHeaders(alice);
    expect((await put(small, once)).status).toBe(200);
    expect(await put(small, once)).toMatchObject({ status: 403, body: { msg: expect.stringMatching(/already used/) } });
    expect(await put(small, signHeaders(bob))).toMatchObject({ status: 403, body: { msg: expect.stringMatching(/authorize this gateway/) } });
    expect(await put(small, { ...signHeaders(alice), EthAcc: '0x0000000000000000000000000000000000000001' })).toMatchObject({ status: 403 });
  });

  it('refuses oversize uploads, empty files, bad names, a missing territory, and bad ranges', async () => {
    expect(await put(randomBytes(MAX_UPLOAD + MiB), signHeaders(alice))).toMatchObject({ status: 413, body: { msg: expect.stringMatching(/limit/) } });
    expect(await put(new Uint8Array(0), signHeaders(alice))).toMatchObject({ status: 400, body: { msg: expect.stringMatching(/empty file/) } });
    for (const name of ['../../etc/passwd', 'ab']) {
      expect((await put(randomBytes(10), signHeaders(alice), name)).status).toBe(400);
    }
    // DeOSS's Filename header (percent-decoded) gets the same checks.
    for (const name of ['a%5Cb%5Cc.txt', '..%2Fx.txt', 'bad%00name']) {
      expect((await put(randomBytes(10), { ...signHeaders(alice), Filename: name })).status, name).toBe(400);
    }
    expect((await put(randomBytes(10), { ...signHeaders(alice), Territory: 'nope' })).body.msg).toMatch(/purchase territory/);
    const traversal = await fetch(`${cluster.origin.url}/object/..%2F..%2Fescape.txt`, { method: 'PUT', body: 'x', headers: { ...signHeaders(alice), Territory: 'default' } });
    expect(traversal.status).toBe(400);
    const ok = await put(randomBytes(5000), signHeaders(alice), 'ranges.bin');
    const fid = ok.body.data!.fid;
    for (const [header, value] of [
      ['Range', 'bytes=abc'],
      ['Range', 'bytes=0-1,5-6'],
      ['Range', 'bytes=9000-9100'],
      ['Content-Range', 'bytes=5000-'],
    ] as const) {
      const res = await fetch(`${cluster.origin.url}/file/open/${fid}`, { headers: { [header]: value } });
      expect(res.status, `${header}: ${value}`).toBe(416);
      expect(((await res.json()) as { msg: string }).msg).toMatch(/range/);
    }
    const deossRange = await fetch(`${cluster.origin.url}/file/open/${fid}`, { headers: { 'Content-Range': 'bytes=10-19' } });
    expect(deossRange.status).toBe(206);
    expect((await deossRange.arrayBuffer()).byteLength).toBe(10);
    expect((await fetch(`${cluster.origin.url}/file/download/${'0'.repeat(64)}`)).status).toBe(404);
    expect((await fetch(`${cluster.origin.url}/file/download/not-a-fid`)).status).toBe(400);
  });

  it('resumes chunked uploads at their offsets, idempotently, across an origin restart', async () => {
    const file = randomBytes(40 * MiB + 17);
    const chunk = 10 * MiB;
    const send = (start: number, end: number, body = file.subarray(start, end + 1)) =>
      fetch(`${cluster.origin.url}/resume/chunked.bin`, {
        method: 'PUT',
        body,
        headers: { ...signHeaders(alice), Territory: cluster.user.territory, 'Content-Range': `bytes ${start}-${end}/${file.length}` },
      });
    const offset = async () =>
      ((await (await fetch(`${cluster.origin.url}/resume/chunked.bin?total=${file.length}`, { headers: signHeaders(alice) })).json()) as { data: { received: number } })
        .data.received;
    let res = await send(0, chunk - 1);
    expect(res.status).toBe(308);
    expect(res.headers.get('range')).toBe(`bytes=0-${chunk - 1}`);
    res = await send(chunk, 2 * chunk - 1);
    expect(res.status).toBe(308);
    expect((await send(chunk, 2 * chunk - 1)).status).toBe(308); // re-sent: overwritten in place, not appended
    expect(await offset()).toBe(2 * chunk);
    expect((await send(3 * chunk, file.length - 1)).status).toBe(409); // a gap is refused
    expect((await send(2 * chunk, 3 * chunk - 1, file.subarray(0, 5))).status).toBe(400); // short body
    await cluster.restartOrigin();
    expect(await offset()).toBe(2 * chunk);
    expect((await send(2 * chunk, 3 * chunk - 1)).status).toBe(308);
    res = await send(3 * chunk, file.length - 1);
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: { fid: string } };
    const whole = await put(file, signHeaders(alice), 'same.bin');
    expect(data.fid).toBe(whole.body.data!.fid);
  });

  it('stores several files from one PUT /files, reporting each', async () => {
    const boundary = `b${randomBytes(8).toString('hex')}`;
    const part = (name: string, body: Buffer) =>
      Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n\r\n`), body, Buffer.from('\r\n')]);
    const a = randomBytes(3000);
    const b = randomBytes(4000);
    const res = await fetch(`${cluster.origin.url}/files`, {
      method: 'PUT',
      body: Buffer.concat([part('first.bin', a), part('x', randomBytes(10)), part('second.bin', b), Buffer.from(`--${boundary}--\r\n`)]),
      headers: { ...signHeaders(alice), 'Content-Type': `multipart/form-data; boundary=${boundary}`, Territory: cluster.user.territory },
    });
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: { name: string; result: string; fid?: string; reason?: string }[] };
    expect(data.map((d) => [d.name, d.result])).toEqual([['first.bin', 'success'], ['x', 'failed'], ['second.bin', 'success']]);
    expect(data[1].reason).toMatch(/at least 3 bytes/);
    const second = Buffer.from(await (await fetch(`${cluster.origin.url}/file/download/${data[2].fid}`)).arrayBuffer());
    expect(second.equals(b)).toBe(true);
  });

  it('serves the edge only on HMAC-signed internal routes', async () => {
    const body = randomBytes(2 * MiB + 3);
    const sha = createHash('sha256').update(body).digest('hex');
    const url = `${cluster.origin.url}/internal/object`;
    const owner = { 'X-Deoss-Owner': alice.address, 'X-Deoss-Territory': cluster.user.territory, 'X-Deoss-File-Name': 'photos/cat.jpg' };
    const putWith = (headers: Record<string, string>, payload: Uint8Array = body) => fetch(url, { method: 'PUT', body: payload, headers });
    const sign = (secret: string, contentSha256: string, extra: Record<string, string> = {}) =>
      signInternal(secret, 'PUT', '/internal/object', { contentSha256, headers: { ...owner, ...extra } });
    expect((await putWith(owner)).status).toBe(401);
    expect((await putWith(sign('wrong-secret', sha))).status).toBe(401);
    expect((await putWith(sign(EDGE_SECRET, 'ab'.repeat(32)))).status).toBe(400); // body ≠ promised hash
    // The headers the origin acts on are signed: another owner, territory or file name breaks the signature.
    expect((await putWith({ ...sign(EDGE_SECRET, sha), 'X-Deoss-Owner': bob.address })).status).toBe(401);
    expect((await putWith({ ...sign(EDGE_SECRET, sha), 'X-Deoss-File-Name': 'other.jpg' })).status).toBe(401);
    const { 'X-Deoss-Territory': _, ...withoutTerritory } = sign(EDGE_SECRET, sha);
    expect((await putWith(withoutTerritory)).status).toBe(401);
    expect((await putWith({ ...sign(EDGE_SECRET, sha), 'X-Deoss-Ack': 'stored' })).status).toBe(401);
    const signed = sign(EDGE_SECRET, sha);
    const res = await putWith(signed);
    expect(res.status).toBe(200);
    const stored = (await res.json()) as { fid: string; size: number; md5: string };
    expect(stored).toMatchObject({ size: body.length, md5: createHash('md5').update(body).digest('hex') });
    expect((await putWith(signed)).status).toBe(401); // replayed
    const path = `/internal/object/${stored.fid}`;
    const got = await fetch(`${cluster.origin.url}${path}`, { headers: signInternal(EDGE_SECRET, 'GET', path, { headers: { Range: 'bytes=100-199' } }) });
    expect(got.status).toBe(206);
    const otherRange = { ...signInternal(EDGE_SECRET, 'GET', path, { headers: { Range: 'bytes=100-199' } }), Range: 'bytes=0-99' };
    expect((await fetch(`${cluster.origin.url}${path}`, { headers: otherRange })).status).toBe(401);
    expect(Buffer.from(await got.arrayBuffer()).equals(body.subarray(100, 200))).toBe(true);
    expect((await fetch(`${cluster.origin.url}${path}`)).status).toBe(401);

    // The edge's form: the reference as soon as the bytes are written, then the commit's outcome.
    const twoLines = await putWith(sign(EDGE_SECRET, sha, { 'X-Deoss-Report': 'written' }));
    expect(twoLines.headers.get('Content-Type')).toBe('application/x-ndjson');
    const [reported, outcome, ...rest] = (await twoLines.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(reported).toMatchObject({ fid: expect.stringMatching(/^pack-/), size: body.length, md5: stored.md5, state: 'packed' });
    expect(outcome).toEqual({ durable: true });
    expect(rest).toEqual([]);
    const again = `/internal/object/${reported.fid}`;
    const read = await fetch(`${cluster.origin.url}${again}`, { headers: signInternal(EDGE_SECRET, 'GET', again) });
    expect(Buffer.from(await read.arrayBuffer()).equals(body)).toBe(true);
  });

  it('packs a small body of unknown length (a browser form file) when told the most it can be', async () => {
    // Bodies sent chunked, without Content-Length, as the edge streams a form's file.
    const put = async (bytes: Buffer, atMost?: number) => {
      const headers = signInternal(EDGE_SECRET, 'PUT', '/internal/object', {
        headers: { 'X-Deoss-Owner': alice.address, 'X-Deoss-Territory': cluster.user.territory, ...(atMost === undefined ? {} : { 'X-Deoss-Size-At-Most': String(atMost) }) },
      });
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(bytes);
          c.close();
        },
      });
      const res = await fetch(`${cluster.origin.url}/internal/object`, { method: 'PUT', body: stream, headers, duplex: 'half' } as RequestInit);
      expect(res.status).toBe(200);
      const { fid, size } = (await res.json()) as { fid: string; size: number };
      expect(size).toBe(bytes.length);
      return /^pack-([0-9a-f]+)-/.exec(fid)![1];
    };
    const [a, b] = [randomBytes(30_000), randomBytes(40_000)];
    const first = await put(a, a.length + 500);
    const second = await put(b, b.length + 500);
    expect(second).toBe(first); // one shared pack: one CESS file for both
    // Without a bound the origin cannot know the body is small: it gets a pack of its own.
    expect(await put(randomBytes(30_000))).not.toBe(first);
  });

  it('stages multipart parts and composes them into one CESS file, sealing SSE-C parts at rest', async () => {
    const internal = async (method: string, path: string, headers: Record<string, string> = {}, body?: Uint8Array | string) => {
      const sha = body === undefined ? undefined : createHash('sha256').update(body).digest('hex');
      return fetch(`${cluster.origin.url}${path}`, { method, body, headers: signInternal(EDGE_SECRET, method, path, { contentSha256: sha, headers }) });
    };
    const stage = async (bytes: Uint8Array, headers: Record<string, string> = {}) => {
      const res = await internal('PUT', '/internal/part', headers, bytes);
      expect(res.status).toBe(200);
      const part = (await res.json()) as { handle: string; size: number; md5: string };
      expect(part).toMatchObject({ size: bytes.length, md5: createHash('md5').update(bytes).digest('hex') });
      return part;
    };
    const owner = { owner: alice.address, territory: cluster.user.territory, fileName: 'big/object.bin' };
    const pieces = [randomBytes(6 * MiB), randomBytes(5 * MiB + 7), randomBytes(1000)];
    const parts = [];
    for (const p of pieces) parts.push(await stage(p));
    const unknown = await internal('POST', '/internal/compose', {}, JSON.stringify({ ...owner, sources: [{ part: 'ab'.repeat(16) }] }));
    expect(unknown.status).toBe(404);
    const composed = await internal('POST', '/internal/compose', {}, JSON.stringify({ ...owner, sources: parts.map((p) => ({ part: p.handle })) }));
    expect(composed.status).toBe(200);
    const whole = Buffer.concat(pieces);
    const object = (await composed.json()) as { fid: string; size: number; md5: string };
    expect(object).toMatchObject({ size: whole.length, md5: createHash('md5').update(whole).digest('hex') });
    const wholePath = join(cluster.home, 'composed.bin');
    await writeFile(wholePath, whole);
    expect(object.fid).toBe((await digestFile(wholePath)).fid); // one CESS file, not one per part
    const download = Buffer.from(await (await fetch(`${cluster.origin.url}/file/download/${object.fid}`)).arrayBuffer());
    expect(download.equals(whole)).toBe(true);
    // Parts are released once composed.
    expect((await internal('POST', '/internal/compose', {}, JSON.stringify({ ...owner, sources: [{ part: parts[0].handle }] }))).status).toBe(404);

    // UploadPartCopy: a range of a stored file becomes a part; SSE-C parts are sealed and need their key.
    const key = randomBytes(32).toString('base64');
    const copied = await internal('PUT', '/internal/part', { 'X-Deoss-Copy-Fid': object.fid, 'X-Deoss-Copy-Range': 'bytes=1000-5999', 'X-Deoss-Sse-Key': key });
    expect(copied.status).toBe(200);
    const copy = (await copied.json()) as { handle: string; size: number; md5: string };
    expect(copy).toMatchObject({ size: 5000, md5: createHash('md5').update(whole.subarray(1000, 6000)).digest('hex') });
    const secret = await stage(Buffer.from('top secret '.repeat(1000)), { 'X-Deoss-Sse-Key': key });
    const sources = JSON.stringify({ ...owner, sources: [{ part: copy.handle }, { part: secret.handle }, { fid: object.fid, start: 0, end: 9 }] });
    expect((await internal('POST', '/internal/compose', {}, sources)).status).toBe(403); // sealed parts need the key
    const sealed = await internal('POST', '/internal/compose', { 'X-Deoss-Sse-Key': key }, sources);
    expect(sealed.status).toBe(200);
    const encrypted = (await sealed.json()) as { fid: string; size: number };
    const expected = Buffer.concat([whole.subarray(1000, 6000), Buffer.from('top secret '.repeat(1000)), whole.subarray(0, 10)]);
    expect(encrypted.size).toBe(expected.length);
    const path = `/internal/object/${encrypted.fid}`;
    const plain = await internal('GET', path, { 'X-Deoss-Sse-Key': key });
    expect(Buffer.from(await plain.arrayBuffer()).equals(expected)).toBe(true);
    const raw = Buffer.from(await (await fetch(`${cluster.origin.url}/file/download/${encrypted.fid}`)).arrayBuffer());
    expect(raw.includes(Buffer.from('top secret'))).toBe(false);
    expect((await internal('POST', '/internal/compose', {}, '{"owner":1}')).status).toBe(400);

    // A Complete without the key (awscli, boto3): the origin uses the key it holds, in memory, for these parts.
    const heldParts = [await stage(Buffer.from('held '.repeat(2000)), { 'X-Deoss-Sse-Key': key }), await stage(Buffer.from('tail'), { 'X-Deoss-Sse-Key': key })];
    const held = await internal('POST', '/internal/compose', { 'X-Deoss-Sse-Key-Held': '1' }, JSON.stringify({ ...owner, sources: heldParts.map((p) => ({ part: p.handle })) }));
    expect(held.status).toBe(200);
    const heldObject = (await held.json()) as { fid: string };
    const heldPlain = await internal('GET', `/internal/object/${heldObject.fid}`, { 'X-Deoss-Sse-Key': key });
    expect(Buffer.from(await heldPlain.arrayBuffer()).toString()).toBe(`${'held '.repeat(2000)}tail`);
    // Parts staged under two keys have no one key to use.
    const otherKey = randomBytes(32).toString('base64');
    const mixed = [await stage(Buffer.from('one'), { 'X-Deoss-Sse-Key': key }), await stage(Buffer.from('two'), { 'X-Deoss-Sse-Key': otherKey })];
    const refused = await internal('POST', '/internal/compose', { 'X-Deoss-Sse-Key-Held': '1' }, JSON.stringify({ ...owner, sources: mixed.map((p) => ({ part: p.handle })) }));
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('send the SSE-C key headers');

    // Releasing a FID deletes it on chain once stored; a second release finds nothing.
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      const state = ((await (await fetch(`${cluster.origin.url}/file/state/${object.fid}`)).json()) as { data: { state: string } }).data.state;
      if (state === 'stored') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const release = (fid: string) => internal('DELETE', `/internal/object/${fid}`, { 'X-Deoss-Owner': alice.address });
    expect((await release(object.fid)).status).toBe(200);
    expect((await release(object.fid)).status).toBe(404);
    expect((await fetch(`${cluster.origin.url}/file/metadata/${object.fid}`)).status).toBe(404);
  });

  it('writes unencrypted edge objects behind, packed, through a crash, and deletes the pack once all are released', async () => {
    const internal = async (method: string, path: string, headers: Record<string, string> = {}, body?: Uint8Array) => {
      const sha = body === undefined ? undefined : createHash('sha256').update(body).digest('hex');
      return fetch(`${cluster.origin.url}${path}`, { method, body, headers: signInternal(EDGE_SECRET, method, path, { contentSha256: sha, headers }) });
    };
    const owner = { 'X-Deoss-Owner': alice.address, 'X-Deoss-Territory': cluster.user.territory, 'X-Deoss-File-Name': 'small.bin' };
    const putObject = async (bytes: Uint8Array) => {
      const res = await internal('PUT', '/internal/object', owner, bytes);
      expect(res.status).toBe(200);
      const stored = (await res.json()) as { fid: string; size: number; md5: string; state: string };
      expect(stored).toMatchObject({ size: bytes.length, md5: createHash('md5').update(bytes).digest('hex'), state: 'packed' });
      return stored.fid;
    };
    const read = async (ref: string, range?: string) => {
      const res = await internal('GET', `/internal/object/${ref}`, range ? { Range: range } : {});
      return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
    };
    const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`${cluster.origin.url}/metrics`)).text())?.[1]);
    const until = async (what: string, ok: () => Promise<boolean>) => {
      const deadline = Date.now() + 60_000;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };

    // Objects of earlier tests sit in a pack of the same owner until it is sealed: start with a pack of our own.
    await until('earlier packs to be sealed', async () => (await metric('deoss_origin_write_behind_packs')) === 0);
    const objects = [randomBytes(100 * 1024), randomBytes(MiB), randomBytes(2 * MiB + 3)];
    const refs: string[] = [];
    for (const o of objects) refs.push(await putObject(o));
    const packId = refs[0].split('-')[1];
    expect(refs.every((r) => /^pack-[0-9a-f]{32}-\d+-\d+$/.test(r) && r.split('-')[1] === packId)).toBe(true); // one shared pack
    // Readable at once, from the staged pack.
    expect(await metric('deoss_origin_write_behind_packs')).toBeGreaterThan(0);
    for (const [i, ref] of refs.entries()) expect((await read(ref)).bytes.equals(objects[i])).toBe(true);
    expect(await read(refs[2], 'bytes=10-1048585')).toMatchObject({ status: 206, bytes: objects[2].subarray(10, 1048586) });

    // Killed before the pack is sealed: committed objects survive and the pack is sealed after the restart.
    await cluster.origin.stop('SIGKILL');
    await cluster.restartOrigin();
    for (const [i, ref] of refs.entries()) expect((await read(ref)).bytes.equals(objects[i])).toBe(true);
    await until('the pack to be stored', async () => (await metric('deoss_origin_write_behind_packs')) === 0 && (await metric('deoss_origin_uploads_unsettled')) === 0);
    const { fid } = JSON.parse(await readFile(join(cluster.home, 'packs', packId, 'sealed.json'), 'utf8')) as { fid: string };
    expect((await fetch(`${cluster.origin.url}/file/metadata/${fid}`)).status).toBe(200);
    // Now a range of the pack's CESS file, from the chain's record and the storage nodes.
    for (const [i, ref] of refs.entries()) expect((await read(ref)).bytes.equals(objects[i])).toBe(true);
    const copy = await internal('PUT', '/internal/part', { 'X-Deoss-Copy-Fid': refs[1], 'X-Deoss-Copy-Range': 'bytes=5-9' });
    expect(await copy.json()).toMatchObject({ size: 5, md5: createHash('md5').update(objects[1].subarray(5, 10)).digest('hex') });

    // An origin that never held the pack reads its members when told their owner: it finds the sealed pack on the
    // chain (what lets the edge fail over to it while the writer is down). Without the owner, or with another, 404.
    const other = await cluster.addOrigin();
    const readAt = async (ref: string, headers: Record<string, string> = {}) => {
      const path = `/internal/object/${ref}`;
      const res = await fetch(`${other.url}${path}`, { headers: signInternal(EDGE_SECRET, 'GET', path, { headers }) });
      return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
    };
    expect((await readAt(refs[0])).status).toBe(404);
    expect((await readAt(refs[0], { 'X-Deoss-Owner': bob.address })).status).toBe(404);
    for (const [i, ref] of refs.entries()) expect((await readAt(ref, { 'X-Deoss-Owner': alice.address })).bytes.equals(objects[i])).toBe(true);
    expect(await readAt(refs[2], { 'X-Deoss-Owner': alice.address, Range: 'bytes=10-1048585' })).toMatchObject({ status: 206, bytes: objects[2].subarray(10, 1048586) });
    expect((await readAt(`pack-${packId}-30-999999999`, { 'X-Deoss-Owner': alice.address })).status).toBe(404); // past the pack's end

    expect((await read(`pack-${'ab'.repeat(16)}-30-5`)).status).toBe(404);
    expect((await read('pack-xyz')).status).toBe(400);
    const release = (ref: string, account = alice.address) => internal('DELETE', `/internal/object/${ref}`, { 'X-Deoss-Owner': account });
    expect((await release(refs[0], bob.address)).status).toBe(404); // not bob's
    for (const ref of refs.slice(0, 2)) expect((await release(ref)).status).toBe(200);
    expect((await read(refs[0])).status).toBe(404);
    expect((await read(refs[2])).bytes.equals(objects[2])).toBe(true); // the pack lives while a member does
    expect((await fetch(`${cluster.origin.url}/file/metadata/${fid}`)).status).toBe(200);
    expect((await release(refs[2])).status).toBe(200);
    await until('the pack file to leave the chain', async () => (await fetch(`${cluster.origin.url}/file/metadata/${fid}`)).status === 404);
    expect((await release(refs[2])).status).toBe(404);
  });

  it('finishes an upload whose origin was killed during dispatch', async () => {
    const file = randomBytes(64 * MiB + 99);
    const res = await put(file, signHeaders(alice), 'crash.bin');
    expect(res.status).toBe(200);
    const fid = res.body.data!.fid;
    // Kill the origin (no clean shutdown) as soon as dispatch is under way.
    for (;;) {
      const state = ((await (await fetch(`${cluster.origin.url}/file/state/${fid}`)).json()) as { data: { state: string } }).data.state;
      if (state !== 'staged') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await cluster.origin.stop('SIGKILL');
    const origin = await cluster.restartOrigin();
    const until = Date.now() + 60_000;
    let state = '';
    while (state !== 'stored' && Date.now() < until) {
      state = ((await (await fetch(`${origin.url}/file/state/${fid}`)).json()) as { data: { state: string } }).data.state;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(state).toBe('stored');
    const got = Buffer.from(await (await fetch(`${origin.url}/file/download/${fid}`)).arrayBuffer());
    expect(got.equals(file)).toBe(true);
  });
});
