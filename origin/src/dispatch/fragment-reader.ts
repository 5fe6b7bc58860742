import { connect, type Socket } from 'node:net';

/** Most header bytes a storage node's answer may have. */
const MAX_HEAD_BYTES = 16 * 1024;
/** Most bytes of an error answer kept for its message. */
const MAX_ERROR_BODY = 4 * 1024;

export class FragmentReadError extends Error {
  override name = 'FragmentReadError';
  /** HTTP status, when the node answered. */
  readonly status?: number;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

export interface FragmentReadOptions {
  /** Request headers besides Host and Connection. */
  headers: Record<string, string>;
  signal?: AbortSignal;
  /** Called with each piece of `into` as it fills (e.g. to hash while receiving). */
  onBytes?: (bytes: Uint8Array) => void;
}

/**
 * `GET` over plain HTTP/1.1 (one connection per request) whose body lands straight in `into`: the socket reads
 * into the caller's buffer (net's `onread`), so receiving a fragment allocates nothing per read and copies nothing
 * in JavaScript. A download reads 4 fragments per 32 MiB segment; with node:http every 64 KiB read was a fresh
 * buffer, and the garbage collection they caused cost more than hashing the bytes.
 *
 * The answer must be 200 or 206 with a `Content-Length` of at most `into.length` (what CESS storage nodes send);
 * anything else is a FragmentReadError. Resolves with the body's length.
 */
export function httpGetInto(url: URL, into: Uint8Array, options: FragmentReadOptions): Promise<number> {
  if (url.protocol !== 'http:') return Promise.reject(new Error(`httpGetInto speaks plain http, not ${url.protocol}`));
  const head = new Uint8Array(MAX_HEAD_BYTES);
  let headLength = 0;
  let status = 0;
  let expected = -1;
  let received = 0;
  let errorText = '';
  // Reads beyond what the node promised land here and fail the request.
  const overflow = new Uint8Array(1024);

  return new Promise<number>((resolve, reject) => {
    let socket: Socket | undefined;
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      socket?.destroy();
      if (err) reject(err);
      else resolve(received);
    };
    const onAbort = () => done(options.signal!.reason as Error);
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const readingBody = () => status === 200 || status === 206;
    socket = connect({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 80),
      onread: {
        buffer: () => {
          if (!status) return head.subarray(headLength);
          if (readingBody() && received < expected) return into.subarray(received, expected);
          return overflow;
        },
        callback: (n, buffer) => {
          if (settled) return false;
          if (!status) {
            headLength += n;
            return onHead();
          }
          if (!readingBody()) {
            if (errorText.length < MAX_ERROR_BODY) errorText += Buffer.from(buffer.subarray(0, n)).toString('utf8');
            return true;
          }
          if (buffer === overflow) {
            done(new FragmentReadError(`${url.host} sent more than the ${expected} bytes it announced`));
            return false;
          }
          options.onBytes?.(into.subarray(received, received + n));
          received += n;
          if (received === expected) done();
          return true;
        },
      },
    });
    socket.setNoDelay(true);
    socket.on('connect', () => {
      const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close'];
      for (const [name, value] of Object.entries(options.headers)) lines.push(`${name}: ${value}`);
      socket!.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    socket.on('end', () => {
      if (readingBody()) done(new FragmentReadError(`${url.host} closed the connection after ${received} of ${expected} bytes`));
      else if (status) done(new FragmentReadError(`${url.host} answered ${status}: ${errorText.slice(0, 200)}`, status));
      else done(new FragmentReadError(`${url.host} closed the connection without an answer`));
    });
    socket.on('error', (err) => done(new FragmentReadError(`${url.host}: ${err.message}`)));

    /** Parses the status line and headers once they are complete; body bytes read with them move into `into`. */
    function onHead(): boolean {
      const text = Buffer.from(head.buffer, head.byteOffset, headLength).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) {
        if (headLength === head.length) done(new FragmentReadError(`${url.host} sent more than ${MAX_HEAD_BYTES} bytes of headers`));
        return true;
      }
      const [statusLine, ...fields] = text.slice(0, end).split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
      if (!m) {
        done(new FragmentReadError(`${url.host} did not answer in HTTP/1.1`));
        return false;
      }
      status = Number(m[1]);
      const header = (name: string) =>
        fields.find((f) => f.slice(0, f.indexOf(':')).trim().toLowerCase() === name)?.slice(name.length + 1).trim();
      const rest = head.subarray(end + 4, headLength);
      if (!readingBody()) {
        errorText = Buffer.from(rest).toString('utf8');
        return true;
      }
      const length = header('content-length');
      if (header('transfer-encoding') || !length || !/^\d+$/.test(length)) {
        done(new FragmentReadError(`${url.host} answered without a Content-Length (chunked bodies are not read)`, status));
        return false;
      }
      expected = Number(length);
      if (expected > into.length) {
        done(new FragmentReadError(`${url.host} announced ${expected} bytes, more than the ${into.length} expected`, status));
        return false;
      }
      if (rest.length > expected) {
        done(new FragmentReadError(`${url.host} sent more than the ${expected} bytes it announced`));
        return false;
      }
      into.set(rest, 0);
      if (rest.length) options.onBytes?.(into.subarray(0, rest.length));
      received = rest.length;
      if (received === expected) done();
      return true;
    }
  });
}
