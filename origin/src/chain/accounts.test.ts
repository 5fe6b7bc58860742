import { describe, expect, it } from 'vitest';
import { accountFromSuri, isValidAddress, toCessAddress, toPublicKey, verifySr25519 } from './accounts.ts';

describe('accounts', () => {
  it('derives //Alice with the CESS prefix and signs verifiably', async () => {
    const alice = await accountFromSuri('//Alice');
    expect(Buffer.from(alice.publicKey).toString('hex')).toBe('d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d');
    expect(alice.address.startsWith('cX')).toBe(true);
    expect(toCessAddress('5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY')).toBe(alice.address);
    expect(Buffer.from(toPublicKey(alice.address)).equals(Buffer.from(alice.publicKey))).toBe(true);
    const msg = new TextEncoder().encode('hello');
    const sig = alice.sign(msg);
    expect(await verifySr25519(msg, sig, alice.address)).toBe(true);
    expect(await verifySr25519(new TextEncoder().encode('hellO'), sig, alice.address)).toBe(false);
    expect(isValidAddress(alice.address)).toBe(true);
    expect(isValidAddress('cXnot-an-address')).toBe(false);
  });
});
