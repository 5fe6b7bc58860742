import { verify } from '@scure/sr25519';
import { base58Decode } from './base58.ts';

/**
 * sr25519 verification inside workerd: pure JS (@scure/sr25519, schnorrkel's "substrate" signing context), since
 * workerd cannot compile WebAssembly from bytes at run time and @polkadot/wasm-crypto needs to.
 */

const encoder = new TextEncoder();

export function verifySr25519(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    return verify(message, signature, publicKey);
  } catch {
    return false; // malformed points or scalars
  }
}

/** The 64-byte values a Signature header may encode: hex, 0x-hex or base58 (the encodings DeOSS clients send). */
export function signatureCandidates(header: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const hex = /^0x/i.test(header) ? header.slice(2) : header;
  if (hex.length === 128 && /^[0-9a-fA-F]+$/.test(hex)) out.push(Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16)));
  if (/^[1-9A-HJ-NP-Za-km-z]{80,100}$/.test(header)) {
    try {
      const b = base58Decode(header);
      if (b.length === 64) out.push(b);
    } catch {
      /* not base58 */
    }
  }
  return out;
}

/**
 * Verifies `text` signed by `publicKey`, either as is or wrapped as `<Bytes>text</Bytes>` (what polkadot.js
 * extensions' signRaw signs). Returns the signature bytes that verified, or undefined.
 */
export function verifySignedText(text: string, signatureHeader: string, publicKey: Uint8Array): Uint8Array | undefined {
  const raw = encoder.encode(text);
  const wrapped = encoder.encode(`<Bytes>${text}</Bytes>`);
  for (const sig of signatureCandidates(signatureHeader)) {
    if (verifySr25519(raw, sig, publicKey) || verifySr25519(wrapped, sig, publicKey)) return sig;
  }
  return undefined;
}
