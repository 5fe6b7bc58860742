/**
 * Node-only helpers shared by the erasure tests, the golden-vector generator and bench/codec.ts:
 * the oracle (@digitaldefiance/reed-solomon-erasure.wasm, a Rust implementation compatible with
 * klauspost/reedsolomon), a deterministic input generator and hex helpers. Not part of the runtime
 * API and never imported by workerd code.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ReedSolomonErasure } from '@digitaldefiance/reed-solomon-erasure.wasm';

let oracle: ReedSolomonErasure | undefined;

/** The oracle instance (loaded once per process). */
export function loadOracle(): ReedSolomonErasure {
  if (!oracle) {
    const require = createRequire(import.meta.url);
    const path = require.resolve('@digitaldefiance/reed-solomon-erasure.wasm/wasm');
    oracle = ReedSolomonErasure.fromBytes(readFileSync(path));
  }
  return oracle;
}

/** Parity shards computed by the oracle for the given data shards. */
export function oracleEncode(data: Uint8Array[], parityShards: number): Uint8Array[] {
  const size = data[0].length;
  const d = data.length;
  const buf = new Uint8Array(size * (d + parityShards));
  data.forEach((s, i) => buf.set(s, i * size));
  const rc = loadOracle().encode(buf, d, parityShards);
  if (rc !== ReedSolomonErasure.RESULT_OK) {
    throw new Error(`oracle encode failed: ${ReedSolomonErasure.getResultMessage(rc)}`);
  }
  return Array.from({ length: parityShards }, (_, r) => buf.slice((d + r) * size, (d + r + 1) * size));
}

/** Deterministic bytes: xorshift32 from `seed`, one byte (state & 0xff) per step. */
export function xorshiftBytes(n: number, seed = 0x2545f491): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

/** The golden vector's data shards: `count` shards of `size` bytes from one xorshift32 stream. */
export function goldenInput(count: number, size: number, seed = 0x2545f491): Uint8Array[] {
  const all = xorshiftBytes(count * size, seed);
  return Array.from({ length: count }, (_, i) => all.slice(i * size, (i + 1) * size));
}

/** Fast non-cryptographic random fill (for large test and benchmark inputs). */
export function randomFill(buf: Uint8Array, seed = 1): Uint8Array {
  const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 2);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    words[i] = s;
  }
  for (let i = words.length * 4; i < buf.length; i++) buf[i] = (i * 131 + seed) & 0xff;
  return buf;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(h: string): Uint8Array {
  const out = new Uint8Array(h.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}
