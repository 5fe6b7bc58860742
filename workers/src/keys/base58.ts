/** Base58 with the Bitcoin alphabet (what SS58 addresses and DeOSS base58 signatures use). */

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const INDEX = new Map([...ALPHABET].map((c, i) => [c, i]));

/** Longest input decoded: far above any address or signature, and keeps the quadratic loop cheap. */
export const BASE58_MAX_CHARS = 256;

export function base58Decode(text: string): Uint8Array {
  if (text.length === 0 || text.length > BASE58_MAX_CHARS) throw new Error(`base58: length must be 1..${BASE58_MAX_CHARS}`);
  const bytes: number[] = []; // little-endian big number
  for (const c of text) {
    let carry = INDEX.get(c);
    if (carry === undefined) throw new Error(`base58: invalid character ${JSON.stringify(c)}`);
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i] * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  let zeros = 0;
  while (zeros < text.length && text[zeros] === '1') zeros++;
  const out = new Uint8Array(zeros + bytes.length);
  for (let i = 0; i < bytes.length; i++) out[out.length - 1 - i] = bytes[i];
  return out;
}

export function base58Encode(data: Uint8Array): string {
  const digits: number[] = []; // little-endian base 58
  for (const byte of data) {
    let carry = byte;
    for (let i = 0; i < digits.length; i++) {
      carry += digits[i] << 8;
      digits[i] = carry % 58;
      carry = (carry / 58) | 0;
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = (carry / 58) | 0;
    }
  }
  let out = '';
  for (let i = 0; i < data.length && data[i] === 0; i++) out += '1';
  for (let i = digits.length - 1; i >= 0; i--) out += ALPHABET[digits[i]];
  return out;
}
