import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { signHeaders, type MessageSigner } from '../auth/signed-message.ts';
import { FragmentReadError, httpGetInto } from './fragment-reader.ts';

/** Fragment bytes handed to the socket at a time (see `put`). */
const SEND_SLICE_BYTES = 1024 * 1024;

/**
 * The gateway side of the CESS storage-node fragment protocol (what CESS miners speak since 2024-09):
 * `PUT {endpoint}/fragment` with multipart field `file` and `GET {endpoint}/fragment`, headers `Fid`, `Fragment`
 * and the gateway's signature (`Account`, `Message` = expiry in unix seconds, `Signature`).
 */
export class FragmentTransferError extends Error {
  override name = 'FragmentTransferError';
  /** HTTP status, when the node answered. */
  readonly status?: number;
  constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
  /** A refusal that will not change on retry to the same node (bad hash, not declared, not a gateway). */
  get permanent(): boolean {
    return this.status === 400 || this.status === 403;
  }
}

export interface FragmentRef {
  fid: string;
  hash: string;
}

export interface FragmentClientOptions {
  signer: MessageSigner;
  /** Per-request time limit in ms. @default 60000 */
  timeoutMs?: number;
}

export class FragmentClient {
  readonly #signer: MessageSigner;
  readonly #timeoutMs: number;

  constructor(options: FragmentClientOptions) {
    this.#signer = options.signer;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** Sends one fragment. `bytes` is read, never kept. */
  async put(endpoint: string, ref: FragmentRef, bytes: Uint8Array, signal?: AbortSignal): Promise<void> {
    const boundary = `deoss${randomBytes(12).toString('hex')}`;
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${ref.hash}"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    // A stream over the pieces: the fragment itself is not copied into a request buffer. It goes in slices, with
    // the event loop free between them: handed over whole, its copy into the socket held the loop for 10–17 ms.
    const pieces: Uint8Array[] = [head];
    for (let at = 0; at < bytes.length; at += SEND_SLICE_BYTES) pieces.push(bytes.subarray(at, at + SEND_SLICE_BYTES));
    pieces.push(tail);
    let handed = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (handed++ > 0) await new Promise(setImmediate);
        const next = pieces.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const res = await this.#fetch(endpoint, 'PUT', ref, signal, {
      body,
      duplex: 'half',
      headers: {
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': String(head.length + bytes.length + tail.length),
      },
    });
    const text = await res.text();
    let code: unknown;
    try {
      code = JSON.parse(text).code;
    } catch {
      /* not JSON */
    }
    if (res.status !== 200 || code !== 200) {
      throw new FragmentTransferError(`${endpoint} refused fragment ${ref.hash.slice(0, 12)}: ${res.status} ${text.slice(0, 200)}`, res.status);
    }
  }

  /**
   * Fetches a fragment (or the inclusive byte range of it) as a stream of chunks. Uses node:http directly: undici's
   * web-stream bodies cost several times the CPU for 8 MiB responses, and reads fan out to 4 nodes at once.
   */
  get(endpoint: string, ref: FragmentRef, options: { range?: { start: number; end: number }; signal?: AbortSignal } = {}): Promise<AsyncIterable<Uint8Array>> {
    const url = fragmentUrl(endpoint);
    const headers = this.#headers(ref, options.range);
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, { method: 'GET', headers, signal }, async (res) => {
        if (res.statusCode === 200 || res.statusCode === 206) return resolve(res);
        let text = '';
        for await (const c of res) text += c;
        reject(new FragmentTransferError(`${endpoint} could not serve fragment ${ref.hash.slice(0, 12)}: ${res.statusCode} ${text.slice(0, 200)}`, res.statusCode));
      });
      req.on('error', (err) => {
        if (options.signal?.aborted) reject(options.signal.reason);
        else reject(new FragmentTransferError(`${url}: ${err.message}`, undefined, { cause: err }));
      });
      req.end();
    });
  }

  /**
   * Fetches a fragment (or the inclusive byte range of it) into `into`; resolves with the number of bytes.
   * `onBytes` sees each piece of `into` as it fills. Plain-http endpoints are read straight into `into`
   * (fragment-reader.ts); https ones through node:https.
   */
  async getInto(
    endpoint: string,
    ref: FragmentRef,
    into: Uint8Array,
    options: { range?: { start: number; end: number }; signal?: AbortSignal; onBytes?: (bytes: Uint8Array) => void } = {},
  ): Promise<number> {
    const url = fragmentUrl(endpoint);
    if (url.protocol === 'http:') {
      const timeout = AbortSignal.timeout(this.#timeoutMs);
      try {
        return await httpGetInto(url, into, {
          headers: this.#headers(ref, options.range),
          signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
          onBytes: options.onBytes,
        });
      } catch (err) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (err instanceof FragmentReadError) throw new FragmentTransferError(`could not read fragment ${ref.hash.slice(0, 12)}: ${err.message}`, err.status);
        throw new FragmentTransferError(`${url}: ${(err as Error).message}`, undefined, { cause: err });
      }
    }
    let at = 0;
    for await (const chunk of await this.get(endpoint, ref, options)) {
      options.signal?.throwIfAborted();
      if (at + chunk.length > into.length) throw new FragmentTransferError(`${endpoint} sent more than ${into.length} bytes`);
      into.set(chunk, at);
      options.onBytes?.(into.subarray(at, at + chunk.length));
      at += chunk.length;
    }
    return at;
  }

  #headers(ref: FragmentRef, range?: { start: number; end: number }): Record<string, string> {
    const headers: Record<string, string> = { Fid: ref.fid, Fragment: ref.hash, ...signHeaders(this.#signer) };
    if (range) headers.Range = `bytes=${range.start}-${range.end}`;
    return headers;
  }

  async #fetch(endpoint: string, method: string, ref: FragmentRef, signal: AbortSignal | undefined, init: RequestInit & { duplex?: 'half' }) {
    const url = fragmentUrl(endpoint);
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    try {
      return await fetch(url, {
        ...init,
        method,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        headers: { ...(init.headers as Record<string, string>), Fid: ref.fid, Fragment: ref.hash, ...signHeaders(this.#signer) },
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw new FragmentTransferError(`${url}: ${(err as Error).message}`, undefined, { cause: err });
    }
  }
}

/** `{endpoint}/fragment`; endpoints on chain may lack the scheme (plain http then). */
function fragmentUrl(endpoint: string): URL {
  return new URL(`${endpoint.includes('://') ? endpoint : `http://${endpoint}`}`.replace(/\/+$/, '') + '/fragment');
}
