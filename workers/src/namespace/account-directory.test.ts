import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import vectors from '../keys/testdata/sr25519-vectors.json';
import type { AccountDirectory } from './account-directory.ts';
import { AccessKeyCache, lookupAccessKey } from './access-key-cache.ts';
import { namespaceClient, unwrapNamespaceError } from './errors.ts';
import type { AccountDirectoryRpc } from './env.ts';
import { SecretSealer } from './secret-seal.ts';

// Each test gets its own directory instance (a fresh name), so they do not share keys or buckets.
const rawDirectory = () => env.ACCOUNT_DIRECTORY.get(env.ACCOUNT_DIRECTORY.idFromName(`test-${crypto.randomUUID()}`));
/** A fresh directory as callers see it (namespaceClient: its refusals thrown). */
const directory = (raw = rawDirectory()) => namespaceClient<AccountDirectoryRpc>(raw);

const [alice, bob, carol] = vectors.accounts;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    const u = unwrapNamespaceError(e);
    if (!u) throw e;
    return u.code;
  }
  return undefined;
}

describe('AccountDirectory: access keys', () => {
  it('issues keys whose secrets are sealed at rest: a raw dump of the row does not contain the secret', async () => {
    const raw = rawDirectory();
    const dir = directory(raw);
    const key = await dir.createKey({ account: alice.generic, territory: 'default', label: 'laptop' });
    expect(key.accessKeyId).toMatch(/^DOSS[A-Z2-7]{16}$/);
    expect(key.secretAccessKey).toMatch(/^[A-Za-z0-9_-]{40}$/);
    expect(key.account).toBe(alice.cess); // stored in the CESS spelling whatever the caller sent

    const rows = await runInDurableObject(raw, (_instance: AccountDirectory, state) => state.storage.sql.exec('SELECT * FROM access_keys').toArray());
    expect(rows).toHaveLength(1);
    const secretBytes = new TextEncoder().encode(key.secretAccessKey);
    for (const value of Object.values(rows[0])) {
      const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : new TextEncoder().encode(String(value));
      expect(indexOf(bytes, secretBytes)).toBe(-1);
      expect(String(value)).not.toContain(key.secretAccessKey);
    }
    const sealed = new Uint8Array(rows[0].sealed_secret as ArrayBuffer);
    expect(sealed.length).toBe(1 + 12 + 40 + 16); // version, nonce, ciphertext, tag

    expect(await dir.lookupSecret(key.accessKeyId)).toEqual({ secret: key.secretAccessKey, account: alice.cess, territory: 'default' });
    expect(await dir.lookupSecret('DOSSAAAAAAAAAAAAAAAA')).toBeUndefined();
    expect(await dir.lookupSecret('not an id')).toBeUndefined();
  });

  it('seals with AES-GCM bound to the key id and the worker secret', async () => {
    const sealer = new SecretSealer(env.KEY_ENCRYPTION_SECRET);
    const a = await sealer.seal('s3cr3t', 'DOSSAAAAAAAAAAAAAAAA');
    const b = await sealer.seal('s3cr3t', 'DOSSAAAAAAAAAAAAAAAA');
    expect(a).not.toEqual(b); // fresh nonce each time
    expect(await sealer.open(a, 'DOSSAAAAAAAAAAAAAAAA')).toBe('s3cr3t');
    await expect(sealer.open(a, 'DOSSBBBBBBBBBBBBBBBB')).rejects.toThrow(); // moved to another row
    await expect(new SecretSealer('another secret of at least thirty-two chars').open(a, 'DOSSAAAAAAAAAAAAAAAA')).rejects.toThrow();
    const flipped = a.slice();
    flipped[20] ^= 1;
    await expect(sealer.open(flipped, 'DOSSAAAAAAAAAAAAAAAA')).rejects.toThrow();
    expect(() => new SecretSealer('short')).toThrow(/at least 32/);
    expect(() => new SecretSealer(undefined)).toThrow(/KEY_ENCRYPTION_SECRET/);
  });

  it('lists an account’s keys and revokes them; revoked keys no longer resolve', async () => {
    const dir = directory();
    const k1 = await dir.createKey({ account: alice.cess, territory: 'default' });
    const k2 = await dir.createKey({ account: alice.cess, territory: 'photos' });
    const kb = await dir.createKey({ account: bob.cess, territory: 'default' });
    expect((await dir.listKeys(alice.generic)).map((k) => k.accessKeyId)).toEqual([k1.accessKeyId, k2.accessKeyId]);
    expect(JSON.stringify(await dir.listKeys(alice.cess))).not.toContain(k1.secretAccessKey);

    expect(await codeOf(dir.revokeKey(bob.cess, k1.accessKeyId))).toBe('InvalidAccessKeyId'); // not Bob's
    expect(await codeOf(dir.revokeKey(alice.cess, 'DOSSAAAAAAAAAAAAAAAA'))).toBe('InvalidAccessKeyId');
    const revoked = await dir.revokeKey(alice.cess, k1.accessKeyId);
    expect(revoked.revoked).toBeTypeOf('number');
    expect(await dir.revokeKey(alice.cess, k1.accessKeyId)).toEqual(revoked); // idempotent
    expect(await dir.lookupSecret(k1.accessKeyId)).toBeUndefined();
    expect((await dir.lookupSecret(k2.accessKeyId))?.territory).toBe('photos');
    expect((await dir.lookupSecret(kb.accessKeyId))?.account).toBe(bob.cess);
    expect((await dir.listKeys(alice.cess)).map((k) => Boolean(k.revoked))).toEqual([true, false]);
  });

  it('limits active keys per account and refuses bad input', async () => {
    const dir = directory();
    const keys = [];
    for (let i = 0; i < 100; i++) keys.push(await dir.createKey({ account: carol.cess, territory: 'default' }));
    expect(await codeOf(dir.createKey({ account: carol.cess, territory: 'default' }))).toBe('TooManyAccessKeys');
    await dir.revokeKey(carol.cess, keys[0].accessKeyId);
    await dir.createKey({ account: carol.cess, territory: 'default' });
    expect(await codeOf(dir.createKey({ account: 'cXnotanaddress', territory: 'default' }))).toBe('InvalidArgument');
    expect(await codeOf(dir.createKey({ account: alice.cess, territory: '' }))).toBe('InvalidArgument');
    expect(await codeOf(dir.createKey({ account: alice.cess, territory: 'default', label: 'x'.repeat(129) }))).toBe('InvalidArgument');
  });

  it('records used proofs until they expire', async () => {
    const dir = directory();
    const sig = 'ab'.repeat(64);
    const soon = Date.now() + 60_000;
    expect(await dir.claimProof(sig, soon)).toBe(true);
    expect(await dir.claimProof(sig, soon)).toBe(false);
    expect(await dir.claimProof('cd'.repeat(64), soon)).toBe(true);
    // An expired record is pruned and no longer blocks (such a proof fails its expiry check anyway).
    const old = 'ef'.repeat(64);
    expect(await dir.claimProof(old, Date.now() - 1)).toBe(true);
    expect(await dir.claimProof(old, soon)).toBe(true);
    expect(await codeOf(dir.claimProof('xyz', soon))).toBe('InvalidArgument');
  });
});

describe('AccountDirectory: bucket registry', () => {
  it('keeps bucket names globally unique and tells owners from others', async () => {
    const dir = directory();
    const reg = await dir.registerBucket({ name: 'photos', owner: alice.generic, territory: 'default' });
    expect(reg).toMatchObject({ name: 'photos', owner: alice.cess, territory: 'default' });
    expect(await codeOf(dir.registerBucket({ name: 'photos', owner: alice.cess, territory: 'default' }))).toBe('BucketAlreadyOwnedByYou');
    expect(await codeOf(dir.registerBucket({ name: 'photos', owner: bob.cess, territory: 'default' }))).toBe('BucketAlreadyExists');
    expect(await codeOf(dir.registerBucket({ name: '192.168.1.1', owner: bob.cess, territory: 'default' }))).toBe('InvalidBucketName');
    expect(await codeOf(dir.registerBucket({ name: 'ab', owner: bob.cess, territory: 'default' }))).toBe('InvalidBucketName');
    expect(await dir.getBucket('photos')).toEqual(reg);

    expect(await codeOf(dir.unregisterBucket('photos', bob.cess))).toBe('AccessDenied');
    expect(await dir.unregisterBucket('photos', alice.cess)).toBe(true);
    expect(await dir.unregisterBucket('photos', alice.cess)).toBe(false);
    expect((await dir.registerBucket({ name: 'photos', owner: bob.cess, territory: 'default' })).owner).toBe(bob.cess);
  });

  it('lists an owner’s buckets by name with prefix and pagination', async () => {
    const dir = directory();
    const names = ['zeta', 'alpha', 'beta-1', 'beta-2', 'gamma'];
    for (const name of names) await dir.registerBucket({ name, owner: alice.cess, territory: 'default' });
    await dir.registerBucket({ name: 'bobs', owner: bob.cess, territory: 'default' });
    expect((await dir.listBuckets(alice.generic)).buckets.map((b) => b.name)).toEqual([...names].sort());
    expect((await dir.listBuckets(bob.cess)).buckets.map((b) => b.name)).toEqual(['bobs']);
    expect((await dir.listBuckets(alice.cess, { prefix: 'beta' })).buckets.map((b) => b.name)).toEqual(['beta-1', 'beta-2']);
    const seen: string[] = [];
    let token: string | undefined;
    for (;;) {
      const page = await dir.listBuckets(alice.cess, { maxBuckets: 2, continuationToken: token });
      seen.push(...page.buckets.map((b) => b.name));
      if (!page.continuationToken) break;
      token = page.continuationToken;
    }
    expect(seen).toEqual([...names].sort());
  });
});

describe('AccessKeyCache', () => {
  it('serves lookups within the TTL, re-asks after it and forgets on invalidate', async () => {
    let now = 1_000;
    let calls = 0;
    let current: { secret: string; account: string; territory: string } | undefined = { secret: 's', account: alice.cess, territory: 'default' };
    const load = async () => {
      calls++;
      return current;
    };
    const cache = new AccessKeyCache({ ttlMs: 30_000, negativeTtlMs: 2_000, now: () => now });
    expect(await cache.get('K', load)).toEqual(current);
    expect(await cache.get('K', load)).toEqual(current);
    expect(calls).toBe(1);
    current = undefined; // revoked in the directory
    now += 29_999;
    expect(await cache.get('K', load)).toBeDefined(); // still within the TTL: the documented revocation delay
    now += 2;
    expect(await cache.get('K', load)).toBeUndefined();
    expect(calls).toBe(2);
    expect(await cache.get('K', load)).toBeUndefined(); // negative answers are cached briefly
    expect(calls).toBe(2);
    now += 2_001;
    current = { secret: 't', account: alice.cess, territory: 'default' };
    expect((await cache.get('K', load))?.secret).toBe('t');
    cache.invalidate('K');
    current = undefined;
    expect(await cache.get('K', load)).toBeUndefined();
    expect(calls).toBe(4);
  });

  it('does not keep an answer that was in flight while the key was invalidated', async () => {
    const cache = new AccessKeyCache();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = cache.get('K', async () => {
      await gate;
      return { secret: 'stale', account: alice.cess, territory: 'default' };
    });
    cache.invalidate('K');
    release();
    expect((await slow)?.secret).toBe('stale');
    expect(await cache.get('K', async () => undefined)).toBeUndefined();
  });

  it('evicts the oldest entries beyond its capacity', async () => {
    const cache = new AccessKeyCache({ maxEntries: 3 });
    for (const id of ['a', 'b', 'c', 'd']) await cache.get(id, async () => ({ secret: id, account: alice.cess, territory: 't' }));
    expect(cache.size).toBe(3);
    let asked = false;
    await cache.get('a', async () => ((asked = true), undefined));
    expect(asked).toBe(true);
  });

  it('reads through to the global directory binding', async () => {
    const created = await env.ACCOUNT_DIRECTORY.get(env.ACCOUNT_DIRECTORY.idFromName('global')).createKey({ account: bob.cess, territory: 'default' });
    const cache = new AccessKeyCache();
    expect(await lookupAccessKey(env, created.accessKeyId, cache)).toEqual({ secret: created.secretAccessKey, account: bob.cess, territory: 'default' });
  });
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
