import { Hono } from 'hono';
import { ipRateLimit } from './auth.ts';
import { chainTxRoutes } from './chain-tx.ts';
import type { OriginEnv, OriginServices } from './context.ts';
import { downloadRoutes } from './download.ts';
import { ApiError, toResponse } from './errors.ts';
import { fileRoutes } from './files.ts';
import { internalRoutes } from './internal.ts';
import { resumeRoutes } from './resume.ts';
import { uploadRoutes } from './upload.ts';

export const VERSION = 'deoss-edge origin 0.1.0';

/** The origin's DeOSS-compatible HTTP API. Errors are turned into responses in one place (errors.ts). */
export function originApp(s: OriginServices): Hono<OriginEnv> {
  const app = new Hono<OriginEnv>();
  app.onError((err, c) => {
    s.metrics.rejected++;
    return toResponse(err, c);
  });
  app.notFound((c) => toResponse(new ApiError(404, `no route for ${c.req.method} ${c.req.path}`), c));
  app.get('/version', (c) => c.json(VERSION));
  app.get('/healthz', async (c) => {
    const block = await s.chain.blockNumber().catch(() => undefined);
    return c.json({ ok: block !== undefined, role: 'origin', gateway: s.gateway, block }, block !== undefined ? 200 : 503);
  });
  app.get('/metrics', (c) => c.text(renderMetrics(s), 200, { 'Content-Type': 'text/plain; version=0.0.4' }));
  app.use('/file/*', ipRateLimit(s));
  app.use('/object/*', ipRateLimit(s));
  app.use('/resume/*', ipRateLimit(s));
  uploadRoutes(app, s);
  resumeRoutes(app, s);
  downloadRoutes(app, s);
  fileRoutes(app, s);
  internalRoutes(app, s);
  chainTxRoutes(app, s);
  return app;
}

function renderMetrics(s: OriginServices): string {
  const m = s.metrics;
  const cache = s.cache.stats();
  const peers = s.peers.stats();
  const memory = process.memoryUsage();
  return [
    `deoss_origin_heap_used_bytes ${memory.heapUsed}`,
    `deoss_origin_external_bytes ${memory.external}`,
    `deoss_origin_rss_bytes ${memory.rss}`,
    `deoss_origin_uploads_total ${m.uploads}`,
    `deoss_origin_upload_bytes_total ${m.uploadBytes}`,
    // Work owed after the answers: unsealed write-behind packs, and uploads not yet stored on the nodes.
    `deoss_origin_write_behind_packs ${s.packs?.pending().packs ?? 0}`,
    `deoss_origin_write_behind_bytes ${s.packs?.pending().bytes ?? 0}`,
    `deoss_origin_uploads_unsettled ${s.uploads.unsettled()}`,
    `deoss_origin_downloads_total ${m.downloads}`,
    `deoss_origin_download_bytes_total ${m.downloadBytes}`,
    ...Object.entries(m.segmentsFrom).map(([source, n]) => `deoss_origin_segments_served_total{source="${source}"} ${n}`),
    `deoss_origin_fragment_fetches_total{result="ok"} ${m.fragmentFetches.ok}`,
    `deoss_origin_fragment_fetches_total{result="failed"} ${m.fragmentFetches.failed}`,
    `deoss_origin_rejected_total ${m.rejected}`,
    `deoss_origin_cache_hits_total ${cache.hits}`,
    `deoss_origin_cache_misses_total ${cache.misses}`,
    `deoss_origin_cache_bytes ${cache.bytes}`,
    `deoss_origin_cache_capacity_bytes ${cache.capacity}`,
    `deoss_origin_cache_evictions_total ${cache.evictions}`,
    `deoss_origin_peers_connected ${peers.connected}`,
    `deoss_origin_peer_index_entries ${peers.indexEntries}`,
    `deoss_origin_peer_announced_segments ${peers.announced}`,
    ...Object.entries(peers.fetches).map(([result, n]) => `deoss_origin_peer_fetches_total{result="${result}"} ${n}`),
    `deoss_origin_peer_fetched_bytes_total ${peers.fetchedBytes}`,
    ...Object.entries(peers.served).map(([result, n]) => `deoss_origin_peer_served_total{result="${result}"} ${n}`),
    `deoss_origin_peer_served_bytes_total ${peers.servedBytes}`,
    '',
  ].join('\n');
}
