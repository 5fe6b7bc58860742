import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  /** Where to copy wrangler's output (warnings and errors), e.g. process.stderr. */
  echo?: NodeJS.WritableStream;
  /** How long wrangler may take to answer /healthz, ms. @default 90000 */
  readyTimeoutMs?: number;
}

export interface EdgeProcess {
  /** The public address: the 100-continue front (continue-front.ts) in this process, in front of wrangler dev. */
  url: string;
  /** wrangler dev's own address, behind the front. */
  wranglerUrl: string;
  /** wrangler dev. */
  pid: number;
  process: ChildProcess;
  /** The front's own process (it exits with wrangler, and wrangler with it). */
  frontPid: number;
  front: ChildProcess;
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

/**
 * Runs the edge worker locally under `wrangler dev` (workerd), its Durable Object state under $DEOSS_HOME/edge,
 * behind a front on the public port that answers `Expect: 100-continue` (workerd never does; Cloudflare does).
 * Secrets reach the worker through an env file in $DEOSS_HOME (mode 0600), not the command line.
 */
export async function startEdgeProcess(o: EdgeProcessOptions): Promise<EdgeProcess> {
  // A port in use would let another process answer our readiness check (and get our dev key): refuse early.
  await assertPortFree(o.port);
  const wranglerPort = await freeLocalPort();
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
  // wrangler's package exports hide its bin script; find it next to its package.json.
  const wrangler = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');
  const child = spawn(
    process.execPath,
    [
      wrangler,
      'dev',
      '--config', join(ROOT, 'wrangler.toml'),
      '--local',
      '--ip', '127.0.0.1',
      '--port', String(wranglerPort),
      '--inspector-port', '0',
      '--persist-to', join(o.home, 'edge'),
      '--env-file', envFile,
      '--show-interactive-dev-session=false',
      '--log-level', 'warn',
    ],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // wrangler runs at log level warn: what it prints are the worker's warnings and errors, worth showing.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
    if (o.echo) o.echo.write(chunk);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const wranglerUrl = `http://127.0.0.1:${wranglerPort}`;
  const until = Date.now() + (o.readyTimeoutMs ?? 90_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the edge (wrangler dev) exited with ${child.exitCode}:\n${output}`);
    const ok = await fetch(`${wranglerUrl}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > until) {
      child.kill('SIGTERM');
      throw new Error(`the edge did not answer on ${wranglerUrl} in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  try {
    const front = await startFrontProcess(o.port, wranglerPort);
    child.once('exit', () => front.process.kill('SIGTERM'));
    front.process.once('exit', () => child.kill('SIGTERM'));
    return { url: front.url, wranglerUrl, pid: child.pid!, process: child, frontPid: front.process.pid!, front: front.process };
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
}

/** Starts continue-front.ts as its own process on `port`, in front of `targetPort`; resolves once it listens. */
function startFrontProcess(port: number, targetPort: number): Promise<{ url: string; process: ChildProcess }> {
  const script = fileURLToPath(new URL('./continue-front.ts', import.meta.url));
  const child = spawn(process.execPath, [script, '--port', String(port), '--target-port', String(targetPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return readyLine<{ url: string }>(child, `the edge's 100-continue front (port ${port})`).then(({ url }) => ({ url, process: child }));
}

/** The first JSON line a helper process prints on its stdout once it is ready; rejects if it exits before. */
export function readyLine<T>(child: ChildProcess, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as T);
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code} before it was ready`)));
    child.once('error', reject);
  });
}

/** A port nothing listens on right now (the kernel's pick). */
async function freeLocalPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
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
