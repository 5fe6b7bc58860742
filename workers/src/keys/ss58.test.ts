import { describe, expect, it } from 'vitest';
import { base58Decode, base58Encode } from './base58.ts';
import { AddressError, canonicalAccount, decodeAddress, encodeAddress } from './ss58.ts';
import vectors from './testdata/sr25519-vectors.json';

// Addresses from @polkadot/util-crypto's encodeAddress (testdata/make-sr25519-vectors.ts).

const unhex = (h: string) => Uint8Array.from(h.replace(/^0x/, '').match(/../g)!, (b) => parseInt(b, 16));

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
