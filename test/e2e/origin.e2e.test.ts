import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHeaders } from '../../origin/src/auth/signed-message.ts';
import { accountFromSuri, type Account } from '../../origin/src/chain/accounts.ts';
import { digestFile } from '../../origin/src/pipeline/file-digest.ts';
import { startCluster, type Cluster } from '../support/cluster.ts';

const MiB = 1024 * 1024;
let cluster: Cluster;
let alice: Account;
let file: Buffer;
let filePath: string;
let fid: string;

beforeAll(async () => {
  cluster = await startCluster();
  alice = await accountFromSuri(cluster.user.suri);
  file = randomBytes(100 * MiB + 4321);
  filePath = join(cluster.home, 'upload.bin');
  await writeFile(filePath, file);
}, 120_000);
afterAll(() => cluster?.close());

function multipart(name: string, body: Uint8Array) {
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

async function put(body: Uint8Array, name = 'upload.bin', extra: Record<string, string> = {}, signer = alice) {
  const form = multipart(name, body);
  const res = await fetch(`${cluster.origin.url}/file`, {
    method: 'PUT',
    body: form.body,
    headers: { ...signHeaders(signer), 'Content-Type': form.type, Territory: cluster.user.territory, ...extra },
  });
  return { status: res.status, json: (await res.json()) as { code: number; msg: string; data: { fid: string; state: string } } };
}

async function waitStored(id: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${cluster.origin.url}/file/state/${id}`);
    const { data } = (await res.json()) as { data?: { state: string; lastError?: string } };
    if (data?.state === 'stored') return;
    if (data?.state === 'failed') throw new Error(`upload failed: ${data.lastError}`);
    if (Date.now() > until) throw new Error(`upload not stored in time: ${JSON.stringify(data)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function columns(id: string): Promise<{ endpoint: string }[]> {
  const res = (await (await fetch(`${cluster.origin.url}/file/location/${id}`)).json()) as { data: { columns: { endpoint: string }[] } };
  return res.data.columns;
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${cluster.origin.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : NaN;
}

describe('origin with 12 storage nodes (real processes, real TCP)', () => {
  it('stores a 100 MiB upload under the FID `deoss hash` computes', async () => {
    const res = await put(file);
    expect(res.status).toBe(200);
    fid = res.json.data.fid;
    expect(fid).toBe((await digestFile(filePath)).fid);
    await waitStored(fid);
    const meta = (await (await fetch(`${cluster.origin.url}/file/metadata/${fid}`)).json()) as { data: unknown };
    expect(meta.data).toEqual({ fid, size: file.length, owner: [{ user: cluster.user.address, file_name: 'upload.bin' }] });
  });

  it('serves a corrupted fragment from elsewhere: detected, bypassed, counted', async () => {
    // Corrupt every fragment file the node holding column 0 has, then force a read from the nodes.
    const location = (await columns(fid));
    const holder = cluster.nodes.find((n) => n.url === location[0].endpoint)!;
    const dir = join(holder.dir!, 'fragments', fid);
    for (const name of await readdir(dir)) {
      const bytes = await readFile(join(dir, name));
      bytes[12345] ^= 0xff;
      await writeFile(join(dir, name), bytes);
    }
    await rm(join(cluster.home, 'cache', fid), { recursive: true, force: true });
    const failedBefore = await metric('deoss_origin_fragment_fetches_total{result="failed"}');
    const got = Buffer.from(await (await fetch(`${cluster.origin.url}/file/download/${fid}`)).arrayBuffer());
    expect(got.equals(file)).toBe(true);
    expect(await metric('deoss_origin_fragment_fetches_total{result="failed"}')).toBeGreaterThan(failedBefore);
    expect(await metric('deoss_origin_segments_served_total{source="storage-nodes"}')).toBeGreaterThanOrEqual(4);
  });

  it('downloads byte-identical data with any 8 of the 12 storage nodes stopped', async () => {
    const location = await columns(fid);
    // Stop the nodes of columns 0..3 (the data columns, so every segment must be decoded) and 4 more.
    const victims = [0, 1, 2, 3, 5, 7, 9, 11].map((c) => cluster.nodes.find((n) => n.url === location[c].endpoint)!);
    await Promise.all(victims.map((n) => n.stop()));
    await rm(join(cluster.home, 'cache', fid), { recursive: true, force: true });
    const res = await fetch(`${cluster.origin.url}/file/download/${fid}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(file)).toBe(true);
    // Ranges fetch only what they touch and still match.
    const ranged = await fetch(`${cluster.origin.url}/file/download/${fid}`, { headers: { Range: 'bytes=67108860-67108999' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 67108860-67108999/${file.length}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(file.subarray(67108860, 67109000))).toBe(true);
  });
});
