import { getPublicKey, secretFromSeed, sign } from '@scure/sr25519';
import { describe, expect, it } from 'vitest';
import { signatureCandidates, verifySignedText, verifySr25519 } from './sr25519.ts';
import { decodeAddress } from './ss58.ts';
import vectors from './testdata/sr25519-vectors.json';

// The vectors were produced by @polkadot/keyring (schnorrkel compiled to WASM) in Node: see testdata/make-sr25519-vectors.ts.

const unhex = (h: string) => Uint8Array.from(h.replace(/^0x/, '').match(/../g)!, (b) => parseInt(b, 16));
const text = (s: string) => new TextEncoder().encode(s);

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
