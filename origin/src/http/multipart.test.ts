import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MultipartError, multipartBoundary, multipartParts } from './multipart.ts';

function form(boundary: string, parts: { name: string; filename?: string; type?: string; body: Buffer }[], preamble = ''): Buffer {
  const pieces: Buffer[] = [Buffer.from(preamble)];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    pieces.push(Buffer.from(`${head}\r\n`), p.body, Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\nepilogue`));
  return Buffer.concat(pieces);
}

async function* split(bytes: Buffer, sizes: number[]) {
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length];
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

async function collect(body: Buffer, boundary: string, sizes: number[]) {
  const out: { name: string; filename?: string; contentType?: string; body: Buffer }[] = [];
  for await (const part of multipartParts(split(body, sizes), boundary)) {
    const chunks: Buffer[] = [];
    for await (const c of part.body) chunks.push(Buffer.from(c));
    out.push({ name: part.name, filename: part.filename, contentType: part.contentType, body: Buffer.concat(chunks) });
  }
  return out;
}

describe('multipartParts', () => {
  const boundary = '----deossBoundary7MA4YWxkTrZu0gW';
  const parts = [
    { name: 'file', filename: 'a b.txt', type: 'text/plain', body: Buffer.from('hello\r\n--not-the-boundary\r\n') },
    { name: 'note', body: Buffer.from('') },
    { name: 'blob', filename: 'r.bin', type: 'application/octet-stream', body: randomBytes(5000) },
  ];

  it('reads every part whatever the chunking, including delimiters split across chunks', async () => {
    const body = form(boundary, parts, 'preamble to ignore\r\n');
    for (const sizes of [[1], [2, 3], [7], [37, 1], [body.length]]) {
      const got = await collect(body, boundary, sizes);
      expect(got.map((p) => p.name)).toEqual(['file', 'note', 'blob']);
      expect(got[0]).toMatchObject({ filename: 'a b.txt', contentType: 'text/plain' });
      got.forEach((p, i) => expect(p.body.equals(parts[i].body)).toBe(true));
    }
  });

  it('skips parts the consumer ignores', async () => {
    const names: string[] = [];
    let blob: Buffer | undefined;
    for await (const part of multipartParts(split(form(boundary, parts), [100]), boundary)) {
      names.push(part.name);
      if (part.name === 'blob') {
        const c: Buffer[] = [];
        for await (const x of part.body) c.push(Buffer.from(x));
        blob = Buffer.concat(c);
      }
    }
    expect(names).toEqual(['file', 'note', 'blob']);
    expect(blob!.equals(parts[2].body)).toBe(true);
  });

  it('rejects truncated and malformed bodies', async () => {
    const body = form(boundary, parts);
    await expect(collect(body.subarray(0, body.length - 30), boundary, [64])).rejects.toThrow(MultipartError);
    await expect(collect(Buffer.from('no boundary here'), boundary, [4])).rejects.toThrow(/no opening boundary/);
    const noName = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${boundary}--`);
    await expect(collect(noName, boundary, [5])).rejects.toThrow(/without a Content-Disposition name/);
  });

  it('finds the boundary in a Content-Type', () => {
    expect(multipartBoundary('multipart/form-data; boundary=abc')).toBe('abc');
    expect(multipartBoundary('multipart/form-data; charset=utf-8; boundary="a b"')).toBe('a b');
    expect(multipartBoundary('application/json')).toBeUndefined();
    expect(multipartBoundary(undefined)).toBeUndefined();
  });
});
