/**
 * Access-key secrets at rest: AES-256-GCM under a key derived (HKDF-SHA-256) from the worker secret
 * KEY_ENCRYPTION_SECRET, with a fresh 96-bit nonce per seal and the access key id as additional data, so a sealed
 * secret copied onto another row does not open. Layout: version byte 0x01 | nonce (12) | ciphertext + tag (16).
 */

/** Shortest KEY_ENCRYPTION_SECRET accepted (characters). */
export const KEY_ENCRYPTION_SECRET_MIN_LENGTH = 32;

const VERSION = 1;
const NONCE_BYTES = 12;
const encoder = new TextEncoder();

export class SecretSealer {
  readonly #key: Promise<CryptoKey>;

  constructor(secret: string | undefined) {
    if (typeof secret !== 'string' || secret.length < KEY_ENCRYPTION_SECRET_MIN_LENGTH) {
      throw new Error(`KEY_ENCRYPTION_SECRET must be set to at least ${KEY_ENCRYPTION_SECRET_MIN_LENGTH} characters (wrangler secret put, or .dev.vars locally)`);
    }
    this.#key = (async () => {
      const ikm = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveKey']);
      return crypto.subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode('deoss/access-key-seal'), info: encoder.encode('v1 aes-256-gcm') },
        ikm,
        { name: 'AES-GCM', length: 256 },
        false,
        ['encrypt', 'decrypt'],
      );
    })();
  }

  async seal(plaintext: string, boundTo: string): Promise<Uint8Array> {
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const ct = new Uint8Array(
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: encoder.encode(boundTo) }, await this.#key, encoder.encode(plaintext)),
    );
    const out = new Uint8Array(1 + NONCE_BYTES + ct.length);
    out[0] = VERSION;
    out.set(nonce, 1);
    out.set(ct, 1 + NONCE_BYTES);
    return out;
  }

  /** The plaintext; throws when the blob was not sealed by this secret for `boundTo`. */
  async open(sealed: Uint8Array, boundTo: string): Promise<string> {
    if (sealed.length < 1 + NONCE_BYTES + 16 || sealed[0] !== VERSION) throw new Error('sealed secret: unknown format');
    const pt = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: sealed.subarray(1, 1 + NONCE_BYTES), additionalData: encoder.encode(boundTo) },
      await this.#key,
      sealed.subarray(1 + NONCE_BYTES),
    );
    return new TextDecoder().decode(pt);
  }
}
