import type { ConnectionGater, PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';

/**
 * Which peers this origin talks to. A non-empty allow list admits only the peers on it; the deny list always
 * wins. Applied to connections (both directions, once the peer's key is proven by the Noise handshake) and to
 * announcements relayed by other peers.
 */
export class PeerPolicy {
  readonly #allow: Set<string>;
  readonly #deny: Set<string>;

  constructor(options: { allow?: string[]; deny?: string[] } = {}) {
    const check = (ids: string[] = [], what: string) =>
      ids.map((id) => {
        try {
          return peerIdFromString(id).toString();
        } catch {
          throw new Error(`${what} list: ${JSON.stringify(id)} is not a libp2p peer id`);
        }
      });
    this.#allow = new Set(check(options.allow, 'peer allow'));
    this.#deny = new Set(check(options.deny, 'peer deny'));
  }

  allows(peer: PeerId | string): boolean {
    const id = peer.toString();
    if (this.#deny.has(id)) return false;
    return this.#allow.size === 0 || this.#allow.has(id);
  }

  /** The libp2p connection gater enforcing this policy. */
  gater(): ConnectionGater {
    const refuse = (peer: PeerId) => !this.allows(peer);
    return {
      denyDialPeer: refuse,
      denyInboundEncryptedConnection: refuse,
      denyOutboundEncryptedConnection: refuse,
    };
  }
}
