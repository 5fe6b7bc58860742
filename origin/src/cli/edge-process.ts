import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
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
  /** The public address: the 100-continue front (continue-front.ts, its own process), in front of the worker. */
  url: string;
  /** wrangler's proxy (it holds requests while the worker reloads): the front's fallback. */
  wranglerUrl: string;
  /** The worker's own socket when the edge started, where the front sends requests (a reload moves it). */
  workerUrl: string;
  /** wrangler's dev server (edge-dev.ts). */
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
 * Runs the edge worker locally under wrangler's dev server (edge-dev.ts: workerd, reload on change), its Durable
 * Object state under $DEOSS_HOME/edge, behind a front on the public port that answers `Expect: 100-continue`
 * (workerd never does; Cloudflare does) and leads to the worker's own socket, past wrangler's proxy (its fallback
 * while the worker reloads). Secrets reach the worker through an env file in $DEOSS_HOME (mode 0600), not the
 * command line.
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
  // wrangler's dev server through its API (edge-dev.ts), so that the front can reach the worker past wrangler's proxy.
  const script = fileURLToPath(new URL('./edge-dev.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    [script, '--config', join(ROOT, 'wrangler.toml'), '--port', String(wranglerPort), '--persist-to', join(o.home, 'edge'), '--env-file', envFile],
    {
      cwd: ROOT,
      // Offline by default: no fetch of Cloudflare's sample `request.cf` (a warning and a 3 s wait without a network);
      // the worker sees Miniflare's placeholder, as in the tests. CLOUDFLARE_CF_FETCH_ENABLED=true asks for it.
      env: { CLOUDFLARE_CF_FETCH_ENABLED: 'false', ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // What wrangler prints at log level warn are the worker's warnings and errors, worth showing; the JSON lines are
  // edge-dev.ts's own: where the worker listens, first when ready and then after each reload that moved it.
  let output = '';
  const keep = (text: Buffer | string) => {
    output = (output + text.toString()).slice(-4000);
    if (o.echo) o.echo.write(text);
  };
  child.stderr!.on('data', keep);
  let workerUrl = '';
  let front: { url: string; process: ChildProcess } | undefined;
  const moved = (url: string) => {
    workerUrl = url;
    front?.process.stdin!.write(`${JSON.stringify({ targetPort: Number(new URL(url).port) })}\n`);
  };
  const wranglerUrl = `http://127.0.0.1:${wranglerPort}`;
  const readyTimeoutMs = o.readyTimeoutMs ?? 90_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const ready = readyLine<{ workerUrl: string }>(child, 'the edge (wrangler dev)', (line) => (line.startsWith('{') ? moved((JSON.parse(line) as { workerUrl: string }).workerUrl) : keep(line)));
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the edge did not start in ${readyTimeoutMs} ms`)), readyTimeoutMs)));
    workerUrl = (await Promise.race([ready, timeout])).workerUrl;
    const health = await fetch(`${workerUrl}/healthz`).catch((err: Error) => err);
    if (!(health instanceof Response) || !health.ok) throw new Error(`the edge's worker did not answer /healthz: ${health instanceof Response ? health.status : health.message}`);
  } catch (err) {
    child.kill('SIGTERM');
    throw new Error(`${(err as Error).message}\n${output}`);
  } finally {
    clearTimeout(timer);
  }
  try {
    front = await startFrontProcess(o.port, Number(new URL(workerUrl).port), wranglerPort);
    const { process: frontProcess } = front;
    child.once('exit', () => frontProcess.kill('SIGTERM'));
    frontProcess.once('exit', () => child.kill('SIGTERM'));
    return { url: front.url, wranglerUrl, workerUrl, pid: child.pid!, process: child, frontPid: frontProcess.pid!, front: frontProcess };
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
}

/**
 * The front's glibc malloc keeps up to 256 MiB of freed memory instead of handing it back to the kernel at once. Every
 * read of an upload is a fresh 64 KiB Buffer, freed when V8 next collects; by default glibc returns the freed top of
 * its heap to the kernel (above 128 KiB) and the next reads fault the same memory in again. Through a 1 GiB upload
 * that was 10,800–135,000 page faults and 0.6–2.8 s of kernel time in the front on this VM, against 9,100–12,800
 * and 0.5–0.64 s with the memory kept (docs/performance.md). A GLIBC_TUNABLES of the caller's own wins.
 */
export const FRONT_GLIBC_TUNABLES = 'glibc.malloc.trim_threshold=268435456';

/**
 * Starts continue-front.ts as its own process on `port`, in front of the worker's own port (`targetPort`) with
 * wrangler's proxy as the fallback; resolves once it listens.
 */
function startFrontProcess(port: number, targetPort: number, fallbackPort: number): Promise<{ url: string; process: ChildProcess }> {
  const script = fileURLToPath(new URL('./continue-front.ts', import.meta.url));
  const child = spawn(process.execPath, [script, '--port', String(port), '--target-port', String(targetPort), '--fallback-port', String(fallbackPort)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? FRONT_GLIBC_TUNABLES },
  });
  // A front that has exited cannot take a new target; its exit stops the edge anyway.
  child.stdin!.on('error', () => {});
  return readyLine<{ url: string }>(child, `the edge's 100-continue front (port ${port})`).then(({ url }) => ({ url, process: child }));
}

/**
 * The first JSON line a helper process prints on its stdout once it is ready; rejects if it exits before. Every
 * other line goes to `other` when given (or is dropped).
 */
export function readyLine<T>(child: ChildProcess, what: string, other?: (line: string) => void): Promise<T> {
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
