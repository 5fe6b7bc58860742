import { segmentKey, type SegmentKey } from './segment-peers.ts';

export interface HolderIndexOptions {
  /** Most (peer, segment) entries kept; the least recently announced go first beyond it. */
  maxEntries: number;
  /** Most holders remembered per segment (the most recently announced). */
  maxHoldersPerSegment: number;
}

interface Entry {
  key: string;
  peer: string;
  expiresAt: number;
}

/**
 * The bounded local content index: which peers said they hold which segment, until when. Filled from
 * announcements; memory stays bounded however much the network announces (oldest entries are dropped first,
 * expired ones are never returned).
 */
export class HolderIndex {
  readonly #o: HolderIndexOptions;
  /** `key|peer` → entry; Map order is announcement recency (oldest first). */
  readonly #entries = new Map<string, Entry>();
  /** `key` → peers holding it. */
  readonly #byKey = new Map<string, Set<string>>();

  constructor(options: HolderIndexOptions) {
    if (!(options.maxEntries > 0) || !(options.maxHoldersPerSegment > 0)) throw new Error('holder index limits must be positive');
    this.#o = options;
  }

  get size(): number {
    return this.#entries.size;
  }

  add(peer: string, key: SegmentKey, expiresAt: number): void {
    const k = segmentKey(key);
    const id = `${k}|${peer}`;
    this.#entries.delete(id);
    this.#entries.set(id, { key: k, peer, expiresAt });
    let peers = this.#byKey.get(k);
    if (!peers) this.#byKey.set(k, (peers = new Set()));
    peers.delete(peer);
    peers.add(peer);
    if (peers.size > this.#o.maxHoldersPerSegment) this.#drop(`${k}|${peers.values().next().value}`);
    while (this.#entries.size > this.#o.maxEntries) this.#drop(this.#entries.keys().next().value!);
  }

  remove(peer: string, key: SegmentKey): void {
    this.#drop(`${segmentKey(key)}|${peer}`);
  }

  /** Forgets everything a peer announced (it lied, or it is gone for good). */
  removePeer(peer: string): void {
    for (const [id, e] of this.#entries) if (e.peer === peer) this.#drop(id);
  }

  /** Peers whose announcement for `key` has not expired, most recently announced first. */
  holders(key: SegmentKey, now = Date.now()): string[] {
    const k = segmentKey(key);
    const out: string[] = [];
    for (const peer of this.#byKey.get(k) ?? []) {
      const e = this.#entries.get(`${k}|${peer}`)!;
      if (e.expiresAt > now) out.push(peer);
      else this.#drop(`${k}|${peer}`);
    }
    return out.reverse();
  }

  #drop(id: string): void {
    const e = this.#entries.get(id);
    if (!e) return;
    this.#entries.delete(id);
    const peers = this.#byKey.get(e.key)!;
    peers.delete(e.peer);
    if (peers.size === 0) this.#byKey.delete(e.key);
  }
}
