/**
 * A streaming multipart/form-data reader (RFC 7578): parts are yielded one by one and each part's body is itself a
 * stream, so an 8 MiB fragment or a 10 GiB upload never sits in memory. Bytes are not copied except where a
 * delimiter could straddle two network chunks.
 */

export interface MultipartPart {
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** The form field name from Content-Disposition. */
  name: string;
  filename?: string;
  contentType?: string;
  /** The part's bytes. Consume (or abandon) it before asking for the next part. */
  body: AsyncIterable<Uint8Array>;
}

export class MultipartError extends Error {
  override name = 'MultipartError';
}

export interface MultipartOptions {
  /** Largest header block of one part. @default 16384 */
  maxHeaderBytes?: number;
  /** Most parts in one body. @default 1000 */
  maxParts?: number;
}

/** The boundary parameter of a multipart Content-Type, or undefined. */
export function multipartBoundary(contentType: string | null | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const b = m?.[1] ?? m?.[2];
  return b && b.length <= 70 ? b : undefined;
}

export async function* multipartParts(
  source: AsyncIterable<Uint8Array>,
  boundary: string,
  options: MultipartOptions = {},
): AsyncGenerator<MultipartPart> {
  const maxHeaderBytes = options.maxHeaderBytes ?? 16_384;
  const maxParts = options.maxParts ?? 1000;
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const reader = new ChunkReader(source);
  // Treat the body as if it began with CRLF so the first boundary looks like every other delimiter.
  reader.unshift(Buffer.from('\r\n'));

  // Skip the preamble.
  for await (const _ of reader.until(delimiter)) {
    /* discarded */
  }
  if (!reader.found) throw new MultipartError('multipart body has no opening boundary');
  for (let count = 0; ; count++) {
    const after = await reader.take(2);
    if (after.equals(Buffer.from('--'))) return; // closing delimiter; the epilogue is ignored
    if (!after.equals(Buffer.from('\r\n'))) throw new MultipartError('malformed multipart boundary line');
    if (count >= maxParts) throw new MultipartError(`more than ${maxParts} multipart parts`);
    const headers = parseHeaders(await reader.takeUntil(Buffer.from('\r\n\r\n'), maxHeaderBytes));
    const disposition = headers['content-disposition'] ?? '';
    const name = param(disposition, 'name');
    if (name === undefined) throw new MultipartError('multipart part without a Content-Disposition name');
    const body = reader.until(delimiter);
    yield { headers, name, filename: param(disposition, 'filename'), contentType: headers['content-type'], body };
    // Skip whatever the consumer left of this part (all of it, if it ignored the part).
    for await (const _ of body) {
      /* discarded */
    }
    if (!reader.found) throw new MultipartError('multipart body ended inside a part');
  }
}

function parseHeaders(block: Buffer): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.toString('utf8').split('\r\n')) {
    if (!line) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MultipartError(`malformed multipart header line: ${JSON.stringify(line.slice(0, 80))}`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function param(header: string, key: string): string | undefined {
  const m = new RegExp(`(?:^|;)\\s*${key}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;]*))`, 'i').exec(header);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2].trim();
}

/** Pull-based reader over a chunk stream with delimiter search that tolerates delimiters split across chunks. */
class ChunkReader {
  readonly #it: AsyncIterator<Uint8Array>;
  #buf: Buffer = Buffer.alloc(0);
  #ended = false;
  /** Whether the last `until` stopped at its delimiter (false: the stream ended first). */
  found = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  unshift(bytes: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([bytes, this.#buf]) : bytes;
  }

  async #more(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#it.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    return true;
  }

  async take(n: number): Promise<Buffer> {
    while (this.#buf.length < n) {
      if (!(await this.#more())) throw new MultipartError('multipart body ended early');
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  async takeUntil(delimiter: Buffer, limit: number): Promise<Buffer> {
    for (;;) {
      const at = this.#buf.indexOf(delimiter);
      if (at >= 0) {
        const out = this.#buf.subarray(0, at);
        this.#buf = this.#buf.subarray(at + delimiter.length);
        return out;
      }
      if (this.#buf.length > limit) throw new MultipartError(`multipart headers longer than ${limit} bytes`);
      if (!(await this.#more())) throw new MultipartError('multipart body ended inside part headers');
    }
  }

  /** Yields bytes up to (not including) `delimiter`, which is consumed. Sets `found`. */
  async *until(delimiter: Buffer): AsyncGenerator<Buffer> {
    this.found = false;
    const keep = delimiter.length - 1;
    for (;;) {
      const at = this.#buf.indexOf(delimiter);
      if (at >= 0) {
        const out = this.#buf.subarray(0, at);
        this.#buf = this.#buf.subarray(at + delimiter.length);
        this.found = true;
        if (out.length) yield out;
        return;
      }
      // Everything except a possible delimiter prefix at the end is body.
      if (this.#buf.length > keep) {
        const out = this.#buf.subarray(0, this.#buf.length - keep);
        this.#buf = this.#buf.subarray(this.#buf.length - keep);
        yield out;
      }
      if (!(await this.#more())) {
        const rest = this.#buf;
        this.#buf = Buffer.alloc(0);
        if (rest.length) yield rest;
        return;
      }
    }
  }
}
