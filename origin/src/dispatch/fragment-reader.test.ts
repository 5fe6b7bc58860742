import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FragmentReadError, httpGetInto } from './fragment-reader.ts';

const servers: (HttpServer | TcpServer)[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen<S extends HttpServer | TcpServer>(server: S): Promise<URL> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/fragment`);
}

/** A TCP server that answers every connection with `reply` (raw bytes), then does `after`. */
function raw(reply: (socket: Socket) => void): Promise<URL> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', () => reply(socket));
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    sockets.forEach((s) => s.destroy());
    return close(cb);
  }) as typeof server.close;
  return listen(server);
}

describe('httpGetInto', () => {
  it('reads the body into the buffer, hands every piece to onBytes in order, and sends the headers', async () => {
    const body = randomBytes(3 * 1024 * 1024 + 17);
    let seen: Record<string, string | string[] | undefined> = {};
    const url = await listen(
      createHttpServer((req, res) => {
        seen = req.headers;
        res.writeHead(200, { 'Content-Length': String(body.length) });
        res.end(body);
      }),
    );
    const into = new Uint8Array(4 * 1024 * 1024);
    const sha = createHash('sha256');
    const n = await httpGetInto(url, into, { headers: { Fid: 'abc', Fragment: 'def' }, onBytes: (b) => sha.update(b) });
    expect(n).toBe(body.length);
    expect(Buffer.from(into.subarray(0, n)).equals(body)).toBe(true);
    expect(sha.digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    expect(seen.fid).toBe('abc');
    expect(seen.fragment).toBe('def');
  });

  it('turns an error answer into a FragmentReadError with its status and text', async () => {
    const url = await listen(
      createHttpServer((_req, res) => {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end('{"code":404,"msg":"fragment not held by this node"}');
      }),
    );
    const err = await httpGetInto(url, new Uint8Array(16), { headers: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FragmentReadError);
    expect((err as FragmentReadError).status).toBe(404);
    expect((err as Error).message).toMatch(/not held by this node/);
  });

  it('refuses a chunked body and one larger than the buffer', async () => {
    const chunked = await listen(
      createHttpServer((_req, res) => {
        res.write('abc');
        res.end('def');
      }),
    );
    await expect(httpGetInto(chunked, new Uint8Array(16), { headers: {} })).rejects.toThrow(/without a Content-Length/);
    const big = await listen(
      createHttpServer((_req, res) => {
        res.writeHead(200, { 'Content-Length': '32' });
        res.end(Buffer.alloc(32));
      }),
    );
    await expect(httpGetInto(big, new Uint8Array(16), { headers: {} })).rejects.toThrow(/announced 32 bytes, more than the 16/);
  });

  it('fails when the node closes early or sends more than it announced', async () => {
    const short = await raw((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n' + 'x'.repeat(50)));
    await expect(httpGetInto(short, new Uint8Array(100), { headers: {} })).rejects.toThrow(/after 50 of 100 bytes/);
    const long = await raw((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n' + 'x'.repeat(20)));
    await expect(httpGetInto(long, new Uint8Array(100), { headers: {} })).rejects.toThrow(/more than the 10 bytes/);
    const garbage = await raw((s) => s.end('SSH-2.0-OpenSSH\r\n\r\n'));
    await expect(httpGetInto(garbage, new Uint8Array(100), { headers: {} })).rejects.toThrow(/did not answer in HTTP/);
  });

  it('gives up on a silent node when the signal aborts', async () => {
    const silent = await raw(() => {});
    const started = Date.now();
    await expect(httpGetInto(silent, new Uint8Array(100), { headers: {}, signal: AbortSignal.timeout(200) })).rejects.toThrow(/timeout/i);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reports a refused connection', async () => {
    const url = await listen(createTcpServer());
    const closed = new URL(url);
    await new Promise((r) => servers.pop()!.close(r));
    await expect(httpGetInto(closed, new Uint8Array(100), { headers: {} })).rejects.toThrow(/ECONNREFUSED/);
  });
});
