import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/deoss.mjs', import.meta.url));

/** `$DEOSS_HOME/stack.json` as `deoss start` writes it (the fields tests use). */
export interface StackJson {
  edge: string;
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
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs `deoss start` exactly as a user does (real processes: storage nodes, origin, wrangler dev) on free ports. */
export async function startStack(options: { args?: string[]; env?: NodeJS.ProcessEnv; home?: string } = {}): Promise<RunningStack> {
  const home = options.home ?? (await mkdtemp(join(tmpdir(), 'deoss-stack-')));
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
