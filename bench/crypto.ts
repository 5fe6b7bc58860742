/**
 * Why bulk crypto goes through node:crypto: AES-256-GCM and SHA-256 of a 32 MiB segment, node:crypto (fed 1 MiB at
 * a time) against @noble (pure JS) and WebCrypto, interleaved in one run. `node bench/crypto.ts`
 */
import { createCipheriv, createHash, randomBytes, webcrypto } from 'node:crypto';
import { gcm } from '@noble/ciphers/aes.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { envInt, runInterleaved } from './lib.ts';

const SEGMENT = 32 * 1024 * 1024;

const data = randomBytes(SEGMENT);
const key = randomBytes(32);
const nonce = randomBytes(12);
const out = new Uint8Array(SEGMENT + 16);
const subtleKey = await webcrypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);

await runInterleaved(
  [
    nodeGcm(64 * 1024, '64KiB'),
    nodeGcm(1024 * 1024, '1MiB'),
    { bench: 'aes-256-gcm-encrypt', impl: '@noble/ciphers', bytes: SEGMENT, run: () => void gcm(key, nonce).encrypt(data) },
    {
      bench: 'aes-256-gcm-encrypt',
      impl: 'webcrypto',
      bytes: SEGMENT,
      run: async () => void (await webcrypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce }, subtleKey, data)),
    },
    { bench: 'sha256', impl: 'node:crypto', bytes: SEGMENT, run: () => void createHash('sha256').update(data).digest() },
    { bench: 'sha256', impl: '@noble/hashes', bytes: SEGMENT, run: () => void sha256(data) },
    { bench: 'sha256', impl: 'webcrypto', bytes: SEGMENT, run: async () => void (await webcrypto.subtle.digest('SHA-256', data)) },
  ],
  envInt('BENCH_ROUNDS', 5),
);

/** node:crypto AES-256-GCM fed in `chunk`-sized updates, each output copied into a reused buffer. */
function nodeGcm(chunk: number, label: string) {
  return {
    bench: 'aes-256-gcm-encrypt',
    impl: `node:crypto-${label}`,
    bytes: SEGMENT,
    run: () => {
      const c = createCipheriv('aes-256-gcm', key, nonce);
      let at = 0;
      for (let i = 0; i < SEGMENT; i += chunk) {
        const b = c.update(data.subarray(i, i + chunk));
        out.set(b, at);
        at += b.length;
      }
      c.final();
      out.set(c.getAuthTag(), at);
    },
  };
}
