import { DurableObject } from 'cloudflare:workers';

/**
 * How many S3 objects refer to each of one account's CESS files. Content addressing makes sharing common: the same
 * bytes put twice, a CopyObject, or one file under keys in two buckets all use one FID, and the FID may be deleted
 * on chain only when the last object referring to it is gone. One instance per owner account (`idFromName`), so
 * counts of different accounts never contend. Each method is one synchronous transaction.
 */
export class FileReferences extends DurableObject {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as Cloudflare.Env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec('CREATE TABLE IF NOT EXISTS refs (fid TEXT PRIMARY KEY, count INTEGER NOT NULL)');
  }

  /** Counts one more reference for each FID (a FID listed twice counts twice). */
  async retain(fids: string[]): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      for (const fid of fids) this.#sql.exec('INSERT INTO refs (fid, count) VALUES (?, 1) ON CONFLICT(fid) DO UPDATE SET count = count + 1', fid);
    });
  }

  /** Drops one reference for each FID; returns the FIDs nothing refers to any more (the caller deletes them). */
  async release(fids: string[]): Promise<string[]> {
    const freed: string[] = [];
    this.ctx.storage.transactionSync(() => {
      for (const fid of fids) {
        const row = this.#sql.exec<{ count: number }>('SELECT count FROM refs WHERE fid = ?', fid).toArray()[0];
        if (!row) continue;
        if (row.count <= 1) {
          this.#sql.exec('DELETE FROM refs WHERE fid = ?', fid);
          freed.push(fid);
        } else this.#sql.exec('UPDATE refs SET count = count - 1 WHERE fid = ?', fid);
      }
    });
    return freed;
  }

  async count(fid: string): Promise<number> {
    return this.#sql.exec<{ count: number }>('SELECT count FROM refs WHERE fid = ?', fid).toArray()[0]?.count ?? 0;
  }
}
