import { getPublicKey, secretFromSeed, sign } from '@scure/sr25519';
import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { AccessKeyCache, lookupAccessKey } from '../namespace/access-key-cache.ts';
import { accountDirectory } from '../namespace/env.ts';
import { keyProofMessage, type KeyPurpose } from './proof-message.ts';
import { keyRoutes } from './routes.ts';
import { encodeAddress } from './ss58.ts';
import vectors from './testdata/sr25519-vectors.json';

// The routes run inside workerd against the real AccountDirectory binding; users sign with @scure/sr25519 here,
// and one proof signed by @polkadot/keyring (testdata) checks compatibility with polkadot.js wallets.

const hex = (b: Uint8Array) => `0x${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;

function user(prefix = 11330) {
  const secret = secretFromSeed(crypto.getRandomValues(new Uint8Array(32)));
  const pk = getPublicKey(secret);
  return {
    account: encodeAddress(pk, prefix),
    cess: encodeAddress(pk, 11330),
    proof(purpose: KeyPurpose, o: { audience?: string; expiresAt?: number; account?: string; wrap?: boolean } = {}) {
      const account = o.account ?? encodeAddress(pk, prefix);
      const message = keyProofMessage({ account, purpose, audience: o.audience ?? 'edge.test', expiresAt: o.expiresAt ?? Date.now() + 60_000 });
      const signed = o.wrap ? `<Bytes>${message}</Bytes>` : message;
      return { Account: encodeAddress(pk, prefix), Message: message, Signature: hex(sign(secret, new TextEncoder().encode(signed))) };
    },
  };
}

function edge(options: Parameters<typeof keyRoutes>[0] = {}) {
  const cache = options.cache ?? new AccessKeyCache();
  const app = new Hono<{ Bindings: typeof env }>().route('/_deoss/keys', keyRoutes({ ...options, cache }));
  const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    app.request(`http://edge.test/_deoss/keys${path}`, { method, headers, ...(body !== undefined ? { body } : {}) }, env);
  return { call, cache };
}

async function errorOf(res: Response): Promise<{ status: number; code: string }> {
  const body = (await res.json()) as { error: { code: string } };
  return { status: res.status, code: body.error.code };
}

describe('key routes', () => {
  it('creates a key for a proven account; the S3 side can then resolve its secret', async () => {
    const u = user(42); // a generic Substrate address works and is stored in CESS form
    const { call } = edge();
    const res = await call('POST', '', { ...u.proof('keys.create'), 'Content-Type': 'application/json' }, JSON.stringify({ territory: 'photos', label: 'ci' }));
    expect(res.status).toBe(201);
    expect(res.headers.get('Cache-Control')).toBe('no-store');
    const key = (await res.json()) as { accessKeyId: string; secretAccessKey: string; account: string; territory: string; label: string };
    expect(key).toMatchObject({ account: u.cess, territory: 'photos', label: 'ci' });
    expect(await lookupAccessKey(env, key.accessKeyId, new AccessKeyCache())).toEqual({ secret: key.secretAccessKey, account: u.cess, territory: 'photos' });

    const plain = await call('POST', '', u.proof('keys.create'));
    expect(plain.status).toBe(201);
    expect(((await plain.json()) as { territory: string }).territory).toBe('default');
  });

  it('refuses a replayed proof, a proof for another action, another gateway, or out of its time window', async () => {
    const u = user();
    const { call } = edge();
    const headers = u.proof('keys.create');
    expect((await call('POST', '', headers)).status).toBe(201);
    expect(await errorOf(await call('POST', '', headers))).toEqual({ status: 401, code: 'replayed' });
    // Re-encoding the same signature (no 0x) is still the same proof.
    expect(await errorOf(await call('POST', '', { ...headers, Signature: headers.Signature.slice(2) }))).toEqual({ status: 401, code: 'replayed' });

    expect(await errorOf(await call('POST', '', u.proof('keys.list')))).toEqual({ status: 401, code: 'wrong-purpose' });
    expect(await errorOf(await call('POST', '', u.proof('keys.create', { audience: 'other.example' })))).toEqual({ status: 401, code: 'wrong-audience' });
    expect(await errorOf(await call('POST', '', u.proof('keys.create', { expiresAt: Date.now() - 1000 })))).toEqual({ status: 401, code: 'expired' });
    expect(await errorOf(await call('POST', '', u.proof('keys.create', { expiresAt: Date.now() + 11 * 60_000 })))).toEqual({ status: 401, code: 'expiry-too-far' });
    expect(await errorOf(await call('POST', '', u.proof('keys.create', { account: user().account })))).toEqual({ status: 401, code: 'account-mismatch' });

    const tampered = u.proof('keys.create');
    const last = tampered.Signature.at(-1) === '0' ? '1' : '0';
    expect(await errorOf(await call('POST', '', { ...tampered, Signature: tampered.Signature.slice(0, -1) + last }))).toEqual({ status: 401, code: 'bad-signature' });
    const other = user().proof('keys.create');
    expect(await errorOf(await call('POST', '', { ...u.proof('keys.create'), Signature: other.Signature }))).toEqual({ status: 401, code: 'bad-signature' });

    expect(await errorOf(await call('POST', '', {}))).toEqual({ status: 401, code: 'missing-headers' });
    expect(await errorOf(await call('POST', '', { ...u.proof('keys.create'), Message: 'hello' }))).toEqual({ status: 400, code: 'malformed-message' });
    expect(await errorOf(await call('POST', '', { ...u.proof('keys.create'), Account: 'nope' }))).toEqual({ status: 400, code: 'bad-account' });
  });

  it('accepts polkadot.js extension-style <Bytes>-wrapped signatures', async () => {
    const u = user();
    const { call } = edge();
    expect((await call('POST', '', u.proof('keys.create', { wrap: true }))).status).toBe(201);
  });

  it('refuses bad bodies before spending the proof', async () => {
    const u = user();
    const { call } = edge();
    const headers = u.proof('keys.create');
    expect(await errorOf(await call('POST', '', headers, '{not json'))).toEqual({ status: 400, code: 'bad-request' });
    expect(await errorOf(await call('POST', '', headers, JSON.stringify({ territory: 5 })))).toEqual({ status: 400, code: 'bad-request' });
    expect(await errorOf(await call('POST', '', headers, JSON.stringify({ label: 'x'.repeat(5000) })))).toEqual({ status: 400, code: 'bad-request' });
    expect((await call('POST', '', headers, JSON.stringify({ territory: 'ok' }))).status).toBe(201); // the proof was still unspent
    expect(await errorOf(await call('POST', '', u.proof('keys.create'), JSON.stringify({ territory: 't'.repeat(64) })))).toEqual({ status: 400, code: 'InvalidArgument' });
  });

  it('lists and revokes keys; a revoked key stops resolving at once in this isolate', async () => {
    const u = user();
    const stranger = user();
    const cache = new AccessKeyCache();
    const { call } = edge({ cache });
    const a = (await (await call('POST', '', u.proof('keys.create'))).json()) as { accessKeyId: string; secretAccessKey: string };
    const b = (await (await call('POST', '', u.proof('keys.create'))).json()) as { accessKeyId: string };

    const listed = await call('GET', '', u.proof('keys.list'));
    expect(listed.status).toBe(200);
    const body = (await listed.json()) as { account: string; keys: Array<{ accessKeyId: string; revoked?: number }> };
    expect(body.account).toBe(u.cess);
    expect(body.keys.map((k) => k.accessKeyId)).toEqual([a.accessKeyId, b.accessKeyId]);
    expect(JSON.stringify(body)).not.toContain(a.secretAccessKey);

    expect(await lookupAccessKey(env, a.accessKeyId, cache)).toBeDefined(); // now cached
    // The revoke proof names the key: a proof for another key does not work.
    expect(await errorOf(await call('DELETE', `/${a.accessKeyId}`, u.proof(`keys.revoke.${b.accessKeyId}`)))).toEqual({ status: 401, code: 'wrong-purpose' });
    expect(await errorOf(await call('DELETE', `/${a.accessKeyId}`, stranger.proof(`keys.revoke.${a.accessKeyId}`)))).toEqual({ status: 404, code: 'InvalidAccessKeyId' });
    const revoked = await call('DELETE', `/${a.accessKeyId}`, u.proof(`keys.revoke.${a.accessKeyId}`));
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { revoked?: number }).revoked).toBeTypeOf('number');
    expect(await lookupAccessKey(env, a.accessKeyId, cache)).toBeUndefined();
    expect(await lookupAccessKey(env, b.accessKeyId, cache)).toBeDefined();
  });

  it('accepts a proof signed by @polkadot/keyring, once', async () => {
    const p = vectors.proof;
    const create = p.proofs.find((x) => x.purpose === 'keys.create')!;
    const { call } = edge({ now: () => p.expiry * 1000 - 60_000 });
    const headers = { Account: p.account, Message: create.message, Signature: create.signatureHex };
    const res = await call('POST', '', headers);
    expect(res.status).toBe(201);
    expect(((await res.json()) as { account: string }).account).toBe(p.account);
    expect(await errorOf(await call('POST', '', headers))).toEqual({ status: 401, code: 'replayed' });
    // The extension-style signature of the list proof, and a tampered copy of it.
    const list = p.proofs.find((x) => x.purpose === 'keys.list')!;
    const flipped = list.wrappedSignatureHex.slice(0, 10) + (list.wrappedSignatureHex[10] === 'a' ? 'b' : 'a') + list.wrappedSignatureHex.slice(11);
    expect(await errorOf(await call('GET', '', { Account: p.account, Message: list.message, Signature: flipped }))).toEqual({ status: 401, code: 'bad-signature' });
    expect((await call('GET', '', { Account: p.account, Message: list.message, Signature: list.wrappedSignatureHex })).status).toBe(200);
    // Without the injected clock the fixture's expiry is too far ahead (or past): refused.
    const live = edge();
    expect((await live.call('GET', '', { Account: p.account, Message: list.message, Signature: list.signatureHex })).status).toBe(401);
    expect(await accountDirectory(env).listKeys(p.account)).not.toHaveLength(0);
  });
});
