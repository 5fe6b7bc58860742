// Runs inside workerd (vitest-pool-workers): the module arrives through the CompiledWasm rule as an
// already compiled WebAssembly.Module, exactly as the edge worker imports it.
import { describe, expect, it } from 'vitest';
import wasm from '../erasure.wasm';
import golden from '../testdata/golden-4+8.json';
import { ErasureError, TooFewShardsError, loadErasureModule } from './erasure.ts';

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const unhex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));

describe('erasure.wasm in workerd', () => {
  it('is imported as a compiled module and instantiates with SIMD (relaxed swizzle) available', async () => {
    const WA = (globalThis as unknown as { WebAssembly: { Module: new (...a: never[]) => object } }).WebAssembly;
    expect(wasm).toBeInstanceOf(WA.Module);
    const mod = await loadErasureModule(wasm);
    expect(mod.simd).toBe(true);
  });

  it('encodes the golden 4+8 vector and reconstructs from parity only', async () => {
    const mod = await loadErasureModule(wasm);
    for (const simd of [true, false]) {
      const rs = mod.createCodec({ simd });
      const data = golden.data.map(unhex);
      const shards = [...data, ...Array.from({ length: 8 }, () => new Uint8Array(golden.shardSize))];
      rs.encode(shards);
      expect(shards.slice(4).map(hex)).toEqual(golden.parity);
      expect(rs.verify(shards)).toBe(true);

      // Worst case: all four data shards lost.
      const rebuilt = rs.reconstruct(shards.map((s, i) => (i < 4 ? null : s)));
      expect(rebuilt.map(hex)).toEqual([...golden.data, ...golden.parity]);
      // Mixed loss, data only.
      const partial = rs.reconstructData(shards.map((s, i) => (i === 1 || i === 3 || i === 4 || i === 9 ? null : s)));
      expect(partial.slice(0, 4).map((s) => hex(s as Uint8Array))).toEqual(golden.data);
      expect(partial[4]).toBeNull();

      // Zero-copy workspace.
      const ws = rs.workspace(golden.shardSize);
      data.forEach((d, i) => ws.shard(i).set(d));
      ws.encode();
      for (let r = 0; r < 8; r++) expect(hex(ws.shard(4 + r))).toBe(golden.parity[r]);
      for (let i = 0; i < 4; i++) ws.shard(i).fill(0);
      ws.reconstruct([false, false, false, false, true, true, true, true, true, true, true, true]);
      expect(hex(ws.data())).toBe(golden.data.join(''));
      expect(() => ws.reconstruct(Array.from({ length: 12 }, (_, i) => i < 3))).toThrow(TooFewShardsError);
      ws.free();
      rs.free();
    }
  });

  it('rejects bytes that are not erasure.wasm with an ErasureError', async () => {
    // (An empty module: either compiling bytes is refused here or its exports are missing.)
    await expect(loadErasureModule(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))).rejects.toBeInstanceOf(ErasureError);
  });
});
