import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { newMetrics, type OriginServices } from './api/context.ts';
import { originApp } from './api/app.ts';
import { RateLimiter } from './api/rate-limit.ts';
import { ReplayCache, type MessageSigner } from './auth/signed-message.ts';
import { SegmentCache } from './cache/segment-cache.ts';
import type { Chain } from './chain/port.ts';
import { TerritoryCache } from './chain/territory-cache.ts';
import type { OriginConfig } from './config.ts';
import { Dispatcher } from './dispatch/dispatcher.ts';
import { FragmentClient } from './dispatch/fragment-client.ts';
import { NodeHealth } from './dispatch/node-health.ts';
import { createSegmentProcessor } from './pipeline/processor.ts';
import { CacheAnnouncer } from './p2p/announcing-cache.ts';
import { Libp2pSegmentPeers } from './p2p/libp2p-peers.ts';
import { noPeers, type SegmentPeers } from './p2p/segment-peers.ts';
import { Retriever } from './retrieve/retriever.ts';
import { UploadJournal } from './uploads/journal.ts';
import { PackStore } from './uploads/pack-store.ts';
import { PartKeyMemory } from './uploads/part-key-memory.ts';
import { PartStore } from './uploads/part-store.ts';
import { deleteOwnedFile } from './api/stored.ts';
import { UploadService } from './uploads/upload-service.ts';
import { SealedPacks } from './chain/sealed-packs.ts';
import { keepIdleConnections } from './http/keep-alive.ts';

export interface OriginComponents {
  /** Chain client signing as the gateway. */
  chain: Chain;
  /** The gateway's key, for signing fragment requests to storage nodes. */
  signer: MessageSigner;
  log?: (msg: string) => void;
}

export interface RunningOrigin {
  url: string;
  /** This origin's libp2p identity and dialable addresses, when peering is on. */
  p2p?: { peerId: string; addresses: string[] };
  services: OriginServices;
  close(): Promise<void>;
}

/** Builds and starts an origin: registers the gateway on chain, resumes journaled uploads, serves the API. */
export async function startOrigin(config: OriginConfig, components: OriginComponents): Promise<RunningOrigin> {
  const { chain, signer, log } = components;
  const metrics = newMetrics();
  const health = new NodeHealth();
  const client = new FragmentClient({ signer });
  const cacheDir = join(config.home, 'cache');
  // With caching off the cache stays empty (capacity 0): nothing is kept, so there is nothing to serve to peers.
  const rawCache = await SegmentCache.open({ dir: cacheDir, capacity: config.cacheEnabled ? config.cacheBytes : 0 });
  const peers: SegmentPeers = config.p2p.enabled
    ? await Libp2pSegmentPeers.start({
        ...config.p2p,
        // Peers are served only from this origin's own cache, never fetched for.
        source: (fid, index) => rawCache.pathOf(fid, index),
        log,
      })
    : noPeers;
  const announcer = new CacheAnnouncer(rawCache, peers);
  const cache = announcer.cache;
  const keep = config.cacheEnabled ? cache : undefined;
  const journal = new UploadJournal(join(config.home, 'uploads'));
  await journal.init();
  const processor = await createSegmentProcessor({ threads: config.threads });
  const dispatcher = new Dispatcher({
    chain,
    journal,
    client,
    health,
    processor,
    preferredMiners: config.preferredMiners,
    log,
  });
  const uploads = new UploadService({ chain, journal, processor, dispatcher, cache: keep, log, reportTimeoutMs: config.reportTimeoutMs });
  const retriever = new Retriever({
    chain,
    client,
    health,
    cache: keep,
    peers,
    processor,
    staged: (fid, index, into) => uploads.stagedSegment(fid, index, into),
    // One set of reusable segment buffers for uploads and downloads.
    buffers: processor.buffers,
    onSegment: (source) => metrics.segmentsFrom[source]++,
    onFragment: (ok) => metrics.fragmentFetches[ok ? 'ok' : 'failed']++,
  });
  const parts = await PartStore.open({ dir: join(config.home, 'parts'), maxAgeMs: config.partMaxAgeMs });
  const sweepParts = () => parts.sweep().catch((err) => log?.(`part sweep failed: ${err}`));
  await sweepParts();
  const partSweeper = setInterval(sweepParts, 3600_000).unref();
  const services: OriginServices = {
    config,
    chain,
    territories: new TerritoryCache(chain, { ttlMs: config.territoryCacheMs }),
    sealedPacks: new SealedPacks(chain),
    gateway: chain.account,
    uploads,
    parts,
    partKeys: new PartKeyMemory({ ttlMs: config.partKeyMemoryMs }),
    retriever,
    cache,
    peers,
    metrics,
    replay: new ReplayCache(),
    accountLimiter: new RateLimiter({ perMinute: config.accountRatePerMinute, burst: config.accountRatePerMinute }),
    ipLimiter: new RateLimiter({ perMinute: config.ipRatePerMinute, burst: config.ipRatePerMinute }),
  };
  if (config.writeBehind && config.edgeSecret) {
    services.packs = await PackStore.open({
      dir: join(config.home, 'packs'),
      uploads,
      objectMaxBytes: config.packObjectMaxBytes,
      maxAgeMs: config.packMaxAgeMs,
      pendingMaxBytes: config.writeBehindMaxBytes,
      // A sealed pack's file is deleted the way the edge's own deletes are.
      deleteFile: async (owner, fid) => void (await deleteOwnedFile(services, owner, fid)),
      log,
    });
  }
  const packs = services.packs;
  const app = originApp(services);
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, () => resolve(s));
    s.once('error', reject);
  });
  keepIdleConnections(server, config.keepAliveMs);
  const { port } = server.address() as AddressInfo;
  const url = config.publicUrl ?? `http://${config.host}:${port}`;
  const registered = await chain.gateway(chain.account);
  if (!registered || registered.endpoint !== url || registered.domain !== config.domain) {
    await chain.registerGateway({ endpoint: url, domain: config.domain });
  }
  const resumed = await uploads.resumeAll();
  if (resumed) log?.(`resumed ${resumed} journaled upload(s)`);
  packs?.start();
  const announced = await announcer.announceExisting(cacheDir);
  if (announced) log?.(`announced ${announced} cached segment(s) to peers`);
  return {
    url,
    p2p: peers instanceof Libp2pSegmentPeers ? { peerId: peers.peerId, addresses: peers.addresses } : undefined,
    services,
    async close() {
      clearInterval(partSweeper);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await packs?.close();
      await uploads.close();
      dispatcher.close();
      await processor.close();
      await peers.close();
    },
  };
}
