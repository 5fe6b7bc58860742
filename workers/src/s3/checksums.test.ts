import { describe, expect, it } from 'vitest';
import { S3Error } from './errors.ts';
import {
  ChecksumAccumulator, checksumSpecFromHeaders, combineCrc, compositeChecksum, Crc32, Crc32c, crc32, crc32c,
  Crc64Nvme, crc64nvme, fromBase64, fromHex, md5Small, multipartEtag, toBase64, toHex, validateStream,
  verifyDigests,
} from './checksums.ts';

const enc = new TextEncoder();
const check = enc.encode('123456789');

function random(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

// Bit-at-a-time reference CRCs, written independently of the table code.
function refCrc(data: Uint8Array, width: bigint, poly: bigint): bigint {
  const mask = (1n << width) - 1n;
  let c = mask;
  for (const b of data) {
    c ^= BigInt(b);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
  }
  return c ^ mask;
}

async function subtleHash(alg: string, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest(alg, data));
}

describe('CRCs', () => {
  it('match the published check values for "123456789"', () => {
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32c(check)).toBe(0xe3069283);
    expect(crc64nvme(check)).toBe(0xae8b14860a799888n);
    expect(toHex(new Crc64Nvme().update(check).digest())).toBe('ae8b14860a799888');
    expect(toHex(new Crc32().update(check).digest())).toBe('cbf43926');
  });

  it('CRC32C of 66,560 "a" is the value in the AWS trailer example (sOO8/Q==)', () => {
    expect(toBase64(new Crc32c().update(new Uint8Array(66560).fill(0x61)).digest())).toBe('sOO8/Q==');
  });

  it('agree with a bitwise reference at every length and split point', () => {
    const data = random(300, 7);
    for (let len = 0; len <= 70; len++) {
      const slice = data.subarray(3, 3 + len);
      expect(BigInt(crc32(slice)), `crc32 len ${len}`).toBe(refCrc(slice, 32n, 0xedb88320n));
      expect(BigInt(crc32c(slice)), `crc32c len ${len}`).toBe(refCrc(slice, 32n, 0x82f63b78n));
      expect(crc64nvme(slice), `crc64 len ${len}`).toBe(refCrc(slice, 64n, 0x9a6c9329ac4bc9b5n));
    }
    // Longer inputs at every alignment exercise the 16-byte word loop.
    const long = random(3000, 13);
    for (const offset of [0, 1, 2, 3]) {
      const slice = long.subarray(offset, offset + 2500);
      expect(BigInt(crc32c(slice)), `crc32c offset ${offset}`).toBe(refCrc(slice, 32n, 0x82f63b78n));
      expect(BigInt(new Crc32(undefined, false).update(slice).value), `crc32 offset ${offset}`).toBe(refCrc(slice, 32n, 0xedb88320n));
      expect(crc64nvme(slice), `crc64 offset ${offset}`).toBe(refCrc(slice, 64n, 0x9a6c9329ac4bc9b5n));
    }
    // Incremental updates at odd split points equal one-shot.
    for (const split of [1, 7, 8, 9, 100, 299]) {
      const a = new Crc64Nvme().update(data.subarray(0, split)).update(data.subarray(split)).value;
      expect(a).toBe(crc64nvme(data));
      const b = new Crc32c().update(data.subarray(0, split)).update(data.subarray(split)).value;
      expect(b).toBe(crc32c(data));
    }
  });

  it('combineCrc gives the CRC of the concatenation', () => {
    const a = random(1000, 3);
    for (const lenB of [0, 1, 13, 4096, 70000]) {
      const b = random(lenB, 9);
      const ab = new Uint8Array(a.length + b.length);
      ab.set(a);
      ab.set(b, a.length);
      expect(toHex(combineCrc('CRC32', new Crc32().update(a).digest(), new Crc32().update(b).digest(), lenB))).toBe(toHex(new Crc32().update(ab).digest()));
      expect(toHex(combineCrc('CRC32C', new Crc32c().update(a).digest(), new Crc32c().update(b).digest(), lenB))).toBe(toHex(new Crc32c().update(ab).digest()));
      expect(toHex(combineCrc('CRC64NVME', new Crc64Nvme().update(a).digest(), new Crc64Nvme().update(b).digest(), lenB))).toBe(toHex(new Crc64Nvme().update(ab).digest()));
    }
  });
});

describe('encodings and MD5', () => {
  it('base64 and hex are strict', () => {
    expect(toBase64(enc.encode('hello'))).toBe('aGVsbG8=');
    expect(fromBase64('aGVsbG8=')).toEqual(enc.encode('hello'));
    for (const bad of ['aGVsbG8', 'aGVs bG8=', 'a===', '****']) expect(fromBase64(bad), bad).toBeUndefined();
    expect(toHex(fromHex('00ffA0')!)).toBe('00ffa0');
    expect(fromHex('0g')).toBeUndefined();
    expect(fromHex('abc')).toBeUndefined();
  });

  it('md5Small equals the native MD5 at every block boundary', async () => {
    expect(toHex(md5Small(enc.encode('abc')))).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(toHex(md5Small(new Uint8Array()))).toBe('d41d8cd98f00b204e9800998ecf8427e');
    const data = random(1100, 5);
    for (const n of [1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1100]) {
      expect(toHex(md5Small(data.subarray(0, n))), `len ${n}`).toBe(toHex(await subtleHash('MD5', data.subarray(0, n))));
    }
  });
});

describe('multipart helpers', () => {
  it('multipartEtag is MD5 of the binary part MD5s with -N', async () => {
    const p1 = toHex(await subtleHash('MD5', enc.encode('part one')));
    const p2 = toHex(await subtleHash('MD5', enc.encode('part two')));
    const joined = new Uint8Array([...fromHex(p1)!, ...fromHex(p2)!]);
    expect(await multipartEtag([`"${p1}"`, p2])).toBe(`${toHex(await subtleHash('MD5', joined))}-2`);
    await expect(multipartEtag(['nothex'])).rejects.toMatchObject({ code: 'InvalidPart' });
  });

  it('compositeChecksum hashes the binary part checksums', async () => {
    const parts = [enc.encode('a'), enc.encode('bb')].map((p) => toBase64(new Crc32().update(p).digest()));
    const raw = new Uint8Array([...fromBase64(parts[0])!, ...fromBase64(parts[1])!]);
    expect(await compositeChecksum('CRC32', parts)).toBe(`${toBase64(new Crc32().update(raw).digest())}-2`);
    const shaParts = [toBase64(await subtleHash('SHA-256', enc.encode('x')))];
    expect(await compositeChecksum('SHA256', shaParts)).toBe(`${toBase64(await subtleHash('SHA-256', fromBase64(shaParts[0])!))}-1`);
    await expect(compositeChecksum('CRC32', ['AAAA'])).rejects.toMatchObject({ code: 'InvalidPart' });
  });
});

describe('checksumSpecFromHeaders', () => {
  const code = (h: Record<string, string>) => {
    try {
      checksumSpecFromHeaders(new Headers(h));
    } catch (e) {
      return (e as S3Error).code;
    }
    return 'ok';
  };

  it('reads the checksum, the SDK algorithm, the trailer and Content-MD5', () => {
    expect(checksumSpecFromHeaders(new Headers({ 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-sdk-checksum-algorithm': 'crc32' }))).toEqual({ algorithm: 'CRC32', expected: 'AAAAAA==', trailer: false });
    expect(checksumSpecFromHeaders(new Headers({ 'x-amz-trailer': 'x-amz-checksum-crc64nvme', 'x-amz-sdk-checksum-algorithm': 'CRC64NVME' }))).toEqual({ algorithm: 'CRC64NVME', trailer: true });
    expect(checksumSpecFromHeaders(new Headers({ 'content-md5': '1B2M2Y8AsgTpgAmY7PhCfg==' }))).toEqual({ trailer: false, contentMd5: '1B2M2Y8AsgTpgAmY7PhCfg==' });
    expect(checksumSpecFromHeaders(new Headers({ 'x-amz-checksum-type': 'FULL_OBJECT', 'x-amz-checksum-algorithm': 'CRC32' }))).toEqual({ trailer: false });
  });

  it('rejects what S3 rejects', () => {
    expect(code({ 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-checksum-sha1': 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' })).toBe('InvalidRequest');
    expect(code({ 'x-amz-checksum-crc32': 'AAAA' })).toBe('InvalidRequest');
    expect(code({ 'x-amz-checksum-crc32': 'not base64!' })).toBe('InvalidRequest');
    expect(code({ 'x-amz-checksum-md4': 'AAAAAA==' })).toBe('InvalidRequest');
    expect(code({ 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-sdk-checksum-algorithm': 'SHA256' })).toBe('InvalidRequest');
    expect(code({ 'x-amz-sdk-checksum-algorithm': 'MD5' })).toBe('InvalidRequest');
    expect(code({ 'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-checksum-crc32': 'AAAAAA==' })).toBe('InvalidRequest');
    expect(code({ 'x-amz-trailer': 'x-amz-meta-foo' })).toBe('InvalidRequest');
    expect(code({ 'content-md5': 'abc' })).toBe('InvalidDigest');
    expect(code({ 'content-md5': 'AAAAAA==' })).toBe('InvalidDigest');
  });
});

describe('ChecksumAccumulator and verifyDigests', () => {
  it('computes every digest in one pass', async () => {
    const data = random(5000, 11);
    const acc = new ChecksumAccumulator({ algorithms: ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'], md5: true, sha256: true });
    await acc.update(data.subarray(0, 1234));
    await acc.update(data.subarray(1234));
    const d = await acc.finish();
    expect(d.size).toBe(5000);
    expect(d.checksums.CRC32).toBe(toBase64(new Crc32().update(data).digest()));
    expect(d.checksums.CRC32C).toBe(toBase64(new Crc32c().update(data).digest()));
    expect(d.checksums.CRC64NVME).toBe(toBase64(new Crc64Nvme().update(data).digest()));
    expect(d.checksums.SHA1).toBe(toBase64(await subtleHash('SHA-1', data)));
    expect(d.checksums.SHA256).toBe(toBase64(await subtleHash('SHA-256', data)));
    expect(toHex(d.md5!)).toBe(toHex(await subtleHash('MD5', data)));
    expect(toHex(d.sha256!)).toBe(toHex(await subtleHash('SHA-256', data)));
  });

  it('verifyDigests names the mismatch', async () => {
    const acc = new ChecksumAccumulator({ algorithms: ['CRC32'], md5: true, sha256: true });
    await acc.update(enc.encode('hello'));
    const d = await acc.finish();
    const good = d.checksums.CRC32!;
    expect(() => verifyDigests(d, { trailer: false, algorithm: 'CRC32', expected: good, contentMd5: toBase64(d.md5!) }, { expectedSha256Hex: toHex(d.sha256!) })).not.toThrow();
    expect(() => verifyDigests(d, { trailer: false, algorithm: 'CRC32', expected: 'AAAAAA==' })).toThrow(expect.objectContaining({ code: 'BadDigest' }));
    expect(() => verifyDigests(d, { trailer: true, algorithm: 'CRC32' }, { trailerChecksum: 'AAAAAA==' })).toThrow(expect.objectContaining({ code: 'BadDigest' }));
    expect(() => verifyDigests(d, { trailer: false, contentMd5: '1B2M2Y8AsgTpgAmY7PhCfg==' })).toThrow(expect.objectContaining({ code: 'BadDigest' }));
    expect(() => verifyDigests(d, undefined, { expectedSha256Hex: '00'.repeat(32) })).toThrow(expect.objectContaining({ code: 'XAmzContentSHA256Mismatch' }));
  });
});

describe('validateStream', () => {
  const body = (data: Uint8Array) => new Response(data).body!;
  const readAll = async (s: ReadableStream<Uint8Array>) => new Uint8Array(await new Response(s).arrayBuffer());

  it('passes a multi-MiB body through unchanged while computing digests', async () => {
    const data = random(3 * 1024 * 1024 + 17, 21);
    const crc = toBase64(new Crc32c().update(data).digest());
    const md5 = toBase64(await subtleHash('MD5', data));
    const sha = toHex(await subtleHash('SHA-256', data));
    const { stream, verify } = validateStream(body(data), {
      spec: { trailer: false, algorithm: 'CRC32C', expected: crc, contentMd5: md5 },
      expectedSha256Hex: sha,
      expectedLength: data.length,
    });
    const out = await readAll(stream);
    expect(out.length).toBe(data.length);
    expect(toHex(await subtleHash('SHA-256', out))).toBe(sha);
    const d = await verify();
    expect(d.size).toBe(data.length);
    expect(d.checksums.CRC32C).toBe(crc);
    expect(toBase64(d.md5!)).toBe(md5);
  });

  it('delivers large pieces from a byte stream', async () => {
    const data = random(4 * 1024 * 1024, 2);
    const { stream } = validateStream(body(data), { computeMd5: true });
    const reader = stream.getReader();
    const sizes: number[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      sizes.push(value.byteLength);
    }
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(data.length);
    expect(Math.min(...sizes.slice(0, -1))).toBeGreaterThanOrEqual(256 * 1024);
  });

  it('works on a non-byte stream of small chunks', async () => {
    const data = random(100_000, 4);
    let off = 0;
    const src = new ReadableStream<Uint8Array>({
      pull(c) {
        if (off >= data.length) return c.close();
        c.enqueue(data.slice(off, off + 1000));
        off += 1000;
      },
    });
    const { stream, verify } = validateStream(src, { computeAlgorithms: ['CRC64NVME'] });
    expect(await readAll(stream)).toEqual(data);
    expect((await verify()).checksums.CRC64NVME).toBe(toBase64(new Crc64Nvme().update(data).digest()));
  });

  it('errors the stream instead of closing it when a check fails', async () => {
    const data = random(2 * 1024 * 1024, 8);
    for (const [opts, code] of [
      [{ spec: { trailer: false, algorithm: 'CRC32', expected: 'AAAAAA==' } }, 'BadDigest'],
      [{ spec: { trailer: false, contentMd5: '1B2M2Y8AsgTpgAmY7PhCfg==' } }, 'BadDigest'],
      [{ expectedSha256Hex: '00'.repeat(32) }, 'XAmzContentSHA256Mismatch'],
      [{ expectedLength: data.length + 1 }, 'IncompleteBody'],
      [{ expectedLength: data.length - 1 }, 'IncompleteBody'],
      [{ maxLength: 1024 * 1024 }, 'EntityTooLarge'],
    ] as const) {
      const { stream, verify } = validateStream(body(data), opts);
      await expect(readAll(stream), code).rejects.toMatchObject({ code });
      await expect(verify(), code).rejects.toMatchObject({ code });
    }
  });

  it('stops when the signal aborts', async () => {
    const ctl = new AbortController();
    ctl.abort(new S3Error('RequestTimeout'));
    const { stream, verify } = validateStream(body(random(10)), { signal: ctl.signal });
    await expect(readAll(stream)).rejects.toMatchObject({ code: 'RequestTimeout' });
    await expect(verify()).rejects.toMatchObject({ code: 'RequestTimeout' });
  });

  it('handles an empty body', async () => {
    const { stream, verify } = validateStream(body(new Uint8Array()), { computeMd5: true, expectedLength: 0 });
    expect((await readAll(stream)).length).toBe(0);
    expect(toHex((await verify()).md5!)).toBe('d41d8cd98f00b204e9800998ecf8427e');
  });
});

describe('native CRC32', () => {
  it('the native and table paths agree, incrementally', () => {
    const data = random(200_003, 77);
    const native = new Crc32();
    const table = new Crc32(undefined, false);
    for (let o = 0; o < data.length; o += 65_537) {
      native.update(data.subarray(o, o + 65_537));
      table.update(data.subarray(o, o + 65_537));
    }
    expect(native.value).toBe(table.value);
    expect(BigInt(table.value)).toBe(refCrc(data, 32n, 0xedb88320n));
  });
});
