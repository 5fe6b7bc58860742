/**
 * Upload and download MB/s through an origin with 12 local storage nodes (real processes, real TCP), against a
 * plain Node HTTP server that only moves the same bytes (the ceiling for HTTP on this machine), plus the origin's
 * peak RSS during a large upload. `npm run bench:origin` (BENCH_SIZES_MB=256,1024, BENCH_RSS_MB=2048).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { createServer, get as httpGet, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { signHeaders } from '../origin/src/auth/signed-message.ts';
import { accountFromSuri } from '../origin/src/chain/accounts.ts';
import { startCluster } from '../test/support/cluster.ts';

const MiB = 1024 * 1024;
const sizes = (process.env.BENCH_SIZES_MB ?? '256,1024').split(',').map(Number);
const rssMiB = Number(process.env.BENCH_RSS_MB ?? 2048);

const cluster = await startCluster({ env: { DEOSS_CACHE_BYTES: String(8 * 1024 * MiB) } });
const alice = await accountFromSuri(cluster.user.suri);
const baseline = await startBaseline();

try {
  for (const mb of sizes) {
    const path = await randomFile(join(cluster.home, `bench-${mb}.bin`), mb * MiB);
    const bytes = mb * MiB;
    let t = performance.now();
    await baselineUpload(baseline, path);
    line('upload', 'node:http-baseline', mb, bytes, t);
    t = performance.now();
    const fid = await upload(path, `bench-${mb}.bin`);
    line('upload', 'deoss', mb, bytes, t, { ack: 'durable' });
    t = performance.now();
    await waitStored(fid);
    line('upload-until-stored', 'deoss', mb, bytes, t, { note: 'after the durable ack: declaration, dispatch of 12 columns, reports' });
    t = performance.now();
    await download(`${baseline.url}/file?path=${encodeURIComponent(path)}`);
    line('download', 'node:http-baseline', mb, bytes, t);
    t = performance.now();
    await download(`${cluster.origin.url}/file/download/${fid}`);
    line('download-from-cache', 'deoss', mb, bytes, t);
    await rm(join(cluster.home, 'cache', fid), { recursive: true, force: true });
    t = performance.now();
    await download(`${cluster.origin.url}/file/download/${fid}`);
    line('download-from-nodes', 'deoss', mb, bytes, t);
    await rm(path);
  }
  // Peak RSS of the origin process while it takes a large upload (its own counter, VmHWM, reset by a restart).
  const origin = await cluster.restartOrigin();
  const path = await randomFile(join(cluster.home, 'rss.bin'), rssMiB * MiB);
  const t = performance.now();
  await upload(path, 'rss.bin');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${origin.pid}/status`, 'utf8'))?.[1];
  line('upload-peak-rss', 'deoss', rssMiB, rssMiB * MiB, t, { peakRssMB: Math.round(Number(hwm) / 1024) });
} finally {
  baseline.server.close();
  await cluster.close();
}

function line(bench: string, impl: string, mb: number, bytes: number, t0: number, extra: Record<string, unknown> = {}) {
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ bench: `${bench}-${mb}MiB`, impl, MBps: Math.round(bytes / 1e6 / seconds), seconds: Math.round(seconds * 100) / 100, ...extra }));
}

async function randomFile(path: string, size: number): Promise<string> {
  const file = await open(path, 'w');
  const block = randomBytes(16 * MiB);
  for (let at = 0; at < size; at += block.length) {
    block[0] ^= 1; // no two blocks alike (dedup must not flatter the numbers)
    await file.write(block, 0, Math.min(block.length, size - at));
  }
  await file.close();
  return path;
}

async function upload(path: string, name: string): Promise<string> {
  const { size } = await stat(path);
  const boundary = `bench${randomBytes(6).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const { status, body } = await send(`${cluster.origin.url}/file`, path, head, tail, {
    ...signHeaders(alice),
    'Content-Type': `multipart/form-data; boundary=${boundary}`,
    'Content-Length': String(head.length + size + tail.length),
    Territory: cluster.user.territory,
  });
  const json = JSON.parse(body) as { data?: { fid: string }; msg: string };
  if (status !== 200 || !json.data) throw new Error(`upload failed: ${status} ${json.msg}`);
  return json.data.fid;
}

/** PUTs head ‖ file ‖ tail with node:http (the client must not be the bottleneck being measured). */
function send(url: string, path: string, head: Buffer, tail: Buffer, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'PUT', headers }, async (res) => {
      let body = '';
      for await (const c of res) body += c;
      resolve({ status: res.statusCode!, body });
    });
    req.on('error', reject);
    req.write(head);
    const file = createReadStream(path, { highWaterMark: MiB });
    file.on('data', (c) => {
      if (!req.write(c)) {
        file.pause();
        req.once('drain', () => file.resume());
      }
    });
    file.on('end', () => req.end(tail));
    file.on('error', reject);
  });
}

async function waitStored(fid: string): Promise<void> {
  for (;;) {
    const { data } = (await (await fetch(`${cluster.origin.url}/file/state/${fid}`)).json()) as { data: { state: string; lastError?: string } };
    if (data.state === 'stored') return;
    if (data.state === 'failed') throw new Error(`upload failed: ${data.lastError}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function download(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpGet(url, async (res) => {
      if (res.statusCode !== 200) return reject(new Error(`download failed: ${res.statusCode}`));
      let n = 0;
      for await (const chunk of res) n += (chunk as Buffer).length;
      resolve(n);
    }).on('error', reject);
  });
}

/** The ceiling: a Node HTTP server that discards uploads and streams files from disk. */
async function startBaseline() {
  const server = createServer(async (req, res) => {
    if (req.method === 'PUT') {
      for await (const _ of req) {
        /* discard */
      }
      res.end('{}');
    } else {
      const path = new URL(req.url!, 'http://x').searchParams.get('path')!;
      res.writeHead(200, { 'Content-Length': String((await stat(path)).size) });
      createReadStream(path, { highWaterMark: MiB }).pipe(res);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function baselineUpload(b: { url: string }, path: string): Promise<void> {
  const { size } = await stat(path);
  await send(`${b.url}/upload`, path, Buffer.alloc(0), Buffer.alloc(0), { 'Content-Length': String(size) });
}
