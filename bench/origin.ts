/**
 * Upload and download MB/s through an origin with 12 local storage nodes (real processes, real TCP), against a
 * plain Node HTTP server that only moves the same bytes (the ceiling for HTTP on this machine), plus the origin's
 * peak RSS during a large upload. `npm run bench:origin` (BENCH_SIZES_MB=256,1024, BENCH_RSS_MB=2048).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { createReadStream } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { signHeaders } from '../origin/src/auth/signed-message.ts';
import { accountFromSuri } from '../origin/src/chain/accounts.ts';
import { startCluster } from '../test/support/cluster.ts';

const MiB = 1024 * 1024;
const execFileAsync = promisify(execFile);
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
    await download(`${baseline.url}/file?path=${encodeURIComponent(path)}`, bytes);
    line('download', 'node:http-baseline', mb, bytes, t);
    t = performance.now();
    await download(`${cluster.origin.url}/file/download/${fid}`, bytes);
    line('download-from-cache', 'deoss', mb, bytes, t);
    await rm(join(cluster.home, 'cache', fid), { recursive: true, force: true });
    t = performance.now();
    await download(`${cluster.origin.url}/file/download/${fid}`, bytes);
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
  const signed = Object.entries({ ...signHeaders(alice), Territory: cluster.user.territory }).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const body = await curl(['-X', 'PUT', ...signed, '-F', `file=@${path};filename=${name}`, `${cluster.origin.url}/file`]);
  const json = JSON.parse(body) as { data?: { fid: string }; msg: string };
  if (!json.data) throw new Error(`upload failed: ${json.msg}`);
  return json.data.fid;
}

/**
 * The benchmark's client is curl: a Node client reading 1 GB/s costs a core by itself on this machine, which would
 * measure the client, not the server. Fails on any HTTP error.
 */
async function curl(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('curl', ['-sS', '--fail-with-body', '-H', 'Expect:', ...args], { maxBuffer: 1024 * 1024 });
  return stdout;
}

async function waitStored(fid: string): Promise<void> {
  for (;;) {
    const { data } = (await (await fetch(`${cluster.origin.url}/file/state/${fid}`)).json()) as { data: { state: string; lastError?: string } };
    if (data.state === 'stored') return;
    if (data.state === 'failed') throw new Error(`upload failed: ${data.lastError}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function download(url: string, size: number): Promise<void> {
  const got = Number(await curl(['-o', '/dev/null', '-w', '%{size_download}', url]));
  if (got !== size) throw new Error(`download of ${url} gave ${got} bytes, not ${size}`);
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
  await curl(['-T', path, `${b.url}/upload`]);
}
