import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { CessSettings } from './chain/open-chain.ts';
import { DEFAULT_KEEP_ALIVE_MS } from './http/keep-alive.ts';

/** Every setting of an origin, with its default. Limits are named here and nowhere else. */
export interface OriginConfig {
  /** State directory (uploads, cache, local chain). Env DEOSS_HOME. @default ./.deoss */
  home: string;
  /** Listen address. Env DEOSS_ORIGIN_HOST / DEOSS_ORIGIN_PORT. @default 127.0.0.1:8080 */
  host: string;
  port: number;
  /** URL published on chain and in stack.json. @default http://host:port */
  publicUrl?: string;
  /** Domain published with the gateway registration (≤ 50 bytes). */
  domain: string;
  /** The gateway's key (mnemonic or SURI). Env DEOSS_CHAIN_SURI (or DEOSS_GATEWAY_SURI). */
  gatewaySuri: string;
  /** CESS RPC endpoints (ws/wss) in failover order. Env DEOSS_CHAIN_RPC (comma-separated). Empty: the local chain. */
  chainRpc: string[];
  /** The `cess` adapter's settings (docs/chain.md): DEOSS_CHAIN_WAIT, DEOSS_CHAIN_TX_TIMEOUT_MS, DEOSS_CHAIN_CONNECT_TIMEOUT_MS, DEOSS_CHAIN_BATCH_MAX, DEOSS_CHAIN_BUCKET. */
  chain: CessSettings;
  /** Local chain database (used when no chain RPC is configured). @default <home>/chain/ledger.sqlite */
  chainDb: string;
  /** Segment cache capacity in bytes. Env DEOSS_CACHE_BYTES. @default 8 GiB */
  cacheBytes: number;
  /** Largest accepted upload in bytes. Env DEOSS_MAX_UPLOAD_BYTES. @default 1000 segments (the chain's limit) */
  maxUploadBytes: number;
  /** Furthest ahead a signed message may expire, ms. @default 24 h */
  maxMessageAheadMs: number;
  /** When an upload is acknowledged: once durable on the origin, or once all 12 columns are stored. @default durable */
  ackMode: 'durable' | 'stored';
  /** `public`: accessList is a blacklist; `private`: a whitelist. @default public */
  accessMode: 'public' | 'private';
  accessList: string[];
  /** Signed requests per account per minute (burst = one minute's worth). @default 600 */
  accountRatePerMinute: number;
  /** Requests per client IP per minute. @default 1200 */
  ipRatePerMinute: number;
  /** Pipeline worker threads. @default cores */
  threads: number;
  /** Shared secret for the edge's internal routes; internal routes are off without it. Env DEOSS_EDGE_SECRET. */
  edgeSecret?: string;
  /** Largest staged multipart part, bytes. Env DEOSS_MAX_PART_BYTES. @default 5 GiB (S3's limit) */
  maxPartBytes: number;
  /** Staged parts of uploads never completed are removed after this long, ms. Env DEOSS_PART_MAX_AGE_MS. @default 7 days */
  partMaxAgeMs: number;
  /**
   * How long the SSE-C key of a staged part is held in memory after the last part staged with it, so that a
   * CompleteMultipartUpload without the key can merge the parts (uploads/part-key-memory.ts); 0 holds none.
   * Env DEOSS_PART_KEY_MEMORY_MS. @default 1 hour
   */
  partKeyMemoryMs: number;
  /**
   * Write-behind for the edge's unencrypted objects (uploads/pack-store.ts): answer once the raw bytes are durable
   * on the origin, code and dispatch afterwards, small objects packed together. Env DEOSS_WRITE_BEHIND=on|off. @default on
   */
  writeBehind: boolean;
  /** Objects up to this size share packs. Env DEOSS_PACK_OBJECT_MAX_BYTES. @default 8 MiB */
  packObjectMaxBytes: number;
  /** An open pack is sealed after this long, ms. Env DEOSS_PACK_MAX_AGE_MS. @default 1000 */
  packMaxAgeMs: number;
  /**
   * How long an upload check may reuse a territory (and the block number) it looked up on chain, ms; 0 asks every
   * time. Env DEOSS_TERRITORY_CACHE_MS. @default 2000
   */
  territoryCacheMs: number;
  /**
   * How long the HTTP server keeps an idle connection open. Longer than the idle time of the clients' connection
   * pools (the edge's workerd, proxies, SDKs): a server that closes first races a client reusing the connection, and
   * the request sent into it fails. Env DEOSS_KEEP_ALIVE_MS. @default 65000
   */
  keepAliveMs: number;
  /** Unsealed write-behind bytes beyond which uploads wait. Env DEOSS_WRITE_BEHIND_MAX_BYTES. @default 2 GiB */
  writeBehindMaxBytes: number;
  /** Storage nodes to prefer when placing columns (accounts). */
  preferredMiners: string[];
  /** How long delivered columns may stay unreported before they move to other nodes, ms. @default 10 min */
  reportTimeoutMs: number;
  /** Keep the on-disk segment cache (uploads and downloads enter it; peers are served from it). Env DEOSS_CACHE=on|off. @default on */
  cacheEnabled: boolean;
  /** Peering with other origins over libp2p (docs/p2p.md). */
  p2p: P2pConfig;
}

/** libp2p peering settings; env names in docs/configuration.md. */
export interface P2pConfig {
  /** Env DEOSS_P2P=on|off. @default on */
  enabled: boolean;
  /** Listen multiaddrs. Env DEOSS_P2P_LISTEN (comma-separated). @default /ip4/127.0.0.1/tcp/0 */
  listen: string[];
  /** Addresses told to peers instead (public address behind NAT). Env DEOSS_P2P_ANNOUNCE_ADDRS. */
  announceAddrs: string[];
  /** Peers to stay connected to, `/ip4/…/tcp/…/p2p/<peer id>`. Env DEOSS_P2P_BOOTSTRAP. */
  bootstrap: string[];
  /** mDNS service tag for local discovery; off when empty. Env DEOSS_P2P_MDNS_TAG. @default off */
  mdnsTag?: string;
  /** Peer ids admitted (empty: any) and refused. Env DEOSS_P2P_ALLOW / DEOSS_P2P_DENY. */
  allow: string[];
  deny: string[];
  /** Env DEOSS_P2P_KEY. @default <home>/p2p/peer.key */
  keyPath: string;
  /** Env DEOSS_P2P_MAX_CONNECTIONS. @default 64 */
  maxConnections: number;
  /** Holders asked at once for a segment. Env DEOSS_P2P_PARALLEL. @default 2 */
  parallel: number;
  /** Whole peer step of one segment, ms. Env DEOSS_P2P_DEADLINE_MS. @default 15000 */
  deadlineMs: number;
  /** Longest silence from a peer (answer or next bytes), ms. Env DEOSS_P2P_STALL_MS. @default 2000 */
  stallMs: number;
  /** Requests one peer may make per minute. Env DEOSS_P2P_SERVE_RATE. @default 600 */
  serveRatePerMinute: number;
  /** Requests served to one peer at once. Env DEOSS_P2P_SERVE_PER_PEER. @default 4 */
  serveConcurrentPerPeer: number;
  /** Requests served to all peers at once. Env DEOSS_P2P_SERVE_CONCURRENCY. @default 16 */
  serveConcurrent: number;
  /** Content index: (peer, segment) entries, and holders per segment. Env DEOSS_P2P_INDEX_ENTRIES. @default 100000, 16 */
  indexMaxEntries: number;
  indexMaxHoldersPerSegment: number;
  /** How often holdings are repeated; they live 3 intervals, ms. Env DEOSS_P2P_ANNOUNCE_INTERVAL_MS. @default 5 min */
  announceIntervalMs: number;
  /** How long a peer that sent bad bytes is ignored, ms. Env DEOSS_P2P_BAN_MS. @default 1 h */
  banMs: number;
}

const GiB = 1024 ** 3;

export function originConfig(overrides: Partial<OriginConfig> = {}, env: NodeJS.ProcessEnv = process.env): OriginConfig {
  const home = resolve(overrides.home ?? env.DEOSS_HOME ?? '.deoss');
  const list = (v?: string) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);
  const int = (v: string | undefined, d: number) => (v === undefined || v === '' ? d : Number.parseInt(v, 10));
  const flag = (name: string, d: boolean) => {
    const v = env[name]?.toLowerCase();
    if (v === undefined || v === '') return d;
    if (['on', 'true', '1', 'yes'].includes(v)) return true;
    if (['off', 'false', '0', 'no'].includes(v)) return false;
    throw new Error(`${name} must be on or off, not ${JSON.stringify(env[name])}`);
  };
  const config: OriginConfig = {
    home,
    host: env.DEOSS_ORIGIN_HOST ?? '127.0.0.1',
    port: int(env.DEOSS_ORIGIN_PORT, 8080),
    publicUrl: env.DEOSS_ORIGIN_URL,
    domain: env.DEOSS_DOMAIN ?? '',
    gatewaySuri: env.DEOSS_CHAIN_SURI ?? env.DEOSS_GATEWAY_SURI ?? '//DeossGateway',
    chainRpc: list(env.DEOSS_CHAIN_RPC),
    chain: {
      waitFor: env.DEOSS_CHAIN_WAIT === 'finalized' ? 'finalized' : 'inBlock',
      txTimeoutMs: int(env.DEOSS_CHAIN_TX_TIMEOUT_MS, 120_000),
      connectTimeoutMs: int(env.DEOSS_CHAIN_CONNECT_TIMEOUT_MS, 30_000),
      batchMax: int(env.DEOSS_CHAIN_BATCH_MAX, 8),
      bucketName: env.DEOSS_CHAIN_BUCKET || 'deoss',
    },
    chainDb: env.DEOSS_CHAIN_DB ? resolve(env.DEOSS_CHAIN_DB) : join(home, 'chain', 'ledger.sqlite'),
    cacheBytes: int(env.DEOSS_CACHE_BYTES, 8 * GiB),
    maxUploadBytes: int(env.DEOSS_MAX_UPLOAD_BYTES, 1000 * 32 * 1024 * 1024),
    maxMessageAheadMs: int(env.DEOSS_MAX_MESSAGE_AHEAD_MS, 24 * 3600 * 1000),
    ackMode: env.DEOSS_ACK === 'stored' ? 'stored' : 'durable',
    accessMode: env.DEOSS_ACCESS_MODE === 'private' ? 'private' : 'public',
    accessList: list(env.DEOSS_ACCESS_LIST),
    accountRatePerMinute: int(env.DEOSS_ACCOUNT_RATE, 600),
    ipRatePerMinute: int(env.DEOSS_IP_RATE, 1200),
    threads: int(env.DEOSS_THREADS, Math.min(availableParallelism(), 4)),
    edgeSecret: env.DEOSS_EDGE_SECRET || undefined,
    maxPartBytes: int(env.DEOSS_MAX_PART_BYTES, 5 * GiB),
    partMaxAgeMs: int(env.DEOSS_PART_MAX_AGE_MS, 7 * 24 * 3600 * 1000),
    partKeyMemoryMs: int(env.DEOSS_PART_KEY_MEMORY_MS, 3600 * 1000),
    writeBehind: flag('DEOSS_WRITE_BEHIND', true),
    packObjectMaxBytes: int(env.DEOSS_PACK_OBJECT_MAX_BYTES, 8 * 1024 * 1024),
    packMaxAgeMs: int(env.DEOSS_PACK_MAX_AGE_MS, 1000),
    writeBehindMaxBytes: int(env.DEOSS_WRITE_BEHIND_MAX_BYTES, 2 * GiB),
    territoryCacheMs: int(env.DEOSS_TERRITORY_CACHE_MS, 2000),
    keepAliveMs: int(env.DEOSS_KEEP_ALIVE_MS, DEFAULT_KEEP_ALIVE_MS),
    preferredMiners: list(env.DEOSS_PREFERRED_MINERS),
    reportTimeoutMs: int(env.DEOSS_REPORT_TIMEOUT_MS, 600_000),
    cacheEnabled: flag('DEOSS_CACHE', true),
    p2p: {
      enabled: flag('DEOSS_P2P', true),
      listen: env.DEOSS_P2P_LISTEN ? list(env.DEOSS_P2P_LISTEN) : ['/ip4/127.0.0.1/tcp/0'],
      announceAddrs: list(env.DEOSS_P2P_ANNOUNCE_ADDRS),
      bootstrap: list(env.DEOSS_P2P_BOOTSTRAP),
      mdnsTag: env.DEOSS_P2P_MDNS_TAG || undefined,
      allow: list(env.DEOSS_P2P_ALLOW),
      deny: list(env.DEOSS_P2P_DENY),
      keyPath: env.DEOSS_P2P_KEY ? resolve(env.DEOSS_P2P_KEY) : join(home, 'p2p', 'peer.key'),
      maxConnections: int(env.DEOSS_P2P_MAX_CONNECTIONS, 64),
      parallel: int(env.DEOSS_P2P_PARALLEL, 2),
      deadlineMs: int(env.DEOSS_P2P_DEADLINE_MS, 15_000),
      stallMs: int(env.DEOSS_P2P_STALL_MS, 2000),
      serveRatePerMinute: int(env.DEOSS_P2P_SERVE_RATE, 600),
      serveConcurrentPerPeer: int(env.DEOSS_P2P_SERVE_PER_PEER, 4),
      serveConcurrent: int(env.DEOSS_P2P_SERVE_CONCURRENCY, 16),
      indexMaxEntries: int(env.DEOSS_P2P_INDEX_ENTRIES, 100_000),
      indexMaxHoldersPerSegment: 16,
      announceIntervalMs: int(env.DEOSS_P2P_ANNOUNCE_INTERVAL_MS, 300_000),
      banMs: int(env.DEOSS_P2P_BAN_MS, 3_600_000),
    },
    ...overrides,
  };
  if (env.DEOSS_CHAIN_WAIT && !['inBlock', 'finalized'].includes(env.DEOSS_CHAIN_WAIT)) throw new Error('DEOSS_CHAIN_WAIT must be inBlock or finalized');
  for (const url of config.chainRpc) if (!/^wss?:\/\/\S+$/.test(url)) throw new Error(`DEOSS_CHAIN_RPC holds ws:// or wss:// URLs, not ${JSON.stringify(url)}`);
  if (!(config.chain.batchMax! >= 1)) throw new Error('DEOSS_CHAIN_BATCH_MAX must be at least 1');
  if (Buffer.byteLength(config.domain) > 50) throw new Error('domain must be at most 50 bytes (chain limit)');
  if (!(config.maxUploadBytes > 0)) throw new Error('maxUploadBytes must be positive');
  for (const [name, v] of Object.entries(config.p2p)) {
    if (typeof v === 'number' && !(Number.isInteger(v) && v > 0)) throw new Error(`p2p setting ${name} must be a positive integer, not ${v}`);
  }
  return config;
}
