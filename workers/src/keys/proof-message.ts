/**
 * The text a user signs to manage access keys (shared by the edge and the `deoss keys` CLI; no runtime
 * dependencies):
 *
 *     <account>:<purpose>:<audience>:<expiry>
 *
 * - account: the SS58 address in the Account header;
 * - purpose: `keys.create`, `keys.list` or `keys.revoke.<ACCESS KEY ID>`, so a proof for one action cannot be
 *   used for another;
 * - audience: the host (and port) of the edge the request is sent to, so a proof shown to one gateway cannot be
 *   replayed at another;
 * - expiry: unix seconds; the edge refuses expired proofs and ones that expire too far ahead, and accepts each
 *   signature once.
 */

export type KeyPurpose = 'keys.create' | 'keys.list' | `keys.revoke.${string}`;

export interface KeyProofFields {
  account: string;
  purpose: string;
  audience: string;
  /** ms since the epoch (the message carries whole seconds). */
  expiresAt: number;
}

export function keyProofMessage(fields: { account: string; purpose: KeyPurpose; audience: string; expiresAt: number }): string {
  return `${fields.account}:${fields.purpose}:${fields.audience}:${Math.floor(fields.expiresAt / 1000)}`;
}

/** The fields of a proof message, or undefined when it does not have the shape above. */
export function parseKeyProofMessage(message: string): KeyProofFields | undefined {
  const parts = message.split(':');
  if (parts.length < 4) return undefined;
  const account = parts[0];
  const purpose = parts[1];
  const expiry = parts[parts.length - 1];
  const audience = parts.slice(2, -1).join(':');
  if (!account || !purpose || !audience || !/^\d{10,12}$/.test(expiry)) return undefined;
  return { account, purpose, audience, expiresAt: Number(expiry) * 1000 };
}
