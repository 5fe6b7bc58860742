import { Keyring } from '@polkadot/keyring';
import { base58Encode, cryptoWaitReady } from '@polkadot/util-crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ReplayCache, SignatureError, parseMessageExpiry, signHeaders, verifySignedHeaders } from './signed-message.ts';

let alice: ReturnType<Keyring['addFromUri']>;
let bob: ReturnType<Keyring['addFromUri']>;
beforeAll(async () => {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519', ss58Format: 11330 });
  alice = keyring.addFromUri('//Alice');
  bob = keyring.addFromUri('//Bob');
});

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const inOneHour = String(Math.floor(NOW / 1000) + 3600);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    expect(err).toBeInstanceOf(SignatureError);
    return (err as SignatureError).reason;
  }
}

describe('verifySignedHeaders', () => {
  it('accepts every DeOSS signature encoding, plain and <Bytes>-wrapped', async () => {
    const raw = alice.sign(new TextEncoder().encode(inOneHour));
    const wrapped = alice.sign(new TextEncoder().encode(`<Bytes>${inOneHour}</Bytes>`));
    for (const signature of [hex(raw), `0x${hex(raw)}`, base58Encode(raw), Buffer.from(raw).toString('latin1'), `0x${hex(wrapped)}`]) {
      const caller = await verifySignedHeaders({ account: alice.address, message: inOneHour, signature }, { now: NOW });
      expect(caller.account).toBe(alice.address);
      expect(caller.expiresAt).toBe((Math.floor(NOW / 1000) + 3600) * 1000);
    }
  });

  it('refuses wrong signers, missing headers, and messages without a fresh, near expiry', async () => {
    const sign = (m: string) => `0x${hex(alice.sign(new TextEncoder().encode(m)))}`;
    const ok = { account: alice.address, message: inOneHour, signature: sign(inOneHour) };
    expect(await reason(verifySignedHeaders({ ...ok, account: bob.address }, { now: NOW }))).toBe('bad-signature');
    expect(await reason(verifySignedHeaders({ ...ok, account: 'cXnotanaddress' }, { now: NOW }))).toBe('bad-account');
    expect(await reason(verifySignedHeaders({ ...ok, signature: null }, { now: NOW }))).toBe('missing-headers');
    expect(await reason(verifySignedHeaders({ ...ok, message: 'hello', signature: sign('hello') }, { now: NOW }))).toBe('no-expiry');
    const past = String(Math.floor(NOW / 1000) - 1);
    expect(await reason(verifySignedHeaders({ ...ok, message: past, signature: sign(past) }, { now: NOW }))).toBe('expired');
    const far = String(Math.floor(NOW / 1000) + 3 * 86400);
    expect(await reason(verifySignedHeaders({ ...ok, message: far, signature: sign(far) }, { now: NOW }))).toBe('expiry-too-far');
    expect(
      await reason(verifySignedHeaders({ ...ok, message: 'hello', signature: sign('hello') }, { now: NOW, allowMessageWithoutExpiry: true })),
    ).toBe('accepted');
  });

  it('accepts a signature once when a replay cache is given', async () => {
    const replay = new ReplayCache();
    const h = { account: alice.address, message: inOneHour, signature: hex(alice.sign(new TextEncoder().encode(inOneHour))) };
    expect(await reason(verifySignedHeaders(h, { now: NOW, replay }))).toBe('accepted');
    expect(await reason(verifySignedHeaders(h, { now: NOW, replay }))).toBe('replayed');
    // The same signature re-encoded is still the same signature.
    expect(await reason(verifySignedHeaders({ ...h, signature: `0x${h.signature}` }, { now: NOW, replay }))).toBe('replayed');
  });
});

describe('signHeaders', () => {
  it('produces headers that verify, expiring after the given time', async () => {
    const h = signHeaders(alice, { now: NOW, ttlMs: 60_000 });
    const caller = await verifySignedHeaders({ account: h.Account, message: h.Message, signature: h.Signature }, { now: NOW });
    expect(caller.expiresAt).toBe(NOW + 60_000);
    expect(await reason(verifySignedHeaders({ account: h.Account, message: h.Message, signature: h.Signature }, { now: NOW + 61_000 }))).toBe(
      'expired',
    );
  });
});

describe('parseMessageExpiry', () => {
  it('reads unix seconds, milliseconds and UTC date-times, and nothing else', () => {
    expect(parseMessageExpiry('1764072000')).toBe(1764072000000);
    expect(parseMessageExpiry('1764072000123')).toBe(1764072000123);
    expect(parseMessageExpiry('2026-11-25 12:00:00')).toBe(NOW);
    expect(parseMessageExpiry('12345')).toBeUndefined();
    expect(parseMessageExpiry('random text')).toBeUndefined();
  });
});

describe('ReplayCache', () => {
  it('forgets expired signatures and fails closed when full of live ones', () => {
    const c = new ReplayCache(2);
    expect(c.claim('a', 100, 0)).toBe(true);
    expect(c.claim('a', 100, 50)).toBe(false);
    expect(c.claim('b', 200, 50)).toBe(true);
    expect(c.claim('c', 300, 60)).toBe(false); // full of live entries
    expect(c.claim('c', 300, 150)).toBe(true); // 'a' expired and was pruned
    expect(c.claim('d', 400, 150)).toBe(false); // full again: 'b' and 'c' are live
    expect(c.size).toBe(2);
  });
});
