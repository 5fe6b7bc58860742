import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import golden from '../testdata/golden-4+8.json';
import {
  DEFAULT_DATA_SHARDS,
  DEFAULT_PARITY_SHARDS,
  ErasureError,
  type ErasureModule,
  InvalidShardCountError,
  type ReedSolomon,
  ShardSizeError,
  TooFewShardsError,
  loadErasureModule,
} from './erasure.ts';
import { compileErasureWasm, loadErasureModuleFromDisk } from './node.ts';
import { fromHex, goldenInput, oracleEncode, randomFill, toHex } from './test-support.ts';

let mod: ErasureModule;
let rs: ReedSolomon; // 4+8, SIMD
let rsScalar: ReedSolomon; // 4+8, scalar

beforeAll(async () => {
  mod = await loadErasureModuleFromDisk();
  rs = mod.createCodec();
  rsScalar = mod.createCodec({ simd: false });
});

function randomShards(count: number, size: number, seed: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => randomFill(new Uint8Array(size), seed * 1000 + i + 1));
}

/** Data shards plus zeroed parity buffers. */
function withParity(data: Uint8Array[], parity: number): Uint8Array[] {
  return [...data, ...Array.from({ length: parity }, () => new Uint8Array(data[0].length))];
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

function expectSame(actual: Uint8Array[], expected: Uint8Array[], what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!equalBytes(actual[i], expected[i])) {
      expect.fail(`${what}: shard ${i} differs (first bytes ${toHex(actual[i].subarray(0, 16))} vs ${toHex(expected[i].subarray(0, 16))})`);
    }
  }
}

function* combinations(n: number, k: number): Generator<number[]> {
  const c = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    yield c.slice();
    let i = k - 1;
    while (i >= 0 && c[i] === n - k + i) i--;
    if (i < 0) return;
    c[i]++;
    for (let j = i + 1; j < k; j++) c[j] = c[j - 1] + 1;
  }
}

describe('module', () => {
  it('loads with SIMD and the default 4+8 code', () => {
    expect(mod.simd).toBe(true);
    expect(DEFAULT_DATA_SHARDS).toBe(4);
    expect(DEFAULT_PARITY_SHARDS).toBe(8);
    expect([rs.dataShards, rs.parityShards, rs.totalShards, rs.simd]).toEqual([4, 8, 12, true]);
    expect(rsScalar.simd).toBe(false);
  });

  it('loads from bytes and from a compiled module; the Node loader caches the compilation', async () => {
    const compiled = await compileErasureWasm();
    expect(await compileErasureWasm()).toBe(compiled);
    const a = await loadErasureModule(compiled);
    const { readFile } = await import('node:fs/promises');
    const b = await loadErasureModule(await readFile(new URL('../erasure.wasm', import.meta.url)));
    const other = await loadErasureModuleFromDisk();
    expect(other).not.toBe(mod); // a fresh instance each time
    const data = goldenInput(4, 64);
    for (const m of [a, b, other]) {
      const shards = withParity(data, 8);
      m.createCodec().encode(shards);
      expect(shards.slice(4).map(toHex)).toEqual(golden.parity);
    }
  });

  it('rejects bytes that are not the module, and values that are neither bytes nor a module', async () => {
    await expect(loadErasureModule(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5]))).rejects.toBeInstanceOf(ErasureError);
    await expect(loadErasureModule(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))).rejects.toThrow(/lacks the export/);
    await expect(loadErasureModule({})).rejects.toThrow(/expected a WebAssembly.Module/);
  });
});

describe('golden vectors', () => {
  it('matches the committed 4+8 golden file (both kernels, both APIs)', () => {
    const data = golden.data.map(fromHex);
    for (const codec of [rs, rsScalar]) {
      const shards = withParity(data, 8);
      codec.encode(shards);
      expect(shards.slice(4).map(toHex)).toEqual(golden.parity);
      const ws = codec.workspace(golden.shardSize);
      ws.data().set(Buffer.concat(data));
      ws.encode();
      for (let r = 0; r < 8; r++) expect(toHex(ws.shard(4 + r))).toBe(golden.parity[r]);
      ws.free();
    }
  });

  it('the golden file is still what the oracle produces, and its data is the documented xorshift stream', () => {
    const data = goldenInput(4, 64);
    expect(data.map(toHex)).toEqual(golden.data);
    expect(oracleEncode(data, 8).map(toHex)).toEqual(golden.parity);
  });

  it('parity matrix columns equal the parity of unit vectors', () => {
    for (let c = 0; c < 4; c++) {
      const shards = withParity(Array.from({ length: 4 }, (_, i) => Uint8Array.of(i === c ? 1 : 0)), 8);
      rs.encode(shards);
      for (let r = 0; r < 8; r++) expect(shards[4 + r][0]).toBe(parseInt(golden.parityMatrix[r].slice(2 * c, 2 * c + 2), 16));
    }
  });

  it('design golden: an 8 MiB zero fragment hashes to 2daeb1f3…, and zero data has zero parity', () => {
    const shardSize = 8 << 20;
    const ws = rs.workspace(shardSize);
    try {
      ws.data().fill(0);
      for (let r = 4; r < 12; r++) ws.shard(r).fill(0xa5);
      ws.encode();
      for (let i = 0; i < 12; i++) {
        const s = ws.shard(i);
        expect(s.every((b) => b === 0), `shard ${i} all zero`).toBe(true);
        if (i === 0 || i === 11) {
          expect(createHash('sha256').update(s).digest('hex')).toBe('2daeb1f36095b44b318410b3f4e8b5d989dcc7bb023d1426c492dab0a3053e74');
        }
      }
      expect(ws.verify()).toBe(true);
    } finally {
      ws.free();
    }
  });
});

describe('encode equals the oracle', () => {
  const sizes = [1, 15, 16, 17, 31, 64, 1000, 4096 + 3, 65536, (1 << 20) + 7];
  for (const size of sizes) {
    it(`4+8, shard size ${size}: copying API, workspace, SIMD and scalar`, () => {
      const data = randomShards(4, size, size);
      const expected = oracleEncode(data, 8);
      for (const codec of [rs, rsScalar]) {
        const shards = withParity(data, 8);
        codec.encode(shards);
        expectSame(shards.slice(4), expected, `copying ${codec.simd ? 'simd' : 'scalar'}`);
        expect(codec.verify(shards)).toBe(true);
        const ws = codec.workspace(size);
        data.forEach((d, i) => ws.shard(i).set(d));
        ws.encode();
        expectSame(Array.from({ length: 8 }, (_, r) => ws.shard(4 + r)), expected, `workspace ${codec.simd ? 'simd' : 'scalar'}`);
        expect(ws.verify()).toBe(true);
        ws.free();
      }
    });
  }

  it('4+8, one full 8 MiB shard (32 MiB segment)', () => {
    const size = 8 << 20;
    const data = randomShards(4, size, 77);
    const expected = oracleEncode(data, 8);
    const shards = withParity(data, 8);
    rs.encode(shards);
    expectSame(shards.slice(4), expected, 'copying simd');
    const ws = rs.workspace(size);
    const seg = ws.data();
    data.forEach((d, i) => seg.set(d, i * size));
    ws.encode();
    expectSame(Array.from({ length: 8 }, (_, r) => ws.shard(4 + r)), expected, 'workspace simd');
    ws.free();
    const scalar = withParity(data, 8);
    rsScalar.encode(scalar);
    expectSame(scalar.slice(4), expected, 'copying scalar');
  });

  const pairs: [number, number][] = [
    [1, 1],
    [2, 3],
    [6, 3],
    [10, 4],
    [17, 3],
    [3, 17],
    [5, 5],
    [128, 128],
    [255, 1],
    [1, 255],
  ];
  for (const [d, p] of pairs) {
    it(`${d}+${p} at several sizes`, () => {
      const simd = mod.createCodec({ dataShards: d, parityShards: p });
      const scalar = mod.createCodec({ dataShards: d, parityShards: p, simd: false });
      expect(simd.totalShards).toBe(d + p);
      const sizes = d + p > 64 ? [1, 33, 1000] : [1, 17, 1000, 65536 + 5];
      for (const size of sizes) {
        const data = randomShards(d, size, d * 31 + p + size);
        const expected = oracleEncode(data, p);
        for (const codec of [simd, scalar]) {
          const shards = withParity(data, p);
          codec.encode(shards);
          expectSame(shards.slice(d), expected, `${d}+${p} size ${size} ${codec.simd ? 'simd' : 'scalar'}`);
        }
      }
      simd.free();
      scalar.free();
    });
  }
});

describe('reconstruction', () => {
  const size = 1024 + 5;
  let original: Uint8Array[];
  beforeAll(() => {
    original = withParity(randomShards(4, size, 4242), 8);
    rs.encode(original);
  });

  for (const simd of [true, false]) {
    it(`every 4-of-12 subset (495), reconstruct and reconstructData, copying API (${simd ? 'SIMD' : 'scalar'})`, () => {
      const codec = simd ? rs : rsScalar;
      let n = 0;
      for (const keep of combinations(12, 4)) {
        const given = original.map((s, i) => (keep.includes(i) ? s.slice() : null));
        const full = codec.reconstruct(given.slice());
        expectSame(full, original, `reconstruct keep=${keep}`);
        const dataOnly = codec.reconstructData(given.slice());
        for (let i = 0; i < 12; i++) {
          if (i < 4) expect(equalBytes(dataOnly[i] as Uint8Array, original[i]), `data ${i} keep=${keep}`).toBe(true);
          else expect(dataOnly[i] === null || keep.includes(i), `parity ${i} left as given`).toBe(true);
        }
        n++;
      }
      expect(n).toBe(495);
    });

    it(`every 4-of-12 subset (495), workspace reconstruct (full and dataOnly, ${simd ? 'SIMD' : 'scalar'})`, () => {
      const codec = simd ? rs : rsScalar;
      const ws = codec.workspace(size);
      const canary = 0x5a;
      for (const keep of combinations(12, 4)) {
        const present = Array.from({ length: 12 }, (_, i) => keep.includes(i));
        for (const dataOnly of [false, true]) {
          for (let i = 0; i < 12; i++) {
            if (present[i]) ws.shard(i).set(original[i]);
            else ws.shard(i).fill(canary);
          }
          ws.reconstruct(present, { dataOnly });
          for (let i = 0; i < 12; i++) {
            const s = ws.shard(i);
            if (present[i] || i < 4 || !dataOnly) {
              if (!equalBytes(s, original[i])) expect.fail(`shard ${i} keep=${keep} dataOnly=${dataOnly}`);
            } else {
              expect(s.every((b) => b === canary), `parity ${i} untouched with dataOnly`).toBe(true);
            }
          }
        }
      }
      ws.free();
    });
  }

  it('uses the first `data` present shards when more are present, and returns the same array', () => {
    for (let mask = 0; mask < 1 << 12; mask += 7) {
      const present = Array.from({ length: 12 }, (_, i) => ((mask >> i) & 1) === 1);
      if (present.filter(Boolean).length < 4) continue;
      const given = original.map((s, i) => (present[i] ? s.slice() : undefined));
      const out = rs.reconstruct(given);
      expect(out).toBe(given);
      expectSame(out, original, `mask ${mask.toString(2)}`);
    }
  });

  it('opts.present: refills caller buffers in place (pooled outputs), allocates for null entries', () => {
    for (const keep of [[4, 5, 6, 7], [0, 2, 9, 11], [1, 3, 5, 7, 8]]) {
      const present = Array.from({ length: 12 }, (_, i) => keep.includes(i));
      const pool = original.map((s, i) => (present[i] ? s.slice() : new Uint8Array(size).fill(0xee)));
      const given: (Uint8Array | null)[] = pool.slice();
      given[10] = present[10] ? given[10] : null; // a null absent entry is allocated as usual
      const out = rs.reconstruct(given, { present });
      expectSame(out, original, `keep=${keep}`);
      for (let i = 0; i < 12; i++) if (i !== 10 || present[i]) expect(out[i]).toBe(pool[i]);

      const pool2 = original.map((s, i) => (present[i] ? s.slice() : new Uint8Array(size).fill(0xee)));
      const out2 = rsScalar.reconstructData(pool2.slice(), { present });
      for (let i = 0; i < 12; i++) {
        expect(out2[i]).toBe(pool2[i]);
        if (present[i] || i < 4) expect(equalBytes(out2[i] as Uint8Array, original[i])).toBe(true);
        else expect((out2[i] as Uint8Array).every((b) => b === 0xee)).toBe(true);
      }
    }
    const present = Array.from({ length: 12 }, (_, i) => i >= 8);
    const bad = original.map((s) => s.slice());
    bad[0] = new Uint8Array(size - 1);
    expect(() => rs.reconstruct(bad, { present })).toThrow(ShardSizeError);
    const hole = original.map((s, i) => (i === 9 ? null : s.slice()));
    expect(() => rs.reconstruct(hole, { present })).toThrow(ShardSizeError);
    expect(() => rs.reconstruct(original.slice(), { present: [true, true] })).toThrow(InvalidShardCountError);
    expect(() => rs.reconstruct(original.slice(), { present: present.map((p, i) => p && i > 9) })).toThrow(TooFewShardsError);
  });

  it('nothing missing is a no-op; present shards are not modified', () => {
    const given = original.map((s) => s.slice());
    expect(rs.reconstruct(given)).toBe(given);
    expectSame(given, original, 'no-op');
  });

  it('rebuilds large shards (1 MiB + 7, worst case and one lost) and large codes', () => {
    const big = 1048576 + 7;
    const shards = withParity(randomShards(4, big, 5), 8);
    rs.encode(shards);
    const worst = rs.reconstructData(shards.map((s, i) => (i < 4 ? null : s)));
    expectSame(worst.slice(0, 4) as Uint8Array[], shards.slice(0, 4), 'worst');
    const one = rs.reconstruct(shards.map((s, i) => (i === 2 ? null : s)));
    expectSame(one, shards, 'one lost');

    const wide = mod.createCodec({ dataShards: 128, parityShards: 128 });
    const wshards = withParity(randomShards(128, 300, 9), 128);
    wide.encode(wshards);
    const lost = new Set<number>();
    for (let k = 0; lost.size < 128; k++) lost.add((k * 97 + 13) % 256);
    const rebuilt = wide.reconstruct(wshards.map((s, i) => (lost.has(i) ? null : s)));
    expectSame(rebuilt, wshards, '128+128');
    wide.free();
  });

  it('SIMD and scalar paths agree on random codes, sizes and erasures', () => {
    let seed = 1;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 40; round++) {
      const d = 1 + rnd(20);
      const p = 1 + rnd(12);
      const size = 1 + rnd(3000);
      const a = mod.createCodec({ dataShards: d, parityShards: p });
      const b = mod.createCodec({ dataShards: d, parityShards: p, simd: false });
      const s1 = withParity(randomShards(d, size, round), p);
      const s2 = s1.map((s) => s.slice());
      a.encode(s1);
      b.encode(s2);
      expectSame(s1, s2, `encode ${d}+${p} size ${size}`);
      const erase = new Set<number>();
      const lose = rnd(p + 1);
      while (erase.size < lose) erase.add(rnd(d + p));
      const r1 = a.reconstruct(s1.map((s, i) => (erase.has(i) ? null : s)));
      const r2 = b.reconstruct(s1.map((s, i) => (erase.has(i) ? null : s)));
      expectSame(r1, s1, 'simd rebuild');
      expectSame(r2, s1, 'scalar rebuild');
      a.free();
      b.free();
    }
  });
});

describe('verify', () => {
  it('is false after flipping one byte of any shard (copying API and workspace)', () => {
    for (const size of [1, 17, 1000, 65536 + 3]) {
      const shards = withParity(randomShards(4, size, size + 1), 8);
      rs.encode(shards);
      expect(rs.verify(shards)).toBe(true);
      expect(rsScalar.verify(shards)).toBe(true);
      const ws = rs.workspace(size);
      shards.forEach((s, i) => ws.shard(i).set(s));
      expect(ws.verify()).toBe(true);
      for (let i = 0; i < 12; i++) {
        for (const pos of [0, size - 1, (i * 7919) % size]) {
          shards[i][pos] ^= 1 << (i % 8);
          expect(rs.verify(shards), `shard ${i} pos ${pos}`).toBe(false);
          expect(rsScalar.verify(shards), `scalar shard ${i} pos ${pos}`).toBe(false);
          const v = ws.shard(i);
          v[pos] ^= 1 << (i % 8);
          expect(ws.verify(), `workspace shard ${i} pos ${pos}`).toBe(false);
          v[pos] ^= 1 << (i % 8);
          shards[i][pos] ^= 1 << (i % 8);
        }
      }
      expect(rs.verify(shards)).toBe(true);
      expect(ws.verify()).toBe(true);
      ws.free();
    }
  });
});

describe('errors', () => {
  const size = 100;
  const good = () => withParity(randomShards(4, size, 3), 8);

  it('too few shards → TooFewShardsError', () => {
    const s = good();
    rs.encode(s);
    const three = s.map((x, i) => (i === 0 || i === 5 || i === 11 ? x : null));
    expect(() => rs.reconstruct(three)).toThrow(TooFewShardsError);
    expect(() => rs.reconstructData(three)).toThrow(TooFewShardsError);
    expect(() => rs.reconstruct(s.map(() => null))).toThrow(TooFewShardsError);
    const ws = rs.workspace(size);
    expect(() => ws.reconstruct(Array.from({ length: 12 }, (_, i) => i > 8))).toThrow(TooFewShardsError);
    ws.free();
    const e = (() => {
      try {
        rs.reconstruct(three);
      } catch (err) {
        return err;
      }
    })() as Error;
    expect(e).toBeInstanceOf(ErasureError);
    expect(e.name).toBe('TooFewShardsError');
  });

  it('mismatched or zero sizes → ShardSizeError', () => {
    const s = good();
    s[7] = new Uint8Array(size + 1);
    expect(() => rs.encode(s)).toThrow(ShardSizeError);
    expect(() => rs.verify(s)).toThrow(ShardSizeError);
    const r = good().map((x, i) => (i < 2 ? null : x));
    r[9] = new Uint8Array(size - 1);
    expect(() => rs.reconstruct(r)).toThrow(ShardSizeError);
    expect(() => rs.encode(Array.from({ length: 12 }, () => new Uint8Array(0)))).toThrow(ShardSizeError);
    expect(() => rs.reconstruct(Array.from({ length: 12 }, () => new Uint8Array(0)))).toThrow(ShardSizeError);
    expect(() => rs.workspace(0)).toThrow(ShardSizeError);
    expect(() => rs.workspace(1.5)).toThrow(ShardSizeError);
    const missingParity = good() as (Uint8Array | null)[];
    missingParity[10] = null;
    expect(() => rs.encode(missingParity as Uint8Array[])).toThrow(ShardSizeError);
    expect(new ShardSizeError('x').name).toBe('ShardSizeError');
  });

  it('wrong count → InvalidShardCountError', () => {
    expect(() => rs.encode(good().slice(0, 11))).toThrow(InvalidShardCountError);
    expect(() => rs.verify([...good(), new Uint8Array(size)])).toThrow(InvalidShardCountError);
    expect(() => rs.reconstruct(good().slice(0, 4))).toThrow(InvalidShardCountError);
    expect(() => rs.reconstructData([])).toThrow(InvalidShardCountError);
    const ws = rs.workspace(size);
    expect(() => ws.reconstruct([true, true, true, true])).toThrow(InvalidShardCountError);
    ws.free();
    expect(() => mod.createCodec({ dataShards: 0 })).toThrow(InvalidShardCountError);
    expect(() => mod.createCodec({ parityShards: 0 })).toThrow(InvalidShardCountError);
    expect(() => mod.createCodec({ dataShards: 200, parityShards: 57 })).toThrow(InvalidShardCountError);
    expect(() => mod.createCodec({ dataShards: 2.5 })).toThrow(InvalidShardCountError);
    expect(new InvalidShardCountError('x').name).toBe('InvalidShardCountError');
    expect(new ErasureError('x').name).toBe('ErasureError');
  });

  it('freed codecs and workspaces refuse to work', () => {
    const c = mod.createCodec();
    const ws = c.workspace(64);
    ws.free();
    expect(() => ws.shard(0)).toThrow(ErasureError);
    expect(() => ws.encode()).toThrow(ErasureError);
    ws.free(); // idempotent
    const ws2 = c.workspace(64);
    c.free();
    expect(() => c.encode(good())).toThrow(ErasureError);
    expect(() => ws2.encode()).toThrow(ErasureError);
    const w3 = rs.workspace(64);
    expect(() => w3.shard(12)).toThrow(RangeError);
    w3.free();
  });
});

describe('memory', () => {
  it('workspace views cover the contiguous layout; freeing returns memory for reuse', () => {
    const ws = rs.workspace(1000);
    const seg = ws.data();
    expect(seg.length).toBe(4000);
    expect(ws.shard(1).byteOffset).toBe(seg.byteOffset + 1000);
    expect(ws.shard(11).byteOffset).toBe(seg.byteOffset + 11000);
    ws.free();

    const before = mod.stats();
    for (let i = 0; i < 50; i++) {
      const c = mod.createCodec({ dataShards: 1 + (i % 7), parityShards: 1 + (i % 5) });
      const w = c.workspace(4096 * (1 + (i % 3)));
      c.encode(withParity(randomShards(c.dataShards, 1000, i), c.parityShards));
      w.free();
      c.free();
    }
    const after = mod.stats();
    expect(after.memoryBytes).toBe(before.memoryBytes);
    expect(after.freeBytes).toBe(before.freeBytes);
  });

  it('reconstruct never grows memory, so workspace views stay attached', () => {
    const c = mod.createCodec();
    const ws = c.workspace(4096);
    const seg = ws.data();
    randomFill(seg, 11);
    ws.encode();
    const mem = mod.stats().memoryBytes;
    for (const keep of combinations(12, 4)) {
      ws.reconstruct(Array.from({ length: 12 }, (_, i) => keep.includes(i)));
    }
    expect(mod.stats().memoryBytes).toBe(mem);
    expect(seg.length).toBe(4 * 4096); // still attached
    ws.free();
    c.free();
  });

  it('views detach when memory grows; shard() returns fresh ones', () => {
    const m2Promise = loadErasureModuleFromDisk();
    return m2Promise.then((m2) => {
      const c = m2.createCodec();
      const ws = c.workspace(1024);
      const old = ws.shard(0);
      old.fill(7);
      const big = c.workspace(32 << 20); // forces memory.grow
      expect(old.length).toBe(0);
      expect(ws.shard(0)[100]).toBe(7);
      big.free();
      ws.free();
      c.free();
    });
  });
});
