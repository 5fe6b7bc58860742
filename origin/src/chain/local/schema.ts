import type Database from 'better-sqlite3';

/** Schema of the local ledger, versioned with SQLite's user_version. Sizes are INTEGER bytes; balances TEXT. */
export const SCHEMA_VERSION = 1;

export function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === SCHEMA_VERSION) return;
  if (version !== 0) throw new Error(`local chain ledger has schema ${version}; this build knows ${SCHEMA_VERSION}`);
  db.exec(`
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS accounts (address TEXT PRIMARY KEY, free TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS gateways (address TEXT PRIMARY KEY, endpoint TEXT NOT NULL, domain TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS authorities (owner TEXT NOT NULL, operator TEXT NOT NULL, PRIMARY KEY (owner, operator));
    CREATE TABLE IF NOT EXISTS territories (
      owner TEXT NOT NULL, name TEXT NOT NULL, token TEXT NOT NULL,
      total INTEGER NOT NULL, used INTEGER NOT NULL, locked INTEGER NOT NULL,
      start INTEGER NOT NULL, deadline INTEGER NOT NULL, frozen INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (owner, name));
    CREATE TABLE IF NOT EXISTS deals (fid TEXT PRIMARY KEY, record TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS files (fid TEXT PRIMARY KEY, record TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS user_files (owner TEXT NOT NULL, fid TEXT NOT NULL, territory TEXT NOT NULL, size TEXT NOT NULL,
      PRIMARY KEY (owner, fid));
    CREATE TABLE IF NOT EXISTS miners (address TEXT PRIMARY KEY, endpoint TEXT NOT NULL, state TEXT NOT NULL,
      idle INTEGER NOT NULL, service INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, block INTEGER NOT NULL, event TEXT NOT NULL);
  `);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}
