import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEGMENT_SIZE } from '../pipeline/constants.ts';
import { Libp2pSegmentPeers, type Libp2pPeersOptions } from './libp2p-peers.ts';
import { encodeResponseHeader, REQUEST_BYTES, SEGMENT_PROTOCOL, Status } from './segment-protocol.ts';
import { StreamReader } from './stream-reader.ts';

// Real libp2p nodes in this process, talking over loopback TCP.
let dir: string;
const nodes: Libp2pSegmentPeers[] = [];
const segment = randomBytes(SEGMENT_SIZE);
const hash = createHash('sha256').update(segment).digest('hex');
const fid = createHash('sha256').update('fid').digest('hex');
const key = { fid, index: 0 };
let segmentPath: string;
let wrongPath: string;

async function peer(name: string, overrides: Partial<Libp2pPeersOptions> = {}): Promise<Libp2pSegmentPeers> {
  const node = await Libp2pSegmentPeers.start({
    keyPath: join(dir, name, 'peer.key'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [],
    allow: [],
    deny: [],
    maxConnections: 16,
    parallel: 2,
    deadlineMs: 10_000,
    stallMs: 1000,
    serveRatePerMinute: 600,
    serveConcurrentPerPeer: 4,
    serveConcurrent: 16,
    indexMaxEntries: 1000,
    indexMaxHoldersPerSegment: 8,
    announceIntervalMs: 60_000,
    banMs: 60_000,
    source: () => undefined,
    ...overrides,
  });
  nodes.push(node);
  return node;
}

async function until<T>(what: string, f: () => T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deoss-p2p-'));
  segmentPath = join(dir, 'segment');
  wrongPath = join(dir, 'wrong');
  await writeFile(segmentPath, segment);
  const wrong = Buffer.from(segment);
  wrong[SEGMENT_SIZE - 1] ^= 1;
  await writeFile(wrongPath, wrong);
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('Libp2pSegmentPeers (in-process nodes, loopback TCP)', () => {
  it('keeps its peer id across restarts (persistent key)', async () => {
    const first = await peer('persist');
    const id = first.peerId;
    await first.close();
    const again = await peer('persist');
    expect(again.peerId).toBe(id);
  });

  it('learns holders from announcements and fetches verified bytes from them', async () => {
    const a = await peer('a', { source: (f, i) => (f === fid && i === 0 ? segmentPath : undefined) });
    const b = await peer('b', { bootstrap: [a.addresses[0]] });
    a.announce([key]);
    await until('b to learn that a holds the segment', () => b.holders(key).includes(a.peerId));
    const bytes = await b.fetch({ ...key, hash });
    expect(bytes && Buffer.from(bytes).equals(segment)).toBe(true);
    expect(b.stats().fetches.ok).toBe(1);
    expect(b.stats().fetchedBytes).toBe(SEGMENT_SIZE);
    // The server counts a request once its side of the stream is closed.
    await until('a to count the request served', () => a.stats().served.ok === 1);
    expect(a.stats().servedBytes).toBe(SEGMENT_SIZE);

    // A range is verified against the hash of exactly those bytes (a data fragment's hash for a quarter).
    const quarter = SEGMENT_SIZE / 4;
    const part = segment.subarray(quarter, 2 * quarter);
    const got = await b.fetch({ ...key, offset: quarter, length: quarter, hash: createHash('sha256').update(part).digest('hex') });
    expect(got && Buffer.from(got).equals(part)).toBe(true);

    // Withdrawn: b stops asking a.
    a.withdraw([key]);
    await until('b to drop a as a holder', () => !b.holders(key).includes(a.peerId));
    expect(await b.fetch({ ...key, hash })).toBeUndefined();
  });

  it('detects a lying peer, bans it and still gets the bytes from an honest one', async () => {
    const liar = await peer('liar', { source: () => wrongPath });
    const c = await peer('c', { bootstrap: [liar.addresses[0]], parallel: 1 });
    liar.announce([key]);
    await until('c to learn the liar', () => c.holders(key).includes(liar.peerId));
    // Only the liar holds it: its bytes fail verification and are never returned.
    expect(await c.fetch({ ...key, hash })).toBeUndefined();
    expect(c.stats().fetches['bad-hash']).toBe(1);
    expect(c.holders(key)).not.toContain(liar.peerId);

    // Liar and honest peer together: the answer is the honest bytes whichever is asked first.
    const honest = await peer('honest', { source: () => segmentPath, bootstrap: [liar.addresses[0]] });
    const d = await peer('d', { bootstrap: [liar.addresses[0], honest.addresses[0]], parallel: 1 });
    liar.announce([{ fid, index: 1 }]);
    honest.announce([{ fid, index: 1 }]);
    await until('d to learn both holders', () => d.holders({ fid, index: 1 }).length === 2);
    const bytes = await d.fetch({ fid, index: 1, hash });
    expect(bytes && Buffer.from(bytes).equals(segment)).toBe(true);
  });

  it('gives up on a peer that hangs after its stall limit, well within the deadline', async () => {
    const hanger = await peer('hanger');
    await hanger.node.unhandle(SEGMENT_PROTOCOL);
    // Accepts the stream, never answers.
    await hanger.node.handle(SEGMENT_PROTOCOL, (stream) => new Promise<void>((r) => stream.addEventListener('close', () => r())));
    const e = await peer('e', { bootstrap: [hanger.addresses[0]], stallMs: 500, deadlineMs: 5000 });
    hanger.announce([key]);
    await until('e to learn the hanger', () => e.holders(key).includes(hanger.peerId));
    const t0 = performance.now();
    expect(await e.fetch({ ...key, hash })).toBeUndefined();
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(450);
    expect(ms).toBeLessThan(2000);
    expect(e.stats().fetches.timeout).toBe(1);
    // The caller giving up first: the fetch rejects with the caller's reason, and the peer is not blamed.
    await expect(e.fetch({ ...key, hash }, AbortSignal.timeout(100))).rejects.toThrow(/timeout|abort/i);
    expect(e.stats().fetches.timeout).toBe(1);
  });

  it('treats a transfer that breaks off as a failure, not a lie: asked once more, not banned', async () => {
    const cutter = await peer('cutter');
    await cutter.node.unhandle(SEGMENT_PROTOCOL);
    let requests = 0;
    // Offers the whole segment, sends 1 MiB of it, and closes its side cleanly.
    await cutter.node.handle(SEGMENT_PROTOCOL, async (stream) => {
      requests++;
      await new StreamReader(stream, { stallMs: 1000 }).exactly(REQUEST_BYTES);
      stream.send(encodeResponseHeader(Status.OK, SEGMENT_SIZE));
      stream.send(segment.subarray(0, 1024 * 1024));
      await stream.close();
    });
    const j = await peer('j', { bootstrap: [cutter.addresses[0]] });
    cutter.announce([key]);
    await until('j to learn the cutter', () => j.holders(key).includes(cutter.peerId));
    expect(await j.fetch({ ...key, hash })).toBeUndefined();
    expect(requests).toBe(2);
    expect(j.stats().fetches.failed).toBe(2);
    expect(j.stats().fetches['bad-hash']).toBe(0);
    expect(j.holders(key)).toContain(cutter.peerId);
  });

  it('answers not-found from its own cache only, and busy beyond its rate limit', async () => {
    let asked = 0;
    const f = await peer('f', {
      serveRatePerMinute: 2,
      source: (_fid, index) => {
        asked++;
        return index === 0 ? segmentPath : undefined;
      },
    });
    const g = await peer('g', { bootstrap: [f.addresses[0]] });
    f.announce([key, { fid, index: 5 }]);
    await until('g to learn f', () => g.holders({ fid, index: 5 }).includes(f.peerId));
    // f claims index 5 but its cache does not have it: not-found, no fetch on g's behalf.
    expect(await g.fetch({ fid, index: 5, hash })).toBeUndefined();
    expect(g.stats().fetches['not-found']).toBe(1);
    expect(f.stats().served['not-found']).toBe(1);
    expect(asked).toBe(1);
    expect(g.holders({ fid, index: 5 })).not.toContain(f.peerId);
    // Second request of the minute is served; the third is over the limit.
    expect(await g.fetch({ ...key, hash })).toBeDefined();
    expect(await g.fetch({ ...key, hash })).toBeUndefined();
    expect(g.stats().fetches.busy).toBe(1);
    expect(f.stats().served.busy).toBe(1);
  });

  it('refuses connections from denied peers, and admits only allowed ones when there is an allow list', async () => {
    const outcast = await peer('outcast', { source: () => segmentPath });
    const h = await peer('h', { deny: [outcast.peerId] });
    // h refuses to dial the outcast, and drops the outcast's inbound connection once Noise proves who it is.
    await expect(h.node.dial(outcast.node.getMultiaddrs()[0])).rejects.toThrow();
    await outcast.node.dial(h.node.getMultiaddrs()[0]).catch(() => undefined);
    await until('the outcast to be disconnected', () => outcast.node.getConnections(h.node.peerId).length === 0 && h.node.getConnections().length === 0);
    const allowOnly = await peer('allow-only', { allow: [h.peerId] });
    await outcast.node.dial(allowOnly.node.getMultiaddrs()[0]).catch(() => undefined);
    await h.node.dial(allowOnly.node.getMultiaddrs()[0]);
    await until('only h to be connected', () => allowOnly.node.getConnections().length === 1 && outcast.node.getConnections(allowOnly.node.peerId).length === 0);
    expect(allowOnly.node.getConnections()[0].remotePeer.toString()).toBe(h.peerId);
  });
});
