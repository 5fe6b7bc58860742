import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt } from 'node:crypto';
import { SEGMENT_SIZE } from './constants.ts';

/**
 * Segment ciphers. Every encrypted segment is exactly SEGMENT_SIZE bytes of ciphertext, so the erasure code and
 * the chain see the same shapes as for plain files. The formats are written down in docs/encryption.md.
 *
 * - `aes-256-gcm` (default for encrypted objects): a 48-byte header opens segment 0 and records the KDF and a
 *   random per-object salt; the object key is HKDF-SHA256(user key, salt); segment i is sealed with nonce = i and
 *   associated data = header ‖ i ‖ last-flag, so segments cannot be reordered, swapped between objects or cut off.
 * - `legacy-cbc`: DeOSS v0.4's AES-256-CBC layout, for files uploaded through a DeOSS gateway with `Cipher`.
 */

/** What the user supplies. Keys are never stored by the gateway. */
export type CipherSpec =
  | { kind: 'none' }
  /** `key`: 32 raw bytes (S3 SSE-C); or `password`, stretched with scrypt. `salt` only for reproducible tests. */
  | { kind: 'aes-256-gcm'; key?: Uint8Array; password?: string; salt?: Uint8Array }
  /** DeOSS `Cipher` header value: at most 32 bytes. */
  | { kind: 'legacy-cbc'; password: string };

export type CipherKind = CipherSpec['kind'];

/** Derived, structured-clone-safe parameters: what a worker thread needs to encrypt or decrypt segments. */
export type CipherParams =
  | { kind: 'none' }
  | { kind: 'aes-256-gcm'; key: Uint8Array; header: Uint8Array }
  | { kind: 'legacy-cbc'; key: Uint8Array; iv: Uint8Array };

/** Bytes of the self-describing header at the start of an `aes-256-gcm` object. */
export const GCM_HEADER_SIZE = 48;
const GCM_MAGIC = Buffer.from('DOSSGCM\x01', 'latin1');
const GCM_TAG_SIZE = 16;
const KDF_RAW = 0;
const KDF_SCRYPT = 1;
/** scrypt cost for password-derived keys: N = 2^15, r = 8, p = 1 (32 MiB, the OWASP minimum). */
const SCRYPT_LOG_N = 15;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const CBC_BLOCK = 16;
const LEGACY_KEY_SIZE = 32;
/**
 * node:crypto is fed 64 KiB at a time: each update returns a fresh output buffer, and below glibc's mmap threshold
 * those come from reused heap memory. 1 MiB updates page-fault fresh memory and ran 1.5–5× slower here
 * (bench/crypto.ts: `aes-256-gcm-encrypt` node:crypto-64KiB vs node:crypto-1MiB).
 */
const CRYPTO_CHUNK = 64 * 1024;

export class CipherError extends Error {
  override name = 'CipherError';
}
/** The key is wrong or the ciphertext was altered. */
export class DecryptionError extends CipherError {
  override name = 'DecryptionError';
}

/** Plaintext bytes carried by segment `index` under a cipher kind. */
export function plaintextCapacity(kind: CipherKind, index: number): number {
  switch (kind) {
    case 'none':
      return SEGMENT_SIZE;
    case 'legacy-cbc':
      // PKCS#7 always adds a whole block when the input is block-aligned, as DeOSS's pieces are.
      return SEGMENT_SIZE - CBC_BLOCK;
    case 'aes-256-gcm':
      return SEGMENT_SIZE - GCM_TAG_SIZE - (index === 0 ? GCM_HEADER_SIZE : 0);
  }
}

/** Number of segments a plaintext of `size` bytes occupies. */
export function segmentCount(kind: CipherKind, size: number): number {
  if (size <= 0) return 0;
  const first = plaintextCapacity(kind, 0);
  if (size <= first) return 1;
  return 1 + Math.ceil((size - first) / plaintextCapacity(kind, 1));
}

/** Plaintext offset at which segment `index` starts. */
export function segmentPlaintextOffset(kind: CipherKind, index: number): number {
  if (index === 0) return 0;
  return plaintextCapacity(kind, 0) + (index - 1) * plaintextCapacity(kind, 1);
}

/** Derives the parameters for encrypting a new object. A fresh random salt is drawn unless the spec fixes one. */
export async function prepareEncryption(spec: CipherSpec): Promise<CipherParams> {
  switch (spec.kind) {
    case 'none':
      return { kind: 'none' };
    case 'legacy-cbc':
      return legacyParams(spec.password);
    case 'aes-256-gcm': {
      const salt = spec.salt ?? randomBytes(32);
      if (salt.length !== 32) throw new CipherError('aes-256-gcm salt must be 32 bytes');
      const header = Buffer.alloc(GCM_HEADER_SIZE);
      GCM_MAGIC.copy(header, 0);
      if (spec.key) {
        header[8] = KDF_RAW;
      } else {
        header[8] = KDF_SCRYPT;
        header[9] = SCRYPT_LOG_N;
        header[10] = SCRYPT_R;
        header[11] = SCRYPT_P;
      }
      header.set(salt, 16);
      return { kind: 'aes-256-gcm', header, key: await objectKey(spec, header) };
    }
  }
}

/**
 * Derives the parameters for decrypting an existing object. For `aes-256-gcm`, `firstBytes` must hold at least the
 * first GCM_HEADER_SIZE bytes of segment 0's ciphertext (the header records the KDF and the salt).
 */
export async function prepareDecryption(spec: CipherSpec, firstBytes?: Uint8Array): Promise<CipherParams> {
  if (spec.kind !== 'aes-256-gcm') return prepareEncryption(spec);
  if (!firstBytes || firstBytes.length < GCM_HEADER_SIZE) throw new CipherError('aes-256-gcm object header missing');
  const header = Buffer.from(firstBytes.subarray(0, GCM_HEADER_SIZE));
  if (!header.subarray(0, 8).equals(GCM_MAGIC)) throw new DecryptionError('not an aes-256-gcm DeOSS object (bad magic)');
  return { kind: 'aes-256-gcm', header, key: await objectKey(spec, header) };
}

async function objectKey(spec: { key?: Uint8Array; password?: string }, header: Buffer): Promise<Uint8Array> {
  const salt = header.subarray(16, 48);
  let userKey: Uint8Array;
  if (header[8] === KDF_RAW) {
    if (!spec.key || spec.key.length !== 32) throw new CipherError('this object needs a 32-byte key');
    userKey = spec.key;
  } else if (header[8] === KDF_SCRYPT) {
    if (spec.password === undefined || spec.password === '') throw new CipherError('this object needs a password');
    const N = 2 ** header[9];
    const r = header[10];
    const p = header[11];
    if (header[9] < 10 || header[9] > 20 || r < 1 || r > 32 || p < 1 || p > 16) {
      throw new DecryptionError('unsupported scrypt parameters in header');
    }
    userKey = await new Promise<Buffer>((resolve, reject) =>
      scrypt(spec.password!, salt, 32, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) =>
        err ? reject(err) : resolve(key),
      ),
    );
  } else {
    throw new DecryptionError(`unknown key derivation ${header[8]} in header`);
  }
  return new Uint8Array(hkdfSync('sha256', userKey, salt, 'deoss/aes-256-gcm/v1', 32));
}

function legacyParams(password: string): CipherParams {
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length === 0) throw new CipherError('legacy-cbc needs a non-empty cipher');
  if (bytes.length > LEGACY_KEY_SIZE) throw new CipherError(`legacy-cbc cipher is longer than ${LEGACY_KEY_SIZE} bytes`);
  // DeOSS: the key is the cipher right-padded with ASCII '0'; the IV is the key's first 16 bytes.
  const key = Buffer.alloc(LEGACY_KEY_SIZE, '0');
  bytes.copy(key);
  return { kind: 'legacy-cbc', key, iv: key.subarray(0, CBC_BLOCK) };
}

/**
 * Encrypts one segment. `plain` holds exactly plaintextCapacity(kind, index) bytes (zero-padded by the caller);
 * `out` receives exactly SEGMENT_SIZE bytes. `isLast` must be true for the object's final segment.
 */
export function encryptSegment(params: CipherParams, plain: Uint8Array, index: number, isLast: boolean, out: Uint8Array): void {
  if (params.kind === 'none') {
    if (plain !== out) out.set(plain);
    return;
  }
  if (plain.length !== plaintextCapacity(params.kind, index)) throw new CipherError('segment plaintext has the wrong size');
  if (out.length !== SEGMENT_SIZE) throw new CipherError('segment output must be SEGMENT_SIZE bytes');
  let at = 0;
  if (params.kind === 'legacy-cbc') {
    const c = createCipheriv('aes-256-cbc', params.key, params.iv);
    for (let i = 0; i < plain.length; i += CRYPTO_CHUNK) at = put(out, at, c.update(plain.subarray(i, i + CRYPTO_CHUNK)));
    at = put(out, at, c.final());
  } else {
    if (index === 0) at = put(out, 0, params.header);
    const c = createCipheriv('aes-256-gcm', params.key, gcmNonce(index));
    c.setAAD(gcmAad(params.header, index, isLast));
    for (let i = 0; i < plain.length; i += CRYPTO_CHUNK) at = put(out, at, c.update(plain.subarray(i, i + CRYPTO_CHUNK)));
    at = put(out, at, c.final());
    at = put(out, at, c.getAuthTag());
  }
  if (at !== SEGMENT_SIZE) throw new CipherError(`internal: ciphertext segment has ${at} bytes`);
}

/**
 * Decrypts one SEGMENT_SIZE ciphertext segment into `out` (plaintextCapacity bytes) and returns the bytes written.
 * Throws DecryptionError when the key is wrong or the data was altered (aes-256-gcm authenticates;
 * legacy-cbc only notices broken padding).
 */
export function decryptSegment(params: CipherParams, segment: Uint8Array, index: number, isLast: boolean, out: Uint8Array): number {
  if (params.kind === 'none') {
    if (segment !== out) out.set(segment);
    return segment.length;
  }
  if (segment.length !== SEGMENT_SIZE) throw new CipherError('ciphertext segment must be SEGMENT_SIZE bytes');
  let at = 0;
  try {
    if (params.kind === 'legacy-cbc') {
      const d = createDecipheriv('aes-256-cbc', params.key, params.iv);
      for (let i = 0; i < segment.length; i += CRYPTO_CHUNK) at = put(out, at, d.update(segment.subarray(i, i + CRYPTO_CHUNK)));
      at = put(out, at, d.final());
    } else {
      let body = segment.subarray(0, SEGMENT_SIZE - GCM_TAG_SIZE);
      if (index === 0) {
        if (!Buffer.from(body.subarray(0, GCM_HEADER_SIZE)).equals(Buffer.from(params.header))) {
          throw new DecryptionError('segment 0 header does not match the object header');
        }
        body = body.subarray(GCM_HEADER_SIZE);
      }
      const d = createDecipheriv('aes-256-gcm', params.key, gcmNonce(index));
      d.setAAD(gcmAad(params.header, index, isLast));
      d.setAuthTag(segment.subarray(SEGMENT_SIZE - GCM_TAG_SIZE));
      for (let i = 0; i < body.length; i += CRYPTO_CHUNK) at = put(out, at, d.update(body.subarray(i, i + CRYPTO_CHUNK)));
      at = put(out, at, d.final());
    }
  } catch (err) {
    if (err instanceof CipherError) throw err;
    throw new DecryptionError(`segment ${index} does not decrypt: wrong key or altered data`, { cause: err });
  }
  return at;
}

function put(out: Uint8Array, at: number, bytes: Uint8Array): number {
  out.set(bytes, at);
  return at + bytes.length;
}

function gcmNonce(index: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(index, 8);
  return nonce;
}

function gcmAad(header: Uint8Array, index: number, isLast: boolean): Buffer {
  const aad = Buffer.alloc(header.length + 5);
  aad.set(header, 0);
  aad.writeUInt32BE(index, header.length);
  aad[header.length + 4] = isLast ? 1 : 0;
  return aad;
}
