import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeDurably } from '../uploads/durable-file.ts';
import { provisionDevUser, DEV_USER_SURI, DEV_TERRITORY } from './dev-accounts.ts';

const BIN = fileURLToPath(new URL('../../../bin/deoss.mjs', import.meta.url));

const HELP = `usage: deoss start [--nodes N] [--origin-port N]

Brings up the local stack on this machine: the local chain (a ledger file), N storage nodes (default 12), one
origin (http://127.0.0.1:8080), a funded dev account with a territory that has authorized the gateway. Writes the
endpoints to $DEOSS_HOME/stack.json (default ./.deoss). Ctrl-C stops everything; state persists in $DEOSS_HOME.
`;

interface Child {
  role: string;
  url: string;
  pid: number;
  process: ChildProcess;
}

export async function startCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { nodes: { type: 'string' }, 'origin-port': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const home = resolve(process.env.DEOSS_HOME ?? '.deoss');
  const nodeCount = Number(values.nodes ?? 12);
  if (!Number.isInteger(nodeCount) || nodeCount < 12) {
    process.stderr.write('deoss start: --nodes must be at least 12 (one per fragment column)\n');
    return 2;
  }
  await mkdir(join(home, 'chain'), { recursive: true });
  const env = { ...process.env, DEOSS_HOME: home };
  const children: Child[] = [];
  const stop = async () => {
    for (const c of children) c.process.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.process.exitCode !== null ? r(null) : c.process.once('exit', r)))));
  };
  try {
    const nodes = await Promise.all(
      Array.from({ length: nodeCount }, (_, i) =>
        launch('storage-node', ['storage-node', '--suri', `//DeossNode${i + 1}`, '--dir', join(home, 'nodes', String(i + 1))], env),
      ),
    );
    children.push(...nodes);
    const origin = await launch('origin', ['origin', ...(values['origin-port'] ? ['--port', values['origin-port']] : [])], env);
    children.push(origin);
    const user = await provisionDevUser({ chainDb: join(home, 'chain', 'ledger.sqlite'), gateway: String(origin.gateway) });
    const stack = {
      origin: origin.url,
      origins: [origin.url],
      originProcesses: [{ url: origin.url, pid: origin.pid }],
      storageNodes: nodes.map((n) => ({ url: n.url, pid: n.pid })),
      account: user.address,
      devSuri: DEV_USER_SURI,
      territory: DEV_TERRITORY,
      gateway: String(origin.gateway),
      chain: { kind: 'local', path: join(home, 'chain', 'ledger.sqlite') },
      pid: process.pid,
    };
    await writeDurably(join(home, 'stack.json'), `${JSON.stringify(stack, null, 2)}\n`);
    process.stdout.write(
      [
        'DeOSS local stack is up.',
        `  origin         ${origin.url}`,
        `  storage nodes  ${nodes.length} (${nodes[0].url} … ${nodes[nodes.length - 1].url})`,
        `  dev account    ${user.address} (${DEV_USER_SURI}), territory "${DEV_TERRITORY}", gateway authorized`,
        `  stack.json     ${join(home, 'stack.json')}`,
        '  try:           npx deoss put README.md',
        'Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
    await new Promise<void>((resolveStop) => {
      process.once('SIGINT', () => resolveStop());
      process.once('SIGTERM', () => resolveStop());
      // A storage node going away is a failure the network tolerates (any 4 of 12 columns rebuild a segment);
      // the origin going away ends the stack.
      for (const c of children) {
        c.process.once('exit', (code) => {
          if (c.role === 'origin') {
            process.stderr.write(`deoss start: the origin (pid ${c.pid}) exited with ${code}; stopping the stack\n`);
            resolveStop();
          } else process.stderr.write(`deoss start: ${c.role} (pid ${c.pid}) exited with ${code}\n`);
        });
      }
    });
    await stop();
    return 0;
  } catch (err) {
    process.stderr.write(`deoss start: ${(err as Error).message}\n`);
    await stop();
    return 1;
  }
}

/** Starts `deoss <args>` as a child and waits for the JSON line it prints when ready. */
function launch(role: string, args: string[], env: NodeJS.ProcessEnv): Promise<Child & Record<string, unknown>> {
  return new Promise((resolveReady, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`${role} did not start within 30 s`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code} while starting`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        const ready = JSON.parse(line);
        resolveReady({ ...ready, role, url: ready.url, pid: child.pid!, process: child });
      } catch {
        reject(new Error(`${role} printed an unexpected line: ${line}`));
      }
    });
  });
}
