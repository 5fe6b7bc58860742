import { describe, expect, it } from 'vitest';
import { S3Error } from './errors.ts';
import { formBoundary, readPostForm } from './post-form.ts';

const BOUNDARY = '----WebKitFormBoundaryX3yQ9';
const enc = new TextEncoder();

/** A multipart/form-data body: fields in order, then the file (if any), then a trailing field. */
function formBody(fields: [string, string][], file?: { name?: string; filename: string; type?: string; data: Uint8Array }, after: [string, string][] = []): Uint8Array {
  const parts: Uint8Array[] = [];
  const field = ([name, value]: [string, string]) => parts.push(enc.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  fields.forEach(field);
  if (file) {
    const type = file.type ? `\r\nContent-Type: ${file.type}` : '';
    parts.push(enc.encode(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${file.name ?? 'file'}"; filename="${file.filename}"${type}\r\n\r\n`), file.data, enc.encode('\r\n'));
  }
  after.forEach(field);
  parts.push(enc.encode(`--${BOUNDARY}--\r\n`));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.byteLength) - p.byteLength);
  return out;
}

/** The body as a stream of `size`-byte chunks. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.byteLength) return c.close();
      c.enqueue(bytes.slice(at, (at += size)));
    },
  });
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'none';
  } catch (err) {
    return err instanceof S3Error ? err.code : String(err);
  }
}

describe('formBoundary', () => {
  it('reads the boundary of a multipart/form-data type, quoted or not', () => {
    expect(formBoundary(`multipart/form-data; boundary=${BOUNDARY}`)).toBe(BOUNDARY);
    expect(formBoundary('Multipart/Form-Data; charset=utf-8; boundary="a b:c"')).toBe('a b:c');
    expect(formBoundary('multipart/form-data')).toBeUndefined();
    expect(formBoundary('multipart/mixed; boundary=x')).toBeUndefined();
    expect(formBoundary(`multipart/form-data; boundary=${'x'.repeat(71)}`)).toBeUndefined();
  });
});

describe('readPostForm', () => {
  // File bytes that hold most of a delimiter, CRLFs and dashes: only the whole delimiter ends the file.
  const data = enc.encode(`start\r\n--${BOUNDARY.slice(0, -1)}\r\n--\r\n${'x'.repeat(3000)}\r\n-${BOUNDARY}end`);
  const body = formBody(
    [
      ['key', 'uploads/${filename}'],
      ['Content-Type', 'text/plain'],
      ['x-amz-meta-note', 'é ü, with "quotes"'],
    ],
    { filename: 'a.txt', type: 'text/plain', data },
    [['after', 'ignored']],
  );

  it('gathers the fields before the file and streams the file byte-exact, however the body is split', async () => {
    for (const size of [1, 2, 7, 50, 4096, body.byteLength]) {
      const form = await readPostForm(chunked(body, size), BOUNDARY, { maxFileBytes: 1 << 20 });
      expect([...form.fields]).toEqual([
        ['key', 'uploads/${filename}'],
        ['content-type', 'text/plain'],
        ['x-amz-meta-note', 'é ü, with "quotes"'],
      ]);
      expect(form.file.filename).toBe('a.txt');
      expect(form.file.contentType).toBe('text/plain');
      expect(await drain(form.file.stream)).toEqual(data);
      expect(await form.file.size).toBe(data.byteLength);
    }
  });

  it('reads an empty file and a file part without a file name', async () => {
    const empty = await readPostForm(chunked(formBody([['key', 'k']], { filename: 'e', data: new Uint8Array(0) }), 3), BOUNDARY, { maxFileBytes: 10 });
    expect((await drain(empty.file.stream)).byteLength).toBe(0);
    const plain = formBody([], { filename: '', data: enc.encode('v') });
    const form = await readPostForm(chunked(plain, 5), BOUNDARY, { maxFileBytes: 10 });
    expect(form.file.filename).toBe('');
    expect(form.file.contentType).toBeUndefined();
    expect(new TextDecoder().decode(await drain(form.file.stream))).toBe('v');
  });

  it('refuses a form without a file, broken framing and fields over the limit', async () => {
    expect(await codeOf(readPostForm(chunked(formBody([['key', 'k']]), 9), BOUNDARY, { maxFileBytes: 10 }))).toBe('InvalidArgument');
    expect(await codeOf(readPostForm(chunked(enc.encode('not a form at all'), 9), BOUNDARY, { maxFileBytes: 10 }))).toBe('MalformedPOSTRequest');
    const noDisposition = enc.encode(`--${BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nv\r\n--${BOUNDARY}--\r\n`);
    expect(await codeOf(readPostForm(chunked(noDisposition, 9), BOUNDARY, { maxFileBytes: 10 }))).toBe('MalformedPOSTRequest');
    const big = formBody([['x-amz-meta-a', 'v'.repeat(30_000)]], { filename: 'f', data: enc.encode('z') });
    expect(await codeOf(readPostForm(chunked(big, 4096), BOUNDARY, { maxFileBytes: 10 }))).toBe('MaxPostPreDataLengthExceededError');
    // The same fields under a larger limit are fine.
    expect(await codeOf(readPostForm(chunked(big, 4096), BOUNDARY, { maxFileBytes: 10, maxFieldsBytes: 40_000 }))).toBe('none');
  });

  it('fails the file stream past its largest size, short of its smallest, and when the form breaks off', async () => {
    const file = formBody([['key', 'k']], { filename: 'f', data: new Uint8Array(5000).fill(7) });
    const tooLarge = await readPostForm(chunked(file, 512), BOUNDARY, { maxFileBytes: 4999 });
    expect(await codeOf(drain(tooLarge.file.stream))).toBe('EntityTooLarge');
    expect((tooLarge.file.failure as S3Error).code).toBe('EntityTooLarge');
    const restricted = await readPostForm(chunked(file, 512), BOUNDARY, { maxFileBytes: 1 << 20 });
    restricted.file.restrict({ min: 0, max: 100 });
    expect(await codeOf(drain(restricted.file.stream))).toBe('EntityTooLarge');
    const tooSmall = await readPostForm(chunked(file, 512), BOUNDARY, { maxFileBytes: 1 << 20 });
    tooSmall.file.restrict({ min: 5001, max: 10_000 });
    expect(await codeOf(drain(tooSmall.file.stream))).toBe('EntityTooSmall');
    const exact = await readPostForm(chunked(file, 512), BOUNDARY, { maxFileBytes: 1 << 20 });
    exact.file.restrict({ min: 5000, max: 5000 });
    expect((await drain(exact.file.stream)).byteLength).toBe(5000);
    const cut = await readPostForm(chunked(file.subarray(0, file.byteLength - 100), 512), BOUNDARY, { maxFileBytes: 1 << 20 });
    expect(await codeOf(drain(cut.file.stream))).toBe('MalformedPOSTRequest');
  });
});
