import { getPublicKey, secretFromSeed, sign } from '@scure/sr25519';
import { describe, expect, it } from 'vitest';
import { base58Decode, base58Encode } from './base58.ts';
import { signatureCandidates, verifySignedText, verifySr25519 } from './sr25519.ts';
import { AddressError, canonicalAccount, decodeAddress, encodeAddress } from './ss58.ts';
import vectors from './testdata/sr25519-vectors.json';

// The vectors were produced by @polkadot/keyring (schnorrkel compiled to WASM) in Node: see testdata/make-sr25519-vectors.ts.

const unhex = (h: string) => Uint8Array.from(h.replace(/^0x/, '').match(/../g)!, (b) => parseInt(b, 16));
const text = (s: string) => new TextEncoder().encode(s);

describe('SS58', () => {
  it('decodes and encodes the addresses polkadot.js produced, in both prefixes', () => {
    for (const a of vectors.accounts) {
      expect(decodeAddress(a.cess)).toEqual({ publicKey: unhex(a.publicKey), prefix: 11330 });
      expect(decodeAddress(a.generic)).toEqual({ publicKey: unhex(a.publicKey), prefix: 42 });
      expect(encodeAddress(unhex(a.publicKey), 11330)).toBe(a.cess);
      expect(encodeAddress(unhex(a.publicKey), 42)).toBe(a.generic);
      expect(canonicalAccount(a.generic)).toBe(a.cess);
    }
  });

  it('refuses bad checksums, characters, lengths and prefixes it does not accept', () => {
    const a = vectors.accounts[0].cess;
    const last = a[a.length - 1] === 'c' ? 'd' : 'c';
    expect(() => decodeAddress(a.slice(0, -1) + last)).toThrow(AddressError);
    expect(() => decodeAddress(a.replace(/.$/, '0'))).toThrow(/invalid character/);
    expect(() => decodeAddress(a.slice(0, 20))).toThrow(AddressError);
    expect(() => decodeAddress('')).toThrow(AddressError);
    const polkadot = encodeAddress(unhex(vectors.accounts[0].publicKey), 0);
    expect(() => decodeAddress(polkadot)).toThrow(/prefix 0 is not accepted/);
    expect(decodeAddress(polkadot, [0]).prefix).toBe(0);
  });

  it('base58 round-trips with leading zeros', () => {
    for (const bytes of [Uint8Array.of(0, 0, 1, 2), Uint8Array.of(255), new Uint8Array(64).fill(7), Uint8Array.of(0)]) {
      expect(base58Decode(base58Encode(bytes))).toEqual(bytes);
    }
  });
});

describe('sr25519 verification (pure JS, in workerd)', () => {
  it('accepts signatures made by @polkadot/keyring: raw and <Bytes>-wrapped, hex, 0x-hex and base58', () => {
    for (const s of vectors.signatures) {
      const pk = decodeAddress(s.account).publicKey;
      expect(verifySr25519(text(s.message), unhex(s.signatureHex), pk)).toBe(true);
      expect(verifySignedText(s.message, s.signatureHex, pk)).toEqual(unhex(s.signatureHex));
      expect(verifySignedText(s.message, s.signatureHex.slice(2), pk)).toEqual(unhex(s.signatureHex));
      expect(verifySignedText(s.message, s.signatureBase58, pk)).toEqual(unhex(s.signatureHex));
      expect(verifySignedText(s.message, s.wrappedSignatureHex, pk)).toEqual(unhex(s.wrappedSignatureHex));
    }
  });

  it('refuses tampered messages and signatures, and signatures by another key', () => {
    const [s, other] = vectors.signatures;
    const pk = decodeAddress(s.account).publicKey;
    expect(verifySignedText(`${s.message}.`, s.signatureHex, pk)).toBeUndefined();
    const sig = unhex(s.signatureHex);
    sig[10] ^= 0x01;
    expect(verifySr25519(text(s.message), sig, pk)).toBe(false);
    expect(verifySignedText(s.message, other.signatureHex, pk)).toBeUndefined();
    expect(verifySignedText(other.message, other.signatureHex, pk)).toBeUndefined();
    // Malformed inputs are refusals, not exceptions.
    expect(verifySr25519(text(s.message), new Uint8Array(64).fill(0xff), pk)).toBe(false);
    expect(verifySr25519(text(s.message), unhex(s.signatureHex), new Uint8Array(31))).toBe(false);
    expect(signatureCandidates('not a signature')).toEqual([]);
  });

  it('verifies what @scure/sr25519 signs inside workerd', () => {
    const secret = secretFromSeed(crypto.getRandomValues(new Uint8Array(32)));
    const pk = getPublicKey(secret);
    const sig = sign(secret, text('message'));
    expect(verifySr25519(text('message'), sig, pk)).toBe(true);
    expect(verifySr25519(text('messagE'), sig, pk)).toBe(false);
  });
});
