import type { Chain, DealRecord } from '../chain/port.ts';
import { ChainDispatchError } from '../chain/port.ts';
import type { FragmentDisk } from './fragment-disk.ts';

export interface ColumnReporterOptions {
  chain: Chain;
  disk: FragmentDisk;
  /** Wait after the latest fragment of a file before checking, so a column arriving fragment by fragment is checked once. @default 200 */
  debounceMs?: number;
  /** Attempts per file when the chain refuses or is unreachable. @default 5 */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt. @default 1000 */
  retryMs?: number;
  /** Off: never report (an operator reports by other means). @default true */
  enabled?: boolean;
  log?: (msg: string) => void;
}

/**
 * Tells the chain when this node holds a whole fragment column of a declared deal (`transfer_report(index, fid)`).
 * Fragment headers carry no column index, and equal fragments (all-zero ones, typically) can sit in several
 * columns, so the column is inferred: the first column whose fragments this node holds for every segment and that
 * no other miner has reported yet.
 */
export class ColumnReporter {
  readonly #o: Required<Omit<ColumnReporterOptions, 'log'>> & Pick<ColumnReporterOptions, 'log'>;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #attempts = new Map<string, number>();
  #closed = false;

  constructor(options: ColumnReporterOptions) {
    this.#o = { debounceMs: 200, maxAttempts: 5, retryMs: 1000, enabled: true, ...options };
  }

  /** A fragment of `fid` arrived: check (soon) whether a column is complete. */
  touch(fid: string, delayMs = this.#o.debounceMs): void {
    if (this.#closed || !this.#o.enabled) return;
    clearTimeout(this.#timers.get(fid));
    this.#timers.set(
      fid,
      setTimeout(() => {
        this.#timers.delete(fid);
        void this.#check(fid);
      }, delayMs),
    );
  }

  async #check(fid: string): Promise<void> {
    try {
      const deal = await this.#o.chain.deal(fid);
      if (!deal) {
        this.#attempts.delete(fid); // stored already, or deleted
        return;
      }
      if (deal.completed.some((c) => c.miner === this.#o.chain.account)) return;
      const column = await this.completeColumn(deal);
      if (column === undefined) return;
      await this.#o.chain.transferReport({ index: column + 1, fid });
      this.#attempts.delete(fid);
      this.#o.log?.(`reported column ${column + 1} of ${fid}`);
    } catch (err) {
      const n = (this.#attempts.get(fid) ?? 0) + 1;
      this.#attempts.set(fid, n);
      const id = err instanceof ChainDispatchError ? err.id : (err as Error).message;
      this.#o.log?.(`transfer report for ${fid} failed (${id}), attempt ${n}`);
      // Another node took that index first (equal fragments can sit in several columns): look again at once.
      const raced = id === 'fileBank.Existed';
      if (n < this.#o.maxAttempts) this.touch(fid, raced ? 20 + Math.random() * 80 : this.#o.retryMs * 2 ** (n - 1));
      else this.#attempts.delete(fid);
    }
  }

  /** The first column held in full for every segment of the deal and not yet reported by anyone. */
  async completeColumn(deal: DealRecord): Promise<number | undefined> {
    const taken = new Set(deal.completed.map((c) => c.index - 1));
    for (let column = 0; column < 12; column++) {
      if (taken.has(column)) continue;
      let whole = true;
      for (const segment of deal.segments) {
        if (!(await this.#o.disk.has(deal.fid, segment.fragments[column]))) {
          whole = false;
          break;
        }
      }
      if (whole) return column;
    }
    return undefined;
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}
