/**
 * A misbehaving origin peer for e2e tests, as a real process on real TCP: it joins the network through a bootstrap
 * address, announces that it holds the given segments, and then either serves wrong bytes (`lie`: the production
 * server, fed a segment-sized file of random bytes) or accepts requests and never answers (`hang`).
 *
 *   node test/support/rogue-peer.ts --mode lie|hang --bootstrap MULTIADDR --fid FID --segments N --dir DIR
 *
 * Prints one JSON line when ready: {"peerId","addresses"}. Runs until SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Libp2pSegmentPeers } from '../../origin/src/p2p/libp2p-peers.ts';
import { SEGMENT_PROTOCOL } from '../../origin/src/p2p/segment-protocol.ts';
import { SEGMENT_SIZE } from '../../origin/src/pipeline/constants.ts';

const { values } = parseArgs({
  options: { mode: { type: 'string' }, bootstrap: { type: 'string' }, fid: { type: 'string' }, segments: { type: 'string' }, dir: { type: 'string' } },
});
const mode = values.mode;
if (mode !== 'lie' && mode !== 'hang') throw new Error('--mode must be lie or hang');
const dir = values.dir!;
await mkdir(dir, { recursive: true });
const wrong = join(dir, 'wrong-segment');
await writeFile(wrong, randomBytes(SEGMENT_SIZE));

const peers = await Libp2pSegmentPeers.start({
  keyPath: join(dir, 'peer.key'),
  listen: ['/ip4/127.0.0.1/tcp/0'],
  bootstrap: [values.bootstrap!],
  allow: [],
  deny: [],
  maxConnections: 16,
  parallel: 1,
  deadlineMs: 10_000,
  stallMs: 60_000,
  serveRatePerMinute: 10_000,
  serveConcurrentPerPeer: 64,
  serveConcurrent: 64,
  indexMaxEntries: 1000,
  indexMaxHoldersPerSegment: 8,
  announceIntervalMs: 2000,
  banMs: 1000,
  // Claims to hold every segment asked for, and answers with the wrong bytes.
  source: () => wrong,
});
if (mode === 'hang') {
  await peers.node.unhandle(SEGMENT_PROTOCOL);
  await peers.node.handle(SEGMENT_PROTOCOL, (stream) => new Promise<void>((done) => stream.addEventListener('close', () => done())));
}
peers.announce(Array.from({ length: Number(values.segments) }, (_, index) => ({ fid: values.fid!, index })));
process.stdout.write(`${JSON.stringify({ peerId: peers.peerId, addresses: peers.addresses })}\n`);
await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
await peers.close();
