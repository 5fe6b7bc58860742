import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestFramer, startContinueFront } from './continue-front.ts';

const execFileAsync = promisify(execFile);

/** Feeds `bytes` one byte at a time and whole; returns how often each way asked for 100 Continue. */
function count(bytes: string): number[] {
  const counts: number[] = [];
  for (const split of [1, bytes.length]) {
    let n = 0;
    const framer = new RequestFramer(() => n++);
    const buffer = Buffer.from(bytes, 'latin1');
    for (let at = 0; at < buffer.length; at += split) framer.push(buffer.subarray(at, at + split));
    counts.push(n);
  }
  return counts;
}

describe('RequestFramer', () => {
  const expecting = (body: string) => `PUT /b/k HTTP/1.1\r\nHost: x\r\nexpect: 100-Continue\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

  it('answers each request head that asks, however the bytes are split', () => {
    expect(count(expecting('hello'))).toEqual([1, 1]);
    expect(count(expecting('a') + expecting('bc') + 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')).toEqual([2, 2]);
  });

  it('skips bodies: a body that looks like a request head is not one', () => {
    const inner = 'PUT /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n';
    expect(count(`PUT /a HTTP/1.1\r\nContent-Length: ${inner.length}\r\n\r\n${inner}` + expecting('z'))).toEqual([1, 1]);
    const chunked = `PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${inner.length.toString(16)};ext=1\r\n${inner}\r\n0\r\nx-amz-checksum-crc32: AAAAAA==\r\n\r\n`;
    expect(count(chunked + expecting('z'))).toEqual([1, 1]);
    expect(count(`PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n` + expecting('z'))).toEqual([1, 1]);
  });

  it('leaves HTTP/1.0, upgrades and unframeable requests alone', () => {
    expect(count('PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n')).toEqual([0, 0]);
    const upgrade = new RequestFramer(() => {});
    upgrade.push(Buffer.from('GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
    expect(upgrade.opaque).toBe(true);
    const bad = new RequestFramer(() => {});
    bad.push(Buffer.from('PUT / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n'));
    expect(bad.opaque).toBe(true);
  });
});

const download = randomBytes(24 * 1024 * 1024 + 5);

describe('startContinueFront', () => {
  let upstream: Server;
  let received: { method: string; sha: string; expect?: string }[] = [];
  let front: Awaited<ReturnType<typeof startContinueFront>>;
  let dir: string;

  beforeAll(async () => {
    // A server that, like workerd, never sends 100 Continue itself (no checkContinue answer until the body is read).
    upstream = createServer((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'Content-Length': String(download.length) });
        // Many writes of varied sizes, so reads at the front land at every kind of boundary.
        for (let at = 0, step = 1; at < download.length; at += step, step = (step * 7 + 13) % 300_000) res.write(download.subarray(at, at + step));
        return res.end();
      }
      const sha = createHash('sha256');
      req.on('data', (c) => sha.update(c));
      req.on('end', () => {
        received.push({ method: req.method!, sha: sha.digest('hex'), expect: req.headers.expect });
        res.end('ok');
      });
    });
    upstream.on('checkContinue', (req, res) => upstream.emit('request', req, res));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    front = await startContinueFront({ host: '127.0.0.1', port: 0, target: { host: '127.0.0.1', port: (upstream.address() as AddressInfo).port } });
    dir = await mkdtemp(join(tmpdir(), 'continue-front-'));
  });
  afterAll(async () => {
    await front.close();
    await new Promise((r) => upstream.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('lets a client that expects 100-continue send at once, and passes every byte through', async () => {
    const body = randomBytes(3 * 1024 * 1024);
    const path = join(dir, 'body');
    await writeFile(path, body);
    received = [];
    const started = Date.now();
    // Two uploads on one connection (--next keeps it), each asking for 100 Continue with a 5 s timeout.
    const { stdout } = await execFileAsync('curl', [
      '-sS', '--expect100-timeout', '5', '-H', 'Expect: 100-continue', '-T', path, '-w', ' %{http_code}\n', `${front.url}/one`,
      '--next', '-sS', '--expect100-timeout', '5', '-H', 'Expect: 100-continue', '-T', path, '-w', ' %{http_code}\n', `${front.url}/two`,
    ]);
    expect(stdout).toBe('ok 200\nok 200\n');
    expect(Date.now() - started).toBeLessThan(4000);
    const sha = createHash('sha256').update(body).digest('hex');
    expect(received).toEqual([
      { method: 'PUT', sha, expect: '100-continue' },
      { method: 'PUT', sha, expect: '100-continue' },
    ]);
  });

  it('passes large answers through byte for byte', async () => {
    const path = join(dir, 'download');
    await execFileAsync('curl', ['-sS', '-o', path, `${front.url}/big`, '--next', '-sS', '-o', `${path}2`, `${front.url}/big`]);
    const expected = createHash('sha256').update(download).digest('hex');
    for (const p of [path, `${path}2`]) expect(createHash('sha256').update(await readFile(p)).digest('hex')).toBe(expected);
  });
});

describe('startContinueFront with a fallback', () => {
  const servers: Server[] = [];
  /** A server that answers every request with its name and the SHA-256 of the body it received. */
  async function named(name: string): Promise<number> {
    const server = createServer((req, res) => {
      const sha = createHash('sha256');
      req.on('data', (c) => sha.update(c));
      req.on('end', () => res.end(`${name} ${sha.digest('hex')}`));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  }
  /** A port that refuses connections: one the kernel gave out and that nothing listens on any more. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    return port;
  }
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
  });

  it('sends a connection the target refuses to the fallback, its first bytes whole; retarget moves later ones', async () => {
    const [proxy, worker, gone] = [await named('proxy'), await named('worker'), await closedPort()];
    const front = await startContinueFront({ host: '127.0.0.1', port: 0, target: { host: '127.0.0.1', port: gone }, fallback: { host: '127.0.0.1', port: proxy } });
    const dir = await mkdtemp(join(tmpdir(), 'continue-front-'));
    try {
      const body = randomBytes(300 * 1024);
      const path = join(dir, 'body');
      await writeFile(path, body);
      const sha = createHash('sha256').update(body).digest('hex');
      const put = async () => (await execFileAsync('curl', ['-sS', '-H', 'Expect:', '-T', path, `${front.url}/k`])).stdout;
      expect(await put()).toBe(`proxy ${sha}`);
      front.retarget({ host: '127.0.0.1', port: worker });
      expect(await put()).toBe(`worker ${sha}`);
    } finally {
      await front.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('closes the client connection when the target refuses and there is no fallback', async () => {
    const front = await startContinueFront({ host: '127.0.0.1', port: 0, target: { host: '127.0.0.1', port: await closedPort() } });
    try {
      await expect(execFileAsync('curl', ['-sS', `${front.url}/k`])).rejects.toThrow(/Empty reply|reset|closed/i);
    } finally {
      await front.close();
    }
  });
});
