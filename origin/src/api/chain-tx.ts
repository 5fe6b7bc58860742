import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { isValidAddress, toCessAddress, verifySr25519 } from '../chain/accounts.ts';
import { CHAIN, type TerritoryTx, type TxReceipt } from '../chain/port.ts';
import { proxyAuthorizationMessage } from '../chain/proxy-authorization.ts';
import { ipRateLimit } from './auth.ts';
import type { OriginEnv, OriginServices } from './context.ts';
import { ApiError } from './errors.ts';

/** Largest JSON body these routes read: a SignerPayload and a signature are well under 4 KiB. */
export const CHAIN_TX_MAX_BODY_BYTES = 64 * 1024;

/**
 * Chain transactions for users who hold their own keys (docs/origin-api.md, "Space and authorization"):
 *
 * - `GET /chain/proxy-authorization?account=` → what the user signs so that this gateway may act for them
 * - `POST /chain/proxy-authorization` `{account, exp, signature}` → the gateway submits `Oss.proxy_authorzie` and
 *   pays its fee; the signature is checked here first, so nobody makes the gateway pay for a bad one
 * - `POST /chain/territory/tx` `{account, kind: mint|expand|renew, name, gib?, days?}` → an unsigned transaction
 * - `POST /chain/tx` `{signer, payload, signature}` → submits it once the user signed it (the user pays)
 * - `GET /chain/territory/:account/:name` → the territory
 *
 * None of these take DeOSS signed headers: the signatures they carry are the authentication.
 */
export function chainTxRoutes(app: Hono<OriginEnv>, s: OriginServices): void {
  const limit = bodyLimit({ maxSize: CHAIN_TX_MAX_BODY_BYTES, onError: () => { throw new ApiError(413, `body larger than ${CHAIN_TX_MAX_BODY_BYTES} bytes`); } });
  app.use('/chain/*', ipRateLimit(s));

  app.get('/chain/proxy-authorization', async (c) => {
    const account = accountParam(c.req.query('account'), 'account');
    const exp = await s.chain.blockNumber();
    const message = proxyAuthorizationMessage({ operator: s.gateway, exp });
    return ok(c, {
      account,
      operator: s.gateway,
      exp,
      // The chain accepts it while exp + PayloadExpired > the current block.
      validUntil: exp + CHAIN.proxyPayloadExpiryBlocks - 1,
      message: toHex(message),
      authorized: await s.chain.isAuthorized(account, s.gateway),
    });
  });

  app.post('/chain/proxy-authorization', limit, async (c) => {
    const body = await jsonBody(c);
    const owner = accountParam(body.account, 'account');
    const exp = body.exp;
    if (!Number.isInteger(exp) || (exp as number) < 0) throw new ApiError(400, 'exp must be the block number the message was signed for');
    const signature = hexParam(body.signature, 'signature', 64);
    const now = await s.chain.blockNumber();
    if (!((exp as number) + CHAIN.proxyPayloadExpiryBlocks > now)) throw new ApiError(400, `the signed authorization expired (signed for block ${exp}, now ${now})`);
    if (!(await verifySr25519(proxyAuthorizationMessage({ operator: s.gateway, exp: exp as number }), signature, owner))) {
      throw new ApiError(403, 'the signature does not authorize this gateway for this account');
    }
    if (await s.chain.isAuthorized(owner, s.gateway)) return ok(c, { account: owner, operator: s.gateway, authorized: true, block: null });
    const receipt = await s.chain.proxyAuthorize({ owner, operator: s.gateway, exp: exp as number, signature });
    return ok(c, { account: owner, operator: s.gateway, authorized: true, ...receiptJson(receipt) });
  });

  app.post('/chain/territory/tx', limit, async (c) => {
    const body = await jsonBody(c);
    const account = accountParam(body.account, 'account');
    const tx = await s.chain.buildTerritoryTx(account, territoryCall(body));
    return ok(c, { ...tx, price: tx.price.toString() });
  });

  app.post('/chain/tx', limit, async (c) => {
    const body = await jsonBody(c);
    const signer = accountParam(body.signer, 'signer');
    if (!body.payload || typeof body.payload !== 'object' || Array.isArray(body.payload)) throw new ApiError(400, 'payload must be the object /chain/territory/tx returned');
    const signature = hexParam(body.signature, 'signature', 64, 65);
    const receipt = await s.chain.submitSignedTx({ signer, payload: body.payload as Record<string, unknown>, signature });
    return ok(c, receiptJson(receipt));
  });

  app.get('/chain/territory/:account/:name', async (c) => {
    const account = accountParam(c.req.param('account'), 'account');
    const t = await s.chain.territory(account, decodeURIComponent(c.req.param('name')));
    if (!t) throw new ApiError(404, 'no such territory');
    return ok(c, bigintsToStrings(t));
  });
}

function ok(c: Context, data: unknown): Response {
  return c.json({ code: 200, msg: 'ok', data });
}

async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError(400, 'the body must be JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function accountParam(value: unknown, name: string): string {
  if (typeof value !== 'string' || !value) throw new ApiError(400, `${name} is required (an SS58 address)`);
  if (!isValidAddress(value)) throw new ApiError(400, `invalid CESS account: ${value.slice(0, 80)}`);
  return toCessAddress(value);
}

function hexParam(value: unknown, name: string, ...lengths: number[]): Uint8Array {
  if (typeof value !== 'string' || !/^(0x)?([0-9a-fA-F]{2})+$/.test(value)) throw new ApiError(400, `${name} must be hex`);
  const bytes = Uint8Array.from(Buffer.from(value.replace(/^0x/, ''), 'hex'));
  if (!lengths.includes(bytes.length)) throw new ApiError(400, `${name} must be ${lengths.join(' or ')} bytes`);
  return bytes;
}

function territoryCall(body: Record<string, unknown>): TerritoryTx {
  const name = body.name;
  if (typeof name !== 'string' || !name) throw new ApiError(400, 'name (the territory name) is required');
  const positive = (v: unknown, what: string): number => {
    if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 0xffff_ffff) throw new ApiError(400, `${what} must be a positive integer`);
    return v as number;
  };
  switch (body.kind) {
    case 'mint':
      return { kind: 'mint', name, gib: positive(body.gib, 'gib'), days: positive(body.days, 'days') };
    case 'expand':
      return { kind: 'expand', name, gib: positive(body.gib, 'gib') };
    case 'renew':
      return { kind: 'renew', name, days: positive(body.days, 'days') };
    default:
      throw new ApiError(400, 'kind must be mint, expand or renew');
  }
}

function receiptJson(r: TxReceipt) {
  return { block: r.block, finalized: r.finalized, fee: r.fee.toString(), events: r.events.map(bigintsToStrings) };
}

function bigintsToStrings<T extends object>(o: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]));
}

function toHex(bytes: Uint8Array): string {
  return `0x${Buffer.from(bytes).toString('hex')}`;
}
