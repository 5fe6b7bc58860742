import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { describe, expect, it } from 'vitest';
import { PeerPolicy } from './peer-policy.ts';

const id = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();

describe('PeerPolicy', () => {
  it('admits anyone but the denied when there is no allow list', async () => {
    const [a, b] = [await id(), await id()];
    const p = new PeerPolicy({ deny: [b] });
    expect(p.allows(a)).toBe(true);
    expect(p.allows(b)).toBe(false);
  });

  it('admits only the allowed when there is an allow list; deny wins', async () => {
    const [a, b, c] = [await id(), await id(), await id()];
    const p = new PeerPolicy({ allow: [a, b], deny: [b] });
    expect([a, b, c].map((x) => p.allows(x))).toEqual([true, false, false]);
  });

  it('refuses lists that contain something other than peer ids', () => {
    expect(() => new PeerPolicy({ allow: ['not-a-peer'] })).toThrow(/peer allow list: "not-a-peer" is not a libp2p peer id/);
  });
});
