import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_KEEP_ALIVE_MS, keepIdleConnections } from './keep-alive.ts';

let server: ServerType | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** The Keep-Alive header a client sees on a keep-alive request. */
async function advertised(): Promise<string | undefined> {
  const { port } = server!.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    get({ port, host: '127.0.0.1', path: '/', headers: { Connection: 'keep-alive' } }, (res) => {
      res.resume();
      resolve(res.headers['keep-alive'] as string | undefined);
    }).on('error', reject);
  });
}

describe('keepIdleConnections', () => {
  it("tells clients the server keeps idle connections 65 s, not Node's 5", async () => {
    const app = new Hono().get('/', (c) => c.text('ok'));
    server = await new Promise<ServerType>((r) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => r(s));
    });
    expect(await advertised()).toBe('timeout=5');
    keepIdleConnections(server, DEFAULT_KEEP_ALIVE_MS);
    expect(await advertised()).toBe('timeout=65');
  });
});
