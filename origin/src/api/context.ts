import type { SegmentCache } from '../cache/segment-cache.ts';
import type { Chain } from '../chain/port.ts';
import type { TerritoryCache } from '../chain/territory-cache.ts';
import type { OriginConfig } from '../config.ts';
import type { SegmentPeers } from '../p2p/segment-peers.ts';
import type { Retriever } from '../retrieve/retriever.ts';
import type { PackStore } from '../uploads/pack-store.ts';
import type { PartStore } from '../uploads/part-store.ts';
import type { PartKeyMemory } from '../uploads/part-key-memory.ts';
import type { UploadService } from '../uploads/upload-service.ts';
import type { ReplayCache } from '../auth/signed-message.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { SealedPacks } from '../chain/sealed-packs.ts';

/** Counters exported at /metrics. */
export interface OriginMetrics {
  uploads: number;
  uploadBytes: number;
  downloads: number;
  downloadBytes: number;
  segmentsFrom: Record<'cache' | 'staging' | 'peers' | 'storage-nodes', number>;
  fragmentFetches: { ok: number; failed: number };
  rejected: number;
}

export function newMetrics(): OriginMetrics {
  return {
    uploads: 0,
    uploadBytes: 0,
    downloads: 0,
    downloadBytes: 0,
    segmentsFrom: { cache: 0, staging: 0, peers: 0, 'storage-nodes': 0 },
    fragmentFetches: { ok: 0, failed: 0 },
    rejected: 0,
  };
}

/** What the API handlers work with: explicit components, no globals. */
export interface OriginServices {
  config: OriginConfig;
  chain: Chain;
  /** Territory and block-number lookups for the upload checks, briefly remembered (api/upload.ts checkTerritory). */
  territories: TerritoryCache;
  /** The gateway's account (the chain client's signer). */
  gateway: string;
  uploads: UploadService;
  /** Staged S3 multipart parts (internal routes). */
  parts: PartStore;
  /** The SSE-C keys of staged parts, in memory only, for a CompleteMultipartUpload sent without them. */
  partKeys: PartKeyMemory;
  /** Write-behind packs of the edge's unencrypted objects (internal routes); absent when write-behind is off. */
  packs?: PackStore;
  /** Packs other origins wrote and sealed, found on the chain (reads of their members while the writer is down). */
  sealedPacks: SealedPacks;
  retriever: Retriever;
  cache: SegmentCache;
  /** Other origins as a segment source (the no-op adapter when peering is off). */
  peers: SegmentPeers;
  metrics: OriginMetrics;
  replay: ReplayCache;
  accountLimiter: RateLimiter;
  ipLimiter: RateLimiter;
}

/** Hono variables set by the auth middleware. */
export type OriginEnv = { Variables: { caller: string; /** Internal routes: the body hash the edge promised, or UNSIGNED-PAYLOAD. */ promisedSha256: string } };
