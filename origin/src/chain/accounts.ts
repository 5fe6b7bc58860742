import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, decodeAddress, encodeAddress, sr25519Verify } from '@polkadot/util-crypto';
import { CHAIN } from './port.ts';

/** A signing account: the only shape in which keys leave this module (no polkadot types cross it). */
export interface Account {
  /** SS58 address with CESS's prefix (11330). */
  address: string;
  publicKey: Uint8Array;
  /** sr25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array;
}

/** An account from a mnemonic or SURI (`//Alice`, `word word … //hard/soft`). */
export async function accountFromSuri(suri: string): Promise<Account> {
  await cryptoWaitReady();
  const pair = new Keyring({ type: 'sr25519', ss58Format: CHAIN.ss58Prefix }).addFromUri(suri);
  return { address: pair.address, publicKey: pair.publicKey, sign: (m) => pair.sign(m) };
}

/** Whether `address` is a valid SS58 address (any prefix). */
export function isValidAddress(address: string): boolean {
  try {
    decodeAddress(address);
    return true;
  } catch {
    return false;
  }
}

/** Addresses already converted: every request names an account, and each conversion hashes twice (blake2). */
const cessAddresses = new Map<string, string>();
const CESS_ADDRESS_MEMO_SIZE = 4096;

/** The same account in CESS's SS58 format. Throws on an invalid address. */
export function toCessAddress(address: string): string {
  let cess = cessAddresses.get(address);
  if (cess === undefined) {
    cess = encodeAddress(decodeAddress(address), CHAIN.ss58Prefix);
    if (cessAddresses.size >= CESS_ADDRESS_MEMO_SIZE) cessAddresses.clear();
    cessAddresses.set(address, cess);
  }
  return cess;
}

export function toPublicKey(address: string): Uint8Array {
  return decodeAddress(address);
}

export async function verifySr25519(message: Uint8Array, signature: Uint8Array, address: string): Promise<boolean> {
  await cryptoWaitReady();
  try {
    return sr25519Verify(message, signature, decodeAddress(address));
  } catch {
    return false;
  }
}
