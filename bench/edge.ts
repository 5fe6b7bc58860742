/**
 * S3 through the edge (→ origin → 12 storage nodes, the whole local stack) against s3rver, a plain single-copy S3
 * server on the local disk, with the same client for all in the same run (curl, requests signed by aws4fetch before
 * the clock starts; bodies uploaded from files written before it): PUT and GET MB/s for 1 MiB and 256 MiB objects,
 * GET again once the edge has the object cached, and the time to first byte of a 1 MiB range of a 1 GiB object. One
 * JSON line per case; every line carries the CPU seconds each process group spent in it, which is where the time
 * goes on this 2-core machine.
 *
 * The edge is exactly what `npm start` runs: the bundle `wrangler deploy` builds, in workerd, the edge port leading
 * straight to the worker (origin/src/cli/edge-workerd.ts), which is how Cloudflare runs it.
 *
 * `npm run bench:edge`. Settings: BENCH_ROUNDS (5), BENCH_SMALL_COUNT (16 objects of 1 MiB per sample),
 * BENCH_LARGE_MB (256), BENCH_RANGE_OBJECT_MB (1024), BENCH_RANGES (8), BENCH_GET_REPEATS (3 cached reads per round),
 * BENCH_SMALL_CONCURRENCY (`1`; e.g. `1,4`: the small cases run once per listed number of requests in flight; 1 is one request
 * after another, 4 is what rclone does by default), BENCH_CASES (`small,large,range`: which groups of cases run), BENCH_TRACE (a file: each curl batch appends one JSON
 * line with its server, method, end time and every request's own milliseconds, to see a batch's spread).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { appendFileSync, createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AwsClient } from 'aws4fetch';
import { freePort, startStack, type RunningStack } from '../test/support/stack.ts';
import { envInt, median } from './lib.ts';

const MiB = 1024 * 1024;
const execFileAsync = promisify(execFile);
const ROUNDS = envInt('BENCH_ROUNDS', 5);
const SMALL_COUNT = envInt('BENCH_SMALL_COUNT', 16);
const LARGE = envInt('BENCH_LARGE_MB', 256) * MiB;
const RANGE_OBJECT = envInt('BENCH_RANGE_OBJECT_MB', 1024) * MiB;
const RANGES = envInt('BENCH_RANGES', 8);
const GET_REPEATS = envInt('BENCH_GET_REPEATS', 3);
const SMALL_CONCURRENCY = (process.env.BENCH_SMALL_CONCURRENCY ?? '1').split(',').map((c) => Number(c.trim()));
/** What the edge target is, for the JSON lines. */
const EDGE_SHAPE = 'npm start: the deployable bundle in workerd, the edge port straight to the worker';
const CASES = new Set((process.env.BENCH_CASES ?? 'small,large,range').split(',').map((c) => c.trim()));
/** The edge's cache segment (workers/src/cdn/object-reader.ts CDN_SEGMENT_SIZE). */
const SEGMENT = 32 * MiB;
/**
 * Objects up to this size are also PUT with `Expect: 100-continue` (the AWS CLI's way), a phase of its own
 * (`put-expect`): locally workerd sends `100 Continue` only once the worker reads the body, after its checks, where
 * Cloudflare's front and s3rver send it at once.
 */
const EXPECT_PHASE_MAX = MiB;
const BUCKET = 'bench';
const CACHE_HEADER = 'x-deoss-cache';
/** Where object bodies wait for curl to upload them. */
const bodyDir = await mkdtemp(join(tmpdir(), 'bench-edge-bodies-'));
/** Random bytes the object bodies are cut from. */
const pool = randomBytes(16 * MiB);

interface Target {
  impl: 'deoss-edge' | 's3rver';
  /** One of our edges (answers x-deoss-cache, stores through the origin). */
  edge: boolean;
  endpoint: string;
  s3: S3Client;
  signed: AwsClient;
}

console.log(JSON.stringify({ bench: 'environment', loadavg: loadavg().map((x) => Math.round(x * 100) / 100), note: 'load average at start' }));
const stack = await startStack();
const s3rver = await startS3rver();
process.once('exit', () => s3rver.process.kill('SIGTERM'));
process.once('SIGINT', () => void stack.stop().finally(() => process.exit(130)));
const groups = processGroups(stack, s3rver.process);
const edges = [target('deoss-edge', stack.stack.edge, stack.stack.s3)];
const baseline = target('s3rver', s3rver.url, { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1' });
const targets = [...edges, baseline];

try {
  for (const e of edges) await e.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  if (CASES.has('small')) for (const c of SMALL_CONCURRENCY) await objectCases(c === 1 ? '1MiB' : `1MiB-x${c}`, MiB, SMALL_COUNT, c);
  if (CASES.has('large')) await objectCases(`${LARGE / MiB}MiB`, LARGE, 1, 1);
  if (CASES.has('range')) await rangeCases();
  console.log(JSON.stringify({ bench: 'environment', loadavg: loadavg().map((x) => Math.round(x * 100) / 100), note: 'load average at end' }));
} finally {
  for (const t of targets) t.s3.destroy();
  s3rver.process.kill('SIGTERM');
  await stack.stop();
  await rm(s3rver.dir, { recursive: true, force: true });
  await rm(bodyDir, { recursive: true, force: true });
}

/**
 * PUT `count` fresh objects of `size` to each server, GET them (at the edge: a cache miss, bytes from the origin),
 * wait until the edge has every segment cached, then GET them again `GET_REPEATS` times. Each phase runs on every
 * server back to back (order rotating by round and repetition), so all see the same moment of a noisy host; the
 * goal ratios are medians of each edge's ratios to s3rver within a phase.
 */
async function objectCases(label: string, size: number, count: number, concurrency: number): Promise<void> {
  const samples = new Map<string, { mbps: number[]; cpu: Record<string, number>[] }>();
  const ratios = new Map<string, number[]>();
  const record = (name: string, t: Target, seconds: number, cpu: Record<string, number>) => {
    const k = `${name}|${t.impl}`;
    if (!samples.has(k)) samples.set(k, { mbps: [], cpu: [] });
    samples.get(k)!.mbps.push((size * count) / 1e6 / seconds);
    samples.get(k)!.cpu.push(cpu);
  };
  /** Runs one phase on every server in `order`; records MB/s per server and each edge's ratio to s3rver. */
  const phase = async (name: string, order: Target[], warm: boolean, run: (t: Target) => Promise<{ seconds: number; cpu: Record<string, number> } | undefined>) => {
    const mbps: Record<string, number> = {};
    for (const t of order) {
      const r = await run(t);
      if (!r || warm) continue;
      record(name, t, r.seconds, r.cpu);
      mbps[t.impl] = (size * count) / 1e6 / r.seconds;
    }
    for (const e of edges) {
      const k = `${name}|${e.impl}`;
      if (mbps[e.impl] && mbps.s3rver) ratios.set(k, [...(ratios.get(k) ?? []), mbps[e.impl] / mbps.s3rver]);
    }
  };
  const sources = new Map<Target, Record<string, number>[]>(edges.map((e) => [e, []]));
  const stored = new Map<Target, { seconds: number; cpu: Record<string, number> }[]>(edges.map((e) => [e, []]));
  for (let round = -1; round < ROUNDS; round++) {
    const warm = round < 0;
    const order = rotate(targets, round + 1);
    const keys = new Map(targets.map((t) => [t, Array.from({ length: count }, (_, i) => `${label}/r${round}-${i}-${randomBytes(4).toString('hex')}`)]));
    if (size <= EXPECT_PHASE_MAX) {
      await phase('put-expect', order, warm, async (t) => {
        const expectKeys = keys.get(t)!.map((key) => `${key}-expect`);
        const files = await Promise.all(expectKeys.map((key) => bodyFile(key, size)));
        const r = await putAll(t, expectKeys, files, concurrency, true);
        await Promise.all(files.map((f) => rm(f)));
        if (t.edge) await untilSettled();
        for (const key of expectKeys) await t.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
        return r;
      });
    }
    await phase('put', order, warm, async (t) => {
      const files = await Promise.all(keys.get(t)!.map((key) => bodyFile(key, size)));
      const m = measure();
      const r = await putAll(t, keys.get(t)!, files, concurrency);
      await Promise.all(files.map((f) => rm(f)));
      // The S3 answer comes once the origin holds the bytes durably; packing, coding and dispatch to the 12 storage
      // nodes go on in the background. Wait for all of it (the chain's file records), so it does not slow whatever
      // is measured next, and record how long it took.
      if (t.edge) {
        await untilSettled();
        if (!warm) stored.get(t)!.push(m());
      }
      return r;
    });
    await phase('get', order, warm, async (t) => {
      const segments0 = await originSegments();
      const r = await getAll(t, keys.get(t)!, size, concurrency);
      if (t.edge && !warm) sources.get(t)!.push(diff(await originSegments(), segments0));
      for (const key of keys.get(t)!) await checkStamp(t, key);
      // The edge fills its cache in the background after a miss: let that finish before the next server's turn.
      if (t.edge) for (const key of keys.get(t)!) await untilCached(t, key, size);
      return r;
    });
    for (let rep = 0; rep < GET_REPEATS; rep++) {
      await phase('get-again', rotate(targets, round + 1 + rep), warm, (t) => getAll(t, keys.get(t)!, size, concurrency, t.edge ? 'hit' : undefined));
    }
    for (const t of targets) for (const key of keys.get(t)!) await t.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
  }
  for (const [e, list] of stored) for (const s of list) record('put-until-stored', e, s.seconds, s.cpu);
  for (const name of ['put', 'put-expect', 'put-until-stored', 'get', 'get-again']) {
    for (const t of targets) {
      const s = samples.get(`${name}|${t.impl}`);
      if (!s) continue;
      const sorted = [...s.mbps].sort((a, b) => a - b);
      console.log(
        JSON.stringify({
          bench: `${name}-${label}`,
          impl: t.impl,
          MBps: round1(median(sorted)),
          min: round1(sorted[0]),
          max: round1(sorted[sorted.length - 1]),
          samples: sorted.length,
          bytes: size * count,
          objects: count,
          concurrency,
          ...(t.edge ? { shape: EDGE_SHAPE } : {}),
          ...(name === 'put' || name === 'put-expect' ? { expect100: name === 'put-expect', ...(t.edge ? { ack: 'durable at the origin (DEOSS_ACK=durable)' } : {}) } : {}),
          ...(name === 'put-until-stored' ? { note: 'until the chain holds the file record: 12 columns on 12 storage nodes' } : {}),
          ...(name === 'get' && t.edge ? { source: 'edge cache miss', originSegmentsFrom: sumCounts(sources.get(t)!) } : {}),
          ...(name === 'get-again' && t.edge ? { source: 'edge cache: isolate memory for small segments, else Cache API (every read checked hit first)' } : {}),
          cpuSeconds: meanCpu(s.cpu),
        }),
      );
    }
  }
  for (const e of edges) {
    const ratio = (name: string) => {
      const r = [...(ratios.get(`${name}|${e.impl}`) ?? [])].sort((a, b) => a - b);
      return { median: round2(median(r)), min: round2(r[0]), max: round2(r[r.length - 1]), pairs: r.length };
    };
    console.log(JSON.stringify({ bench: `goals-${label}`, impl: e.impl, shape: EDGE_SHAPE, concurrency, put: { ...ratio('put'), goal: 0.75 }, ...(size <= EXPECT_PHASE_MAX ? { putExpect100: ratio('put-expect') } : {}), get: ratio('get'), cachedGet: { ...ratio('get-again'), goal: 1.5 } }));
  }
}

/**
 * Time to the first byte of 1 MiB ranges at odd offsets spread over a 1 GiB object: at the edge first on segments
 * it has not cached (miss: the origin answers), then the same ranges once cached (hit); s3rver twice as well.
 */
async function rangeCases(): Promise<void> {
  const key = `range/${randomBytes(4).toString('hex')}`;
  const offsets = Array.from({ length: RANGES }, (_, i) => Math.floor((i * RANGE_OBJECT) / RANGES) + 12_345);
  for (const t of targets) {
    const file = await bodyFile(key, RANGE_OBJECT);
    const r = await putAll(t, [key], [file], 1);
    await rm(file);
    console.log(JSON.stringify({ bench: `put-${RANGE_OBJECT / MiB}MiB`, impl: t.impl, MBps: round1(RANGE_OBJECT / 1e6 / r.seconds), rounds: 1, bytes: RANGE_OBJECT, cpuSeconds: r.cpu }));
    if (t.edge) await untilSettled();
  }
  const segments0 = await originSegments();
  for (const t of targets) {
    for (const pass of ['first', 'again'] as const) {
      const ms: number[] = [];
      const cpu = measure();
      for (const at of offsets) {
        const { ttfbMs, cache } = await rangeTtfb(t, key, at, at + MiB - 1);
        if (t.edge && cache !== (pass === 'first' ? 'miss' : 'hit')) throw new Error(`range at ${at}: expected the ${pass} read to be a ${pass === 'first' ? 'miss' : 'hit'}, got ${cache}`);
        ms.push(ttfbMs);
        // A miss fills its whole 32 MiB segment into the cache in the background; locally that runs on the worker's
        // one workerd thread. Let it end, so the next first read measures a miss, not a miss queued behind a fill.
        if (t.edge && pass === 'first') await untilSegmentCached(t, key, Math.floor(at / SEGMENT));
      }
      const used = cpu();
      const sorted = ms.sort((a, b) => a - b);
      console.log(
        JSON.stringify({
          bench: `ttfb-1MiB-range-of-${RANGE_OBJECT / MiB}MiB`,
          impl: t.impl,
          pass,
          ...(t.edge ? { shape: EDGE_SHAPE, cache: pass === 'first' ? 'miss' : 'hit' } : {}),
          ms: round1(median(sorted)),
          min: round1(sorted[0]),
          max: round1(sorted[sorted.length - 1]),
          samples: sorted.length,
          ...(t.edge && pass === 'first' ? { originSegmentsFrom: diff(await originSegments(), segments0) } : {}),
          cpuSeconds: used.cpu,
        }),
      );
    }
  }
  for (const t of targets) await t.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
}

/**
 * Waits until the origin owes no background work: no unsealed write-behind pack, no upload short of the chain's
 * file record (its /metrics gauges).
 */
async function untilSettled(timeoutMs = 600_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = await (await fetch(`${stack.stack.origin}/metrics`)).text();
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    if (gauge('deoss_origin_write_behind_packs') === 0 && gauge('deoss_origin_uploads_unsettled') === 0) return;
    if (Date.now() > until) throw new Error(`origin still busy after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Where the origin found the segments it served (its /metrics counters by source). */
async function originSegments(): Promise<Record<string, number>> {
  const text = await (await fetch(`${stack.stack.origin}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^deoss_origin_segments_served_total\{source="([^"]+)"\} (\d+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(after)) if (after[k] - (before[k] ?? 0)) out[k] = after[k] - (before[k] ?? 0);
  return out;
}

function sumCounts(list: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of list) for (const [k, v] of Object.entries(c)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function target(impl: Target['impl'], endpoint: string, creds: { accessKeyId: string; secretAccessKey: string; region: string }): Target {
  const s3 = new S3Client({
    endpoint,
    region: creds.region,
    forcePathStyle: true,
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
    // Only for bucket setup and deletes (the measured requests go through curl).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return { impl, edge: impl !== 's3rver', endpoint, s3, signed: new AwsClient({ ...creds, service: 's3' }) };
}

/**
 * Bytes unique to this object (content addressing would let identical bytes share a stored file and flatter the
 * numbers), generated while streaming: 1 MiB chunks copied from a random pool, each stamped with the object's tag.
 */
function body(size: number, tag: string): Readable {
  const stamp = Buffer.from(tag.padEnd(48, '.').slice(0, 48));
  return Readable.from(
    (function* () {
      for (let at = 0, i = 0; at < size; at += MiB, i++) {
        const n = Math.min(MiB, size - at);
        const chunk = Buffer.allocUnsafe(n);
        pool.copy(chunk, 0, (i * MiB) % pool.length, ((i * MiB) % pool.length) + n);
        stamp.copy(chunk, 0, 0, Math.min(stamp.length, n));
        if (n >= 56) chunk.writeDoubleBE(i, 48);
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
}

/** Writes an object's body to a temporary file (before the clock starts: curl uploads it from there). */
async function bodyFile(key: string, size: number): Promise<string> {
  const path = join(bodyDir, key.replace(/\//g, '_'));
  await pipeline(body(size, key), createWriteStream(path));
  return path;
}

/**
 * The client is curl (headers signed by aws4fetch), one process per batch of requests so that it reuses its
 * connection: a Node client moving hundreds of MB/s costs this 2-core machine about a core by itself, and a process
 * per request costs more than a 1 MiB transfer, either of which would measure the client, not the servers. Same
 * client, same wire format for both servers: Content-Length bodies with UNSIGNED-PAYLOAD (s3rver knows no aws-chunked
 * trailers), sent without `Expect: 100-continue` (as @aws-sdk/client-s3 sends bodies below 2 MiB; on Cloudflare the
 * network's front answers it at once, so it costs the worker nothing there) except in the `put-expect` phase.
 * The requests are signed before. The clock is curl's own: the sum of each transfer's `time_total` (from its start
 * to its last byte), so curl's process start and exit (14–18 ms here, as long as three cached 1 MiB GETs) count for
 * no server. With requests in flight together, transfers overlap and the clock runs from curl's start to its exit.
 */
async function curlBatch(
  t: Target,
  method: 'GET' | 'PUT',
  requests: { key: string; args: string[] }[],
  concurrency: number,
): Promise<{ results: { status: number; size: number; cache: string }[]; measured: { seconds: number; cpu: Record<string, number> } }> {
  // With requests in flight together curl reports them as they finish: each line names its URL.
  const args: string[] = concurrency > 1 ? ['--parallel', '--parallel-max', String(concurrency)] : [];
  const urls: string[] = [];
  for (const [i, r] of requests.entries()) {
    const extra: Record<string, string> = method === 'PUT' ? { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-type': 'application/octet-stream' } : {};
    const signed = await t.signed.sign(`${t.endpoint}/${BUCKET}/${encodeURI(r.key)}`, { method, headers: extra });
    if (i > 0) args.push('--next');
    args.push('-sS', '-X', method, '-o', '/dev/null', '-w', `%{http_code} %{size_download} %{time_total} %{url} %header{${CACHE_HEADER}}\n`, ...r.args);
    signed.headers.forEach((v, k) => {
      if (k !== 'host') args.push('-H', `${k}: ${v}`);
    });
    args.push(signed.url);
    urls.push(signed.url);
  }
  const m = measure();
  const { stdout } = await execFileAsync('curl', args, { maxBuffer: 1024 * 1024 });
  const measured = m();
  const byUrl = new Map<string, { status: number; size: number; cache: string }>();
  const transfers: number[] = [];
  for (const line of stdout.trimEnd().split('\n')) {
    const [status, size, seconds, url, cache] = line.split(' ');
    byUrl.set(url, { status: Number(status), size: Number(size), cache: cache ?? '' });
    transfers.push(Number(seconds));
  }
  if (concurrency === 1) measured.seconds = transfers.reduce((a, b) => a + b, 0);
  if (process.env.BENCH_TRACE) appendFileSync(process.env.BENCH_TRACE, `${JSON.stringify({ at: Date.now(), impl: t.impl, method, ms: transfers.map((s) => Math.round(s * 1e4) / 10) })}\n`);
  return { results: urls.map((url) => byUrl.get(url) ?? { status: 0, size: 0, cache: '' }), measured };
}

/** PUTs objects from their files; checks every status; returns the batch's time and CPU. */
async function putAll(t: Target, keys: string[], files: string[], concurrency: number, expect100 = false): Promise<{ seconds: number; cpu: Record<string, number> }> {
  // curl sends `Expect: 100-continue` with bodies of 1 MiB and more unless told not to (an empty header).
  const expect = expect100 ? ['-H', 'Expect: 100-continue'] : ['-H', 'Expect:'];
  const { results, measured } = await curlBatch(t, 'PUT', keys.map((key, i) => ({ key, args: ['-T', files[i], ...expect] })), concurrency);
  for (const [i, r] of results.entries()) if (r.status !== 200) throw new Error(`${t.impl} PUT ${keys[i]}: ${r.status}`);
  return measured;
}

/** GETs and drains objects (to /dev/null); checks status, length and, if asked, the edge's cache header; returns the batch's time and CPU. */
async function getAll(t: Target, keys: string[], size: number, concurrency: number, expectCache?: 'hit'): Promise<{ seconds: number; cpu: Record<string, number> }> {
  const { results, measured } = await curlBatch(t, 'GET', keys.map((key) => ({ key, args: [] })), concurrency);
  for (const [i, r] of results.entries()) {
    if (r.status !== 200) throw new Error(`${t.impl} GET ${keys[i]}: ${r.status}`);
    if (r.size !== size) throw new Error(`${t.impl} ${keys[i]}: got ${r.size} bytes, expected ${size}`);
    if (expectCache && r.cache !== expectCache) throw new Error(`${t.impl} ${keys[i]}: ${CACHE_HEADER} is ${r.cache}, expected ${expectCache}`);
  }
  return measured;
}

/** Checks an object's first bytes (its stamp), outside the clock: the timed GETs only count bytes. */
async function checkStamp(t: Target, key: string): Promise<void> {
  const res = await t.signed.fetch(`${t.endpoint}/${BUCKET}/${key}`, { headers: { Range: 'bytes=0-15' } });
  const head = Buffer.from(await res.arrayBuffer());
  if (!head.equals(Buffer.from(key.padEnd(48, '.').slice(0, 16)))) throw new Error(`${t.impl} ${key}: wrong bytes`);
}

async function rangeTtfb(t: Target, key: string, start: number, end: number): Promise<{ ttfbMs: number; cache?: string }> {
  const t0 = performance.now();
  const res = await t.signed.fetch(`${t.endpoint}/${BUCKET}/${key}`, { headers: { Range: `bytes=${start}-${end}` } });
  if (res.status !== 206) throw new Error(`${t.impl} range: ${res.status} ${await res.text()}`);
  const reader = res.body!.getReader();
  const firstChunk = await reader.read();
  const ttfbMs = performance.now() - t0;
  let n = firstChunk.value?.length ?? 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
  }
  if (n !== end - start + 1) throw new Error(`${t.impl} range: got ${n} bytes, expected ${end - start + 1}`);
  return { ttfbMs, cache: res.headers.get(CACHE_HEADER) ?? undefined };
}

/** Waits until the edge answers every segment of an object from its cache (a 1-byte range per segment). */
async function untilCached(t: Target, key: string, size: number): Promise<void> {
  for (let s = 0; s * SEGMENT < size; s++) await untilSegmentCached(t, key, s);
}

async function untilSegmentCached(t: Target, key: string, segment: number, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const at = segment * SEGMENT;
    const res = await t.signed.fetch(`${t.endpoint}/${BUCKET}/${key}`, { headers: { Range: `bytes=${at}-${at}` } });
    await res.arrayBuffer();
    if (res.headers.get(CACHE_HEADER) === 'hit') return;
    if (Date.now() > until) throw new Error(`segment ${segment} of ${key} not cached after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startS3rver(): Promise<{ url: string; dir: string; process: ChildProcess }> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-s3rver-'));
  const port = await freePort();
  const bin = fileURLToPath(new URL('../node_modules/s3rver/bin/s3rver.js', import.meta.url));
  const child = spawn(process.execPath, [bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--no-vhost-buckets', '--configure-bucket', BUCKET], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 30_000;
  while (!(await fetch(`${url}/`).then((r) => (r.body?.cancel(), true), () => false))) {
    if (child.exitCode !== null || Date.now() > until) throw new Error('s3rver did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, dir, process: child };
}

/** The pids whose CPU time each line reports: the edge (its runner and workerd), the origin, the storage nodes, s3rver, this client. */
function processGroups(s: RunningStack, s3rverProcess: ChildProcess): Record<string, number[]> {
  const json = s.stack as unknown as { edgePid: number; originProcesses: { pid: number }[]; storageNodes: { pid: number }[] };
  return {
    edge: [json.edgePid, ...descendants(json.edgePid)],
    origin: json.originProcesses.map((o) => o.pid),
    nodes: json.storageNodes.map((n) => n.pid),
    s3rver: [s3rverProcess.pid!],
  };
}

function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) if (pp === p) (out.push(child), walk(child));
  };
  walk(pid);
  return out;
}

/** CPU seconds (user + system) of one process, from /proc (clock ticks of 1/100 s). */
function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

function cpuNow(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) out[name] = pids.reduce((a, p) => a + cpuOf(p), 0);
  // This process and the curl processes it has waited for (cutime, cstime).
  const self = readFileSync('/proc/self/stat', 'utf8');
  const f = self.slice(self.lastIndexOf(')') + 2).split(' ');
  out.client = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
  return out;
}

/** Starts a stopwatch and a CPU meter; calling the result stops both. */
function measure(): () => { seconds: number; cpu: Record<string, number> } {
  // The meter's own reads (/proc of some 20 processes) stay outside the clock.
  const c0 = cpuNow();
  const t0 = performance.now();
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const c1 = cpuNow();
    const cpu: Record<string, number> = { wall: round2(seconds) };
    for (const k of Object.keys(c1)) cpu[k] = round2(c1[k] - c0[k]);
    return { seconds, cpu };
  };
}

function meanCpu(list: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(list[0] ?? {})) out[k] = round2(list.reduce((a, c) => a + c[k], 0) / list.length);
  return out;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** `list` starting at index `by` (mod its length): rotates which server goes first. */
function rotate<T>(list: T[], by: number): T[] {
  const k = ((by % list.length) + list.length) % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
