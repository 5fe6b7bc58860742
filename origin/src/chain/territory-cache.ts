import type { BlockNumber, Chain, Territory } from './port.ts';

/** Territories remembered at most, oldest dropped first. */
export const TERRITORY_CACHE_MAX_ENTRIES = 10_000;

/**
 * Recent answers to the two chain queries every upload starts with: the territory it goes to and the current
 * block (is the territory still live?). On a real chain each is a storage query over RPC, on the path of every
 * small PUT. A territory found is kept for `ttlMs`, the block number as long; a territory not found is not kept (one
 * just bought must work at once). Lookups under way are shared.
 *
 * What it answers may be `ttlMs` old, which the checks can afford: the remaining space was never a reservation
 * (uploads running at once are not counted against each other), and the chain checks space and expiry again when
 * the storage deal is declared. `ttlMs` 0 asks the chain every time.
 */
export class TerritoryCache {
  readonly #chain: Pick<Chain, 'territory' | 'blockNumber'>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #territories = new Map<string, { until: number; value: Promise<Territory | undefined> }>();
  #block?: { until: number; value: Promise<BlockNumber> };

  constructor(chain: Pick<Chain, 'territory' | 'blockNumber'>, options: { ttlMs: number; now?: () => number }) {
    this.#chain = chain;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
  }

  /** No AbortSignal: a lookup is shared by whoever asks meanwhile, so no one caller may cut it short. */
  territory(owner: string, name: string): Promise<Territory | undefined> {
    if (this.#ttlMs <= 0) return this.#chain.territory(owner, name);
    const key = JSON.stringify([owner, name]);
    const now = this.#now();
    const hit = this.#territories.get(key);
    if (hit && hit.until > now) return hit.value;
    this.#territories.delete(key);
    const value = this.#chain.territory(owner, name);
    const entry = { until: now + this.#ttlMs, value };
    this.#territories.set(key, entry);
    const forget = () => this.#territories.get(key) === entry && this.#territories.delete(key);
    value.then((t) => t === undefined && forget(), forget);
    if (this.#territories.size > TERRITORY_CACHE_MAX_ENTRIES) this.#territories.delete(this.#territories.keys().next().value!);
    return value;
  }

  blockNumber(): Promise<BlockNumber> {
    if (this.#ttlMs <= 0) return this.#chain.blockNumber();
    const now = this.#now();
    if (this.#block && this.#block.until > now) return this.#block.value;
    const entry = { until: now + this.#ttlMs, value: this.#chain.blockNumber() };
    this.#block = entry;
    entry.value.catch(() => this.#block === entry && (this.#block = undefined));
    return entry.value;
  }
}
