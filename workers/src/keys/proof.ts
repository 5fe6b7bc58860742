import { parseKeyProofMessage } from './proof-message.ts';
import { verifySignedText } from './sr25519.ts';
import { AddressError, canonicalAccount, decodeAddress } from './ss58.ts';

/** Checking the signed headers (Account, Message, Signature) of a key-management request. */

/** Furthest ahead a proof's expiry may lie: a proof is meant for one request, right now. */
export const KEY_PROOF_MAX_AHEAD_MS = 10 * 60 * 1000;

export type ProofFailure =
  | 'missing-headers'
  | 'bad-account'
  | 'malformed-message'
  | 'account-mismatch'
  | 'wrong-purpose'
  | 'wrong-audience'
  | 'expired'
  | 'expiry-too-far'
  | 'bad-signature'
  | 'replayed';

export class ProofError extends Error {
  override name = 'ProofError';
  readonly reason: ProofFailure;
  constructor(reason: ProofFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface VerifiedProof {
  /** The account, SS58 with the CESS prefix. */
  account: string;
  /** The signature bytes that verified, hex: the replay-guard key (re-encoding a signature does not change it). */
  signatureHex: string;
  expiresAt: number;
}

export interface ProofExpectation {
  purpose: string;
  /** Host (and port) the request arrived at. */
  audience: string;
  now: number;
  maxAheadMs?: number;
}

/** Verifies the proof; throws ProofError. Replays are the caller's to refuse (AccountDirectory.claimProof). */
export function verifyKeyProof(headers: { account?: string | null; message?: string | null; signature?: string | null }, expect: ProofExpectation): VerifiedProof {
  const { account, message, signature } = headers;
  if (!account || !message || !signature) throw new ProofError('missing-headers', 'Account, Message and Signature headers are required');
  let publicKey: Uint8Array;
  try {
    publicKey = decodeAddress(account).publicKey;
  } catch (e) {
    throw new ProofError('bad-account', e instanceof AddressError ? e.message : 'invalid account');
  }
  const fields = parseKeyProofMessage(message);
  if (!fields) throw new ProofError('malformed-message', 'Message must be <account>:<purpose>:<host>:<unix-expiry>');
  if (fields.account !== account) throw new ProofError('account-mismatch', 'the account in Message differs from the Account header');
  if (fields.purpose !== expect.purpose) throw new ProofError('wrong-purpose', `this request needs a proof for ${expect.purpose}, not ${fields.purpose}`);
  if (fields.audience.toLowerCase() !== expect.audience.toLowerCase()) {
    throw new ProofError('wrong-audience', `the proof is for ${fields.audience}, this gateway is ${expect.audience}`);
  }
  if (fields.expiresAt <= expect.now) throw new ProofError('expired', 'the signed message has expired');
  const maxAhead = expect.maxAheadMs ?? KEY_PROOF_MAX_AHEAD_MS;
  if (fields.expiresAt - expect.now > maxAhead) {
    throw new ProofError('expiry-too-far', `the signed message may expire at most ${Math.round(maxAhead / 1000)} s ahead`);
  }
  const sig = verifySignedText(message, signature, publicKey);
  if (!sig) throw new ProofError('bad-signature', 'signature does not verify for this account and message');
  return { account: canonicalAccount(account), signatureHex: Array.from(sig, (b) => b.toString(16).padStart(2, '0')).join(''), expiresAt: fields.expiresAt };
}
