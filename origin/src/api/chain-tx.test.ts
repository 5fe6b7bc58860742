import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountFromSuri, type Account } from '../chain/accounts.ts';
import { openLocalChain, type LocalChain } from '../chain/local/index.ts';
import { CHAIN } from '../chain/port.ts';
import { chainTxRoutes, CHAIN_TX_MAX_BODY_BYTES } from './chain-tx.ts';
import type { OriginEnv, OriginServices } from './context.ts';
import { toResponse } from './errors.ts';
import { RateLimiter } from './rate-limit.ts';

let dir: string;
let gateway: LocalChain;
let app: Hono<OriginEnv>;
let user: Account;
const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Body = { code: number; msg: string; data: any };
const read = async (r: Response | Promise<Response>) => (await (await r).json()) as Body;
const post = (path: string, body: unknown) => app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deoss-chain-tx-'));
  const path = join(dir, 'ledger.sqlite');
  gateway = await openLocalChain({ path, signer: await accountFromSuri('//ChainTxGateway') });
  await gateway.registerGateway({ endpoint: 'http://127.0.0.1:8080', domain: '' });
  user = await accountFromSuri('//ChainTxUser');
  await gateway.fund(user.address, 10_000n * CHAIN.unit);
  app = new Hono<OriginEnv>();
  app.onError((err, c) => toResponse(err, c));
  // The chain routes use only the chain, the gateway account and the per-IP limiter.
  chainTxRoutes(app, { chain: gateway, gateway: gateway.account, ipLimiter: new RateLimiter({ perMinute: 1000, burst: 1000 }) } as unknown as OriginServices);
});
afterAll(async () => {
  await gateway.close();
  await rm(dir, { recursive: true, force: true });
});

describe('origin chain transaction routes (local chain)', () => {
  it('lets a user authorize the gateway by signing a message, the gateway paying', async () => {
    const info = await app.request(`/chain/proxy-authorization?account=${user.address}`);
    expect(info.status).toBe(200);
    const { data } = await read(info);
    expect(data).toMatchObject({ account: user.address, operator: gateway.account, authorized: false, validUntil: data.exp + CHAIN.proxyPayloadExpiryBlocks - 1 });
    const message = Buffer.from(data.message.slice(2), 'hex');
    const forged = await accountFromSuri('//SomeoneElse');
    const bad = await post('/chain/proxy-authorization', { account: user.address, exp: data.exp, signature: hex(forged.sign(message)) });
    expect(bad.status).toBe(403);
    expect(await gateway.isAuthorized(user.address, gateway.account)).toBe(false);
    const good = await post('/chain/proxy-authorization', { account: user.address, exp: data.exp, signature: hex(user.sign(message)) });
    expect(good.status).toBe(200);
    expect((await read(good)).data).toMatchObject({ authorized: true, fee: '0' });
    expect(await gateway.isAuthorized(user.address, gateway.account)).toBe(true);
    // Again: nothing to submit.
    const again = await post('/chain/proxy-authorization', { account: user.address, exp: data.exp, signature: hex(user.sign(message)) });
    expect((await read(again)).data).toMatchObject({ authorized: true, block: null });
  });

  it('builds a territory purchase for the user to sign and submits it signed', async () => {
    const built = await post('/chain/territory/tx', { account: user.address, kind: 'mint', name: 'site', gib: 1, days: 30 });
    expect(built.status).toBe(200);
    const tx = (await read(built)).data;
    expect(tx).toMatchObject({ signer: user.address, call: { kind: 'mint', name: 'site', gib: 1, days: 30 }, price: (30n * CHAIN.unitPrice).toString() });
    const signature = hex(user.sign(Buffer.from(tx.signingPayload.slice(2), 'hex')));
    const sent = await post('/chain/tx', { signer: user.address, payload: tx.payload, signature });
    expect(sent.status).toBe(200);
    expect((await read(sent)).data.events).toContainEqual(expect.objectContaining({ type: 'MintTerritory', owner: user.address, name: 'site', space: String(1024 ** 3) }));
    const t = await app.request(`/chain/territory/${user.address}/site`);
    expect((await read(t)).data).toMatchObject({ owner: user.address, name: 'site', totalSpace: String(1024 ** 3), state: 'Active' });
    // Replayed: the chain refuses it, as a 400 with its error id.
    const replay = await post('/chain/tx', { signer: user.address, payload: tx.payload, signature });
    expect(replay.status).toBe(400);
    expect((await read(replay)).msg).toMatch(/chain refused: system\.Stale/);
  });

  it('answers bad input with a clear 4xx', async () => {
    const cases: [Response | Promise<Response>, number, RegExp][] = [
      [app.request('/chain/proxy-authorization'), 400, /account is required/],
      [app.request('/chain/proxy-authorization?account=nope'), 400, /invalid CESS account/],
      [post('/chain/territory/tx', 'not json'), 400, /must be JSON/],
      [post('/chain/territory/tx', { account: user.address, kind: 'buy', name: 'x' }), 400, /kind must be mint, expand or renew/],
      [post('/chain/territory/tx', { account: user.address, kind: 'mint', name: 'x', gib: 0, days: 30 }), 400, /gib must be a positive integer/],
      [post('/chain/tx', { signer: user.address, payload: [], signature: '00' }), 400, /payload must be the object/],
      [post('/chain/tx', { signer: user.address, payload: {}, signature: 'zz' }), 400, /signature must be hex/],
      [post('/chain/proxy-authorization', { account: user.address, exp: 1, signature: hex(new Uint8Array(63)) }), 400, /signature must be 64 bytes/],
      [post('/chain/territory/tx', { account: user.address, kind: 'mint', name: 'x'.repeat(CHAIN_TX_MAX_BODY_BYTES) }), 413, /larger than/],
      [app.request(`/chain/territory/${user.address}/missing`), 404, /no such territory/],
    ];
    for (const [res, status, msg] of cases) {
      const r = await res;
      expect(r.status).toBe(status);
      expect((await read(r)).msg).toMatch(msg);
    }
  });
});
