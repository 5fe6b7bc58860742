import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/deoss.mjs', import.meta.url));

/** `$DEOSS_HOME/stack.json` as `deoss start` writes it (the fields tests use). */
export interface StackJson {
  edge: string;
  /** How the edge runs: `workerd` (the default) or `wrangler-dev` (`deoss start --edge-dev`). */
  edgeRunner: 'workerd' | 'wrangler-dev';
  origin: string;
  origins: string[];
  storageNodes: { url: string; pid: number }[];
  s3: { accessKeyId: string; secretAccessKey: string; region: string };
  account: string;
  devSuri: string;
  territory: string;
  pid: number;
}

export interface RunningStack {
  home: string;
  stack: StackJson;
  /** Everything `deoss start` printed, for failure messages. */
  output(): string;
  /** Stops the stack; a home `startStack` made itself (none was passed in) is removed with it. */
  stop(): Promise<void>;
}

/**
 * A free port for a test stack, drawn at random below the kernel's ephemeral range (32768–60999 here), so that a port
 * the kernel hands another process meanwhile (wrangler's internal port, an outgoing connection) cannot take it between
 * this check and `deoss start` binding it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 20_000); // leaves room for the p2p port at +1000
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
    if (attempt > 50) throw new Error('no free port found below the ephemeral range');
  }
}

/** Runs `deoss start` exactly as a user does (real processes: storage nodes, origin, the edge in workerd) on free ports. */
export async function startStack(options: { args?: string[]; env?: NodeJS.ProcessEnv; home?: string } = {}): Promise<RunningStack> {
  // After a test run a stack's home holds gigabytes (every file is 12 fragments of 32 MiB segments, plus caches):
  // one made here is removed when the stack stops or fails to start, or every run would leave its own behind.
  const home = options.home ?? (await mkdtemp(join(tmpdir(), 'deoss-stack-')));
  const removeHome = () => (options.home ? Promise.resolve() : rm(home, { recursive: true, force: true }));
  // Another test file's stack may take a port between our check and the bind: draw new ports and start again.
  for (let attempt = 1; ; attempt++) {
    try {
      const running = await startStackOnce(home, options);
      return { ...running, stop: () => running.stop().then(removeHome) };
    } catch (err) {
      if (attempt >= 3 || !/is in use|EADDRINUSE/.test((err as Error).message)) {
        await removeHome();
        throw err;
      }
    }
  }
}

async function startStackOnce(home: string, options: { args?: string[]; env?: NodeJS.ProcessEnv }): Promise<RunningStack> {
  const [originPort, edgePort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [BIN, 'start', '--origin-port', String(originPort), '--edge-port', String(edgePort), ...(options.args ?? [])], {
    env: { ...process.env, DEOSS_HOME: home, DEOSS_THREADS: '2', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
    if (process.env.DEOSS_TEST_LOGS) process.stderr.write(d);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
  const until = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`deoss start exited with ${child.exitCode}:\n${out}`);
    if (/local stack is up/i.test(out)) break;
    if (Date.now() > until) {
      await stop();
      throw new Error(`deoss start did not come up:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const stack = JSON.parse(await readFile(join(home, 'stack.json'), 'utf8')) as StackJson;
  return { home, stack, output: () => out, stop };
}
