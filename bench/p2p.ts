/**
 * Download MB/s of a file served by a peer origin's cache over libp2p, against the same file rebuilt from storage
 * nodes, in the same run (real processes, real TCP, 12 storage nodes): origin A holds the file in its cache; origin
 * B (no cache of its own, peering on) must fetch every segment from A; origin C (no cache, peering off) must read
 * fragments from storage nodes. A's own cache is the local ceiling. Rounds are interleaved (bench/lib.ts), and every
 * run checks from the origins' metrics that its bytes came from where it claims.
 * `npm run bench:p2p` (BENCH_SIZE_MB=256, BENCH_ROUNDS=3). Prints one JSON line per case.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { get as httpGet, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { signHeaders } from '../origin/src/auth/signed-message.ts';
import { accountFromSuri } from '../origin/src/chain/accounts.ts';
import { SEGMENT_SIZE } from '../origin/src/pipeline/constants.ts';
import { startCluster, type ClusterProcess } from '../test/support/cluster.ts';
import { envInt, runInterleaved } from './lib.ts';

const MiB = 1024 * 1024;
const sizeMB = envInt('BENCH_SIZE_MB', 256);
const rounds = envInt('BENCH_ROUNDS', 3);
const bytes = sizeMB * MiB;
const segments = Math.ceil(bytes / SEGMENT_SIZE);

// A generous stall limit on every origin: on a busy shared machine a 2 s pause of either side must not turn a peer
// run into a storage-node run.
const cluster = await startCluster({ env: { DEOSS_P2P_STALL_MS: '10000' } });
try {
  const A = cluster.origin;
  const B = await cluster.addOrigin({ DEOSS_CACHE: 'off' });
  const C = await cluster.addOrigin({ DEOSS_CACHE: 'off', DEOSS_P2P: 'off' });
  const alice = await accountFromSuri(cluster.user.suri);
  const path = await randomFile(join(cluster.home, 'bench-p2p.bin'), bytes);
  const fid = await upload(A, path, alice);
  await until(async () => (await metric(B, 'deoss_origin_peer_index_entries')) >= segments, 'B to learn what A holds');

  /** Downloads through `origin` and checks that `segments` more segments came from `source`. */
  const via = (origin: ClusterProcess, source: string) => async () => {
    const name = `deoss_origin_segments_served_total{source="${source}"}`;
    const before = await metric(origin, name);
    const got = await download(`${origin.url}/file/download/${fid}`);
    if (got !== bytes) throw new Error(`download through ${origin.url} returned ${got} bytes, not ${bytes}`);
    const after = await metric(origin, name);
    if (after - before < segments) {
      const peerLines = (await (await fetch(`${origin.url}/metrics`)).text()).split('\n').filter((l) => /peer_fetches|segments_served/.test(l));
      throw new Error(`expected ${segments} segments from ${source} through ${origin.url}, got ${after - before}:\n${peerLines.join('\n')}`);
    }
  };
  const extra = { sizeMB, segments, note: 'origins, storage nodes and client share one 2-core machine' };
  await runInterleaved(
    [
      { bench: `download-${sizeMB}MiB`, impl: 'peer-cache-over-libp2p', bytes, run: via(B, 'peers'), extra },
      { bench: `download-${sizeMB}MiB`, impl: 'storage-nodes', bytes, run: via(C, 'storage-nodes'), extra },
      { bench: `download-${sizeMB}MiB`, impl: 'local-cache', bytes, run: via(A, 'cache'), extra },
    ],
    rounds,
  );
} finally {
  await cluster.close();
}

async function randomFile(path: string, size: number): Promise<string> {
  const file = await open(path, 'w');
  const block = randomBytes(16 * MiB);
  for (let at = 0; at < size; at += block.length) {
    block[0] ^= 1; // no two blocks alike
    await file.write(block, 0, Math.min(block.length, size - at));
  }
  await file.close();
  return path;
}

async function upload(origin: ClusterProcess, path: string, signer: Awaited<ReturnType<typeof accountFromSuri>>): Promise<string> {
  const { size } = await stat(path);
  const boundary = `bench${randomBytes(6).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench-p2p.bin"\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const body = await new Promise<string>((resolve, reject) => {
    const req = httpRequest(
      `${origin.url}/file`,
      {
        method: 'PUT',
        headers: {
          ...signHeaders(signer),
          'Content-Type': `multipart/form-data; boundary=${boundary}`,
          'Content-Length': String(head.length + size + tail.length),
          Territory: cluster.user.territory,
        },
      },
      async (res) => {
        let text = '';
        for await (const c of res) text += c;
        resolve(text);
      },
    );
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
  const fid = (JSON.parse(body) as { data?: { fid: string } }).data?.fid;
  if (!fid) throw new Error(`upload failed: ${body}`);
  await until(async () => {
    const { data } = (await (await fetch(`${origin.url}/file/state/${fid}`)).json()) as { data: { state: string; lastError?: string } };
    if (data.state === 'failed') throw new Error(`upload failed: ${data.lastError}`);
    return data.state === 'stored';
  }, 'the upload to be stored', 600_000);
  return fid;
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

async function metric(p: { url: string }, name: string): Promise<number> {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ').pop()) : NaN;
}

async function until(f: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
