import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { provisionDevUser, DEV_TERRITORY, DEV_USER_SURI } from '../../origin/src/cli/dev-accounts.ts';
import { STREAMING_NODE_FLAGS } from '../../origin/src/cli/start.ts';

const BIN = fileURLToPath(new URL('../../bin/deoss.mjs', import.meta.url));
/** How long a process may take to print its ready line (12 nodes start at once on a shared 2-core machine). */
const STARTUP_TIMEOUT_MS = 120_000;

export interface ClusterProcess {
  url: string;
  pid: number;
  account: string;
  dir?: string;
  /** An origin's libp2p identity and addresses (from its ready line), when peering is on. */
  p2p?: { peerId: string; addresses: string[] };
  process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `deoss <args>` as a real process, with the V8 flags `deoss start` gives it, and waits for its ready line. */
export function launch(args: string[], env: NodeJS.ProcessEnv): Promise<ClusterProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...STREAMING_NODE_FLAGS, BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (process.env.DEOSS_TEST_LOGS) process.stderr.write(d);
    });
    // A process that never gets ready is stopped, not left running after the test gives up on it.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`deoss ${args[0]} did not start within ${STARTUP_TIMEOUT_MS / 1000} s: ${stderr}`));
    }, STARTUP_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`deoss ${args[0]} exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      const ready = JSON.parse(line);
      resolve({
        url: ready.url,
        pid: child.pid!,
        account: ready.account ?? ready.gateway,
        p2p: ready.p2p,
        process: child,
        stop: (signal = 'SIGTERM') =>
          new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill(signal);
          }),
      });
    });
  });
}

export interface Cluster {
  home: string;
  env: NodeJS.ProcessEnv;
  /** The first origin (home = the cluster's home). */
  origin: ClusterProcess;
  /** Every origin, the first one included, in start order. */
  origins: ClusterProcess[];
  nodes: ClusterProcess[];
  user: { address: string; suri: string; territory: string };
  restartOrigin(): Promise<ClusterProcess>;
  /**
   * Starts one more origin process: its own home, its own gateway key (authorized by the dev user), the shared
   * chain ledger, and the first origin as its libp2p bootstrap peer. `env` overrides any of that.
   */
  addOrigin(env?: NodeJS.ProcessEnv): Promise<ClusterProcess>;
  close(): Promise<void>;
}

/** A local cluster of real processes: 12 storage nodes and one origin sharing a local chain ledger. */
export async function startCluster(options: { nodes?: number; env?: NodeJS.ProcessEnv; nodeArgs?: (i: number) => string[] } = {}): Promise<Cluster> {
  const home = await mkdtemp(join(tmpdir(), 'deoss-cluster-'));
  const env = { ...process.env, DEOSS_HOME: home, DEOSS_ORIGIN_PORT: '0', DEOSS_THREADS: '2', ...options.env };
  const started = await Promise.allSettled(
    Array.from({ length: options.nodes ?? 12 }, async (_, i) => {
      const dir = join(home, 'nodes', String(i + 1));
      const node = await launch(['storage-node', '--suri', `//TestNode${i + 1}`, '--dir', dir, ...(options.nodeArgs?.(i) ?? [])], env);
      return { ...node, dir };
    }),
  );
  const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  let origin: ClusterProcess;
  try {
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    origin = await launch(['origin'], env);
  } catch (err) {
    // Nothing of a cluster that failed to start is left running.
    await Promise.all(nodes.map((n) => n.stop()));
    await rm(home, { recursive: true, force: true });
    throw err;
  }
  const chainDb = join(home, 'chain', 'ledger.sqlite');
  const user = await provisionDevUser({ chainDb, gateway: origin.account });
  const origins = [origin];
  const cluster: Cluster = {
    home,
    env,
    origin,
    origins,
    nodes,
    user: { address: user.address, suri: DEV_USER_SURI, territory: DEV_TERRITORY },
    async restartOrigin() {
      await cluster.origin.stop();
      origin = await launch(['origin'], env);
      cluster.origin = origin;
      origins[0] = origin;
      return origin;
    },
    async addOrigin(extra = {}) {
      const n = origins.length + 1;
      const originHome = join(home, 'origins', String(n));
      const added = await launch(['origin'], {
        ...env,
        DEOSS_HOME: originHome,
        DEOSS_CHAIN_DB: chainDb,
        DEOSS_GATEWAY_SURI: `//DeossGateway${n}`,
        DEOSS_P2P_BOOTSTRAP: cluster.origin.p2p?.addresses[0] ?? '',
        ...extra,
      });
      added.dir = originHome;
      origins.push(added);
      await provisionDevUser({ chainDb, gateway: added.account });
      return added;
    },
    async close() {
      await Promise.all([...origins, ...nodes].map((p) => p.stop()));
      await rm(home, { recursive: true, force: true });
    },
  };
  return cluster;
}
