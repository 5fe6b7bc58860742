import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Chain } from '../chain/port.ts';
import { ReplayCache } from '../auth/signed-message.ts';
import { DEFAULT_KEEP_ALIVE_MS, keepIdleConnections } from '../http/keep-alive.ts';
import { storageNodeApp } from './app.ts';
import { ColumnReporter } from './column-reporter.ts';
import { FragmentDisk } from './fragment-disk.ts';

export interface StorageNodeOptions {
  /** Chain client signing as this node's account. */
  chain: Chain;
  /** Data directory. */
  dir: string;
  /** Bytes offered. @default 16 GiB */
  capacity?: number;
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Endpoint registered on chain. @default http://host:port */
  publicUrl?: string;
  allowMessageWithoutExpiry?: boolean;
  /**
   * Whether the node reports completed columns to the chain itself (`transfer_report`). Off leaves reporting to an
   * operator's own tooling. @default true
   */
  report?: boolean;
  /** How long an idle HTTP connection stays open (see http/keep-alive.ts). @default 65000 */
  keepAliveMs?: number;
  log?: (msg: string) => void;
}

export interface RunningStorageNode {
  url: string;
  account: string;
  disk: FragmentDisk;
  close(): Promise<void>;
}

/** Starts the storage-node role: fragment server, column reporter, and registration on chain with its endpoint. */
export async function startStorageNode(options: StorageNodeOptions): Promise<RunningStorageNode> {
  const disk = await FragmentDisk.open({ dir: options.dir, capacity: options.capacity ?? 16 * 1024 ** 3 });
  const reporter = new ColumnReporter({ chain: options.chain, disk, log: options.log, enabled: options.report ?? true });
  const app = storageNodeApp({
    chain: options.chain,
    disk,
    reporter,
    allowMessageWithoutExpiry: options.allowMessageWithoutExpiry,
    replay: new ReplayCache(),
  });
  const host = options.host ?? '127.0.0.1';
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 0 }, () => resolve(s));
  });
  keepIdleConnections(server, options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS);
  const { port } = server.address() as AddressInfo;
  const url = options.publicUrl ?? `http://${host}:${port}`;
  await options.chain.registerMiner({ endpoint: url, idleSpace: BigInt(disk.capacity - disk.used) });
  return {
    url,
    account: options.chain.account,
    disk,
    async close() {
      reporter.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
