import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHeaders } from '../../origin/src/auth/signed-message.ts';
import { accountFromSuri, type Account } from '../../origin/src/chain/accounts.ts';
import { startCluster, type Cluster, type ClusterProcess } from '../support/cluster.ts';

// Three origins (separate processes, their own homes and caches, one shared local chain, libp2p over loopback TCP)
// in front of 12 storage nodes: A and B with caches, C with caching off (so it never holds what it serves),
// plus misbehaving peers started per test.
const MiB = 1024 * 1024;
// C's limits: short enough to show a hanging peer cut off far inside the deadline, long enough that a loaded CI
// machine does not cut off the lying peer's 32 MiB before it could be checked.
const STALL_MS = 5000;
const DEADLINE_MS = 20_000;
let cluster: Cluster;
let alice: Account;
let A: ClusterProcess;
let B: ClusterProcess;
let C: ClusterProcess;
const rogues: ChildProcess[] = [];

beforeAll(async () => {
  // A and B get generous limits so that a loaded CI machine cannot turn a peer read into a storage-node read.
  cluster = await startCluster({ env: { DEOSS_P2P_STALL_MS: '10000', DEOSS_P2P_DEADLINE_MS: '60000' } });
  A = cluster.origin;
  B = await cluster.addOrigin();
  C = await cluster.addOrigin({ DEOSS_CACHE: 'off', DEOSS_P2P_STALL_MS: String(STALL_MS), DEOSS_P2P_DEADLINE_MS: String(DEADLINE_MS) });
  alice = await accountFromSuri(cluster.user.suri);
  await until('B and C to connect to A', async () => (await metric(B, 'deoss_origin_peers_connected')) >= 1 && (await metric(C, 'deoss_origin_peers_connected')) >= 1);
}, 300_000);

afterAll(async () => {
  for (const r of rogues) if (r.exitCode === null) r.kill('SIGTERM');
  await cluster?.close();
});

async function upload(origin: ClusterProcess, body: Uint8Array, name: string): Promise<string> {
  const boundary = `b${randomBytes(8).toString('hex')}`;
  const res = await fetch(`${origin.url}/file`, {
    method: 'PUT',
    body: Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n\r\n`),
      body,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
    headers: { ...signHeaders(alice), 'Content-Type': `multipart/form-data; boundary=${boundary}`, Territory: cluster.user.territory },
  });
  const json = (await res.json()) as { data: { fid: string } };
  expect(res.status).toBe(200);
  const fid = json.data.fid;
  await until(`${name} to be stored`, async () => {
    const { data } = (await (await fetch(`${origin.url}/file/state/${fid}`)).json()) as { data?: { state: string; lastError?: string } };
    if (data?.state === 'failed') throw new Error(`upload failed: ${data.lastError}`);
    return data?.state === 'stored';
  }, 90_000);
  return fid;
}

async function download(origin: ClusterProcess, fid: string): Promise<Buffer> {
  const res = await fetch(`${origin.url}/file/download/${fid}`);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

async function metric(p: { url: string }, name: string): Promise<number> {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ').pop()) : NaN;
}

/** Fragment reads served by all 12 storage nodes, from their own counters. */
async function storageNodeReads(): Promise<number> {
  const counts = await Promise.all(cluster.nodes.map((n) => metric(n, 'deoss_storage_node_fragment_gets_total')));
  return counts.reduce((a, b) => a + b, 0);
}

async function until(what: string, f: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts a misbehaving peer that joins through C and claims to hold every segment of `fid`. */
async function rogue(mode: 'lie' | 'hang', fid: string, segments: number): Promise<{ peerId: string }> {
  const script = fileURLToPath(new URL('../support/rogue-peer.ts', import.meta.url));
  const args = [script, '--mode', mode, '--bootstrap', C.p2p!.addresses[0], '--fid', fid, '--segments', String(segments), '--dir', join(cluster.home, `rogue-${mode}`)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  rogues.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`rogue peer exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
  });
}

describe('origins peering over libp2p (separate processes, real TCP)', () => {
  it('serves a file uploaded through A to a download through B from A\'s cache, with zero storage-node reads', async () => {
    expect(A.p2p?.peerId).toMatch(/^12D3KooW/);
    const file = randomBytes(80 * MiB + 123); // 3 segments
    const fid = await upload(A, file, 'peered.bin');
    // A's cache adopted the stored segments and announced them; B's index learns them over gossipsub.
    await until('B to learn that A holds the 3 segments', async () => (await metric(B, 'deoss_origin_peer_index_entries')) >= 3);
    const nodeReadsBefore = await storageNodeReads();
    const bFragmentsBefore = (await metric(B, 'deoss_origin_fragment_fetches_total{result="ok"}')) + (await metric(B, 'deoss_origin_fragment_fetches_total{result="failed"}'));
    const aServedBefore = await metric(A, 'deoss_origin_peer_served_total{result="ok"}');

    expect((await download(B, fid)).equals(file)).toBe(true);

    expect(await storageNodeReads()).toBe(nodeReadsBefore);
    expect((await metric(B, 'deoss_origin_fragment_fetches_total{result="ok"}')) + (await metric(B, 'deoss_origin_fragment_fetches_total{result="failed"}'))).toBe(bFragmentsBefore);
    expect(await metric(B, 'deoss_origin_segments_served_total{source="peers"}')).toBe(3);
    expect(await metric(B, 'deoss_origin_segments_served_total{source="storage-nodes"}')).toBe(0);
    expect(await metric(B, 'deoss_origin_peer_fetches_total{result="ok"}')).toBe(3);
    await until('A to count 3 segments served', async () => (await metric(A, 'deoss_origin_peer_served_total{result="ok"}')) === aServedBefore + 3);
    // The network warms itself: what B downloaded entered B's cache and B now announces it too.
    await until('B to announce the 3 segments', async () => (await metric(B, 'deoss_origin_peer_announced_segments')) >= 3);
    await until('C to learn that A and B both hold them', async () => (await metric(C, 'deoss_origin_peer_index_entries')) === 6);
  });

  it('detects a peer that sends wrong bytes, bypasses it and serves the right bytes from storage nodes', async () => {
    const file = randomBytes(40 * MiB); // 2 segments
    const fid = await upload(C, file, 'lied-about.bin');
    // C keeps no cache, so the liar is the only peer claiming to hold this file.
    expect(await metric(C, 'deoss_origin_peer_announced_segments')).toBe(0);
    const entriesBefore = await metric(C, 'deoss_origin_peer_index_entries');
    await rogue('lie', fid, 2);
    await until('C to learn the liar\'s claim', async () => (await metric(C, 'deoss_origin_peer_index_entries')) >= entriesBefore + 2);
    const badBefore = await metric(C, 'deoss_origin_peer_fetches_total{result="bad-hash"}');
    const fromNodesBefore = await metric(C, 'deoss_origin_segments_served_total{source="storage-nodes"}');

    expect((await download(C, fid)).equals(file)).toBe(true);

    expect(await metric(C, 'deoss_origin_peer_fetches_total{result="bad-hash"}')).toBeGreaterThan(badBefore);
    expect(await metric(C, 'deoss_origin_segments_served_total{source="storage-nodes"}')).toBe(fromNodesBefore + 2);
    expect(await metric(C, 'deoss_origin_segments_served_total{source="peers"}')).toBe(0);
  });

  it('does not let a peer that hangs delay a download past its deadline', async () => {
    const file = randomBytes(10 * MiB); // 1 segment
    const fid = await upload(C, file, 'hung.bin');
    // Baseline: the same download with nobody claiming the file (straight to storage nodes).
    let t = performance.now();
    expect((await download(C, fid)).equals(file)).toBe(true);
    const baselineMs = performance.now() - t;

    const entriesBefore = await metric(C, 'deoss_origin_peer_index_entries');
    await rogue('hang', fid, 1);
    await until('C to learn the hanging peer\'s claim', async () => (await metric(C, 'deoss_origin_peer_index_entries')) >= entriesBefore + 1);
    const timeoutsBefore = await metric(C, 'deoss_origin_peer_fetches_total{result="timeout"}');
    t = performance.now();
    expect((await download(C, fid)).equals(file)).toBe(true);
    const hungMs = performance.now() - t;

    // The hanging peer was asked (the download waited its stall limit out), then dropped, far inside the deadline.
    expect(await metric(C, 'deoss_origin_peer_fetches_total{result="timeout"}')).toBe(timeoutsBefore + 1);
    expect(hungMs).toBeGreaterThan(STALL_MS * 0.95);
    expect(hungMs).toBeLessThan(baselineMs + DEADLINE_MS);
  });
});
