/**
 * Which storage nodes failed recently. A node that fails is avoided for a cool-down that doubles with each
 * consecutive failure (capped); one success clears it.
 */
export class NodeHealth {
  readonly #failures = new Map<string, { count: number; until: number }>();
  readonly #baseMs: number;
  readonly #maxMs: number;

  constructor(options: { baseMs?: number; maxMs?: number } = {}) {
    this.#baseMs = options.baseMs ?? 5_000;
    this.#maxMs = options.maxMs ?? 10 * 60_000;
  }

  ok(miner: string): void {
    this.#failures.delete(miner);
  }

  failed(miner: string, now = Date.now()): void {
    const count = (this.#failures.get(miner)?.count ?? 0) + 1;
    this.#failures.set(miner, { count, until: now + Math.min(this.#maxMs, this.#baseMs * 2 ** (count - 1)) });
  }

  healthy(miner: string, now = Date.now()): boolean {
    const f = this.#failures.get(miner);
    return !f || f.until <= now;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#failures].map(([m, f]) => [m, f.count]));
  }
}
