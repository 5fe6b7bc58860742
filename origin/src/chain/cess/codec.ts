import { base58Decode, base58Encode, decodeAddress, encodeAddress } from '@polkadot/util-crypto';
import { CHAIN, ChainDispatchError } from '../port.ts';

/** Conversions between the port's plain values and the byte shapes CESS stores. */

const HASH = /^[0-9a-f]{64}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** A length the runtime's BoundedVec would refuse to decode: refused here, before paying a fee for it. */
export function refuseEarly(pallet: string, error: string, detail: string): never {
  throw new ChainDispatchError(pallet, error, `${detail} (refused before submission)`);
}

/** A FID/segment/fragment hash as the chain stores it: its 64 ASCII hex characters. */
export function hashBytes(hash: string, pallet = 'fileBank'): Uint8Array {
  if (typeof hash !== 'string' || !HASH.test(hash)) refuseEarly(pallet, 'SpecError', `not a 64-character lowercase hex hash: ${JSON.stringify(String(hash)).slice(0, 80)}`);
  return encoder.encode(hash);
}

/** Reads a stored `[u8;64]` hash back as its text. */
export function hashText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * `text` as a `Bytes` argument, refused when longer than the runtime's bound. Given as hex: polkadot-js reads a
 * plain string that starts with "0x" as hex, and a Uint8Array as already length-prefixed.
 */
export function boundedText(text: string, max: number, pallet: string, what: string, min = 0): `0x${string}` {
  const bytes = encoder.encode(String(text));
  if (bytes.length > max) refuseEarly(pallet, 'BoundedVecError', `${what} is ${bytes.length} bytes; at most ${max}`);
  if (bytes.length < min) refuseEarly(pallet, 'SpecError', `${what} is ${bytes.length} bytes; at least ${min}`);
  return bytesArg(bytes);
}

/** Raw bytes as a `Bytes` argument (hex, see boundedText). */
export function bytesArg(bytes: Uint8Array): `0x${string}` {
  return `0x${Buffer.from(bytes).toString('hex')}`;
}

export function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** The 32-byte public key of an SS58 address (any prefix). */
export function accountBytes(address: string, pallet = 'system', what = 'account'): Uint8Array {
  try {
    return decodeAddress(address);
  } catch {
    return refuseEarly(pallet, 'InvalidAccount', `${what} is not an SS58 address: ${JSON.stringify(String(address)).slice(0, 80)}`);
  }
}

/** A public key as a CESS address (prefix 11330). */
export function cessAddress(publicKey: Uint8Array): string {
  return encodeAddress(publicKey, CHAIN.ss58Prefix);
}

const PEER_ID_BYTES = 38;

/** A libp2p peer id (base58) as the 38 bytes `Oss` keeps; no peer id is 38 zero bytes, as DeOSS sends. */
export function peerIdBytes(peerId: string | undefined): Uint8Array {
  if (!peerId) return new Uint8Array(PEER_ID_BYTES);
  let raw: Uint8Array;
  try {
    raw = base58Decode(peerId);
  } catch {
    return refuseEarly('oss', 'ConvertError', `not a base58 libp2p peer id: ${peerId.slice(0, 80)}`);
  }
  if (raw.length !== PEER_ID_BYTES) refuseEarly('oss', 'ConvertError', `a peer id of ${raw.length} bytes; CESS keeps ${PEER_ID_BYTES}`);
  return raw;
}

export function peerIdText(bytes: Uint8Array): string | undefined {
  return bytes.every((b) => b === 0) ? undefined : base58Encode(bytes);
}

/**
 * Runtimes before spec 126 keep a miner's address in a 38-byte `peer_id`. An endpoint URL of up to 38 bytes is
 * stored there zero-padded (a libp2p peer id, base58, is stored as its bytes); anything longer cannot be.
 */
export function minerPeerIdBytes(endpoint: string): Uint8Array {
  const ascii = encoder.encode(endpoint);
  if (/^[\x21-\x7e]+$/.test(endpoint) && ascii.length <= PEER_ID_BYTES && endpoint.includes(':')) {
    const out = new Uint8Array(PEER_ID_BYTES);
    out.set(ascii);
    return out;
  }
  return peerIdBytes(endpoint);
}

/** Reads a spec-100 miner `peer_id` back: the padded endpoint text, or the base58 peer id. */
export function minerPeerIdText(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  const body = bytes.subarray(0, end);
  if (body.length > 0 && body.every((b) => b >= 0x21 && b <= 0x7e)) return decoder.decode(body);
  return peerIdText(bytes) ?? '';
}
