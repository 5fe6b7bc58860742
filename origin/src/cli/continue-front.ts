import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** Longest request head the front parses; a longer one turns the connection into a plain byte pipe. */
export const MAX_REQUEST_HEAD_BYTES = 64 * 1024;

/** Bytes of an answer moved per read. */
const ANSWER_BUFFER_BYTES = 256 * 1024;

const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n');

interface Address {
  host: string;
  port: number;
}

/**
 * A TCP front for the local edge that answers `Expect: 100-continue`. workerd (and so `wrangler dev`) never sends
 * `100 Continue`, so clients that ask for it wait their whole timeout before sending a body: 1 s per PUT for the AWS
 * CLI and curl, several for the JavaScript SDK. Cloudflare's network answers it in production; locally this front
 * does. Bytes pass through unchanged in both directions; the front only follows the framing of requests
 * (Content-Length and chunked bodies) to find each request head, and answers `100 Continue` for the ones that ask.
 *
 * Each connection goes to `target` (the worker's own socket) or, when that refuses it, to `fallback` (wrangler's
 * proxy, which holds requests while the worker reloads); `retarget` moves new connections to the worker's new
 * socket after a reload. A client's first bytes wait for the connection, so they can go to the fallback whole.
 */
export async function startContinueFront(o: {
  host: string;
  port: number;
  target: Address;
  fallback?: Address;
}): Promise<{ url: string; retarget(to: Address): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let target = o.target;
  // Half-open both ways: a client may finish sending before the answer comes back.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    // Answers (downloads, mostly) are read into one buffer per connection and written out before the next read:
    // piping them would allocate a buffer per read, and the garbage collection that causes costs more than the copy.
    const answer = Buffer.allocUnsafe(ANSWER_BUFFER_BYTES);
    const framer = new RequestFramer(() => client.write(CONTINUE));
    // The client's bytes until the upstream connected (then undefined).
    let held: Buffer[] | undefined = [];
    let clientEnded = false;
    let upstream: Socket | undefined;
    const closeBoth = () => {
      client.destroy();
      upstream?.destroy();
      sockets.delete(client);
      if (upstream) sockets.delete(upstream);
    };
    const dial = (to: Address, next: Address | undefined) => {
      const socket = connect({
        port: to.port,
        host: to.host,
        allowHalfOpen: true,
        onread: {
          buffer: answer,
          callback: (n) => {
            client.write(answer.subarray(0, n), () => socket.resume());
            socket.pause();
            return false;
          },
        },
      });
      upstream = socket;
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.once('connect', () => {
        for (const chunk of held!) socket.write(chunk);
        held = undefined;
        if (clientEnded) socket.end();
        client.resume();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        sockets.delete(socket);
        if (held && next && err.code === 'ECONNREFUSED') dial(next, undefined);
        else closeBoth();
      });
      socket.on('drain', () => client.resume());
      socket.on('end', () => client.end());
      // The upstream is done once it closed: its 'end' has ended the client's side after its last bytes.
      socket.on('close', () => {
        sockets.delete(socket);
        if (held || client.writableEnded) return;
        closeBoth();
      });
    };
    sockets.add(client);
    client.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      if (held) {
        held.push(chunk);
        client.pause();
      } else if (!upstream!.write(chunk)) client.pause();
    });
    client.on('end', () => {
      clientEnded = true;
      if (!held) upstream!.end();
    });
    client.on('error', closeBoth).on('close', closeBoth);
    client.setNoDelay(true);
    dial(target, o.fallback);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    url: `http://${o.host}:${(server.address() as AddressInfo).port}`,
    retarget: (to) => (target = to),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

type State = 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'opaque';

/**
 * Follows HTTP/1.1 request framing over a connection's bytes and calls `onExpectContinue` for each request head
 * that carries `Expect: 100-continue`. It reads bytes and never changes them; anything it cannot follow (an
 * upgrade, CONNECT, a head over MAX_REQUEST_HEAD_BYTES, bad framing) makes the rest of the connection opaque.
 */
export class RequestFramer {
  #state: State = 'head';
  /** Bytes of the current head, chunk-size line or trailer section, collected until it ends. */
  #line = Buffer.alloc(0);
  #remaining = 0;
  readonly #onExpectContinue: () => void;

  constructor(onExpectContinue: () => void) {
    this.#onExpectContinue = onExpectContinue;
  }

  get opaque(): boolean {
    return this.#state === 'opaque';
  }

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && this.#state !== 'opaque') {
      switch (this.#state) {
        case 'body':
        case 'chunk-data': {
          const n = Math.min(this.#remaining, chunk.length - at);
          at += n;
          this.#remaining -= n;
          if (this.#remaining === 0) {
            if (this.#state === 'chunk-data') {
              this.#state = 'chunk-end';
              this.#remaining = 2;
            } else this.#state = 'head';
          }
          break;
        }
        case 'chunk-end': {
          const n = Math.min(this.#remaining, chunk.length - at);
          at += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = 'chunk-size';
          break;
        }
        default:
          at = this.#collect(chunk, at);
      }
    }
  }

  /** Collects a head, a chunk-size line or trailers up to its terminator; returns where the next byte starts. */
  #collect(chunk: Buffer, at: number): number {
    const terminator = this.#state === 'chunk-size' ? '\r\n' : '\r\n\r\n';
    const before = this.#line.length;
    this.#line = Buffer.concat([this.#line, chunk.subarray(at)]);
    // The trailer section of a chunked body with no trailers is just the blank line.
    if (this.#state === 'trailers' && this.#line.subarray(0, 2).toString('latin1') === '\r\n') return this.#finish(at, before, 2);
    const end = this.#line.indexOf(terminator, Math.max(0, before - terminator.length + 1), 'latin1');
    if (end < 0) {
      if (this.#line.length > MAX_REQUEST_HEAD_BYTES) this.#state = 'opaque';
      return chunk.length;
    }
    return this.#finish(at, before, end + terminator.length);
  }

  /** The collected item ends `length` bytes into #line: act on it, keep the rest of the chunk for the next state. */
  #finish(at: number, before: number, length: number): number {
    const text = this.#line.subarray(0, length).toString('latin1');
    this.#line = Buffer.alloc(0);
    const next = at + (length - before);
    switch (this.#state) {
      case 'head':
        this.#onHead(text);
        break;
      case 'chunk-size': {
        const size = /^([0-9a-fA-F]+)[ \t]*(?:;[^\r\n]*)?\r\n$/.exec(text);
        if (!size) this.#state = 'opaque';
        else if (Number.parseInt(size[1], 16) === 0) this.#state = 'trailers';
        else {
          this.#state = 'chunk-data';
          this.#remaining = Number.parseInt(size[1], 16);
        }
        break;
      }
      case 'trailers':
        this.#state = 'head';
        break;
    }
    return next;
  }

  #onHead(text: string): void {
    // Blank lines between requests are allowed (RFC 9112 §2.2).
    const head = text.replace(/^(\r\n)+/, '');
    if (head === '') return;
    const [requestLine, ...lines] = head.slice(0, -4).split('\r\n');
    const fields = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      fields.set(name, fields.has(name) ? `${fields.get(name)}, ${value}` : value);
    }
    const method = requestLine.split(' ')[0];
    if (method === 'CONNECT' || fields.has('upgrade')) {
      this.#state = 'opaque';
      return;
    }
    if (/^100-continue$/i.test(fields.get('expect') ?? '') && requestLine.endsWith('HTTP/1.1')) this.#onExpectContinue();
    const encoding = fields.get('transfer-encoding');
    const length = fields.get('content-length');
    if (encoding) {
      this.#state = /(^|,)\s*chunked\s*$/i.test(encoding) ? 'chunk-size' : 'opaque';
    } else if (length !== undefined) {
      if (!/^\d+$/.test(length)) this.#state = 'opaque';
      else if (Number(length) > 0) {
        this.#state = 'body';
        this.#remaining = Number(length);
      }
    }
  }
}

/**
 * Run as its own process (`node continue-front.ts --port P --target-port T [--fallback-port F]`): a process with a
 * small heap, because the buffers of every upload's socket reads drive garbage collections whose cost grows with the
 * heap they mark. Prints one JSON line when listening; reads `{"targetPort":N}` lines on stdin (the worker moved).
 */
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string' }, 'target-port': { type: 'string' }, 'fallback-port': { type: 'string' } } });
  const host = values.host!;
  const fallback = values['fallback-port'] ? { host, port: Number(values['fallback-port']) } : undefined;
  const front = await startContinueFront({ host, port: Number(values.port), target: { host, port: Number(values['target-port']) }, fallback });
  process.stdout.write(`${JSON.stringify({ ready: true, url: front.url })}\n`);
  createInterface({ input: process.stdin }).on('line', (line) => {
    const port = (JSON.parse(line) as { targetPort?: unknown }).targetPort;
    if (!Number.isInteger(port)) throw new Error(`continue-front: not a target on stdin: ${line}`);
    front.retarget({ host, port: port as number });
  });
  const stop = () => void front.close().then(() => process.exit(0));
  process.once('SIGTERM', stop).once('SIGINT', stop);
}
