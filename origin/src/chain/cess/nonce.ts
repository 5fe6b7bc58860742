/** Reads the account's next nonce as the node sees it (`system_accountNextIndex`: chain state plus its ready pool). */
export type NonceSource = (signal?: AbortSignal) => Promise<number>;

/** How a submission ended, as far as the nonce is concerned. */
export type NonceOutcome =
  /** The pool took the transaction: its nonce is used. */
  | 'used'
  /** Refused before the pool (bad signature, fees, …): the nonce is free again for the next transaction. */
  | 'unused'
  /** The node says the nonce was used already: ask the node, and never go below the next one. */
  | 'stale'
  /** Our nonce was ahead of the account, or we cannot tell whether the pool took it: ask the node. */
  | 'unknown';

/**
 * Hands out nonces for one signing account, one submission at a time.
 *
 * The node's nonce is not a safe source between back-to-back transactions: the default polkadot-js nonce comes from
 * account storage, which does not count transactions still in the pool, and on some nodes the pool view lags too
 * (a transaction sent right after the previous one's InBlock got `1010 stale`). So the tracker counts locally and
 * goes back to the node only at start, after a reconnect, and when a submission says the two disagree.
 *
 * Only the short step "sign and hand to the pool" holds the tracker; waiting for inclusion does not, so any number
 * of transactions can be in flight (unlike DeOSS's one-transaction lock).
 */
export class NonceTracker {
  readonly #source: NonceSource;
  #next: number | undefined;
  /** Lowest nonce still possibly free, after the node called one stale (its own view may lag behind). */
  #floor = 0;
  #tail: Promise<unknown> = Promise.resolve();
  /** Counts resyncs, so that a submission ending after one does not put back the count it had. */
  #resyncs = 0;

  constructor(source: NonceSource) {
    this.#source = source;
  }

  /**
   * Runs `submit(nonce)` with the next nonce, alone. `submit` returns how the nonce ended and its own result,
   * resolved as soon as the pool accepted or refused (not at inclusion).
   */
  use<T>(submit: (nonce: number) => Promise<{ nonce: NonceOutcome; value: T }>, signal?: AbortSignal): Promise<T> {
    const run = async (): Promise<T> => {
      signal?.throwIfAborted();
      if (this.#next === undefined) this.#next = Math.max(await this.#source(signal), this.#floor);
      const nonce = this.#next;
      const resyncs = this.#resyncs;
      let outcome: NonceOutcome = 'unknown';
      try {
        const r = await submit(nonce);
        outcome = r.nonce;
        return r.value;
      } finally {
        if (outcome === 'stale') this.#floor = nonce + 1;
        // A resync meanwhile (the transaction left the pool as soon as it entered it, a reconnect) stands.
        if (this.#resyncs !== resyncs || outcome === 'stale' || outcome === 'unknown') this.#next = undefined;
        else if (outcome === 'used') this.#next = nonce + 1;
      }
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Forget the local count (after a reconnect, a dropped transaction): the next submission asks the node. */
  resync(): void {
    this.#next = undefined;
    this.#resyncs++;
  }

  /** The nonce the next submission will use, if known. */
  get next(): number | undefined {
    return this.#next;
  }
}
