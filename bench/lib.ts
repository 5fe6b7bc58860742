/**
 * Interleaved benchmarking: every round runs each case once, in rotated order, after a warm-up round, so a noisy
 * neighbour hurts all cases alike. Prints one JSON line per case: {"bench","impl","MBps",...}.
 */
export interface BenchCase {
  bench: string;
  impl: string;
  /** Bytes of input one run processes (MB/s counts these). */
  bytes: number;
  run: () => Promise<void> | void;
  extra?: Record<string, unknown>;
}

export async function runInterleaved(cases: BenchCase[], rounds: number): Promise<void> {
  const samples = cases.map(() => [] as number[]);
  for (const c of cases) await c.run(); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (k + r) % cases.length;
      const t0 = performance.now();
      await cases[i].run();
      const seconds = (performance.now() - t0) / 1000;
      samples[i].push(cases[i].bytes / 1e6 / seconds);
    }
  }
  cases.forEach((c, i) => {
    const s = samples[i].sort((a, b) => a - b);
    const line = {
      bench: c.bench,
      impl: c.impl,
      MBps: round(median(s)),
      min: round(s[0]),
      max: round(s[s.length - 1]),
      rounds,
      bytes: c.bytes,
      ...c.extra,
    };
    console.log(JSON.stringify(line));
  });
}

export function median(sorted: number[]): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

const round = (x: number) => Math.round(x * 10) / 10;

/** Integer from an environment variable, for shortening runs (e.g. BENCH_ROUNDS=3). */
export function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  return v ? Number.parseInt(v, 10) : fallback;
}
