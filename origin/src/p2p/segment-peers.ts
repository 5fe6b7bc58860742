/**
 * The SegmentPeers port: other origins as a source of stored segments. An origin asks the peers that hold a
 * segment in their cache before it goes to storage nodes, and tells the peers what its own cache holds.
 * Adapters: `noPeers` (peering disabled) and the libp2p adapter (libp2p-peers.ts).
 */

/** One segment of a stored file. */
export interface SegmentKey {
  fid: string;
  index: number;
}

export interface PeerFetchRequest extends SegmentKey {
  /**
   * Lowercase hex SHA-256 the returned bytes must have: the segment's hash from the chain for a whole segment, or
   * a data fragment's hash for one of its quarters. Bytes that do not match are never returned.
   */
  hash: string;
  /** First byte inside the segment. @default 0 */
  offset?: number;
  /** Bytes wanted. @default the rest of the segment */
  length?: number;
}

/** Counters for /metrics. */
export interface PeerStats {
  /** Peers this origin is connected to. */
  connected: number;
  /** Holder entries in the content index (peer × segment). */
  indexEntries: number;
  /** Segments this origin announces (its cache). */
  announced: number;
  /** Fetches from peers, by outcome. */
  fetches: Record<PeerFetchOutcome, number>;
  fetchedBytes: number;
  /** Requests from peers, by how this origin answered. */
  served: Record<PeerServeOutcome, number>;
  servedBytes: number;
}

export type PeerFetchOutcome = 'ok' | 'bad-hash' | 'timeout' | 'not-found' | 'busy' | 'failed';
export type PeerServeOutcome = 'ok' | 'not-found' | 'busy' | 'bad-request' | 'failed';

export interface SegmentPeers {
  /** False for the no-op adapter: callers can skip the peer step entirely. */
  readonly enabled: boolean;
  /** Peers believed to hold the segment, fastest first (peer ids). */
  holders(key: SegmentKey): string[];
  /**
   * Fetches the bytes from the holders, several at once, fastest first, verified against `request.hash`, within
   * the adapter's deadline. Resolves undefined when no peer delivered verified bytes in time (the caller goes to
   * storage nodes); rejects only when `signal` aborts.
   */
  fetch(request: PeerFetchRequest, signal?: AbortSignal): Promise<Uint8Array | undefined>;
  /** This origin now holds these segments (its cache took them). */
  announce(keys: SegmentKey[]): void;
  /** This origin no longer holds these segments. */
  withdraw(keys: SegmentKey[]): void;
  stats(): PeerStats;
  close(): Promise<void>;
}

export function emptyPeerStats(): PeerStats {
  return {
    connected: 0,
    indexEntries: 0,
    announced: 0,
    fetches: { ok: 0, 'bad-hash': 0, timeout: 0, 'not-found': 0, busy: 0, failed: 0 },
    fetchedBytes: 0,
    served: { ok: 0, 'not-found': 0, busy: 0, 'bad-request': 0, failed: 0 },
    servedBytes: 0,
  };
}

/** Peering disabled: nobody holds anything, announcements go nowhere. */
export const noPeers: SegmentPeers = {
  enabled: false,
  holders: () => [],
  fetch: async (_request, signal) => {
    signal?.throwIfAborted();
    return undefined;
  },
  announce: () => {},
  withdraw: () => {},
  stats: emptyPeerStats,
  close: async () => {},
};

export const segmentKey = (key: SegmentKey): string => `${key.fid}/${key.index}`;
