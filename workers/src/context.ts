import type { CdnOptions } from './cdn/object-reader.ts';
import { SegmentMemory } from './cdn/segment-memory.ts';
import { edgeConfig, type EdgeConfig, type EdgeVars } from './config.ts';
import type { NamespaceBindings } from './namespace/env.ts';
import type { FileReferences } from './namespace/file-references.ts';
import { OriginClient, type Placement } from './upstream/origin-client.ts';

/** The worker's bindings: the namespace Durable Objects plus the edge's settings. */
export type EdgeBindings = NamespaceBindings &
  EdgeVars & {
    /** Per-account reference counts of CESS files (idFromName(account)). */
    FILE_REFERENCES: DurableObjectNamespace<FileReferences>;
  };

/** What a request handler works with: explicit components built once per request from the bindings. */
export interface EdgeContext {
  config: EdgeConfig;
  env: EdgeBindings;
  origin: OriginClient;
  cache: Cache;
  cdn: CdnOptions;
  placement: Placement;
  requestId: string;
  waitUntil(p: Promise<unknown>): void;
}

export type EdgeEnv = { Bindings: EdgeBindings; Variables: { edge: EdgeContext } };

/** The context of a request, for sub-apps that receive the same Request object (Hono sub-app fetch). */
export const edgeContextOf = new WeakMap<Request, EdgeContext>();

/** Parsed settings per isolate: the vars do not change while it lives. */
let configCache: { vars: EdgeVars; config: EdgeConfig } | undefined;
/**
 * The isolate's segment memory, made once like the settings it follows (null: turned off). It outlives requests,
 * which is its point, so it lives at module scope.
 */
let segmentMemory: SegmentMemory | null | undefined;

function memoryFor(config: EdgeConfig): SegmentMemory | undefined {
  segmentMemory ??= config.memoryBytes > 0 ? new SegmentMemory({ capacityBytes: config.memoryBytes, entryMaxBytes: config.memorySegmentMaxBytes }) : null;
  return segmentMemory ?? undefined;
}

export function buildEdgeContext(env: EdgeBindings, request: Request, waitUntil: (p: Promise<unknown>) => void): EdgeContext {
  if (configCache?.vars !== env) configCache = { vars: env, config: edgeConfig(env) };
  const config = configCache.config;
  const cf = (request as Request & { cf?: { continent?: string } }).cf;
  const placement: Placement = { region: config.region, continent: cf?.continent };
  const origin = new OriginClient({ origins: config.origins, secret: config.secret, readTimeoutMs: config.originReadTimeoutMs, downForMs: config.originDownForMs, writeProbeAfterMs: config.originWriteProbeAfterMs, writeProbeTimeoutMs: config.originWriteProbeTimeoutMs });
  const cache = caches.default;
  const context: EdgeContext = {
    config,
    env,
    origin,
    cache,
    placement,
    requestId: crypto.randomUUID().replaceAll('-', '').slice(0, 16).toUpperCase(),
    waitUntil,
    cdn: { cache, memory: memoryFor(config), origin, waitUntil, placement, fillMaxSegments: config.fillMaxSegments },
  };
  edgeContextOf.set(request, context);
  return context;
}
