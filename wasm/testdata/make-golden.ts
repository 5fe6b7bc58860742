/**
 * Regenerates golden-4+8.json from the oracle (@digitaldefiance/reed-solomon-erasure.wasm, a
 * klauspost-compatible Rust implementation): `npx tsx wasm/testdata/make-golden.ts`.
 * wasm/src/erasure.test.ts checks that the committed file still equals the oracle's output.
 */
import { writeFileSync } from 'node:fs';
import { goldenInput, oracleEncode, toHex } from '../src/test-support.ts';

const D = 4;
const P = 8;
const SIZE = 64;
const data = goldenInput(D, SIZE);
const parity = oracleEncode(data, P);
// Column c of the parity matrix = parity of the unit vector e_c (1-byte shards).
const matrix: string[] = [];
const cols: Uint8Array[][] = [];
for (let c = 0; c < D; c++) {
  const unit = Array.from({ length: D }, (_, i) => Uint8Array.of(i === c ? 1 : 0));
  cols.push(oracleEncode(unit, P));
}
for (let r = 0; r < P; r++) matrix.push(toHex(Uint8Array.from(cols.map((col) => col[r][0]))));

const golden = {
  description:
    'Reed-Solomon 4+8 over GF(2^8) (poly 0x11D, klauspost/reedsolomon New(4,8)); parity from @digitaldefiance/reed-solomon-erasure.wasm 1.0.2',
  input: 'xorshift32 seed 0x2545f491: state ^= state << 13; state ^= state >>> 17; state ^= state << 5; byte = state & 0xff; shard 0 first',
  dataShards: D,
  parityShards: P,
  shardSize: SIZE,
  data: data.map(toHex),
  parity: parity.map(toHex),
  parityMatrix: matrix,
};
writeFileSync(new URL('./golden-4+8.json', import.meta.url), JSON.stringify(golden, null, 2) + '\n');
console.log('wrote golden-4+8.json');
