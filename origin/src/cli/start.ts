import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { prepareLocalLedger } from '../chain/local/index.ts';
import { writeDurably } from '../uploads/durable-file.ts';
import { provisionDevUser, DEV_USER_SURI, DEV_TERRITORY } from './dev-accounts.ts';
import { persistentSecret } from './edge-process.ts';
import { parseEdgeVars, startStackEdge } from './start-edge.ts';

const BIN = fileURLToPath(new URL('../../../bin/deoss.mjs', import.meta.url));

const HELP = `usage: deoss start [--nodes N] [--origins N] [--origin-port N] [--edge-port N] [--edge-dev] [--no-edge] [--mdns]

Brings up the local stack on this machine: the local chain (a ledger file), N storage nodes (default 12), one or
more origins (http://127.0.0.1:8080, 8081, ...) peering over libp2p, a funded dev account with a territory that has
authorized every origin's gateway key. Extra origins keep their state under $DEOSS_HOME/origins/<n> and find the
first one through its libp2p address; --mdns also turns on multicast DNS discovery between them. The edge worker
(S3 and DeOSS APIs, websites, CDN) runs at http://127.0.0.1:8787 in front of the origins, as wrangler deploy
builds it, in workerd; --edge-dev runs it under wrangler's dev server instead, which reloads it on every change to
its code. The dev account gets an S3 access key. Writes the endpoints to $DEOSS_HOME/stack.json (default ./.deoss).
Ctrl-C stops everything; state persists in $DEOSS_HOME.
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
    options: {
      nodes: { type: 'string' },
      origins: { type: 'string' },
      'origin-port': { type: 'string' },
      'edge-port': { type: 'string' },
      'edge-dev': { type: 'boolean' },
      'no-edge': { type: 'boolean' },
      mdns: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
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
  const originCount = Number(values.origins ?? 1);
  if (!Number.isInteger(originCount) || originCount < 1 || originCount > 16) {
    process.stderr.write('deoss start: --origins must be between 1 and 16\n');
    return 2;
  }
  const basePort = Number(values['origin-port'] ?? process.env.DEOSS_ORIGIN_PORT ?? 8080);
  await mkdir(join(home, 'chain'), { recursive: true });
  const chainDb = join(home, 'chain', 'ledger.sqlite');
  // The origins' internal routes exist only with a secret; the edge signs with the same one.
  const edgeSecret = process.env.DEOSS_EDGE_SECRET || (await persistentSecret(home, 'edge-secret'));
  const env: NodeJS.ProcessEnv = { ...process.env, DEOSS_HOME: home, DEOSS_EDGE_SECRET: edgeSecret };
  // Opt-in (it multicasts on the LAN): mDNS under a tag of this stack's own, so two stacks on one machine stay apart.
  if (values.mdns) env.DEOSS_P2P_MDNS_TAG ??= `deoss-${createHash('sha256').update(home).digest('hex').slice(0, 12)}`;
  const children: Child[] = [];
  // Every process spawned, ready or not, so a failed start stops the ones already running too.
  const spawned: ChildProcess[] = [];
  const stop = async () => {
    for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await Promise.all(spawned.map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)))));
  };
  try {
    await prepareLocalLedger(chainDb);
    const nodes = await Promise.all(
      Array.from({ length: nodeCount }, (_, i) =>
        launch('storage-node', ['storage-node', '--suri', `//DeossNode${i + 1}`, '--dir', join(home, 'nodes', String(i + 1))], env, spawned),
      ),
    );
    children.push(...nodes);
    // Fixed libp2p ports (HTTP port + 1000) keep each origin's address stable across restarts, so peers find it again.
    const p2pListen = (n: number) => process.env.DEOSS_P2P_LISTEN ?? `/ip4/127.0.0.1/tcp/${basePort === 0 ? 0 : basePort + n - 1 + 1000}`;
    const origin = await launch('origin', ['origin', ...(values['origin-port'] ? ['--port', values['origin-port']] : [])], { ...env, DEOSS_P2P_LISTEN: p2pListen(1) }, spawned);
    children.push(origin);
    const origins = [origin];
    const firstPeer = (origin.p2p as { addresses?: string[] } | undefined)?.addresses?.[0];
    for (let n = 2; n <= originCount; n++) {
      // Each extra origin: its own home and gateway key, the shared ledger, the first origin as bootstrap peer.
      const extra = await launch('origin', ['origin', '--port', String(basePort === 0 ? 0 : basePort + n - 1)], {
        ...env,
        DEOSS_HOME: join(home, 'origins', String(n)),
        DEOSS_CHAIN_DB: chainDb,
        DEOSS_GATEWAY_SURI: process.env[`DEOSS_GATEWAY_SURI_${n}`] ?? `//DeossGateway${n}`,
        DEOSS_P2P_BOOTSTRAP: process.env.DEOSS_P2P_BOOTSTRAP ?? firstPeer ?? '',
        DEOSS_P2P_LISTEN: p2pListen(n),
      }, spawned);
      children.push(extra);
      origins.push(extra);
    }
    const user = await provisionDevUser({ chainDb, gateway: String(origin.gateway) });
    for (const o of origins.slice(1)) await provisionDevUser({ chainDb, gateway: String(o.gateway) });
    const edgePort = Number(values['edge-port'] ?? process.env.DEOSS_EDGE_PORT ?? 8787);
    const edge = values['no-edge']
      ? undefined
      : await startStackEdge({ home, port: edgePort, origins: origins.map((o) => o.url), edgeSecret, userSuri: DEV_USER_SURI, territory: DEV_TERRITORY, vars: parseEdgeVars(process.env.DEOSS_EDGE_VARS), runner: values['edge-dev'] ? 'wrangler-dev' : 'workerd' });
    if (edge) {
      children.push({ role: 'edge', url: edge.edge.url, pid: edge.edge.pid, process: edge.edge.process });
      // Stopped with the rest: a terminal's Ctrl-C reaches the runner itself, a SIGTERM to `deoss start` does not.
      spawned.push(edge.edge.process);
    }
    const stack = {
      ...(edge ? { edge: edge.edge.url, edgePid: edge.edge.pid, edgeRunner: edge.edge.runner, s3: edge.s3 } : {}),
      origin: origin.url,
      origins: origins.map((o) => o.url),
      originProcesses: origins.map((o) => ({ url: o.url, pid: o.pid, gateway: o.gateway, p2p: o.p2p })),
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
        ...(edge
          ? [
              `  edge           ${edge.edge.url}  (S3, DeOSS API, websites at http://<bucket>.web.localhost:${edgePort})`,
              `  S3 key         AWS_ACCESS_KEY_ID=${edge.s3.accessKeyId} AWS_SECRET_ACCESS_KEY=${edge.s3.secretAccessKey} AWS_REGION=${edge.s3.region}`,
            ]
          : []),
        ...origins.map((o, i) => `  origin${origins.length > 1 ? ` ${i + 1}` : '  '}       ${o.url}${o.p2p ? `  (libp2p ${(o.p2p as { peerId: string }).peerId})` : ''}`),
        `  storage nodes  ${nodes.length} (${nodes[0].url} … ${nodes[nodes.length - 1].url})`,
        `  dev account    ${user.address} (${DEV_USER_SURI}), territory "${DEV_TERRITORY}", gateway authorized`,
        `  stack.json     ${join(home, 'stack.json')}`,
        edge
          ? `  try:           aws --endpoint-url ${edge.edge.url} s3 mb s3://demo && aws --endpoint-url ${edge.edge.url} s3 cp README.md s3://demo/`
          : '  try:           npx deoss put README.md',
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
          if (c.role === 'origin' || c.role === 'edge') {
            process.stderr.write(`deoss start: the ${c.role} (pid ${c.pid}) exited with ${code}; stopping the stack\n`);
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

/**
 * V8 flags for the processes `deoss start` launches (the origins and the storage nodes), which stream object bytes
 * through fresh 64 KiB socket Buffers whose memory V8 counts as external, while their JavaScript heaps stay small
 * (the origin's ~28 MB). Measured through the stack (docs/performance.md):
 * - `--max-semi-space-size=1`: with V8's default young generation (semi-spaces that grow to 16 MiB) no young
 *   collection runs during a burst of small uploads, the dead Buffers pile up, and V8 answers with a major collection
 *   in the middle of an upload (6–25 ms, about once per 16 uploads of 1 MiB). With 1 MiB semi-spaces a young
 *   collection runs every few uploads (0.5–1 ms) and frees them in time.
 * - `--heap-growing-percent=100`: V8 sizes the next major collection's trigger from the heap it kept and from how
 *   fast the program allocates; under a large upload that gave the origin 8–9 MB of room, and every young collection
 *   ended by starting a major one: 15–21 per 256 MiB upload, whose origin took 1.45–1.69 s of CPU. Letting the heap
 *   double first leaves 1–3 and 0.84–1.0 s; the storage nodes spent about a fifth less CPU taking its fragments.
 * A standalone origin or storage node needs them on node's command line (docs/configuration.md); NODE_OPTIONS
 * refuses the second.
 */
export const STREAMING_NODE_FLAGS = ['--max-semi-space-size=1', '--heap-growing-percent=100'];

/** How long a process of the stack may take to print its ready line (12 nodes start at once on a busy machine). */
const STARTUP_TIMEOUT_MS = 180_000;

/** Starts `deoss <args>` as a child (recorded in `spawned`) and waits for the JSON line it prints when ready. */
function launch(role: string, args: string[], env: NodeJS.ProcessEnv, spawned: ChildProcess[]): Promise<Child & Record<string, unknown>> {
  return new Promise((resolveReady, reject) => {
    const child = spawn(process.execPath, [...STREAMING_NODE_FLAGS, BIN, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    spawned.push(child);
    const lines = createInterface({ input: child.stdout! });
    // Cleared however the start ends: a pending timer would keep a failed `deoss start` alive for minutes.
    const timer = setTimeout(() => reject(new Error(`${role} did not start within ${STARTUP_TIMEOUT_MS / 1000} s`)), STARTUP_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${role} exited with ${code} while starting`));
    });
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
