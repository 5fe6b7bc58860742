/**
 * Reads the multipart/form-data body of a browser POST upload (S3's POST Object) as a stream: the form fields
 * before the `file` field are gathered (at most MAX_POST_FIELDS_BYTES), and the file's bytes are handed on as a
 * stream as they arrive, never held whole. Fields after the file are not read, as S3 ignores them.
 */
import { ByteSource, checkedStream } from './byte-source.ts';
import { S3Error } from './errors.ts';

/** Most bytes of the form before the file (part headers and field values), as S3's limit; above, MaxPostPreDataLengthExceededError. */
export const MAX_POST_FIELDS_BYTES = 20 * 1024;
/** Longest multipart boundary RFC 2046 allows. */
const MAX_BOUNDARY_LENGTH = 70;

export interface PostFile {
  /** The file name the browser sent (`filename=` of the part), '' when none. */
  filename: string;
  /** Bytes of the form before the file's first byte. */
  offset: number;
  /** The part's Content-Type, when it has one. */
  contentType?: string;
  /**
   * The file's bytes. Errors with EntityTooLarge past the largest size allowed, EntityTooSmall at its end when
   * shorter than the smallest, MalformedPOSTRequest if the form breaks off.
   */
  stream: ReadableStream<Uint8Array>;
  /** Resolves with the file's size once the stream has delivered all of it. */
  size: Promise<number>;
  /** Narrows the sizes allowed (a policy's content-length-range); call before the stream is read. */
  restrict(range: { min: number; max: number }): void;
  /** The error the stream failed with, if it did (whoever read it may report something vaguer). */
  readonly failure: unknown;
}

export interface PostForm {
  /** Fields before the file, by lowercase name (S3 matches form field names without regard to case). */
  fields: Map<string, string>;
  file: PostFile;
}

/** The boundary of a `multipart/form-data` Content-Type, or undefined if it is not one. */
export function formBoundary(contentType: string | null): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  return boundary && boundary.length <= MAX_BOUNDARY_LENGTH ? boundary : undefined;
}

const CRLF = new Uint8Array([13, 10]);
const HEAD_END = new Uint8Array([13, 10, 13, 10]);
const utf8 = new TextDecoder();

function malformed(why: string): S3Error {
  return new S3Error('MalformedPOSTRequest', `The body of your POST request is not well-formed multipart/form-data: ${why}.`);
}

/** First index of `needle` in `hay` at or after `from`, or -1. */
export function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0]!;
  const last = hay.byteLength - needle.byteLength;
  for (let i = hay.indexOf(first, from); i !== -1 && i <= last; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.byteLength && hay[i + j] === needle[j]) j++;
    if (j === needle.byteLength) return i;
  }
  return -1;
}

interface PartHead {
  name: string;
  filename?: string;
  contentType?: string;
}

function parsePartHead(text: string): PartHead {
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-disposition') disposition = value;
    else if (name === 'content-type') contentType = value;
  }
  if (!disposition || !/^form-data\s*(;|$)/i.test(disposition)) throw malformed('a part without Content-Disposition: form-data');
  const param = (p: string): string | undefined => {
    const m = new RegExp(`;\\s*${p}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i').exec(disposition!);
    if (!m) return undefined;
    return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
  };
  const name = param('name');
  if (name === undefined) throw malformed('a part without a name');
  const head: PartHead = { name };
  const filename = param('filename');
  if (filename !== undefined) head.filename = filename;
  if (contentType !== undefined) head.contentType = contentType;
  return head;
}

/**
 * Reads a form up to its `file` field. Throws MalformedPOSTRequest for broken framing, MaxPostPreDataLengthExceededError
 * when the fields before the file are too large, and InvalidArgument when the form has no file.
 */
export async function readPostForm(body: ReadableStream<Uint8Array>, boundary: string, opts: { maxFileBytes: number; maxFieldsBytes?: number; signal?: AbortSignal }): Promise<PostForm> {
  const maxFields = opts.maxFieldsBytes ?? MAX_POST_FIELDS_BYTES;
  // Every delimiter but the first follows a CRLF; a CRLF put in front of the body makes the first one alike.
  const delimiter = new TextEncoder().encode(`\r\n--${boundary}`);
  const src = new ByteSource(body);
  let buf: Uint8Array = CRLF;
  let eof = false;
  let consumed = 0; // bytes of the form before the file, for the fields limit
  const more = async (): Promise<void> => {
    if (eof) throw malformed('the body ended inside the form');
    opts.signal?.throwIfAborted();
    const r = await src.read(buf);
    buf = r.data;
    eof = r.eof;
  };
  /** Waits until `needle` is in the buffer at or after `from`; throws past the fields limit. */
  const find = async (needle: Uint8Array, from: number): Promise<number> => {
    for (;;) {
      const at = indexOfBytes(buf, needle, from);
      if (at >= 0) return at;
      if (consumed + buf.byteLength > maxFields + delimiter.byteLength + 4) throw new S3Error('MaxPostPreDataLengthExceededError');
      await more();
    }
  };
  const take = (n: number): void => {
    consumed += n;
    buf = buf.subarray(n);
  };
  try {
    // The preamble (if any) up to the first delimiter, then one part at a time.
    take((await find(delimiter, 0)) + delimiter.byteLength);
    const fields = new Map<string, string>();
    for (;;) {
      while (buf.byteLength < 2) await more();
      if (buf[0] === 45 && buf[1] === 45) break; // "--": the closing delimiter, and no file came
      // Transport padding, then the CRLF that ends the delimiter line.
      const lineEnd = await find(CRLF, 0);
      if (utf8.decode(buf.subarray(0, lineEnd)).trim() !== '') throw malformed('text after a boundary');
      take(lineEnd + 2);
      const headEnd = await find(HEAD_END, 0);
      const head = parsePartHead(utf8.decode(buf.subarray(0, headEnd + 2)));
      take(headEnd + 4);
      if (head.name.toLowerCase() === 'file') {
        if (consumed > maxFields + delimiter.byteLength + 4) throw new S3Error('MaxPostPreDataLengthExceededError');
        // `consumed` counts the CRLF put in front of the body.
        return { fields, file: fileStream(head, consumed - CRLF.byteLength, src, buf, eof, delimiter, opts) };
      }
      const valueEnd = await find(delimiter, 0);
      const name = head.name.toLowerCase();
      // A repeated field keeps its first value (S3 refuses repeats of most; none here means two things).
      if (!fields.has(name)) fields.set(name, utf8.decode(buf.subarray(0, valueEnd)));
      take(valueEnd + delimiter.byteLength);
    }
    await src.cancel();
    throw new S3Error('InvalidArgument', 'POST requires exactly one file upload per request.', { ArgumentName: 'file', ArgumentValue: '0' });
  } catch (err) {
    await src.cancel(err);
    throw err;
  }
}

/** The file part's bytes up to the next delimiter, as a stream; what follows the file is not read. */
function fileStream(head: PartHead, offset: number, src: ByteSource, start: Uint8Array, startEof: boolean, delimiter: Uint8Array, opts: { maxFileBytes: number; signal?: AbortSignal }): PostFile {
  let buf = start;
  let eof = startEof;
  let size = 0;
  let min = 0;
  let max = opts.maxFileBytes;
  // No read ahead (high water mark 0): nothing of the file is read before the policy is checked and `restrict` has
  // been called.
  const { stream, result: done, failure } = checkedStream<number>(
    src,
    async (controller, end) => {
      for (;;) {
        opts.signal?.throwIfAborted();
        const at = indexOfBytes(buf, delimiter, 0);
        // Without a delimiter, all but its length less one can go: those last bytes may begin one.
        const ready = at >= 0 ? at : Math.max(0, buf.byteLength - delimiter.byteLength + 1);
        if (size + ready > max) throw new S3Error('EntityTooLarge', undefined, { ProposedSize: String(size + ready), MaxSizeAllowed: String(max) });
        if (at >= 0) {
          size += ready;
          if (size < min) throw new S3Error('EntityTooSmall', undefined, { ProposedSize: String(size), MinSizeAllowed: String(min) });
          if (ready) controller.enqueue(buf.subarray(0, ready));
          end(size);
          // Fields after the file mean nothing to S3, and the closing delimiter nothing more: stop reading.
          await src.cancel();
          return;
        }
        if (eof) throw malformed('the body ended inside the file');
        const piece = buf.subarray(0, ready);
        const r = await src.read(buf.subarray(ready));
        buf = r.data;
        eof = r.eof;
        if (piece.byteLength) {
          size += piece.byteLength;
          controller.enqueue(piece);
          return;
        }
      }
    },
    { cancelReason: () => new Error('cancelled'), highWaterMark: 0 },
  );
  return {
    filename: head.filename ?? '',
    offset,
    ...(head.contentType !== undefined ? { contentType: head.contentType } : {}),
    stream,
    size: done,
    restrict(range) {
      min = Math.max(min, range.min);
      max = Math.min(max, range.max);
    },
    get failure() {
      return failure();
    },
  };
}
