import { describe, expect, it } from 'vitest';
import { awsChunkedOptionsFor, decodeAwsChunked, type AwsChunkedOptions } from './aws-chunked.ts';
import { Crc32, Crc32c, toBase64, toHex } from './checksums.ts';
import { S3Error } from './errors.ts';
import { deriveSigningKey, EMPTY_SHA256, hmacHex, sha256Hex, verifyRequest, type ChunkSigningContext } from './sigv4.ts';

const enc = new TextEncoder();
const DOC_KEY = 'AKIAIOSFODNN7EXAMPLE';
const DOC_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const DOC_NOW = new Date('2013-05-24T00:00:00Z');

function concat(parts: (Uint8Array | string)[]): Uint8Array {
  const bytes = parts.map((p) => (typeof p === 'string' ? enc.encode(p) : p));
  const out = new Uint8Array(bytes.reduce((n, b) => n + b.byteLength, 0));
  let off = 0;
  for (const b of bytes) {
    out.set(b, off);
    off += b.byteLength;
  }
  return out;
}

function random(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A byte stream (like a request body). */
const byteStream = (b: Uint8Array) => new Response(b).body!;
/** A default stream delivering `piece`-sized chunks, to split headers and CRLFs across reads. */
function pieces(b: Uint8Array, piece: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (off >= b.length) return c.close();
      c.enqueue(b.slice(off, off + piece));
      off += piece;
    },
  });
}

async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof S3Error) return e.code;
    throw e;
  }
  return 'ok';
}

// The AWS examples: "Signature Calculations for the Authorization Header: Transferring Payload in Multiple Chunks"
// (sigv4-streaming) and its trailer variant (sigv4-streaming-trailers): 65,536 + 1,024 bytes of "a".
async function docSeed(trailer: boolean): Promise<ChunkSigningContext> {
  const req = new Request('https://s3.amazonaws.com/examplebucket/chunkObject.txt', {
    method: 'PUT',
    body: 'x',
    headers: {
      host: 's3.amazonaws.com',
      'content-encoding': 'aws-chunked',
      ...(trailer ? {} : { 'content-length': '66824' }),
      'x-amz-content-sha256': trailer ? 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' : 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'x-amz-date': '20130524T000000Z',
      'x-amz-decoded-content-length': '66560',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      ...(trailer ? { 'x-amz-trailer': 'x-amz-checksum-crc32c' } : {}),
      authorization:
        `AWS4-HMAC-SHA256 Credential=${DOC_KEY}/20130524/us-east-1/s3/aws4_request,SignedHeaders=` +
        (trailer
          ? 'content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e'
          : 'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9'),
    },
  });
  const auth = await verifyRequest(req, async () => DOC_SECRET, { now: DOC_NOW });
  if (auth?.payload.mode !== 'streaming-signed') throw new Error('expected a signed streaming request');
  return auth.payload.seed;
}

const A64K = new Uint8Array(65536).fill(0x61);
const A1K = new Uint8Array(1024).fill(0x61);
const DOC_SIGS = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];
const TRAILER_SIGS = [
  'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
  '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
  '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
];
const docBody = (sigs = DOC_SIGS, second = A1K) =>
  concat([`10000;chunk-signature=${sigs[0]}\r\n`, A64K, `\r\n${second.length.toString(16)};chunk-signature=${sigs[1]}\r\n`, second, `\r\n0;chunk-signature=${sigs[2]}\r\n\r\n`]);
const trailerBody = (crc = 'sOO8/Q==', trailerSig = 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435') =>
  concat([
    `10000;chunk-signature=${TRAILER_SIGS[0]}\r\n`, A64K, `\r\n400;chunk-signature=${TRAILER_SIGS[1]}\r\n`, A1K,
    `\r\n0;chunk-signature=${TRAILER_SIGS[2]}\r\nx-amz-checksum-crc32c:${crc}\r\nx-amz-trailer-signature:${trailerSig}\r\n\r\n`,
  ]);

describe('signed aws-chunked: the AWS examples', () => {
  it('decodes the documented body (66,824 bytes → 66,560) with every chunk signature checked', async () => {
    const body = docBody();
    expect(body.length).toBe(66824);
    const seed = await docSeed(false);
    for (const source of [byteStream(body), pieces(body, 997), pieces(body, 1)]) {
      const { stream, done } = decodeAwsChunked(source, { signing: seed, trailer: false, decodedLength: 66560, computeMd5: true });
      const out = await readAll(stream);
      expect(out.length).toBe(66560);
      expect(out.every((b) => b === 0x61)).toBe(true);
      const r = await done;
      expect(r.decodedLength).toBe(66560);
      expect(toHex(r.digests.md5!)).toBe(toHex(new Uint8Array(await crypto.subtle.digest('MD5', out))));
    }
  });

  it('decodes the documented trailer example and verifies its signed CRC32C trailer', async () => {
    const seed = await docSeed(true);
    const spec = { trailer: true, algorithm: 'CRC32C' as const };
    for (const source of [byteStream(trailerBody()), pieces(trailerBody(), 333)]) {
      const d = decodeAwsChunked(source, { signing: seed, trailer: true, decodedLength: 66560, spec });
      expect((await readAll(d.stream)).length).toBe(66560);
      const r = await d.done;
      expect(r.trailers).toEqual({ 'x-amz-checksum-crc32c': 'sOO8/Q==' });
      expect(r.digests.checksums.CRC32C).toBe('sOO8/Q==');
      expect(await d.trailerChecksum()).toBe('sOO8/Q==');
    }
  });

  it('refuses forged or damaged signed bodies', async () => {
    const seed = await docSeed(false);
    const run = (body: Uint8Array, o: Partial<AwsChunkedOptions> = {}) => {
      const d = decodeAwsChunked(byteStream(body), { signing: seed, trailer: false, decodedLength: 66560, ...o });
      return Promise.all([readAll(d.stream), d.done]);
    };
    const flipped = docBody();
    flipped[100] ^= 1; // one data bit of chunk 1
    expect(await codeOf(run(flipped))).toBe('SignatureDoesNotMatch');
    expect(await codeOf(run(docBody([DOC_SIGS[0], DOC_SIGS[0], DOC_SIGS[2]])))).toBe('SignatureDoesNotMatch');
    expect(await codeOf(run(docBody([DOC_SIGS[0], DOC_SIGS[1], '0'.repeat(64)])))).toBe('SignatureDoesNotMatch');
    const unsignedChunk = concat([`10000\r\n`, A64K, `\r\n0\r\n\r\n`]);
    expect(await codeOf(run(unsignedChunk, { decodedLength: 65536 }))).toBe('SignatureDoesNotMatch');
    expect(await codeOf(run(docBody().subarray(0, 40_000)))).toBe('IncompleteBody');
    expect(await codeOf(run(docBody().subarray(0, 66_700)))).toBe('IncompleteBody');
    expect(await codeOf(run(docBody(), { decodedLength: 66561 }))).toBe('IncompleteBody');
    expect(await codeOf(run(docBody(), { decodedLength: 66000 }))).toBe('InvalidRequest');
    expect(await codeOf(run(concat([docBody(), 'garbage'])))).toBe('IncompleteBody');
    // The final chunk must end the body: a second chunk after a small (non-last) one breaks the 8 KiB rule.
    const key = seed.signingKey;
    const signChunk = async (prev: string, data: Uint8Array) =>
      hmacHex(key, `AWS4-HMAC-SHA256-PAYLOAD\n${seed.amzDate}\n${seed.scope}\n${prev}\n${EMPTY_SHA256}\n${await sha256Hex(data)}`);
    const small = new Uint8Array(100).fill(1);
    const s1 = await signChunk(seed.seedSignature, small);
    const s2 = await signChunk(s1, small);
    const s3 = await signChunk(s2, new Uint8Array());
    const smallFirst = concat([`64;chunk-signature=${s1}\r\n`, small, `\r\n64;chunk-signature=${s2}\r\n`, small, `\r\n0;chunk-signature=${s3}\r\n\r\n`]);
    expect(await codeOf(run(smallFirst, { decodedLength: 200 }))).toBe('InvalidChunkSizeError');
  });

  it('refuses a forged trailer signature or checksum', async () => {
    const seed = await docSeed(true);
    const spec = { trailer: true, algorithm: 'CRC32C' as const };
    const run = (body: Uint8Array) => {
      const d = decodeAwsChunked(byteStream(body), { signing: seed, trailer: true, decodedLength: 66560, spec });
      return Promise.all([readAll(d.stream), d.done]);
    };
    // A different checksum value changes the signed trailer, so the signature fails first.
    expect(await codeOf(run(trailerBody('AAAAAA==')))).toBe('SignatureDoesNotMatch');
    expect(await codeOf(run(trailerBody(undefined, '1'.repeat(64))))).toBe('SignatureDoesNotMatch');
  });
});

/** An aws-chunked body as the JS SDK sends it: STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer. */
function unsignedTrailerBody(data: Uint8Array, chunk: number, trailer?: string, finalBlankLine = true): Uint8Array {
  const parts: (Uint8Array | string)[] = [];
  for (let off = 0; off < data.length; off += chunk) {
    const piece = data.subarray(off, off + chunk);
    parts.push(`${piece.length.toString(16)}\r\n`, piece, '\r\n');
  }
  parts.push('0\r\n');
  if (trailer) parts.push(`${trailer}\r\n`);
  if (finalBlankLine) parts.push('\r\n');
  return concat(parts);
}

describe('unsigned aws-chunked with trailer', () => {
  it('decodes a 5 MiB body in large pieces and verifies the CRC32 trailer', async () => {
    const data = random(5 * 1024 * 1024 + 3, 9);
    const crc = toBase64(new Crc32().update(data).digest());
    const body = unsignedTrailerBody(data, 65536, `x-amz-checksum-crc32:${crc}`);
    const d = decodeAwsChunked(byteStream(body), { trailer: true, decodedLength: data.length, spec: { trailer: true, algorithm: 'CRC32' }, computeMd5: true });
    const reader = d.stream.getReader();
    const got: Uint8Array[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      got.push(value);
    }
    expect(sameBytes(concat(got), data)).toBe(true);
    expect(Math.min(...got.slice(0, -2).map((g) => g.byteLength))).toBeGreaterThan(200 * 1024);
    const r = await d.done;
    expect(r.digests.checksums.CRC32).toBe(crc);
    expect(r.trailers['x-amz-checksum-crc32']).toBe(crc);
  });

  it('handles odd chunk sizes split at every boundary', async () => {
    const data = random(20_000, 3);
    const crc = toBase64(new Crc32c().update(data).digest());
    const body = unsignedTrailerBody(data, 777, `x-amz-checksum-crc32c:${crc}`);
    for (const piece of [1, 2, 3, 5, 64, 1000]) {
      const d = decodeAwsChunked(pieces(body, piece), { trailer: true, decodedLength: data.length, spec: { trailer: true, algorithm: 'CRC32C' }, bufferBytes: 4096, minReadBytes: 1 });
      expect(sameBytes(await readAll(d.stream), data), `piece ${piece}`).toBe(true);
      expect((await d.done).digests.checksums.CRC32C).toBe(crc);
    }
  });

  it('tolerates a body that ends without the final blank line', async () => {
    const data = random(1000, 5);
    const crc = toBase64(new Crc32().update(data).digest());
    const d = decodeAwsChunked(byteStream(unsignedTrailerBody(data, 500, `x-amz-checksum-crc32:${crc}`, false)), { trailer: true, decodedLength: 1000, spec: { trailer: true, algorithm: 'CRC32' } });
    expect(sameBytes(await readAll(d.stream), data)).toBe(true);
  });

  it('refuses wrong, missing or undeclared trailers and bad framing', async () => {
    const data = random(3000, 6);
    const crc = toBase64(new Crc32().update(data).digest());
    const spec = { trailer: true, algorithm: 'CRC32' as const };
    const run = (body: Uint8Array, o: Partial<AwsChunkedOptions> = {}) => {
      const d = decodeAwsChunked(byteStream(body), { trailer: true, decodedLength: data.length, spec, ...o });
      return Promise.all([readAll(d.stream), d.done]);
    };
    expect(await codeOf(run(unsignedTrailerBody(data, 1000, 'x-amz-checksum-crc32:AAAAAA==')))).toBe('BadDigest');
    expect(await codeOf(run(unsignedTrailerBody(data, 1000)))).toBe('MalformedTrailerError');
    expect(await codeOf(run(unsignedTrailerBody(data, 1000, `x-amz-checksum-sha1:${crc}`)))).toBe('MalformedTrailerError');
    expect(await codeOf(run(unsignedTrailerBody(data, 1000, 'no colon here')))).toBe('MalformedTrailerError');
    expect(await codeOf(run(unsignedTrailerBody(data, 1000, `x-amz-checksum-crc32:${crc}`), { spec: { trailer: false } }))).toBe('MalformedTrailerError');
    const badSize = concat(['zz\r\n', data, '\r\n0\r\n\r\n']);
    expect(await codeOf(run(badSize))).toBe('IncompleteBody');
    const noCrlf = concat([`${(3000).toString(16)}\r\n`, data, 'XX0\r\n\r\n']);
    expect(await codeOf(run(noCrlf))).toBe('IncompleteBody');
    expect(await codeOf(run(concat(['x'.repeat(5000)])))).toBe('IncompleteBody');
    expect(await codeOf(run(new Uint8Array()))).toBe('IncompleteBody');
  });

  it('stops on abort', async () => {
    const ctl = new AbortController();
    ctl.abort(new S3Error('RequestTimeout'));
    const d = decodeAwsChunked(byteStream(unsignedTrailerBody(random(10), 10)), { trailer: true, signal: ctl.signal });
    expect(await codeOf(readAll(d.stream))).toBe('RequestTimeout');
    expect(await codeOf(d.done)).toBe('RequestTimeout');
  });
});

describe('signed aws-chunked round trip over many reads', () => {
  it('verifies a 3 MiB body signed in 70,000-byte chunks, straddling every read boundary', async () => {
    const key = await deriveSigningKey('secret', '20260102', 'us-east-1', 's3');
    const seed: ChunkSigningContext = { signingKey: key, amzDate: '20260102T000000Z', scope: '20260102/us-east-1/s3/aws4_request', seedSignature: 'ab'.repeat(32) };
    const data = random(3 * 1024 * 1024 + 11, 12);
    const parts: (Uint8Array | string)[] = [];
    let prev = seed.seedSignature;
    const sign = async (chunk: Uint8Array) => {
      prev = await hmacHex(key, `AWS4-HMAC-SHA256-PAYLOAD\n${seed.amzDate}\n${seed.scope}\n${prev}\n${EMPTY_SHA256}\n${await sha256Hex(chunk)}`);
      return prev;
    };
    for (let off = 0; off < data.length; off += 70_000) {
      const chunk = data.subarray(off, off + 70_000);
      parts.push(`${chunk.length.toString(16)};chunk-signature=${await sign(chunk)}\r\n`, chunk, '\r\n');
    }
    parts.push(`0;chunk-signature=${await sign(new Uint8Array())}\r\n`);
    const crc = toBase64(new Crc32().update(data).digest());
    const trailerSig = await hmacHex(key, `AWS4-HMAC-SHA256-TRAILER\n${seed.amzDate}\n${seed.scope}\n${prev}\n${await sha256Hex(`x-amz-checksum-crc32:${crc}\n`)}`);
    parts.push(`x-amz-checksum-crc32:${crc}\r\nx-amz-trailer-signature:${trailerSig}\r\n\r\n`);
    const body = concat(parts);
    const d = decodeAwsChunked(byteStream(body), { signing: seed, trailer: true, decodedLength: data.length, spec: { trailer: true, algorithm: 'CRC32' } });
    expect(sameBytes(await readAll(d.stream), data)).toBe(true);
    expect((await d.done).digests.checksums.CRC32).toBe(crc);
  });
});

describe('awsChunkedOptionsFor', () => {
  it('builds options from the payload mode and headers', async () => {
    expect(awsChunkedOptionsFor(new Headers(), { mode: 'unsigned' })).toBeUndefined();
    expect(awsChunkedOptionsFor(new Headers(), undefined)).toBeUndefined();
    const o = awsChunkedOptionsFor(new Headers({ 'x-amz-decoded-content-length': '42', 'x-amz-trailer': 'x-amz-checksum-crc32' }), { mode: 'streaming-unsigned-trailer' });
    expect(o).toEqual({ trailer: true, decodedLength: 42, spec: { trailer: true, algorithm: 'CRC32' } });
    const seed = await docSeed(false);
    expect(awsChunkedOptionsFor(new Headers({ 'x-amz-decoded-content-length': '1' }), { mode: 'streaming-signed', trailer: false, seed })?.signing).toBe(seed);
    expect(() => awsChunkedOptionsFor(new Headers(), { mode: 'streaming-unsigned-trailer' })).toThrow(expect.objectContaining({ code: 'MissingContentLength' }));
    expect(() => awsChunkedOptionsFor(new Headers({ 'x-amz-decoded-content-length': '-1' }), { mode: 'streaming-unsigned-trailer' })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});
