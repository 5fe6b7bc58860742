/**
 * The upload pipeline (segment → SHA-256 → Reed-Solomon 4+8 → SHA-256 of 12 fragments → FID), ours against the
 * same steps built on the oracle codec package, interleaved in one run; then, in a fresh process, a long streamed
 * run for throughput and peak memory. `npm run bench:pipeline` (BENCH_MB, BENCH_ROUNDS, BENCH_STREAM_MB).
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FRAGMENT_SIZE, SEGMENT_SIZE } from '../origin/src/pipeline/constants.ts';
import { fidFromSegmentHashes } from '../origin/src/pipeline/merkle.ts';
import { digestStream } from '../origin/src/pipeline/pipeline.ts';
import { createSegmentProcessor } from '../origin/src/pipeline/processor.ts';
import { iterableSource } from '../origin/src/pipeline/source.ts';
import { loadOracle } from '../wasm/src/test-support.ts';
import { envInt, runInterleaved } from './lib.ts';

const MiB = 1024 * 1024;

if (process.argv.includes('--memory')) await memoryRun();
else await interleavedRun();

/** The input as a stream of 1 MiB views (no copies), like a socket would deliver it. */
async function* chunks(bytes: Uint8Array) {
  for (let at = 0; at < bytes.length; at += MiB) yield bytes.subarray(at, at + MiB);
}

async function interleavedRun(): Promise<void> {
  const input = randomBytes(envInt('BENCH_MB', 256) * MiB);
  const inline = await createSegmentProcessor({ threads: 0 });
  const pool = await createSegmentProcessor({ threads: 2 });
  const oracle = loadOracle();
  const gcm = { kind: 'aes-256-gcm' as const, key: randomBytes(32) };
  const digest = (processor: typeof inline, cipher?: typeof gcm) => async () =>
    void (await digestStream(iterableSource(chunks(input)), { processor, cipher }));

  /** The same steps with the oracle package's codec, on one core. */
  const oraclePipeline = () => {
    const shards = new Uint8Array(FRAGMENT_SIZE * 12);
    const hashes: string[] = [];
    for (let at = 0; at < input.length; at += SEGMENT_SIZE) {
      shards.fill(0, 0, SEGMENT_SIZE);
      shards.set(input.subarray(at, at + SEGMENT_SIZE));
      hashes.push(createHash('sha256').update(shards.subarray(0, SEGMENT_SIZE)).digest('hex'));
      oracle.encode(shards, 4, 8);
      for (let i = 0; i < 12; i++) createHash('sha256').update(shards.subarray(i * FRAGMENT_SIZE, (i + 1) * FRAGMENT_SIZE)).digest();
    }
    fidFromSegmentHashes(hashes);
  };

  const bytes = input.length;
  await runInterleaved(
    [
      { bench: 'pipeline-1core', impl: 'deoss', bytes, run: digest(inline) },
      { bench: 'pipeline-1core', impl: '@digitaldefiance/reed-solomon-erasure.wasm', bytes, run: oraclePipeline },
      { bench: 'pipeline-2cores', impl: 'deoss', bytes, run: digest(pool) },
      { bench: 'pipeline-1core-aes-256-gcm', impl: 'deoss', bytes, run: digest(inline, gcm) },
      { bench: 'pipeline-2cores-aes-256-gcm', impl: 'deoss', bytes, run: digest(pool, gcm) },
    ],
    envInt('BENCH_ROUNDS', 5),
  );
  await inline.close();
  await pool.close();
  // The memory case runs in a fresh process so its peak RSS is not inflated by the cases above.
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--memory'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (child.status !== 0) throw new Error('memory benchmark failed');
}

/** Streams a large input (one random 1 MiB block repeated) through both cores; reports MB/s and peak RSS. */
async function memoryRun(): Promise<void> {
  const streamMiB = envInt('BENCH_STREAM_MB', 4096);
  const pool = await createSegmentProcessor({ threads: 2 });
  const block = randomBytes(MiB);
  async function* long() {
    for (let i = 0; i < streamMiB; i++) yield block;
  }
  const t0 = performance.now();
  const d = await digestStream(iterableSource(long()), { processor: pool });
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  console.log(
    JSON.stringify({
      bench: 'pipeline-2cores-stream',
      impl: 'deoss',
      MBps: Math.round((streamMiB * MiB) / 1e6 / seconds),
      bytes: streamMiB * MiB,
      segments: d.segments.length,
      // VmHWM, not getrusage's maxrss: the latter can carry the parent's peak across fork+exec.
      peakRssMB: Math.round(Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) / 1024),
    }),
  );
}
