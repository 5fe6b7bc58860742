import { blake2b } from '@noble/hashes/blake2.js';
import { base58Decode, base58Encode } from './base58.ts';

/**
 * SS58 addresses for 32-byte public keys: base58(prefix bytes | public key | first 2 bytes of
 * blake2b-512("SS58PRE" | prefix bytes | public key)). Prefixes below 64 take one byte, 64..16383 two.
 */

/** CESS mainnet/testnet addresses ("cX..."). */
export const CESS_SS58_PREFIX = 11330;
/** Generic Substrate addresses ("5..."). */
export const GENERIC_SS58_PREFIX = 42;
/** Prefixes accepted from clients. */
export const ACCEPTED_SS58_PREFIXES: readonly number[] = [CESS_SS58_PREFIX, GENERIC_SS58_PREFIX];

export class AddressError extends Error {
  override name = 'AddressError';
}

const CONTEXT = new TextEncoder().encode('SS58PRE');

function checksum(payload: Uint8Array): Uint8Array {
  const input = new Uint8Array(CONTEXT.length + payload.length);
  input.set(CONTEXT);
  input.set(payload, CONTEXT.length);
  return blake2b(input, { dkLen: 64 }).subarray(0, 2);
}

function prefixBytes(prefix: number): Uint8Array {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 16383 || prefix === 46 || prefix === 47) throw new AddressError(`invalid SS58 prefix ${prefix}`);
  if (prefix < 64) return Uint8Array.of(prefix);
  return Uint8Array.of(((prefix & 0b1111_1100) >> 2) | 0b0100_0000, (prefix >> 8) | ((prefix & 0b11) << 6));
}

/** Public key and prefix of an address; throws AddressError on bad characters, length, checksum or prefix. */
export function decodeAddress(address: string, accepted: readonly number[] = ACCEPTED_SS58_PREFIXES): { publicKey: Uint8Array; prefix: number } {
  let raw: Uint8Array;
  try {
    raw = base58Decode(address);
  } catch (e) {
    throw new AddressError(`invalid address: ${(e as Error).message}`);
  }
  if (raw.length === 0) throw new AddressError('invalid address: empty');
  let prefix: number;
  let prefixLength: number;
  if (raw[0] < 64) {
    prefix = raw[0];
    prefixLength = 1;
  } else if (raw[0] < 128 && raw.length > 1) {
    const lower = ((raw[0] & 0b0011_1111) << 2) | (raw[1] >> 6);
    const upper = raw[1] & 0b0011_1111;
    prefix = lower | (upper << 8);
    prefixLength = 2;
  } else {
    throw new AddressError('invalid address: reserved prefix byte');
  }
  if (raw.length !== prefixLength + 32 + 2) throw new AddressError('invalid address: not a 32-byte account');
  const payload = raw.subarray(0, prefixLength + 32);
  const sum = checksum(payload);
  if (sum[0] !== raw[prefixLength + 32] || sum[1] !== raw[prefixLength + 33]) throw new AddressError('invalid address: checksum mismatch');
  if (!accepted.includes(prefix)) throw new AddressError(`invalid address: SS58 prefix ${prefix} is not accepted (use ${accepted.join(' or ')})`);
  return { publicKey: raw.slice(prefixLength, prefixLength + 32), prefix };
}

export function encodeAddress(publicKey: Uint8Array, prefix: number = CESS_SS58_PREFIX): string {
  if (publicKey.length !== 32) throw new AddressError('public key must be 32 bytes');
  const p = prefixBytes(prefix);
  const payload = new Uint8Array(p.length + 32);
  payload.set(p);
  payload.set(publicKey, p.length);
  const out = new Uint8Array(payload.length + 2);
  out.set(payload);
  out.set(checksum(payload), payload.length);
  return base58Encode(out);
}

/** The CESS form of any accepted address: the one spelling the namespace stores, so lookups compare equal. */
export function canonicalAccount(address: string): string {
  return encodeAddress(decodeAddress(address).publicKey, CESS_SS58_PREFIX);
}
