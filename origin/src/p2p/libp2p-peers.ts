import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { gossipsub, TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import { KEEP_ALIVE, type Libp2p, type PeerId } from '@libp2p/interface';
import { mdns } from '@libp2p/mdns';
import { peerIdFromString } from '@libp2p/peer-id';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { SEGMENT_SIZE } from '../pipeline/constants.ts';
import { ANNOUNCE_TOPIC, decodeAnnouncement, encodeAnnouncements } from './announcements.ts';
import { HolderIndex } from './holder-index.ts';
import { loadOrCreatePeerKey } from './identity.ts';
import { PeerPolicy } from './peer-policy.ts';
import { PeerScores } from './peer-scores.ts';
import { PeerLiedError, PeerRefusedError, receiveVerified, requestSegment, type SegmentOffer } from './segment-client.ts';
import {
  emptyPeerStats,
  segmentKey,
  type PeerFetchOutcome,
  type PeerFetchRequest,
  type PeerStats,
  type SegmentKey,
  type SegmentPeers,
} from './segment-peers.ts';
import { SEGMENT_PROTOCOL, Status, type SegmentRequest } from './segment-protocol.ts';
import { segmentServer } from './segment-server.ts';
import { PeerStallError } from './stream-reader.ts';

/** Every setting of the libp2p adapter (docs/p2p.md; env names in config.ts). */
export interface Libp2pPeersOptions {
  /** Where the persistent Ed25519 peer key lives (created on first start). */
  keyPath: string;
  /** Multiaddrs to listen on, e.g. `/ip4/0.0.0.0/tcp/4001`. */
  listen: string[];
  /** Multiaddrs to tell peers instead of the listen addresses (public address behind NAT). */
  announceAddrs?: string[];
  /** Peers to stay connected to: multiaddrs ending in `/p2p/<peer id>`. */
  bootstrap: string[];
  /** Local discovery with mDNS under this service tag; off when undefined. */
  mdnsTag?: string;
  /** Peer ids admitted (empty: any) and refused. */
  allow: string[];
  deny: string[];
  /** Connection limit of the libp2p node. */
  maxConnections: number;
  /** Holders asked at once for one segment. */
  parallel: number;
  /** Budget for the whole peer step of one segment (all holders together), ms. */
  deadlineMs: number;
  /** Longest wait for a peer's answer or its next bytes (and for a requester to take ours), ms. */
  stallMs: number;
  /** Serving: requests per peer per minute, and concurrent requests per peer and in total. */
  serveRatePerMinute: number;
  serveConcurrentPerPeer: number;
  serveConcurrent: number;
  /** Content index bounds. */
  indexMaxEntries: number;
  indexMaxHoldersPerSegment: number;
  /** How often this origin repeats its holdings; announcements live 3 intervals. ms */
  announceIntervalMs: number;
  /** How long a peer that sent bytes that failed verification is ignored, ms. */
  banMs: number;
  /** The local segments this origin may serve: the on-disk path of a cached segment, or undefined. */
  source: (fid: string, index: number) => string | undefined;
  log?: (msg: string) => void;
}

type Node = Libp2p<{ pubsub: GossipSub }>;

/** Re-dial bootstrap peers that are not connected this often. */
const BOOTSTRAP_REDIAL_MS = 10_000;
/** Least time libp2p's connection monitor gives a ping before it drops the connection. */
const CONNECTION_PING_TIMEOUT_MS = 30_000;
/** Collect announce/withdraw calls this long before publishing them as one message. */
const ANNOUNCE_DEBOUNCE_MS = 100;

/**
 * The libp2p adapter of SegmentPeers: TCP + Noise + Yamux, identify and ping; holdings announced on a gossipsub topic
 * into a bounded local index; segments fetched over `/deoss/segment/1.0.0` and verified before use.
 */
export class Libp2pSegmentPeers implements SegmentPeers {
  readonly enabled = true;
  readonly node: Node;
  readonly #o: Libp2pPeersOptions;
  readonly #policy: PeerPolicy;
  readonly #index: HolderIndex;
  readonly #scores: PeerScores;
  readonly #stats = emptyPeerStats();
  /** What this origin announces (its cache), for republishing. */
  readonly #held = new Map<string, SegmentKey>();
  readonly #pendingHave = new Map<string, SegmentKey>();
  readonly #pendingGone = new Map<string, SegmentKey>();
  readonly #timers: NodeJS.Timeout[] = [];
  #flushTimer?: NodeJS.Timeout;
  #republishTimer?: NodeJS.Timeout;
  #closed = false;

  private constructor(node: Node, options: Libp2pPeersOptions, policy: PeerPolicy) {
    this.node = node;
    this.#o = options;
    this.#policy = policy;
    this.#index = new HolderIndex({ maxEntries: options.indexMaxEntries, maxHoldersPerSegment: options.indexMaxHoldersPerSegment });
    this.#scores = new PeerScores({ banMs: options.banMs });
  }

  static async start(options: Libp2pPeersOptions): Promise<Libp2pSegmentPeers> {
    const policy = new PeerPolicy({ allow: options.allow, deny: options.deny });
    const bootstrap = options.bootstrap.map(parseBootstrap);
    const node: Node = await createLibp2p({
      privateKey: await loadOrCreatePeerKey(options.keyPath),
      addresses: { listen: options.listen, announce: options.announceAddrs ?? [] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: policy.gater(),
      connectionManager: { maxConnections: options.maxConnections },
      // libp2p pings every connection and drops it when a ping is late. Its timeout adapts to the round trips it
      // has seen (milliseconds on an idle link), but a ping queues behind up to a Yamux window of segment data, so a
      // busy connection looked dead and every transfer on it was reset. Dead peers are caught by our stall limits.
      connectionMonitor: { pingTimeout: { minTimeout: CONNECTION_PING_TIMEOUT_MS } },
      peerDiscovery: options.mdnsTag ? [mdns({ serviceTag: options.mdnsTag, interval: 5_000 })] : [],
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false, allowedTopics: [ANNOUNCE_TOPIC] }),
      },
    });
    const peers = new Libp2pSegmentPeers(node, options, policy);
    await peers.#wire(bootstrap);
    return peers;
  }

  get peerId(): string {
    return this.node.peerId.toString();
  }

  /** Dialable addresses of this node (with `/p2p/<peer id>`). */
  get addresses(): string[] {
    return this.node.getMultiaddrs().map(String);
  }

  async #wire(bootstrap: { ma: Multiaddr; peer: PeerId }[]): Promise<void> {
    const node = this.node;
    const o = this.#o;
    await node.handle(
      SEGMENT_PROTOCOL,
      segmentServer({
        source: o.source,
        ratePerMinute: o.serveRatePerMinute,
        concurrentPerPeer: o.serveConcurrentPerPeer,
        concurrent: o.serveConcurrent,
        stallMs: o.stallMs,
        onServed: (outcome, bytes) => {
          this.#stats.served[outcome]++;
          this.#stats.servedBytes += bytes;
        },
      }),
      // Above our own per-peer limit, so a busy peer hears BUSY instead of a reset stream.
      { maxInboundStreams: o.serveConcurrentPerPeer * 2 + 2, maxOutboundStreams: Math.max(o.parallel * 8, 16) },
    );

    const pubsub = node.services.pubsub;
    pubsub.topicValidators.set(ANNOUNCE_TOPIC, (_from, msg) => {
      if (msg.type !== 'signed') return TopicValidatorResult.Reject;
      if (!this.#policy.allows(msg.from)) return TopicValidatorResult.Ignore;
      try {
        decodeAnnouncement(msg.data);
        return TopicValidatorResult.Accept;
      } catch {
        return TopicValidatorResult.Reject;
      }
    });
    pubsub.addEventListener('message', (evt) => this.#onAnnouncement(evt.detail));
    // A peer that just joined the topic has missed earlier announcements: repeat ours soon.
    pubsub.addEventListener('subscription-change', (evt) => {
      if (evt.detail.subscriptions.some((s) => s.topic === ANNOUNCE_TOPIC && s.subscribe)) this.#scheduleRepublish(500);
    });
    pubsub.subscribe(ANNOUNCE_TOPIC);

    node.addEventListener('peer:discovery', (evt) => {
      const peer = evt.detail.id;
      if (!this.#policy.allows(peer) || node.getConnections(peer).length > 0) return;
      node.dial(peer).catch((err: Error) => o.log?.(`p2p: dialing discovered peer ${peer} failed: ${err.message}`));
    });

    const dialBootstrap = () => {
      for (const { ma, peer } of bootstrap) {
        if (this.#closed || node.getConnections(peer).length > 0) continue;
        node.dial(ma).catch((err: Error) => o.log?.(`p2p: bootstrap peer ${ma} unreachable: ${err.message}`));
      }
    };
    for (const { ma, peer } of bootstrap) {
      // Tagged keep-alive: libp2p reconnects to it after a disconnect.
      await node.peerStore.merge(peer, { multiaddrs: [ma], tags: { [KEEP_ALIVE]: { value: 1 } } });
    }
    dialBootstrap();
    this.#timers.push(setInterval(dialBootstrap, BOOTSTRAP_REDIAL_MS).unref());
    this.#timers.push(setInterval(() => this.#scheduleRepublish(0), o.announceIntervalMs).unref());
  }

  #onAnnouncement(msg: Message): void {
    if (msg.topic !== ANNOUNCE_TOPIC || msg.type !== 'signed') return;
    const from = msg.from.toString();
    if (from === this.peerId || !this.#policy.allows(from) || this.#scores.banned(from)) return;
    let a;
    try {
      a = decodeAnnouncement(msg.data);
    } catch {
      return;
    }
    if (a.kind === 'gone') {
      for (const k of a.keys) this.#index.remove(from, k);
      return;
    }
    // Never trust a peer's ttl beyond what this origin would use itself.
    const ttlMs = Math.min(a.ttlSeconds * 1000, 3 * this.#o.announceIntervalMs);
    const expiresAt = Date.now() + ttlMs;
    for (const k of a.keys) this.#index.add(from, k, expiresAt);
  }

  holders(key: SegmentKey): string[] {
    return this.#scores.rank(this.#index.holders(key).filter((p) => this.#policy.allows(p)));
  }

  async fetch(request: PeerFetchRequest, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    signal?.throwIfAborted();
    const queue = this.holders(request);
    if (queue.length === 0 || this.#closed) return undefined;
    const offset = request.offset ?? 0;
    const wire: SegmentRequest = { fid: request.fid, index: request.index, offset, length: request.length ?? SEGMENT_SIZE - offset };
    const deadline = AbortSignal.timeout(this.#o.deadlineMs);
    const budget = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const into = new Uint8Array(wire.length);
    // A transfer that broke off (reset, connection lost) earns its peer one more turn, at the back of the queue.
    const retried = new Set<string>();
    const retry = (peer: string, outcome: PeerFetchOutcome) => {
      if (outcome !== 'failed' || retried.has(peer)) return;
      retried.add(peer);
      queue.push(peer);
    };
    while (queue.length > 0 && !budget.aborted) {
      const offer = await this.#race(queue.splice(0, this.#o.parallel), wire, budget, queue, retry, signal);
      if (!offer) continue;
      const started = performance.now();
      try {
        await receiveVerified(offer, into, request.hash);
        this.#scores.success(offer.peer, wire.length, performance.now() - started + offer.headerMs);
        this.#stats.fetches.ok++;
        this.#stats.fetchedBytes += wire.length;
        return into;
      } catch (err) {
        // The caller giving up is not the peer's failure.
        if (!signal?.aborted) retry(offer.peer, this.#failed(offer.peer, request, err, budget));
      }
    }
    signal?.throwIfAborted();
    return undefined;
  }

  /**
   * Asks `batch` at once; the first peer whose answer says it will send the bytes wins. The others are cancelled and
   * go back to the front of `queue` (they did nothing wrong), to be asked if the winner's bytes fail.
   */
  #race(
    batch: string[],
    request: SegmentRequest,
    budget: AbortSignal,
    queue: string[],
    retry: (peer: string, outcome: PeerFetchOutcome) => void,
    caller?: AbortSignal,
  ): Promise<(SegmentOffer & { peer: string; headerMs: number }) | undefined> {
    return new Promise((resolve) => {
      let won = false;
      let pending = batch.length;
      const settled = batch.map(() => false);
      const cancels = batch.map(() => new AbortController());
      batch.forEach((peer, i) => {
        const t0 = performance.now();
        this.#open(peer, request, AbortSignal.any([budget, cancels[i].signal])).then(
          (offer) => {
            settled[i] = true;
            pending--;
            if (won) return offer.stream.abort(new Error('another peer answered first'));
            won = true;
            batch.forEach((other, j) => {
              if (j === i || settled[j]) return;
              cancels[j].abort(new Error('another peer answered first'));
              queue.unshift(other);
            });
            resolve({ ...offer, peer, headerMs: performance.now() - t0 });
          },
          (err: Error) => {
            settled[i] = true;
            pending--;
            if (!cancels[i].signal.aborted && !caller?.aborted) retry(peer, this.#failed(peer, request, err, budget));
            if (pending === 0 && !won) resolve(undefined);
          },
        );
      });
    });
  }

  async #open(peer: string, request: SegmentRequest, signal: AbortSignal): Promise<SegmentOffer> {
    // Dial, request and header share one stall budget: a peer that cannot even answer is not waited for.
    const answer = AbortSignal.any([signal, AbortSignal.timeout(this.#o.stallMs)]);
    const stream = await this.node.dialProtocol(peerIdFromString(peer), SEGMENT_PROTOCOL, { signal: answer });
    // Body reads are bounded by the stall limit per chunk and by the overall budget.
    return requestSegment(stream, request, { stallMs: this.#o.stallMs, signal });
  }

  /** Counts and acts on a failed attempt; returns how it failed. */
  #failed(peer: string, key: SegmentKey, err: unknown, budget: AbortSignal): PeerFetchOutcome {
    const outcome = classify(err, budget);
    this.#stats.fetches[outcome]++;
    if (outcome === 'bad-hash') {
      // A liar is dropped from the index and not asked again for a while.
      this.#scores.ban(peer);
      this.#index.removePeer(peer);
      this.#o.log?.(`p2p: peer ${peer} sent bad bytes for ${key.fid.slice(0, 12)}/${key.index}: ${(err as Error).message}; banned`);
      return outcome;
    }
    this.#scores.failure(peer);
    if (outcome === 'not-found') this.#index.remove(peer, key);
    if (outcome === 'failed') this.#o.log?.(`p2p: fetching ${key.fid.slice(0, 12)}/${key.index} from ${peer} failed: ${(err as Error).message}`);
    return outcome;
  }

  announce(keys: SegmentKey[]): void {
    for (const k of keys) {
      const id = segmentKey(k);
      this.#pendingGone.delete(id);
      if (this.#held.has(id)) continue;
      this.#held.set(id, { fid: k.fid, index: k.index });
      this.#pendingHave.set(id, k);
    }
    this.#scheduleFlush();
  }

  withdraw(keys: SegmentKey[]): void {
    for (const k of keys) {
      const id = segmentKey(k);
      this.#pendingHave.delete(id);
      if (!this.#held.delete(id)) continue;
      this.#pendingGone.set(id, k);
    }
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushTimer || this.#closed) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      const gone = [...this.#pendingGone.values()];
      const have = [...this.#pendingHave.values()];
      this.#pendingGone.clear();
      this.#pendingHave.clear();
      if (gone.length) this.#publish('gone', gone);
      if (have.length) this.#publish('have', have);
    }, ANNOUNCE_DEBOUNCE_MS);
  }

  #scheduleRepublish(delayMs: number): void {
    if (this.#republishTimer || this.#closed) return;
    this.#republishTimer = setTimeout(() => {
      this.#republishTimer = undefined;
      if (this.#held.size) this.#publish('have', [...this.#held.values()]);
    }, delayMs);
  }

  #publish(kind: 'have' | 'gone', keys: SegmentKey[]): void {
    const ttlSeconds = Math.ceil((3 * this.#o.announceIntervalMs) / 1000);
    for (const message of encodeAnnouncements({ kind, ttlSeconds, keys })) {
      this.node.services.pubsub.publish(ANNOUNCE_TOPIC, message).catch((err: Error) => this.#o.log?.(`p2p: publishing holdings failed: ${err.message}`));
    }
  }

  stats(): PeerStats {
    return {
      ...this.#stats,
      fetches: { ...this.#stats.fetches },
      served: { ...this.#stats.served },
      connected: new Set(this.node.getConnections().map((c) => c.remotePeer.toString())).size,
      indexEntries: this.#index.size,
      announced: this.#held.size,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#flushTimer);
    clearTimeout(this.#republishTimer);
    await this.node.stop();
  }
}

function parseBootstrap(address: string): { ma: Multiaddr; peer: PeerId } {
  let ma: Multiaddr;
  try {
    ma = multiaddr(address);
  } catch (err) {
    throw new Error(`bootstrap address ${JSON.stringify(address)} is not a multiaddr: ${(err as Error).message}`);
  }
  const id = ma.getComponents().findLast((c) => c.name === 'p2p')?.value;
  if (!id) throw new Error(`bootstrap address ${address} must end in /p2p/<peer id>`);
  return { ma, peer: peerIdFromString(id) };
}

function classify(err: unknown, budget: AbortSignal): PeerFetchOutcome {
  if (err instanceof PeerLiedError) return 'bad-hash';
  if (err instanceof PeerRefusedError) return err.status === Status.NOT_FOUND ? 'not-found' : err.status === Status.BUSY ? 'busy' : 'failed';
  if (err instanceof PeerStallError || budget.aborted || (err as Error)?.name === 'TimeoutError' || (err as Error)?.name === 'AbortError') return 'timeout';
  return 'failed';
}
