import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';

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
  /** The gateway's key (mnemonic or SURI). Env DEOSS_GATEWAY_SURI. */
  gatewaySuri: string;
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
  /** Storage nodes to prefer when placing columns (accounts). */
  preferredMiners: string[];
  /** How long delivered columns may stay unreported before they move to other nodes, ms. @default 10 min */
  reportTimeoutMs: number;
}

const GiB = 1024 ** 3;

export function originConfig(overrides: Partial<OriginConfig> = {}, env: NodeJS.ProcessEnv = process.env): OriginConfig {
  const home = resolve(overrides.home ?? env.DEOSS_HOME ?? '.deoss');
  const list = (v?: string) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);
  const int = (v: string | undefined, d: number) => (v === undefined || v === '' ? d : Number.parseInt(v, 10));
  const config: OriginConfig = {
    home,
    host: env.DEOSS_ORIGIN_HOST ?? '127.0.0.1',
    port: int(env.DEOSS_ORIGIN_PORT, 8080),
    publicUrl: env.DEOSS_ORIGIN_URL,
    domain: env.DEOSS_DOMAIN ?? '',
    gatewaySuri: env.DEOSS_GATEWAY_SURI ?? '//DeossGateway',
    chainDb: join(home, 'chain', 'ledger.sqlite'),
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
    preferredMiners: list(env.DEOSS_PREFERRED_MINERS),
    reportTimeoutMs: int(env.DEOSS_REPORT_TIMEOUT_MS, 600_000),
    ...overrides,
  };
  if (Buffer.byteLength(config.domain) > 50) throw new Error('domain must be at most 50 bytes (chain limit)');
  if (!(config.maxUploadBytes > 0)) throw new Error('maxUploadBytes must be positive');
  return config;
}
