import { base58Decode, cryptoWaitReady, decodeAddress, sr25519Verify } from '@polkadot/util-crypto';

/**
 * DeOSS request signatures: headers `Account` (SS58), `Message` (the signed text) and `Signature` (sr25519).
 * Every encoding DeOSS accepts is accepted: the signature as raw bytes, hex, 0x-hex or base58, over the message
 * itself or wrapped as `<Bytes>message</Bytes>` (what polkadot.js `signRaw` signs). Unlike DeOSS, the message must
 * carry an expiry (see parseMessageExpiry) no further ahead than a configured maximum, and callers keep a
 * ReplayCache so one signature is accepted once.
 */

export type SignatureFailure =
  | 'missing-headers'
  | 'bad-account'
  | 'bad-signature'
  | 'no-expiry'
  | 'expired'
  | 'expiry-too-far'
  | 'replayed';

export class SignatureError extends Error {
  override name = 'SignatureError';
  readonly reason: SignatureFailure;
  constructor(reason: SignatureFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface SignedHeaders {
  account?: string | null;
  message?: string | null;
  signature?: string | null;
}

export interface VerifyOptions {
  /** Current time in ms. @default Date.now() */
  now?: number;
  /** Furthest a message's expiry may lie in the future, in ms. @default 24 h */
  maxAheadMs?: number;
  /** Refuses signatures seen before; omit only for idempotent, non-sensitive calls. */
  replay?: ReplayCache;
  /** Accept messages without an expiry (what CESS miners accept from DeOSS: 16 random characters). @default false */
  allowMessageWithoutExpiry?: boolean;
}

export interface VerifiedCaller {
  /** The Account header as sent. */
  account: string;
  publicKey: Uint8Array;
  /** Expiry of the message in ms, when it has one. */
  expiresAt?: number;
}

export const DEFAULT_MAX_AHEAD_MS = 24 * 60 * 60 * 1000;

/** Verifies a signed request. Throws SignatureError with a machine-readable `reason`. */
export async function verifySignedHeaders(h: SignedHeaders, options: VerifyOptions = {}): Promise<VerifiedCaller> {
  const { account, message, signature } = h;
  if (!account || !message || !signature) {
    throw new SignatureError('missing-headers', 'Account, Message and Signature headers are required');
  }
  let publicKey: Uint8Array;
  try {
    publicKey = decodeAddress(account);
  } catch {
    throw new SignatureError('bad-account', `invalid account: ${account}`);
  }
  const now = options.now ?? Date.now();
  const expiresAt = parseMessageExpiry(message);
  if (expiresAt === undefined) {
    if (!options.allowMessageWithoutExpiry) {
      throw new SignatureError('no-expiry', 'Message must be an expiry time (unix seconds or milliseconds)');
    }
  } else {
    if (expiresAt <= now) throw new SignatureError('expired', 'the signed message has expired');
    const maxAhead = options.maxAheadMs ?? DEFAULT_MAX_AHEAD_MS;
    if (expiresAt - now > maxAhead) {
      throw new SignatureError('expiry-too-far', `the signed message may expire at most ${Math.round(maxAhead / 1000)} s ahead`);
    }
  }
  await cryptoWaitReady();
  const signed = verifyAnyEncoding(message, signature, publicKey);
  if (!signed) throw new SignatureError('bad-signature', 'signature does not verify for this account and message');
  // Keyed by the signature bytes, so re-encoding a used signature (hex, base58, ...) does not get it past the cache.
  const key = Buffer.from(signed).toString('hex');
  if (options.replay && !options.replay.claim(key, expiresAt ?? now + (options.maxAheadMs ?? DEFAULT_MAX_AHEAD_MS), now)) {
    throw new SignatureError('replayed', 'this signature was already used');
  }
  return { account, publicKey, expiresAt };
}

/** The signature bytes that verify, or undefined. */
function verifyAnyEncoding(message: string, signature: string, publicKey: Uint8Array): Uint8Array | undefined {
  const raw = new TextEncoder().encode(message);
  const wrapped = new TextEncoder().encode(`<Bytes>${message}</Bytes>`);
  for (const sig of signatureCandidates(signature)) {
    if (sig.length !== 64) continue;
    if (safeVerify(raw, sig, publicKey) || safeVerify(wrapped, sig, publicKey)) return sig;
  }
  return undefined;
}

function safeVerify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return sr25519Verify(message, signature, publicKey);
  } catch {
    return false;
  }
}

/** The byte strings a Signature header may stand for: raw, 0x-hex, hex, base58. */
export function signatureCandidates(signature: string): Uint8Array[] {
  const out: Uint8Array[] = [Buffer.from(signature, 'latin1')];
  const hex = signature.startsWith('0x') || signature.startsWith('0X') ? signature.slice(2) : signature;
  if (/^[0-9a-fA-F]+$/.test(hex) && hex.length % 2 === 0) out.push(Buffer.from(hex, 'hex'));
  if (/^[1-9A-HJ-NP-Za-km-z]+$/.test(signature)) {
    try {
      out.push(base58Decode(signature));
    } catch {
      /* not base58 */
    }
  }
  return out;
}

/** Something that signs as an account: the gateway's or a storage node's key. */
export interface MessageSigner {
  address: string;
  sign(message: Uint8Array): Uint8Array;
}

/** Headers for a signed request: the message is an expiry `ttlMs` ahead, in unix seconds. @default ttlMs 5 min */
export function signHeaders(signer: MessageSigner, options: { ttlMs?: number; now?: number } = {}): Record<'Account' | 'Message' | 'Signature', string> {
  const expiry = Math.ceil(((options.now ?? Date.now()) + (options.ttlMs ?? 5 * 60 * 1000)) / 1000);
  const message = String(expiry);
  const signature = signer.sign(new TextEncoder().encode(message));
  return { Account: signer.address, Message: message, Signature: `0x${Buffer.from(signature).toString('hex')}` };
}

/**
 * The expiry a DeOSS message denotes, in ms: an integer in [1e9, 1e12) is unix seconds, in [1e12, 1e15) unix
 * milliseconds, and `YYYY-MM-DD HH:MM:SS` is UTC. Anything else has no expiry (undefined).
 */
export function parseMessageExpiry(message: string): number | undefined {
  if (/^\d+$/.test(message)) {
    const n = Number(message);
    if (n >= 1e9 && n < 1e12) return n * 1000;
    if (n >= 1e12 && n < 1e15) return n;
    return undefined;
  }
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(message);
  if (!m) return undefined;
  const t = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Signatures already accepted, kept until their message expires. Memory is bounded by `capacity`: when it is full
 * of unexpired entries, new signatures are refused (fail closed) rather than forgetting live ones.
 */
export class ReplayCache {
  readonly #seen = new Map<string, number>();
  readonly #capacity: number;
  constructor(capacity = 1_000_000) {
    this.#capacity = capacity;
  }

  /** Records a signature; false when it is already recorded and unexpired, or when the cache is full. */
  claim(signature: string, expiresAt: number, now = Date.now()): boolean {
    const prior = this.#seen.get(signature);
    if (prior !== undefined && prior > now) return false;
    if (this.#seen.size >= this.#capacity) {
      for (const [sig, exp] of this.#seen) if (exp <= now) this.#seen.delete(sig);
      if (this.#seen.size >= this.#capacity) return false;
    }
    this.#seen.set(signature, expiresAt);
    return true;
  }

  get size(): number {
    return this.#seen.size;
  }
}
