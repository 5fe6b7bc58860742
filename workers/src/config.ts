import type { OriginTarget } from './upstream/origin-client.ts';

/**
 * The edge's settings, read from the worker's environment (wrangler.toml `[vars]`, secrets via `wrangler secret put`
 * or `--var` locally). Every limit is named here.
 */
export interface EdgeVars {
  /** JSON list of origins: `[{"url","region","continents":["EU",…]}]`. */
  EDGE_ORIGINS?: string;
  /** Shared secret for the origins' internal routes (same value as the origins' DEOSS_EDGE_SECRET). */
  EDGE_SECRET?: string;
  /** Region name to prefer, overriding `request.cf` (local runs). */
  EDGE_REGION?: string;
  /** Comma-separated hosts under which `<bucket>.<host>` is virtual-hosted-style S3. */
  S3_DOMAINS?: string;
  /** The region S3 clients sign for. @default us-east-1 */
  S3_REGION?: string;
  /** Comma-separated hosts under which `<bucket>.<host>` serves the bucket as a static website. */
  WEBSITE_DOMAINS?: string;
  /** JSON map of custom website domains to bucket names: `{"www.example.com":"my-site"}`. */
  CUSTOM_DOMAINS?: string;
  /** Largest single PutObject/UploadPart body, bytes. @default 5 GiB (S3's limit) */
  MAX_PUT_BYTES?: string;
  /** Most segments one GET may fill into the edge cache. @default 8 */
  CDN_FILL_MAX_SEGMENTS?: string;
  /** `Cache-Control` for objects served to anonymous readers and websites. @default public, max-age=60 */
  PUBLIC_CACHE_CONTROL?: string;
  /** Bytes of small segments each isolate keeps in memory in front of the Cache API; 0 turns it off. @default 32 MiB */
  CDN_MEMORY_BYTES?: string;
  /** Largest segment (so, for most objects: largest object) kept in memory. @default 2 MiB */
  CDN_MEMORY_SEGMENT_MAX_BYTES?: string;
  /** How long a read (GET/HEAD) waits for an origin's answer (its status and headers) before trying the next, ms. @default 30000 */
  ORIGIN_READ_TIMEOUT_MS?: string;
  /** How long an origin that failed (unreachable, 5xx, no answer in time) is tried last, ms. @default 30000 */
  ORIGIN_DOWN_FOR_MS?: string;
  /** A write (or release) without an answer this long makes the edge probe its origin's liveness, ms. @default 10000 */
  ORIGIN_WRITE_PROBE_AFTER_MS?: string;
  /** How long that probe may go unanswered before the write is given up and the origin counted as down, ms. @default 5000 */
  ORIGIN_WRITE_PROBE_TIMEOUT_MS?: string;
}

export interface EdgeConfig {
  origins: OriginTarget[];
  secret: string;
  region?: string;
  s3Domains: string[];
  s3Region: string;
  websiteDomains: string[];
  customDomains: Record<string, string>;
  maxPutBytes: number;
  fillMaxSegments: number;
  publicCacheControl: string;
  memoryBytes: number;
  memorySegmentMaxBytes: number;
  originReadTimeoutMs: number;
  originDownForMs: number;
  originWriteProbeAfterMs: number;
  originWriteProbeTimeoutMs: number;
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

export function edgeConfig(env: EdgeVars): EdgeConfig {
  const list = (v?: string) => (v ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const int = (v: string | undefined, d: number) => (v ? Number.parseInt(v, 10) : d);
  return {
    origins: parseJson<OriginTarget[]>(env.EDGE_ORIGINS, 'EDGE_ORIGINS', []),
    secret: env.EDGE_SECRET ?? '',
    region: env.EDGE_REGION || undefined,
    s3Domains: list(env.S3_DOMAINS),
    s3Region: env.S3_REGION || 'us-east-1',
    websiteDomains: list(env.WEBSITE_DOMAINS),
    customDomains: Object.fromEntries(Object.entries(parseJson<Record<string, string>>(env.CUSTOM_DOMAINS, 'CUSTOM_DOMAINS', {})).map(([k, v]) => [k.toLowerCase(), v])),
    maxPutBytes: int(env.MAX_PUT_BYTES, 5 * GiB),
    fillMaxSegments: int(env.CDN_FILL_MAX_SEGMENTS, 8),
    publicCacheControl: env.PUBLIC_CACHE_CONTROL || 'public, max-age=60',
    memoryBytes: int(env.CDN_MEMORY_BYTES, 32 * MiB),
    memorySegmentMaxBytes: int(env.CDN_MEMORY_SEGMENT_MAX_BYTES, 2 * MiB),
    originReadTimeoutMs: int(env.ORIGIN_READ_TIMEOUT_MS, 30_000),
    originDownForMs: int(env.ORIGIN_DOWN_FOR_MS, 30_000),
    originWriteProbeAfterMs: int(env.ORIGIN_WRITE_PROBE_AFTER_MS, 10_000),
    originWriteProbeTimeoutMs: int(env.ORIGIN_WRITE_PROBE_TIMEOUT_MS, 5_000),
  };
}

function parseJson<T>(value: string | undefined, name: string, fallback: T): T {
  if (!value) return fallback;
  try {
    return JSON.parse(value) as T;
  } catch {
    throw new Error(`${name} is not valid JSON`);
  }
}
