/**
 * Reed-Solomon 4+8 codec benchmark: `npm run bench:codec [-- --rounds N] [-- --filter TEXT]`.
 *
 * Prints one JSON line per (case, implementation) to stdout:
 *   {"bench","impl","MBps","shardBytes","rounds","min","max","bytes"}
 * MBps is the median over rounds (MB = 10^6 bytes), min/max the slowest/fastest round, `bytes`
 * the bytes counted per operation. One thread. All implementations run interleaved in the same
 * process: a warm-up round first, then every round runs every task once in an order rotated by
 * one each round, with a forced GC between rounds.
 *
 * Implementations: "deoss" (wasm/erasure.wasm, SIMD kernel), "deoss-scalar" (same module, scalar
 * table kernel) and the oracle "@digitaldefiance/reed-solomon-erasure.wasm" (Rust, scalar).
 *
 * Cases (32 MiB segment = 4 data shards of 8 MiB, 8 parity shards):
 *   encode-4+8                    copying API: data shards in JS memory → 8 parity shards in JS
 *                                 memory (includes the copies in and out of wasm); counts the
 *                                 32 MiB of segment input.
 *   encode-4+8-workspace          zero-copy: segment already in wasm memory, parity written there.
 *   reconstruct-4+8-worst         all 4 data shards lost, rebuilt from 4 parity shards (data only)
 *                                 with the copying API, which allocates the rebuilt shards;
 *                                 counts the 32 MiB rebuilt.
 *   reconstruct-4+8-worst-pooled  the same into caller-owned reused buffers (`opts.present`).
 *   reconstruct-4+8-worst-workspace  the same in place in a workspace (zero-copy).
 *   reconstruct-4+8-one           data shard 1 lost, rebuilt from the first 4 present shards
 *                                 (copying API, allocating); counts the 8 MiB rebuilt.
 *   reconstruct-4+8-one-pooled    the same into a reused buffer.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { ReedSolomonErasure } from '@digitaldefiance/reed-solomon-erasure.wasm';
import type { ErasureWorkspace, ReedSolomon } from '../wasm/src/erasure.ts';
import { loadErasureModuleFromDisk } from '../wasm/src/node.ts';
import { loadOracle, randomFill } from '../wasm/src/test-support.ts';

const ORACLE = '@digitaldefiance/reed-solomon-erasure.wasm';
const D = 4;
const P = 8;
const T = D + P;
const SHARD = 8 << 20;
const SEGMENT = D * SHARD;

const argRounds = process.argv.indexOf('--rounds');
const ROUNDS = argRounds > 0 ? Number(process.argv[argRounds + 1]) : 21;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds needs a positive integer');
const argFilter = process.argv.indexOf('--filter');
/** Only run tasks whose "bench impl" contains this text (e.g. --filter 'encode-4+8 deoss'). */
const FILTER = argFilter > 0 ? (process.argv[argFilter + 1] ?? '') : '';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Task {
  bench: string;
  impl: string;
  bytes: number;
  run(): void;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}
function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchmark self-check failed: ${what}`);
}

const mod = await loadErasureModuleFromDisk();
const oracle = loadOracle();

// Inputs (prepared once, outside the timed region).
const data = Array.from({ length: D }, (_, i) => randomFill(new Uint8Array(SHARD), 100 + i));
const encodeShards = (): Uint8Array[] => [...data, ...Array.from({ length: P }, () => new Uint8Array(SHARD))];

// Reference parity (ours, checked against the oracle below).
const simd = mod.createCodec({ dataShards: D, parityShards: P });
const scalar = mod.createCodec({ dataShards: D, parityShards: P, simd: false });
const full = encodeShards();
simd.encode(full);

const oracleBuf = new Uint8Array(T * SHARD);
data.forEach((d, i) => oracleBuf.set(d, i * SHARD));
check(oracle.encode(oracleBuf, D, P) === ReedSolomonErasure.RESULT_OK, 'oracle encode');
for (let i = D; i < T; i++) check(equal(oracleBuf.subarray(i * SHARD, (i + 1) * SHARD), full[i]), `parity ${i} equals the oracle`);

const tasks: Task[] = [];

for (const [impl, codec] of [
  ['deoss', simd],
  ['deoss-scalar', scalar],
] as [string, ReedSolomon][]) {
  const shards = encodeShards();
  tasks.push({ bench: 'encode-4+8', impl, bytes: SEGMENT, run: () => codec.encode(shards) });

  const ws: ErasureWorkspace = codec.workspace(SHARD);
  ws.data().set(Buffer.concat(data));
  tasks.push({ bench: 'encode-4+8-workspace', impl, bytes: SEGMENT, run: () => ws.encode() });

  tasks.push({
    bench: 'reconstruct-4+8-worst',
    impl,
    bytes: SEGMENT,
    run: () => {
      codec.reconstructData([null, null, null, null, ...full.slice(D)]);
    },
  });

  const pooled = full.map((s, i) => (i < D ? new Uint8Array(SHARD) : s));
  const worstPresent = Array.from({ length: T }, (_, i) => i >= D);
  tasks.push({
    bench: 'reconstruct-4+8-worst-pooled',
    impl,
    bytes: SEGMENT,
    run: () => {
      codec.reconstructData(pooled, { present: worstPresent });
    },
  });

  const wsr = codec.workspace(SHARD);
  for (let i = 0; i < T; i++) wsr.shard(i).set(full[i]);
  tasks.push({
    bench: 'reconstruct-4+8-worst-workspace',
    impl,
    bytes: SEGMENT,
    run: () => wsr.reconstruct(worstPresent, { dataOnly: true }),
  });

  tasks.push({
    bench: 'reconstruct-4+8-one',
    impl,
    bytes: SHARD,
    run: () => {
      codec.reconstructData(full.map((s, i) => (i === 1 ? null : s)));
    },
  });

  const pooledOne = full.map((s, i) => (i === 1 ? new Uint8Array(SHARD) : s));
  const onePresent = Array.from({ length: T }, (_, i) => i !== 1);
  tasks.push({
    bench: 'reconstruct-4+8-one-pooled',
    impl,
    bytes: SHARD,
    run: () => {
      codec.reconstructData(pooledOne, { present: onePresent });
    },
  });

  // Self-checks of what is being timed.
  const worst = codec.reconstructData([null, null, null, null, ...full.slice(D)]);
  for (let i = 0; i < D; i++) check(equal(worst[i] as Uint8Array, data[i]), `${impl} worst-case shard ${i}`);
  wsr.reconstruct(worstPresent, { dataOnly: true });
  for (let i = 0; i < D; i++) check(equal(wsr.shard(i), data[i]), `${impl} workspace worst-case shard ${i}`);
  const one = codec.reconstructData(full.map((s, i) => (i === 1 ? null : s)));
  check(equal(one[1] as Uint8Array, data[1]), `${impl} one-lost`);
  codec.reconstructData(pooled, { present: worstPresent });
  for (let i = 0; i < D; i++) check(equal(pooled[i], data[i]), `${impl} pooled worst-case shard ${i}`);
  codec.reconstructData(pooledOne, { present: onePresent });
  check(equal(pooledOne[1], data[1]), `${impl} pooled one-lost`);
  codec.encode(shards);
  for (let i = D; i < T; i++) check(equal(shards[i], full[i]), `${impl} encode parity ${i}`);
  ws.encode();
  for (let i = D; i < T; i++) check(equal(ws.shard(i), full[i]), `${impl} workspace parity ${i}`);
}

// Oracle: its API takes one contiguous buffer and copies it in and out of its own wasm memory.
{
  const encBuf = new Uint8Array(T * SHARD);
  data.forEach((d, i) => encBuf.set(d, i * SHARD));
  tasks.push({ bench: 'encode-4+8', impl: ORACLE, bytes: SEGMENT, run: () => void oracle.encode(encBuf, D, P) });

  const worstBuf = new Uint8Array(T * SHARD);
  const worstAvail = Array.from({ length: T }, (_, i) => i >= D);
  const oneBuf = new Uint8Array(T * SHARD);
  const oneAvail = Array.from({ length: T }, (_, i) => i !== 1);
  const prepare = () => {
    worstBuf.set(oracleBuf);
    worstBuf.fill(0, 0, D * SHARD);
    oneBuf.set(oracleBuf);
    oneBuf.fill(0, SHARD, 2 * SHARD);
  };
  prepare();
  tasks.push({
    bench: 'reconstruct-4+8-worst',
    impl: ORACLE,
    bytes: SEGMENT,
    run: () => void oracle.reconstruct(worstBuf, D, P, worstAvail),
  });
  tasks.push({
    bench: 'reconstruct-4+8-one',
    impl: ORACLE,
    bytes: SHARD,
    run: () => void oracle.reconstruct(oneBuf, D, P, oneAvail),
  });
  check(oracle.reconstruct(worstBuf, D, P, worstAvail) === ReedSolomonErasure.RESULT_OK, 'oracle worst');
  for (let i = 0; i < D; i++) check(equal(worstBuf.subarray(i * SHARD, (i + 1) * SHARD), data[i]), `oracle worst shard ${i}`);
  check(oracle.reconstruct(oneBuf, D, P, oneAvail) === ReedSolomonErasure.RESULT_OK, 'oracle one');
  check(equal(oneBuf.subarray(SHARD, 2 * SHARD), data[1]), 'oracle one-lost');
  // (The buffers now hold the rebuilt data; rebuilding again does the same work.)
}

if (FILTER) tasks.splice(0, tasks.length, ...tasks.filter((t) => `${t.bench} ${t.impl}`.includes(FILTER)));
if (tasks.length === 0) throw new Error(`--filter ${FILTER} matches no task`);
const samples = new Map<Task, number[]>(tasks.map((t) => [t, []]));
const started = performance.now();
for (let round = -1; round < ROUNDS; round++) {
  gc();
  for (let k = 0; k < tasks.length; k++) {
    const task = tasks[(k + Math.max(round, 0)) % tasks.length];
    const t0 = performance.now();
    task.run();
    const ms = performance.now() - t0;
    if (round >= 0) samples.get(task)!.push(task.bytes / 1e6 / (ms / 1e3));
  }
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const results = new Map<string, number>();
const order = [...new Set(tasks.map((t) => t.bench))];
for (const bench of order) {
  for (const task of tasks.filter((t) => t.bench === bench)) {
    const v = samples.get(task)!;
    const mbps = Math.round(median(v));
    results.set(`${bench}|${task.impl}`, mbps);
    console.log(
      JSON.stringify({
        bench,
        impl: task.impl,
        MBps: mbps,
        shardBytes: SHARD,
        rounds: v.length,
        min: Math.round(Math.min(...v)),
        max: Math.round(Math.max(...v)),
        bytes: task.bytes,
      }),
    );
  }
}
const ratio = (bench: string, a: string, b: string) => {
  const x = results.get(`${bench}|${a}`);
  const y = results.get(`${bench}|${b}`);
  return x && y ? (x / y).toFixed(1) : 'n/a';
};
/** deoss on case `ours` against the oracle on case `theirs`. */
const ratioX = (ours: string, theirs: string) => {
  const x = results.get(`${ours}|deoss`);
  const y = results.get(`${theirs}|${ORACLE}`);
  return x && y ? (x / y).toFixed(1) : 'n/a';
};
console.error(
  `codec bench: ${ROUNDS} rounds in ${((performance.now() - started) / 1e3).toFixed(1)} s; deoss vs oracle: ` +
    `encode ${ratio('encode-4+8', 'deoss', ORACLE)}×; worst allocating ${ratio('reconstruct-4+8-worst', 'deoss', ORACLE)}×, ` +
    `pooled ${ratioX('reconstruct-4+8-worst-pooled', 'reconstruct-4+8-worst')}×; ` +
    `one allocating ${ratio('reconstruct-4+8-one', 'deoss', ORACLE)}×, pooled ${ratioX('reconstruct-4+8-one-pooled', 'reconstruct-4+8-one')}× ` +
    `(the oracle writes into a caller buffer, like the pooled cases)`,
);
