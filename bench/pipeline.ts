/**
 * The upload pipeline (segment → SHA-256 → Reed-Solomon 4+8 → SHA-256 of 12 fragments → FID), ours against the
 * same steps built on the oracle codec package, interleaved in one run; then a long streamed run for peak memory.
 * `npm run bench:pipeline` (BENCH_MB, BENCH_ROUNDS, BENCH_STREAM_MB shorten or lengthen it).
 */
import { createHash, randomBytes } from 'node:crypto';
import { ReedSolomonErasure } from '@digitaldefiance/reed-solomon-erasure.wasm';
import { digestStream } from '../origin/src/pipeline/pipeline.ts';
import { createSegmentProcessor } from '../origin/src/pipeline/processor.ts';
import { iterableSource } from '../origin/src/pipeline/source.ts';
import { SEGMENT_SIZE, FRAGMENT_SIZE } from '../origin/src/pipeline/constants.ts';
import { fidFromSegmentHashes } from '../origin/src/pipeline/merkle.ts';
import { envInt, runInterleaved } from './lib.ts';

const MiB = 1024 * 1024;
const input = randomBytes(envInt('BENCH_MB', 256) * MiB);
const rounds = envInt('BENCH_ROUNDS', 5);

/** The input as a stream of 1 MiB views (no copies), like a socket would deliver it. */
async function* chunks(bytes: Uint8Array) {
  for (let at = 0; at < bytes.length; at += MiB) yield bytes.subarray(at, at + MiB);
}

const inline = await createSegmentProcessor({ threads: 0 });
const pool = await createSegmentProcessor({ threads: 2 });
const oracle = await ReedSolomonErasure.fromCurrentDirectory();
const gcm = { kind: 'aes-256-gcm' as const, key: randomBytes(32) };

/** The same steps with the oracle package's codec, on one core. */
function oraclePipeline(bytes: Uint8Array): string {
  const shards = new Uint8Array(FRAGMENT_SIZE * 12);
  const hashes: string[] = [];
  for (let at = 0; at < bytes.length; at += SEGMENT_SIZE) {
    shards.fill(0, 0, SEGMENT_SIZE);
    shards.set(bytes.subarray(at, at + SEGMENT_SIZE));
    hashes.push(createHash('sha256').update(shards.subarray(0, SEGMENT_SIZE)).digest('hex'));
    oracle.encode(shards, 4, 8);
    for (let i = 0; i < 12; i++) createHash('sha256').update(shards.subarray(i * FRAGMENT_SIZE, (i + 1) * FRAGMENT_SIZE)).digest();
  }
  return fidFromSegmentHashes(hashes);
}

const bytes = input.length;
await runInterleaved(
  [
    { bench: 'pipeline-1core', impl: 'deoss', bytes, run: async () => void (await digestStream(iterableSource(chunks(input)), { processor: inline })) },
    { bench: 'pipeline-1core', impl: '@digitaldefiance/reed-solomon-erasure.wasm', bytes, run: () => void oraclePipeline(input) },
    { bench: 'pipeline-2cores', impl: 'deoss', bytes, run: async () => void (await digestStream(iterableSource(chunks(input)), { processor: pool })) },
    {
      bench: 'pipeline-1core-aes-256-gcm',
      impl: 'deoss',
      bytes,
      run: async () => void (await digestStream(iterableSource(chunks(input)), { processor: inline, cipher: gcm })),
    },
    {
      bench: 'pipeline-2cores-aes-256-gcm',
      impl: 'deoss',
      bytes,
      run: async () => void (await digestStream(iterableSource(chunks(input)), { processor: pool, cipher: gcm })),
    },
  ],
  rounds,
);
await inline.close();

// Memory bound: stream a large input (one 1 MiB block repeated) through both cores and report peak RSS.
const streamMiB = envInt('BENCH_STREAM_MB', 2048);
const block = randomBytes(MiB);
async function* long() {
  for (let i = 0; i < streamMiB; i++) yield block;
}
const t0 = performance.now();
await digestStream(iterableSource(long()), { processor: pool });
const seconds = (performance.now() - t0) / 1000;
console.log(
  JSON.stringify({
    bench: `pipeline-2cores-stream-${streamMiB}MiB`,
    impl: 'deoss',
    MBps: Math.round((streamMiB * MiB) / 1e6 / seconds),
    bytes: streamMiB * MiB,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    note: 'peak RSS of the whole process, including the input buffer of this benchmark',
  }),
);
await pool.close();
