/**
 * Large reads from a body stream. Request bodies in workerd are byte streams: a BYOB reader with `readAtLeast`
 * delivers ~1 MiB at a time, where a default reader or a TransformStream sees 2–4 KiB chunks and runs ~10× slower
 * (docs/s3-compatibility.md, "Streaming"). Other streams (tests, JS-built bodies) fall back to a default reader
 * whose chunks are gathered into the same large buffers.
 *
 * Each read returns memory the caller owns (a fresh buffer, or a large chunk the stream handed over), so callers
 * may change it in place or hand it downstream without copying.
 */

/** Size of each read buffer. */
export const READ_BUFFER_BYTES = 1024 * 1024;
/** A read returns once at least this many bytes arrived (or the stream ended). */
export const MIN_READ_BYTES = 256 * 1024;

export interface ByteSourceOptions {
  /** @default READ_BUFFER_BYTES */
  bufferBytes?: number;
  /** @default MIN_READ_BYTES (capped at bufferBytes) */
  minReadBytes?: number;
}

export interface ByteRead {
  /** `prefix` followed by the bytes read, in memory the caller owns. */
  data: Uint8Array;
  /** True when the stream has ended (data may still hold the last bytes). */
  eof: boolean;
}

export class ByteSource {
  readonly #bufferBytes: number;
  readonly #minRead: number;
  readonly #byob: ReadableStreamBYOBReader | undefined;
  readonly #default: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #pending: Uint8Array | undefined; // leftover of a default-reader chunk larger than the buffer
  #ended = false;

  constructor(stream: ReadableStream<Uint8Array>, opts: ByteSourceOptions = {}) {
    this.#bufferBytes = opts.bufferBytes ?? READ_BUFFER_BYTES;
    this.#minRead = Math.min(opts.minReadBytes ?? MIN_READ_BYTES, this.#bufferBytes);
    let byob: ReadableStreamBYOBReader | undefined;
    try {
      byob = stream.getReader({ mode: 'byob' });
    } catch {
      byob = undefined; // not a byte stream
    }
    this.#byob = byob;
    this.#default = byob ? undefined : stream.getReader();
  }

  /** Reads the next large piece, with `prefix` (unconsumed bytes of the previous read) copied in front. */
  async read(prefix?: Uint8Array): Promise<ByteRead> {
    const pre = prefix?.byteLength ?? 0;
    if (this.#ended && !this.#pending) return { data: prefix ? prefix.slice() : new Uint8Array(0), eof: true };
    if (this.#default && !pre && !this.#pending) {
      // A default stream that already yields large pieces (a validator's or decoder's output) needs no copy.
      const { value, done } = await this.#default.read();
      if (done) {
        this.#ended = true;
        return { data: new Uint8Array(0), eof: true };
      }
      if (value.byteLength >= this.#minRead) return { data: value, eof: false };
      this.#pending = value;
    }
    const size = Math.max(this.#bufferBytes, pre + this.#minRead);
    const buf = new Uint8Array(size);
    if (prefix && pre) buf.set(prefix);
    if (this.#byob) {
      const { value, done } = await this.#byob.readAtLeast(Math.min(this.#minRead, size - pre), buf.subarray(pre));
      if (done) this.#ended = true;
      if (!value) return { data: new Uint8Array(0), eof: true }; // cancelled under us: the caller is failing anyway
      // The read transferred `buf`'s memory into value.buffer; the prefix is still at its start.
      return { data: new Uint8Array(value.buffer, 0, pre + value.byteLength), eof: this.#ended };
    }
    let filled = pre;
    while (filled - pre < this.#minRead && filled < size) {
      let chunk = this.#pending;
      this.#pending = undefined;
      if (!chunk) {
        const { value, done } = await this.#default!.read();
        if (done) {
          this.#ended = true;
          break;
        }
        chunk = value;
      }
      const room = size - filled;
      if (chunk.byteLength > room) {
        this.#pending = chunk.subarray(room);
        chunk = chunk.subarray(0, room);
      }
      buf.set(chunk, filled);
      filled += chunk.byteLength;
    }
    return { data: buf.subarray(0, filled), eof: this.#ended && !this.#pending };
  }

  /** Cancels the underlying stream (ignoring errors: the caller is already failing or finished). */
  async cancel(reason?: unknown): Promise<void> {
    this.#ended = true;
    await (this.#byob ?? this.#default)!.cancel(reason).catch(() => {});
  }
}

/** One pull of a checked stream: enqueue what passed the checks, or `end` the stream with its result. */
export type CheckedStep<T> = (controller: ReadableStreamDefaultController<Uint8Array>, end: (result: T) => void) => Promise<void>;

/**
 * A stream of what `step` lets through from `src`, and the promise of its result. `end(result)` closes the stream
 * and resolves the result; a step that throws errors the stream, rejects the result and cancels the source, so a
 * consumer that commits on a clean end (an upload to the origin) never commits bytes a check refused. Cancelling
 * the stream rejects the result with its reason (`cancelReason()` without one). A default (not byte) stream: workerd
 * serves default reads of JS byte streams through 4 KiB buffers, which would split every piece.
 */
export function checkedStream<T>(
  src: ByteSource,
  step: CheckedStep<T>,
  o: { cancelReason: () => unknown; highWaterMark?: number },
): { stream: ReadableStream<Uint8Array>; result: Promise<T>; failure: () => unknown } {
  let finished = false;
  let failure: unknown;
  let settle!: { resolve: (r: T) => void; reject: (e: unknown) => void };
  const result = new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
  result.catch(() => {}); // observed by the caller; never an unhandled rejection
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (finished) return;
        try {
          await step(controller, (value) => {
            finished = true;
            controller.close();
            settle.resolve(value);
          });
        } catch (err) {
          finished = true;
          failure = err;
          settle.reject(err);
          controller.error(err);
          await src.cancel(err);
        }
      },
      async cancel(reason) {
        finished = true;
        settle.reject(reason ?? o.cancelReason());
        await src.cancel(reason);
      },
    },
    o.highWaterMark === undefined ? undefined : { highWaterMark: o.highWaterMark },
  );
  return { stream, result, failure: () => failure };
}
