/**
 * What this origin has seen of each peer as a segment source: throughput of past fetches (a moving average), recent
 * failures, and bans for peers that sent bytes that did not verify. Used to ask the fastest holders first.
 */
export interface PeerScoresOptions {
  /** How long a peer that sent wrong bytes is not asked again, ms. */
  banMs: number;
  /** Most peers remembered (oldest dropped). @default 10000 */
  maxPeers?: number;
}

interface Score {
  /** Bytes per ms, moving average; undefined until the first success. */
  rate?: number;
  /** Consecutive failures (timeouts, refusals, errors) since the last success. */
  failures: number;
  bannedUntil: number;
}

/** Rate assumed for a peer never fetched from: mid-table, so new peers get tried but proven fast ones go first. */
const UNKNOWN_RATE = 50_000; // ~50 MB/s
const ALPHA = 0.3;

export class PeerScores {
  readonly #o: PeerScoresOptions;
  readonly #scores = new Map<string, Score>();

  constructor(options: PeerScoresOptions) {
    this.#o = options;
  }

  #get(peer: string): Score {
    let s = this.#scores.get(peer);
    if (!s) {
      s = { failures: 0, bannedUntil: 0 };
      this.#scores.set(peer, s);
      if (this.#scores.size > (this.#o.maxPeers ?? 10_000)) this.#scores.delete(this.#scores.keys().next().value!);
    }
    return s;
  }

  success(peer: string, bytes: number, ms: number): void {
    const s = this.#get(peer);
    const rate = bytes / Math.max(ms, 1);
    s.rate = s.rate === undefined ? rate : ALPHA * rate + (1 - ALPHA) * s.rate;
    s.failures = 0;
  }

  failure(peer: string): void {
    this.#get(peer).failures++;
  }

  ban(peer: string, now = Date.now()): void {
    this.#get(peer).bannedUntil = now + this.#o.banMs;
  }

  banned(peer: string, now = Date.now()): boolean {
    return (this.#scores.get(peer)?.bannedUntil ?? 0) > now;
  }

  /** Expected speed, halved for every consecutive failure. */
  score(peer: string): number {
    const s = this.#scores.get(peer);
    return (s?.rate ?? UNKNOWN_RATE) / 2 ** (s?.failures ?? 0);
  }

  /** The peers that are not banned, fastest first (ties keep their given order). */
  rank(peers: string[], now = Date.now()): string[] {
    return peers
      .filter((p) => !this.banned(p, now))
      .map((p, i) => ({ p, i, s: this.score(p) }))
      .sort((a, b) => b.s - a.s || a.i - b.i)
      .map((x) => x.p);
  }
}
