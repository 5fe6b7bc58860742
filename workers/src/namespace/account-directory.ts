import { DurableObject } from 'cloudflare:workers';
import type { NamespaceBindings } from './env.ts';
import { namespaceError, returnNamespaceErrors } from './errors.ts';
import { NAMESPACE_LIMITS as L } from './limits.ts';
import { SecretSealer } from './secret-seal.ts';
import { canonicalAccountOrThrow, checkBucketName, checkTerritory, utf8Length } from './validate.ts';

/** An access key as listed: never the secret. */
export interface AccessKeyInfo {
  accessKeyId: string;
  /** Owner account, SS58 with the CESS prefix. */
  account: string;
  /** Territory new buckets created with this key are stored in. */
  territory: string;
  label?: string;
  /** ms since the epoch. */
  created: number;
  /** ms since the epoch, when revoked. */
  revoked?: number;
}

/** What createKey returns: the only time the secret leaves the directory in a listing-like answer. */
export interface CreatedAccessKey extends AccessKeyInfo {
  secretAccessKey: string;
}

/** What the S3 signature check needs for an access key id. */
export interface AccessKeySecret {
  secret: string;
  account: string;
  territory: string;
}

export interface BucketRegistration {
  name: string;
  /** SS58 with the CESS prefix. */
  owner: string;
  territory: string;
  /** ms since the epoch. */
  created: number;
}

export interface ListBucketsOptions {
  prefix?: string;
  /** Name of the last bucket of the previous page. */
  continuationToken?: string;
  /** 1..10000. @default all (an account owns at most maxBucketsPerAccount) */
  maxBuckets?: number;
}

/**
 * The global directory (one instance, idFromName('global')): S3 access keys with their secrets sealed at rest
 * (AES-256-GCM under KEY_ENCRYPTION_SECRET, see secret-seal.ts), the global bucket-name registry, and the record
 * of key-management proofs already used (replay refusal). SQLite storage. Accounts are stored in their CESS
 * SS58 spelling; any accepted spelling (prefix 11330 or 42) may be passed in.
 *
 * The S3 path should read keys through AccessKeyCache (access-key-cache.ts), not call lookupSecret per request.
 */
export class AccountDirectory extends DurableObject<NamespaceBindings> {
  readonly #sql: SqlStorage;
  #sealer: SecretSealer | undefined;

  constructor(ctx: DurableObjectState, env: NamespaceBindings) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    for (const statement of SCHEMA) this.#sql.exec(statement);
  }

  // ------------------------------------------------------------------------------------------------ access keys

  /** Issues a new access key for `account`. TooManyAccessKeys beyond maxActiveKeysPerAccount active keys. */
  async createKey(input: { account: string; territory: string; label?: string }): Promise<CreatedAccessKey> {
    const account = canonical(input.account);
    checkTerritory(input.territory);
    if (input.label !== undefined && (typeof input.label !== 'string' || utf8Length(input.label) > L.maxKeyLabelBytes)) {
      throw namespaceError('InvalidArgument', `label must be a string of at most ${L.maxKeyLabelBytes} bytes`);
    }
    // Everything asynchronous happens first; the limit check and the insert then run without a gap between them.
    const accessKeyId = newAccessKeyId();
    const secretAccessKey = newSecret();
    const sealed = await this.#seal().seal(secretAccessKey, accessKeyId);
    const active = this.#sql.exec<{ n: number }>('SELECT count(*) AS n FROM access_keys WHERE account = ? AND revoked IS NULL', account).one().n;
    if (active >= L.maxActiveKeysPerAccount) {
      throw namespaceError('TooManyAccessKeys', `an account may hold at most ${L.maxActiveKeysPerAccount} active access keys; revoke one first`);
    }
    const info: AccessKeyInfo = { accessKeyId, account, territory: input.territory, created: Date.now() };
    if (input.label) info.label = input.label;
    this.#sql.exec(
      'INSERT INTO access_keys (access_key_id, sealed_secret, account, territory, label, created) VALUES (?, ?, ?, ?, ?, ?)',
      accessKeyId,
      sealed,
      account,
      info.territory,
      info.label ?? null,
      info.created,
    );
    return { ...info, secretAccessKey };
  }

  /** The account's keys, oldest first, revoked ones included (with their revocation time). */
  async listKeys(account: string): Promise<AccessKeyInfo[]> {
    return this.#sql.exec<KeyRow>('SELECT * FROM access_keys WHERE account = ? ORDER BY created, access_key_id', canonical(account)).toArray().map(keyInfoOf);
  }

  /**
   * Revokes one of `account`'s keys; revoking a revoked key returns it unchanged. InvalidAccessKeyId when the key
   * does not exist or belongs to another account (the two are not told apart).
   */
  async revokeKey(account: string, accessKeyId: string): Promise<AccessKeyInfo> {
    const owner = canonical(account);
    const row = this.#sql.exec<KeyRow>('SELECT * FROM access_keys WHERE access_key_id = ?', String(accessKeyId)).toArray()[0];
    if (!row || row.account !== owner) throw namespaceError('InvalidAccessKeyId', 'The access key does not exist for this account');
    if (row.revoked === null) {
      row.revoked = Date.now();
      this.#sql.exec('UPDATE access_keys SET revoked = ? WHERE access_key_id = ?', row.revoked, row.access_key_id);
    }
    return keyInfoOf(row);
  }

  /** The secret, account and territory of an active key; undefined for unknown or revoked keys. */
  async lookupSecret(accessKeyId: string): Promise<AccessKeySecret | undefined> {
    if (typeof accessKeyId !== 'string' || !ACCESS_KEY_ID.test(accessKeyId)) return undefined;
    const row = this.#sql.exec<KeyRow>('SELECT * FROM access_keys WHERE access_key_id = ? AND revoked IS NULL', accessKeyId).toArray()[0];
    if (!row) return undefined;
    const secret = await this.#seal().open(new Uint8Array(row.sealed_secret), row.access_key_id);
    return { secret, account: row.account, territory: row.territory };
  }

  /**
   * Records a key-management proof (its signature bytes, hex) until it expires. False when it was recorded before:
   * the request is a replay. Expired records are pruned a batch at a time.
   */
  async claimProof(signatureHex: string, expiresAt: number): Promise<boolean> {
    if (typeof signatureHex !== 'string' || !/^[0-9a-f]{128}$/.test(signatureHex)) throw namespaceError('InvalidArgument', 'proof must be a 64-byte signature in hex');
    if (!Number.isSafeInteger(expiresAt)) throw namespaceError('InvalidArgument', 'expiresAt must be ms since the epoch');
    const now = Date.now();
    this.#sql.exec('DELETE FROM used_proofs WHERE signature IN (SELECT signature FROM used_proofs WHERE expires_at <= ? LIMIT 100)', now);
    const seen = this.#sql.exec<{ expires_at: number }>('SELECT expires_at FROM used_proofs WHERE signature = ?', signatureHex).toArray()[0];
    if (seen && seen.expires_at > now) return false;
    this.#sql.exec('INSERT OR REPLACE INTO used_proofs (signature, expires_at) VALUES (?, ?)', signatureHex, expiresAt);
    return true;
  }

  // ---------------------------------------------------------------------------------------------------- buckets

  /**
   * Claims a bucket name globally. BucketAlreadyOwnedByYou when `owner` holds it already, BucketAlreadyExists when
   * someone else does, TooManyBuckets beyond maxBucketsPerAccount, InvalidBucketName for names S3 refuses.
   */
  async registerBucket(input: { name: string; owner: string; territory: string }): Promise<BucketRegistration> {
    checkBucketName(input.name);
    const owner = canonical(input.owner);
    checkTerritory(input.territory);
    const existing = this.#sql.exec<RegistrationRow>('SELECT * FROM buckets WHERE name = ?', input.name).toArray()[0];
    if (existing) {
      throw existing.owner === owner
        ? namespaceError('BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.')
        : namespaceError('BucketAlreadyExists', 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.');
    }
    const owned = this.#sql.exec<{ n: number }>('SELECT count(*) AS n FROM buckets WHERE owner = ?', owner).one().n;
    if (owned >= L.maxBucketsPerAccount) throw namespaceError('TooManyBuckets', `You have attempted to create more buckets than allowed (${L.maxBucketsPerAccount})`);
    const reg: BucketRegistration = { name: input.name, owner, territory: input.territory, created: Date.now() };
    this.#sql.exec('INSERT INTO buckets (name, owner, territory, created) VALUES (?, ?, ?, ?)', reg.name, reg.owner, reg.territory, reg.created);
    return reg;
  }

  /** Releases a name. False when it is not registered; AccessDenied when another account owns it. */
  async unregisterBucket(name: string, owner: string): Promise<boolean> {
    const who = canonical(owner);
    const existing = this.#sql.exec<RegistrationRow>('SELECT * FROM buckets WHERE name = ?', String(name)).toArray()[0];
    if (!existing) return false;
    if (existing.owner !== who) throw namespaceError('AccessDenied', 'Access Denied');
    this.#sql.exec('DELETE FROM buckets WHERE name = ?', existing.name);
    return true;
  }

  /** The registration of `name`, or undefined. */
  async getBucket(name: string): Promise<BucketRegistration | undefined> {
    return this.#sql.exec<RegistrationRow>('SELECT * FROM buckets WHERE name = ?', String(name)).toArray()[0];
  }

  /** ListBuckets: the owner's buckets by name, paginated with the last name seen. */
  async listBuckets(owner: string, options: ListBucketsOptions = {}): Promise<{ buckets: BucketRegistration[]; continuationToken?: string }> {
    const who = canonical(owner);
    const max = options.maxBuckets ?? L.maxBucketsPerAccount;
    if (!Number.isInteger(max) || max < 1 || max > 10_000) throw namespaceError('InvalidArgument', 'max-buckets must be 1..10000');
    const prefix = options.prefix ?? '';
    const after = options.continuationToken ?? '';
    // Bucket names are ASCII, so JS and SQLite order agree and `prefix || '~'` bounds the prefix range.
    const rows = this.#sql
      .exec<RegistrationRow>(
        'SELECT name, owner, territory, created FROM buckets WHERE owner = ? AND name > ? AND name >= ? AND name < ? ORDER BY name LIMIT ?',
        who,
        after,
        prefix,
        prefix + '~',
        max + 1,
      )
      .toArray();
    const buckets = rows.slice(0, max);
    return rows.length > max ? { buckets, continuationToken: buckets[buckets.length - 1].name } : { buckets };
  }

  #seal(): SecretSealer {
    this.#sealer ??= new SecretSealer(this.env.KEY_ENCRYPTION_SECRET);
    return this.#sealer;
  }
}

// S3 refusals are answers, not exceptions of the object (see errors.ts).
returnNamespaceErrors(AccountDirectory);

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS access_keys (
     access_key_id TEXT NOT NULL PRIMARY KEY, sealed_secret BLOB NOT NULL, account TEXT NOT NULL, territory TEXT NOT NULL,
     label TEXT, created INTEGER NOT NULL, revoked INTEGER)`,
  `CREATE INDEX IF NOT EXISTS access_keys_by_account ON access_keys (account, created)`,
  `CREATE TABLE IF NOT EXISTS buckets (name TEXT NOT NULL PRIMARY KEY, owner TEXT NOT NULL, territory TEXT NOT NULL, created INTEGER NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS buckets_by_owner ON buckets (owner, name)`,
  `CREATE TABLE IF NOT EXISTS used_proofs (signature TEXT NOT NULL PRIMARY KEY, expires_at INTEGER NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS used_proofs_by_expiry ON used_proofs (expires_at)`,
];

type RegistrationRow = { name: string; owner: string; territory: string; created: number };

type KeyRow = {
  access_key_id: string;
  sealed_secret: ArrayBuffer;
  account: string;
  territory: string;
  label: string | null;
  created: number;
  revoked: number | null;
};

function keyInfoOf(row: KeyRow): AccessKeyInfo {
  const info: AccessKeyInfo = { accessKeyId: row.access_key_id, account: row.account, territory: row.territory, created: row.created };
  if (row.label !== null) info.label = row.label;
  if (row.revoked !== null) info.revoked = row.revoked;
  return info;
}

const canonical = (account: string): string => canonicalAccountOrThrow(account);

/** Access key ids: `DOSS` + 16 characters of base32 (A-Z, 2-7), 20 in all like AWS's. */
export const ACCESS_KEY_ID = /^DOSS[A-Z2-7]{16}$/;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function newAccessKeyId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return 'DOSS' + Array.from(bytes, (b) => BASE32[b & 31]).join('');
}

/** 40 URL-safe characters (240 random bits). */
function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(30));
  return btoa(String.fromCharCode(...bytes)).replaceAll('+', '-').replaceAll('/', '_');
}
