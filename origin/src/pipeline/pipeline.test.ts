import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oracleFileDigest, oracleSegmentDigest, sha256Hex } from '../../../test/support/rs-oracle.ts';
import type { ReedSolomon } from '../../../wasm/src/erasure.ts';
import { loadErasureModuleFromDisk } from '../../../wasm/src/node.ts';
import { decryptSegment, plaintextCapacity, prepareDecryption, type CipherSpec } from './cipher.ts';
import { FRAGMENT_SIZE, SEGMENT_SIZE, ZERO_FRAGMENT_HASH } from './constants.ts';
import { digestFile } from './file-digest.ts';
import { EmptyFileError, digestStream } from './pipeline.ts';
import { createSegmentProcessor, type SegmentProcessor } from './processor.ts';
import { iterableSource } from './source.ts';

const MiB = 1024 * 1024;
let dir: string;
let threads: SegmentProcessor;
let inline: SegmentProcessor;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deoss-pipeline-'));
  threads = await createSegmentProcessor({ threads: 2 });
  inline = await createSegmentProcessor({ threads: 0 });
});
afterAll(async () => {
  await threads?.close();
  await inline?.close();
  await rm(dir, { recursive: true, force: true });
});

async function fileOf(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

async function* chunked(bytes: Uint8Array, sizes: number[]) {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length];
    yield bytes.slice(at, at + n);
    at += n;
  }
}

describe('digest of plain files', () => {
  it('matches the DESIGN golden values for `hello`', async () => {
    const d = await digestFile(await fileOf('hello', Buffer.from('hello')));
    expect(d.fid).toBe('c1f6e523054d358591ebee84a9fd71329abcaa9e3e51e20bf19ae7b3f4e774c2');
    expect(d.size).toBe(5);
    expect(d.segments).toHaveLength(1);
    expect(d.segments[0].hash).toBe('edaadc8d26c6d18a9d7b3fd557c81ebef5ab9f42a036d29b33763153b24723ea');
    const first = new Uint8Array(FRAGMENT_SIZE);
    first.set(Buffer.from('hello'));
    expect(d.segments[0].fragments[0]).toBe(sha256Hex(first));
    expect(d.segments[0].fragments.slice(1, 4)).toEqual([ZERO_FRAGMENT_HASH, ZERO_FRAGMENT_HASH, ZERO_FRAGMENT_HASH]);
    expect(d).toEqual(await oracleFileDigest(Buffer.from('hello')));
  });

  it('matches the reference vector for 40 MiB of bytes 0..255 repeating', async () => {
    const bytes = new Uint8Array(40 * MiB).map((_, i) => i & 0xff);
    const d = await digestFile(await fileOf('ramp', bytes), { processor: threads });
    expect(d.fid).toBe('2298a5546d3401079fb0dd808a7ddcc6fb6643e8cdbc477c70e2869594826a7a');
    expect(d).toEqual(await oracleFileDigest(bytes));
  });

  it.each([
    ['exactly 32 MiB', SEGMENT_SIZE],
    ['32 MiB + 1', SEGMENT_SIZE + 1],
    ['about 70 MiB', 70 * MiB + 12345],
  ])('agrees with the independent oracle for %s, on threads and inline', async (_name, size) => {
    const bytes = randomBytes(size);
    const expected = await oracleFileDigest(bytes);
    expect(expected.segments).toHaveLength(Math.ceil(size / SEGMENT_SIZE));
    const path = await fileOf(`f${size}`, bytes);
    expect(await digestFile(path, { processor: threads })).toEqual(expected);
    expect(await digestFile(path, { processor: inline })).toEqual(expected);
    // The same bytes arriving as a stream of odd-sized chunks.
    const streamed = await digestStream(iterableSource(chunked(bytes, [1, 65_537, 3 * MiB + 5])), { processor: threads });
    expect(streamed).toEqual(expected);
  });

  it('refuses an empty file with a clear error', async () => {
    await expect(digestFile(await fileOf('empty', new Uint8Array()))).rejects.toThrow(EmptyFileError);
    await expect(digestStream(iterableSource(chunked(new Uint8Array(), [1])), { processor: inline })).rejects.toThrow(
      /empty file/,
    );
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    const endless = (async function* () {
      for (let i = 0; ; i++) {
        if (i === 3) ac.abort(new Error('client went away'));
        yield new Uint8Array(16 * MiB);
      }
    })();
    await expect(digestStream(iterableSource(endless), { processor: threads, signal: ac.signal })).rejects.toThrow(
      'client went away',
    );
  });
});

describe('encrypted pipeline round trips', () => {
  const cases: [string, CipherSpec][] = [
    ['aes-256-gcm', { kind: 'aes-256-gcm', password: 'pipeline test' }],
    ['legacy-cbc', { kind: 'legacy-cbc', password: 'deoss-cipher' }],
  ];
  it.each(cases)('%s: stored segments rebuild from parity alone and decrypt to the original', async (_n, spec) => {
    const size = 2 * SEGMENT_SIZE + 777;
    const bytes = randomBytes(size);
    const stored: Uint8Array[] = [];
    const d = await digestStream(iterableSource(chunked(bytes, [5 * MiB])), {
      processor: threads,
      cipher: spec,
      onSegment: (s) => void stored.push(s.buffer.slice()),
    });
    expect(d.size).toBe(size);
    expect(d.segments).toHaveLength(3);
    const params = await prepareDecryption(spec, stored[0]);
    const out: Buffer[] = [];
    for (const [i, segment] of stored.entries()) {
      // What the chain records is the stored ciphertext, exactly as the oracle would encode it.
      expect(d.segments[i]).toEqual(await oracleSegmentDigest(segment));
      // Lose all four data fragments; rebuild from four parity fragments (whose hashes are the recorded ones).
      const parity = await encodeParity(segment);
      parity.forEach((p, k) => expect(sha256Hex(p)).toBe(d.segments[i].fragments[4 + k]));
      const full = codec.reconstruct([null, null, null, null, parity[0], null, null, parity[3], null, parity[5], null, parity[7]]);
      const rebuilt = Buffer.concat(full.slice(0, 4));
      expect(rebuilt.equals(Buffer.from(segment))).toBe(true);
      const plain = new Uint8Array(SEGMENT_SIZE);
      const n = decryptSegment(params, rebuilt, i, i === stored.length - 1, plain);
      expect(n).toBe(plaintextCapacity(spec.kind, i));
      out.push(Buffer.from(plain.subarray(0, n)));
    }
    expect(Buffer.concat(out).subarray(0, size).equals(bytes)).toBe(true);
  });
});

let codec: ReedSolomon;
beforeAll(async () => {
  codec = (await loadErasureModuleFromDisk()).createCodec();
});

async function encodeParity(segment: Uint8Array): Promise<Uint8Array[]> {
  const shards = Array.from({ length: 12 }, (_, i) =>
    i < 4 ? segment.slice(i * FRAGMENT_SIZE, (i + 1) * FRAGMENT_SIZE) : new Uint8Array(FRAGMENT_SIZE),
  );
  codec.encode(shards);
  return shards.slice(4);
}

describe('regenerating fragments for dispatch', () => {
  it('gives the parity the codec computes and the 12 hashes the reference gives, in a worker or inline', async () => {
    const segment = new Uint8Array(randomBytes(SEGMENT_SIZE));
    const expectedParity = Buffer.concat(await encodeParity(segment));
    const expected = (await oracleSegmentDigest(segment)).fragments;
    for (const processor of [threads, inline]) {
      const job = { segment: segment.slice(), parity: new Uint8Array(8 * FRAGMENT_SIZE) };
      const result = await processor.encode(job);
      expect(result.fragments).toEqual(expected);
      expect(Buffer.from(result.segment).equals(segment)).toBe(true);
      expect(Buffer.from(result.parity).equals(expectedParity)).toBe(true);
    }
  });

  it('rebuilds a segment from any 4 fragments with parity among them, with its hash, in a worker or inline', async () => {
    const segment = new Uint8Array(randomBytes(SEGMENT_SIZE));
    const parity = Buffer.concat(await encodeParity(segment));
    const hash = sha256Hex(segment);
    // One data fragment missing; all four missing (parity only); three missing.
    for (const columns of [[0, 2, 3, 7], [4, 5, 9, 11], [1, 6, 8, 10]]) {
      for (const processor of [threads, inline]) {
        const job = { segment: new Uint8Array(SEGMENT_SIZE), parity: new Uint8Array(8 * FRAGMENT_SIZE), present: Array.from({ length: 12 }, (_, c) => columns.includes(c)) };
        for (const c of columns) {
          if (c < 4) job.segment.set(segment.subarray(c * FRAGMENT_SIZE, (c + 1) * FRAGMENT_SIZE), c * FRAGMENT_SIZE);
          else job.parity.set(parity.subarray((c - 4) * FRAGMENT_SIZE, (c - 3) * FRAGMENT_SIZE), (c - 4) * FRAGMENT_SIZE);
        }
        const result = await processor.rebuild(job);
        expect(result.hash).toBe(hash);
        expect(Buffer.from(result.segment).equals(segment)).toBe(true);
      }
    }
    await expect(inline.rebuild({ segment: new Uint8Array(SEGMENT_SIZE), parity: new Uint8Array(8 * FRAGMENT_SIZE), present: [true, true, true] })).rejects.toThrow(/all 12/);
  });

  it('refuses buffers of the wrong size', async () => {
    await expect(threads.encode({ segment: new Uint8Array(10), parity: new Uint8Array(8 * FRAGMENT_SIZE) })).rejects.toThrow(/SEGMENT_SIZE/);
    await expect(inline.encode({ segment: new Uint8Array(SEGMENT_SIZE), parity: new Uint8Array(10) })).rejects.toThrow(/parity/);
  });
});
