import { describe, expect, it } from 'vitest';
import { Crc32, md5Small, toBase64 } from '../checksums.ts';
import { S3Error } from '../errors.ts';
import { sha256Hex, type PayloadMode } from '../sigv4.ts';
import { readSmallBody } from './body.ts';

const enc = new TextEncoder();
const DOC = '<Delete><Object><Key>a</Key></Object></Delete>';

function post(body: string | Uint8Array | ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Request {
  return new Request('http://s3.test/b?delete', { method: 'POST', body, headers, duplex: 'half' } as RequestInit);
}

function crc32(text: string): string {
  const c = new Crc32();
  c.update(enc.encode(text));
  return toBase64(c.digest());
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof S3Error) return err.code;
    throw err;
  }
  return 'resolved';
}

describe('readSmallBody', () => {
  it('reads a body no header describes', async () => {
    expect(new TextDecoder().decode(await readSmallBody(post(DOC), undefined))).toBe(DOC);
  });

  it('checks Content-MD5', async () => {
    const md5 = toBase64(md5Small(enc.encode(DOC)));
    expect(new TextDecoder().decode(await readSmallBody(post(DOC, { 'content-md5': md5 }), undefined))).toBe(DOC);
    expect(await codeOf(readSmallBody(post(DOC.replace('a', 'b'), { 'content-md5': md5 }), undefined))).toBe('BadDigest');
  });

  it('checks an x-amz-checksum-* header, unless it describes something else', async () => {
    const crc = crc32(DOC);
    expect(await codeOf(readSmallBody(post(DOC, { 'x-amz-checksum-crc32': crc }), undefined))).toBe('resolved');
    expect(await codeOf(readSmallBody(post(`${DOC} `, { 'x-amz-checksum-crc32': crc }), undefined))).toBe('BadDigest');
    // CompleteMultipartUpload: the header is the object's checksum; Content-MD5 still covers the body.
    expect(await codeOf(readSmallBody(post(`${DOC} `, { 'x-amz-checksum-crc32': crc }), undefined, { checksumHeaders: false }))).toBe('resolved');
    const md5 = toBase64(md5Small(enc.encode(DOC)));
    expect(await codeOf(readSmallBody(post(`${DOC} `, { 'x-amz-checksum-crc32': crc, 'content-md5': md5 }), undefined, { checksumHeaders: false }))).toBe('BadDigest');
  });

  it('checks the signed payload hash: a signature covers the body, not only the headers', async () => {
    const signed: PayloadMode = { mode: 'sha256', sha256: await sha256Hex(DOC) };
    expect(await codeOf(readSmallBody(post(DOC), signed))).toBe('resolved');
    expect(await codeOf(readSmallBody(post(DOC.replace('<Key>a', '<Key>z')), signed))).toBe('XAmzContentSHA256Mismatch');
  });

  it('refuses a body over the limit, declared or streamed', async () => {
    expect(await codeOf(readSmallBody(post('x'.repeat(101)), undefined, { maxBytes: 100 }))).toBe('MaxMessageLengthExceeded');
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(64));
      },
    });
    expect(await codeOf(readSmallBody(post(endless), undefined, { maxBytes: 1000 }))).toBe('MaxMessageLengthExceeded');
    expect(pulled).toBeLessThan(40);
  });

  it('decodes an aws-chunked body and checks its trailing checksum', async () => {
    const chunked = (trailerCrc: string) => `${DOC.length.toString(16)}\r\n${DOC}\r\n0\r\nx-amz-checksum-crc32:${trailerCrc}\r\n\r\n`;
    const headers = { 'x-amz-decoded-content-length': String(DOC.length), 'x-amz-trailer': 'x-amz-checksum-crc32', 'content-encoding': 'aws-chunked' };
    const payload: PayloadMode = { mode: 'streaming-unsigned-trailer' };
    expect(new TextDecoder().decode(await readSmallBody(post(chunked(crc32(DOC)), headers), payload))).toBe(DOC);
    expect(await codeOf(readSmallBody(post(chunked(crc32('other')), headers), payload))).toBe('BadDigest');
    expect(await codeOf(readSmallBody(post(chunked(crc32(DOC)), { ...headers, 'x-amz-decoded-content-length': '5000' }), payload, { maxBytes: 1000 }))).toBe('MaxMessageLengthExceeded');
  });
});
