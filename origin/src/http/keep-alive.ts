import type { Server } from 'node:http';
import type { ServerType } from '@hono/node-server';

/** How long the origin and the storage nodes keep an idle HTTP connection open by default (DEOSS_KEEP_ALIVE_MS). */
export const DEFAULT_KEEP_ALIVE_MS = 65_000;

/**
 * Keeps idle connections open for `ms`, longer than clients' pools keep theirs (workerd, undici, proxies, SDKs):
 * Node's default, 5 s, is shorter, and a server that closes an idle connection first races a client reusing it, whose
 * request then fails ("other side closed"). The time allowed for a request's headers stays above it, as Node wants.
 */
export function keepIdleConnections(server: ServerType, ms: number): void {
  const http = server as Server;
  http.keepAliveTimeout = ms;
  http.headersTimeout = Math.max(http.headersTimeout, ms + 1000);
}
