import { DurableObject } from 'cloudflare:workers';
import { edgeConfig, type EdgeVars } from '../config.ts';
import { isPackRef, OriginClient } from '../upstream/origin-client.ts';

/** Longest wait between two attempts at releasing a file at the origins, ms. */
export const MAX_RELEASE_BACKOFF_MS = 3600_000;
/** Releases sent per alarm run; the rest follow in the next run. */
const RELEASES_PER_RUN = 50;

/**
 * How many S3 objects refer to each of one account's CESS files. Content addressing makes sharing common: the same
 * bytes put twice, a CopyObject, or one file under keys in two buckets all use one FID, and the FID may be deleted
 * on chain only when the last object referring to it is gone. One instance per owner account (`idFromName`), so
 * counts of different accounts never contend. Each method is one synchronous transaction.
 *
 * A file nothing refers to any more is released at the origins from a durable queue driven by this object's alarm,
 * retried with backoff while no origin can take it (an origin restarting, a network split): a failed release would
 * otherwise leave the file on chain, using the owner's space, for good. Counting the file again (the same bytes
 * uploaded anew) takes it off the queue.
 *
 * A pack reference (an object the origin wrote behind) is new with its PutObject and unique to it, so its first
 * holder is implied: the PUT does not count it, which keeps this per-account object off the path of every small
 * PUT (one Durable Object call and commit less, and no per-account bottleneck). Only further holders, copies, are
 * counted (`pack_copies`); releasing a pack reference with no copy left frees it. References counted before this
 * scheme keep their `refs` row and its meaning.
 */
export class FileReferences extends DurableObject {
  readonly #sql: SqlStorage;
  #origin?: OriginClient;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as Cloudflare.Env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec('CREATE TABLE IF NOT EXISTS refs (fid TEXT PRIMARY KEY, count INTEGER NOT NULL)');
    this.#sql.exec('CREATE TABLE IF NOT EXISTS releases (fid TEXT PRIMARY KEY, owner TEXT NOT NULL, attempts INTEGER NOT NULL, due INTEGER NOT NULL)');
    // Holders of a pack reference beyond its implied first one.
    this.#sql.exec('CREATE TABLE IF NOT EXISTS pack_copies (fid TEXT PRIMARY KEY, copies INTEGER NOT NULL)');
  }

  /**
   * Counts one more reference for each FID (a FID listed twice counts twice). A new pack reference's own PutObject
   * does not call this (its first holder is implied); a copy of it does.
   */
  async retain(fids: string[]): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      for (const fid of fids) {
        // A pack reference's copies are counted apart from its implied holder; one already freed and waiting for
        // its release has lost that holder, and is counted in full like a FID.
        if (isPackRef(fid) && this.#count(fid) === undefined && !this.#queued(fid)) {
          this.#sql.exec('INSERT INTO pack_copies (fid, copies) VALUES (?, 1) ON CONFLICT(fid) DO UPDATE SET copies = copies + 1', fid);
        } else {
          this.#sql.exec('INSERT INTO refs (fid, count) VALUES (?, 1) ON CONFLICT(fid) DO UPDATE SET count = count + 1', fid);
        }
        this.#sql.exec('DELETE FROM releases WHERE fid = ?', fid);
      }
    });
  }

  /**
   * Drops one reference for each FID; the FIDs nothing refers to any more are queued for release at the origins
   * (as `owner`'s) and returned.
   */
  async release(fids: string[], owner: string): Promise<string[]> {
    const freed: string[] = [];
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      const free = (fid: string) => {
        this.#sql.exec('INSERT OR REPLACE INTO releases (fid, owner, attempts, due) VALUES (?, ?, 0, ?)', fid, owner, now);
        freed.push(fid);
      };
      for (const fid of fids) {
        const count = this.#count(fid);
        if (count === undefined) {
          if (!isPackRef(fid)) continue;
          const copies = this.#copies(fid);
          if (copies > 1) this.#sql.exec('UPDATE pack_copies SET copies = copies - 1 WHERE fid = ?', fid);
          else if (copies === 1) this.#sql.exec('DELETE FROM pack_copies WHERE fid = ?', fid);
          else free(fid);
          continue;
        }
        if (count <= 1) {
          this.#sql.exec('DELETE FROM refs WHERE fid = ?', fid);
          free(fid);
        } else this.#sql.exec('UPDATE refs SET count = count - 1 WHERE fid = ?', fid);
      }
    });
    if (freed.length) await this.ctx.storage.setAlarm(now);
    return freed;
  }

  /**
   * How many objects refer to a FID. For a pack reference without copies that is 1 (its implied first holder) unless
   * it is waiting for its release; one released earlier or never written cannot be told apart from it.
   */
  async count(fid: string): Promise<number> {
    const counted = this.#count(fid);
    if (counted !== undefined || !isPackRef(fid)) return counted ?? 0;
    return this.#queued(fid) ? 0 : 1 + this.#copies(fid);
  }

  /** The `refs` count of a FID (or of a pack reference counted in full), undefined without a row. */
  #count(fid: string): number | undefined {
    return this.#sql.exec<{ count: number }>('SELECT count FROM refs WHERE fid = ?', fid).toArray()[0]?.count;
  }

  #queued(fid: string): boolean {
    return this.#sql.exec('SELECT 1 FROM releases WHERE fid = ?', fid).toArray().length > 0;
  }

  #copies(fid: string): number {
    return this.#sql.exec<{ copies: number }>('SELECT copies FROM pack_copies WHERE fid = ?', fid).toArray()[0]?.copies ?? 0;
  }

  /** Releases waiting at the origins: `{fid, attempts}` each. */
  async pendingReleases(): Promise<{ fid: string; attempts: number }[]> {
    return this.#sql.exec<{ fid: string; attempts: number }>('SELECT fid, attempts FROM releases ORDER BY due').toArray();
  }

  override async alarm(): Promise<void> {
    if (!this.#origin) {
      try {
        const config = edgeConfig(this.env as unknown as EdgeVars);
        this.#origin = new OriginClient({ origins: config.origins, secret: config.secret });
      } catch (err) {
        // Misconfigured (no origins, no secret): keep the queue and look again later.
        console.error(`edge: cannot release files: ${(err as Error).message}`);
        await this.ctx.storage.setAlarm(Date.now() + MAX_RELEASE_BACKOFF_MS);
        return;
      }
    }
    const origin = this.#origin;
    await this.drain((fid, owner) => origin.releaseFile(fid, owner));
  }

  /** Sends the due releases through `releaseFile`, requeues failures with backoff, and sets the next alarm. */
  async drain(releaseFile: (fid: string, owner: string) => Promise<void>, now = Date.now()): Promise<void> {
    const due = this.#sql.exec<{ fid: string; owner: string; attempts: number }>('SELECT fid, owner, attempts FROM releases WHERE due <= ? ORDER BY due LIMIT ?', now, RELEASES_PER_RUN).toArray();
    for (const r of due) {
      try {
        await releaseFile(r.fid, r.owner);
        // Only the entry this run sent: a retain meanwhile removed it, a release meanwhile made a new one.
        this.#sql.exec('DELETE FROM releases WHERE fid = ? AND attempts = ? AND due <= ?', r.fid, r.attempts, now);
      } catch (err) {
        const wait = Math.min(MAX_RELEASE_BACKOFF_MS, 1000 * 2 ** Math.min(r.attempts, 20));
        this.#sql.exec('UPDATE releases SET attempts = attempts + 1, due = ? WHERE fid = ? AND attempts = ?', Date.now() + wait, r.fid, r.attempts);
        console.error(`edge: releasing ${r.fid} failed (attempt ${r.attempts + 1}, next in ${wait} ms): ${(err as Error).message}`);
      }
    }
    const next = this.#sql.exec<{ due: number | null }>('SELECT MIN(due) AS due FROM releases').toArray()[0]?.due;
    if (next !== null && next !== undefined) await this.ctx.storage.setAlarm(Math.max(next, Date.now()));
  }
}
