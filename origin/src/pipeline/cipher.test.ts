import { randomBytes, webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CipherError,
  DecryptionError,
  GCM_HEADER_SIZE,
  decryptSegment,
  encryptSegment,
  plaintextCapacity,
  prepareDecryption,
  prepareEncryption,
  segmentCount,
  segmentPlaintextOffset,
} from './cipher.ts';
import { SEGMENT_SIZE } from './constants.ts';

const MiB = 1024 * 1024;

function plainFor(kind: 'aes-256-gcm' | 'legacy-cbc', index: number): Buffer {
  return randomBytes(plaintextCapacity(kind, index));
}

describe('segment layout', () => {
  it('carries 32 MiB plain, 32 MiB − 16 legacy-cbc, and a 48-byte header in the first GCM segment', () => {
    expect(plaintextCapacity('none', 3)).toBe(SEGMENT_SIZE);
    expect(plaintextCapacity('legacy-cbc', 0)).toBe(SEGMENT_SIZE - 16);
    expect(plaintextCapacity('aes-256-gcm', 0)).toBe(SEGMENT_SIZE - 16 - GCM_HEADER_SIZE);
    expect(plaintextCapacity('aes-256-gcm', 1)).toBe(SEGMENT_SIZE - 16);
  });

  it('counts segments at the boundaries', () => {
    expect(segmentCount('none', 1)).toBe(1);
    expect(segmentCount('none', SEGMENT_SIZE)).toBe(1);
    expect(segmentCount('none', SEGMENT_SIZE + 1)).toBe(2);
    expect(segmentCount('legacy-cbc', SEGMENT_SIZE - 16)).toBe(1);
    expect(segmentCount('legacy-cbc', SEGMENT_SIZE - 15)).toBe(2);
    const gcm0 = plaintextCapacity('aes-256-gcm', 0);
    expect(segmentCount('aes-256-gcm', gcm0)).toBe(1);
    expect(segmentCount('aes-256-gcm', gcm0 + 1)).toBe(2);
    expect(segmentPlaintextOffset('aes-256-gcm', 2)).toBe(gcm0 + SEGMENT_SIZE - 16);
  });
});

describe('legacy-cbc (DeOSS v0.4 compatible)', () => {
  it('is AES-256-CBC with the password padded by ASCII 0 as key, its first 16 bytes as IV, PKCS#7', async () => {
    const params = await prepareEncryption({ kind: 'legacy-cbc', password: 'cess-secret' });
    const plain = plainFor('legacy-cbc', 0);
    const out = new Uint8Array(SEGMENT_SIZE);
    encryptSegment(params, plain, 0, true, out);
    // Independent computation through WebCrypto with the key built by hand.
    const keyBytes = Buffer.from('cess-secret' + '0'.repeat(32 - 'cess-secret'.length));
    const key = await webcrypto.subtle.importKey('raw', keyBytes, 'AES-CBC', false, ['encrypt']);
    const expected = new Uint8Array(await webcrypto.subtle.encrypt({ name: 'AES-CBC', iv: keyBytes.subarray(0, 16) }, key, plain));
    expect(expected.length).toBe(SEGMENT_SIZE);
    expect(Buffer.from(out).equals(Buffer.from(expected))).toBe(true);
    const back = new Uint8Array(SEGMENT_SIZE);
    expect(decryptSegment(params, out, 0, true, back)).toBe(plain.length);
    expect(Buffer.from(back.subarray(0, plain.length)).equals(plain)).toBe(true);
  });

  it('rejects an empty or over-long cipher', async () => {
    await expect(prepareEncryption({ kind: 'legacy-cbc', password: '' })).rejects.toThrow(CipherError);
    await expect(prepareEncryption({ kind: 'legacy-cbc', password: 'x'.repeat(33) })).rejects.toThrow(/longer than 32/);
    await expect(prepareEncryption({ kind: 'legacy-cbc', password: 'x'.repeat(32) })).resolves.toMatchObject({ kind: 'legacy-cbc' });
  });
});

describe('aes-256-gcm', () => {
  it('round-trips with a raw key and with a password, reading the KDF back from the header', async () => {
    for (const spec of [{ key: randomBytes(32) }, { password: 'correct horse battery staple' }]) {
      const enc = await prepareEncryption({ kind: 'aes-256-gcm', ...spec });
      const segs = [0, 1].map((i) => {
        const plain = plainFor('aes-256-gcm', i);
        const out = new Uint8Array(SEGMENT_SIZE);
        encryptSegment(enc, plain, i, i === 1, out);
        return { plain, out };
      });
      const dec = await prepareDecryption({ kind: 'aes-256-gcm', ...spec }, segs[0].out.subarray(0, 64));
      segs.forEach(({ plain, out }, i) => {
        const back = new Uint8Array(SEGMENT_SIZE);
        expect(decryptSegment(dec, out, i, i === 1, back)).toBe(plain.length);
        expect(Buffer.from(back.subarray(0, plain.length)).equals(plain)).toBe(true);
      });
    }
  });

  it('uses a fresh salt per object, so the same key never meets the same nonce twice', async () => {
    const key = randomBytes(32);
    const a = await prepareEncryption({ kind: 'aes-256-gcm', key });
    const b = await prepareEncryption({ kind: 'aes-256-gcm', key });
    expect(Buffer.from(a.kind === 'aes-256-gcm' ? a.key : []).equals(Buffer.from(b.kind === 'aes-256-gcm' ? b.key : []))).toBe(false);
  });

  it('detects a wrong key, a flipped bit, a moved segment and a truncated object', async () => {
    const key = randomBytes(32);
    const enc = await prepareEncryption({ kind: 'aes-256-gcm', key });
    const plain = plainFor('aes-256-gcm', 1);
    const seg = new Uint8Array(SEGMENT_SIZE);
    encryptSegment(enc, plain, 1, false, seg);
    const out = new Uint8Array(SEGMENT_SIZE);
    expect(decryptSegment(enc, seg, 1, false, out)).toBe(plain.length);
    const header = enc.kind === 'aes-256-gcm' ? enc.header : new Uint8Array();
    const wrong = await prepareDecryption({ kind: 'aes-256-gcm', key: randomBytes(32) }, header);
    expect(() => decryptSegment(wrong, seg, 1, false, out)).toThrow(DecryptionError);
    expect(() => decryptSegment(enc, seg, 2, false, out)).toThrow(DecryptionError); // reordered
    expect(() => decryptSegment(enc, seg, 1, true, out)).toThrow(DecryptionError); // cut off after it
    seg[5 * MiB] ^= 1;
    expect(() => decryptSegment(enc, seg, 1, false, out)).toThrow(DecryptionError);
  });

  it('refuses objects that are not in this format, and missing key material', async () => {
    await expect(prepareDecryption({ kind: 'aes-256-gcm', key: randomBytes(32) }, new Uint8Array(64))).rejects.toThrow(/bad magic/);
    const enc = await prepareEncryption({ kind: 'aes-256-gcm', password: 'pw' });
    const header = enc.kind === 'aes-256-gcm' ? enc.header : new Uint8Array();
    await expect(prepareDecryption({ kind: 'aes-256-gcm', key: randomBytes(32) }, header)).rejects.toThrow(/needs a password/);
    await expect(prepareEncryption({ kind: 'aes-256-gcm', key: randomBytes(32), salt: randomBytes(8) })).rejects.toThrow(/32 bytes/);
  });
});
