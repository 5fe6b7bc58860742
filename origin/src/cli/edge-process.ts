import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeDurably } from '../uploads/durable-file.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface EdgeProcessOptions {
  home: string;
  /** @default 8787 */
  port: number;
  origins: { url: string; region: string }[];
  /** Shared with the origins (DEOSS_EDGE_SECRET). */
  edgeSecret: string;
  /** Extra worker vars (S3_DOMAINS, WEBSITE_DOMAINS, CUSTOM_DOMAINS, …). */
  vars?: Record<string, string>;
  /**
   * `workerd` (the default): the bundle `wrangler deploy` builds, in workerd with the edge port straight to the
   * worker (edge-workerd.ts). `wrangler-dev`: wrangler's dev server, which rebuilds and reloads on every change to the
   * worker's code (edge-dev.ts).
   */
  runner?: EdgeRunner;
  /** Where to copy the runner's output (warnings and errors), e.g. process.stderr. */
  echo?: NodeJS.WritableStream;
  /** How long the edge may take to answer /healthz, ms. @default 90000 */
  readyTimeoutMs?: number;
}

export type EdgeRunner = 'workerd' | 'wrangler-dev';

export interface EdgeProcess {
  /** The public address: the worker itself (workerd) or wrangler's dev server (wrangler-dev). */
  url: string;
  runner: EdgeRunner;
  /** The runner's Node process; workerd is its child. */
  pid: number;
  process: ChildProcess;
}

/** A secret kept in $DEOSS_HOME (mode 0600) so restarts of the stack keep using it. */
export async function persistentSecret(home: string, name: string): Promise<string> {
  const path = join(home, 'secrets', name);
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const value = randomBytes(32).toString('hex');
    await writeDurably(path, value);
    return value;
  }
}

/** What startEdgeProcess hands a runner script (edge-workerd.ts, edge-dev.ts) on its command line. */
export interface RunnerArgs {
  config: string;
  port: number;
  persistTo: string;
  envFile: string;
}

/** A runner script's `--config FILE --port P --persist-to DIR --env-file FILE`. */
export function runnerArgs(script: string): RunnerArgs {
  const { values } = parseArgs({
    options: { config: { type: 'string' }, port: { type: 'string' }, 'persist-to': { type: 'string' }, 'env-file': { type: 'string' } },
  });
  if (!values.config || !values.port || !values['persist-to'] || !values['env-file']) {
    throw new Error(`usage: ${script} --config FILE --port P --persist-to DIR --env-file FILE`);
  }
  return { config: values.config, port: Number(values.port), persistTo: values['persist-to'], envFile: values['env-file'] };
}

/** A runner's last step: prints the ready line startEdgeProcess waits for, and disposes of the worker on SIGTERM/SIGINT. */
export function announceReady(url: string, dispose: () => Promise<unknown>): void {
  process.stdout.write(`${JSON.stringify({ ready: true, url })}\n`);
  const stop = () => void dispose().finally(() => process.exit(0));
  process.once('SIGTERM', stop).once('SIGINT', stop);
}

const RUNNER_SCRIPTS: Record<EdgeRunner, string> = { workerd: './edge-workerd.ts', 'wrangler-dev': './edge-dev.ts' };

/**
 * Runs the edge worker locally on `port` (edge-workerd.ts or, for working on the worker, wrangler's dev server),
 * its Durable Object and cache state under $DEOSS_HOME/edge. Secrets reach the worker through an env file in
 * $DEOSS_HOME (mode 0600), not the command line. workerd answers `Expect: 100-continue` itself (since 1.20261014;
 * package.json pins a version that does), as Cloudflare's network does.
 */
export async function startEdgeProcess(o: EdgeProcessOptions): Promise<EdgeProcess> {
  const runner = o.runner ?? 'workerd';
  // A port in use would let another process answer our readiness check (and get our dev key): refuse early.
  await assertPortFree(o.port);
  const envFile = join(o.home, 'secrets', 'edge.env');
  const vars: Record<string, string> = {
    EDGE_ORIGINS: JSON.stringify(o.origins),
    EDGE_SECRET: o.edgeSecret,
    KEY_ENCRYPTION_SECRET: await persistentSecret(o.home, 'key-encryption-secret'),
    EDGE_REGION: o.origins[0]?.region ?? '',
    ...o.vars,
  };
  await mkdir(dirname(envFile), { recursive: true, mode: 0o700 });
  // Single-quoted dotenv values are taken literally (JSON keeps its double quotes).
  for (const [k, v] of Object.entries(vars)) if (/['\n]/.test(v)) throw new Error(`edge setting ${k} cannot hold quotes or newlines`);
  await writeDurably(envFile, Object.entries(vars).map(([k, v]) => `${k}='${v}'`).join('\n') + '\n');
  const script = fileURLToPath(new URL(RUNNER_SCRIPTS[runner], import.meta.url));
  const child = spawn(
    process.execPath,
    [script, '--config', join(ROOT, 'wrangler.toml'), '--port', String(o.port), '--persist-to', join(o.home, 'edge'), '--env-file', envFile],
    {
      cwd: ROOT,
      // Offline by default: no fetch of Cloudflare's sample `request.cf` (a warning and a 3 s wait without a network);
      // the worker sees Miniflare's placeholder, as in the tests. CLOUDFLARE_CF_FETCH_ENABLED=true asks for it.
      env: { CLOUDFLARE_CF_FETCH_ENABLED: 'false', ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // What the runner prints besides its ready line are the worker's warnings and errors, worth showing.
  let output = '';
  const keep = (text: Buffer | string) => {
    output = (output + text.toString()).slice(-4000);
    if (o.echo) o.echo.write(text);
  };
  child.stderr!.on('data', keep);
  const readyTimeoutMs = o.readyTimeoutMs ?? 90_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const ready = readyLine<{ url: string }>(child, `the edge (${runner})`, keep);
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the edge did not start in ${readyTimeoutMs} ms`)), readyTimeoutMs)));
    const { url } = await Promise.race([ready, timeout]);
    const health = await fetch(`${url}/healthz`).catch((err: Error) => err);
    if (!(health instanceof Response) || !health.ok) throw new Error(`the edge did not answer /healthz: ${health instanceof Response ? health.status : health.message}`);
    return { url, runner, pid: child.pid!, process: child };
  } catch (err) {
    child.kill('SIGTERM');
    throw new Error(`${(err as Error).message}\n${output}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The first JSON line a helper process prints on its stdout once it is ready; rejects if it exits before. Every
 * other line goes to `other` when given (or is dropped).
 */
function readyLine<T>(child: ChildProcess, what: string, other?: (line: string) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let ready = false;
    let partial = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (!ready && line.startsWith('{')) {
          ready = true;
          resolve(JSON.parse(line) as T);
        } else other?.(`${line}\n`);
      }
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code} before it was ready`)));
    child.once('error', reject);
  });
}

async function assertPortFree(port: number): Promise<void> {
  const { createServer } = await import('node:net');
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', () => reject(new Error(`the edge port ${port} is in use (another stack running?): choose one with --edge-port`)));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}
