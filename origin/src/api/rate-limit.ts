/** Token buckets per key (account or client IP): `perMinute` requests per minute with a burst of `burst`. */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #rate: number;
  readonly #burst: number;

  constructor(options: { perMinute: number; burst: number }) {
    this.#rate = options.perMinute / 60_000;
    this.#burst = options.burst;
  }

  /** Takes one token for `key`; false when the key is over its rate. */
  take(key: string, now = Date.now()): boolean {
    const b = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#rate);
    b.at = now;
    if (this.#buckets.size > 100_000) this.#prune(now);
    if (b.tokens < 1) {
      this.#buckets.set(key, b);
      return false;
    }
    b.tokens -= 1;
    this.#buckets.set(key, b);
    return true;
  }

  #prune(now: number): void {
    for (const [k, b] of this.#buckets) if (b.tokens + (now - b.at) * this.#rate >= this.#burst) this.#buckets.delete(k);
  }
}
