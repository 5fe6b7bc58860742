import { Hono, type Context } from 'hono';
import { accessKeyCache, type AccessKeyCache } from '../namespace/access-key-cache.ts';
import { accountDirectory, type NamespaceBindings } from '../namespace/env.ts';
import { unwrapNamespaceError, type NamespaceErrorCode } from '../namespace/errors.ts';
import { KEY_PROOF_MAX_AHEAD_MS, ProofError, verifyKeyProof, type ProofFailure } from './proof.ts';

/**
 * Access-key management at the edge, mounted at `/_deoss/keys`:
 *
 *   POST   /               create a key           proof purpose `keys.create`; JSON body {territory?, label?}
 *   GET    /               list the account's keys proof purpose `keys.list`
 *   DELETE /:accessKeyId   revoke a key            proof purpose `keys.revoke.<accessKeyId>`
 *
 * Every request proves the account with DeOSS-style sr25519 headers (Account, Message, Signature; message format
 * in proof-message.ts). Answers are JSON with real HTTP statuses; errors are {"error":{"code","message"}}.
 */

/** Territory a key gets when the request names none (the territory the local stack mints). */
export const DEFAULT_KEY_TERRITORY = 'default';
/** Largest request body accepted (JSON with a territory and a label). */
export const KEY_REQUEST_MAX_BYTES = 4096;

export interface KeyRoutesOptions {
  maxProofAheadMs?: number;
  /** Clock for proof expiry, ms. @default Date.now */
  now?: () => number;
  /** The isolate's access-key cache: revocations drop the key from it at once. */
  cache?: AccessKeyCache;
}

type Env = { Bindings: NamespaceBindings };

const PROOF_STATUS: Record<ProofFailure, 400 | 401> = {
  'missing-headers': 401,
  'bad-account': 400,
  'malformed-message': 400,
  'account-mismatch': 401,
  'wrong-purpose': 401,
  'wrong-audience': 401,
  expired: 401,
  'expiry-too-far': 401,
  'bad-signature': 401,
  replayed: 401,
};

const NAMESPACE_STATUS: Partial<Record<NamespaceErrorCode, 400 | 404 | 409>> = {
  InvalidArgument: 400,
  InvalidAccessKeyId: 404,
  TooManyAccessKeys: 409,
};

export function keyRoutes(options: KeyRoutesOptions = {}): Hono<Env> {
  const now = options.now ?? Date.now;
  const cache = options.cache ?? accessKeyCache;
  const app = new Hono<Env>();

  /** Verifies the proof for `purpose` and spends it; answers the caller's account. */
  async function prove(c: Context<Env>, purpose: string): Promise<string> {
    const proof = verifyKeyProof(
      { account: c.req.header('Account'), message: c.req.header('Message'), signature: c.req.header('Signature') },
      { purpose, audience: new URL(c.req.url).host, now: now(), maxAheadMs: options.maxProofAheadMs ?? KEY_PROOF_MAX_AHEAD_MS },
    );
    if (!(await accountDirectory(c.env).claimProof(proof.signatureHex, proof.expiresAt))) {
      throw new ProofError('replayed', 'this signature was already used');
    }
    return proof.account;
  }

  app.post('/', async (c) => {
    const body = await readJsonBody(c.req.raw);
    const account = await prove(c, 'keys.create');
    const territory = body.territory ?? DEFAULT_KEY_TERRITORY;
    const created = await accountDirectory(c.env).createKey({ account, territory, ...(body.label !== undefined ? { label: body.label } : {}) });
    c.header('Cache-Control', 'no-store');
    return c.json(created, 201);
  });

  app.get('/', async (c) => {
    const account = await prove(c, 'keys.list');
    c.header('Cache-Control', 'no-store');
    return c.json({ account, keys: await accountDirectory(c.env).listKeys(account) });
  });

  app.delete('/:accessKeyId', async (c) => {
    const accessKeyId = c.req.param('accessKeyId');
    const account = await prove(c, `keys.revoke.${accessKeyId}`);
    const revoked = await accountDirectory(c.env).revokeKey(account, accessKeyId);
    cache.invalidate(accessKeyId);
    return c.json(revoked);
  });

  app.onError((err, c) => {
    if (err instanceof ProofError) return c.json({ error: { code: err.reason, message: err.message } }, PROOF_STATUS[err.reason]);
    if (err instanceof BadRequest) return c.json({ error: { code: 'bad-request', message: err.message } }, 400);
    const ns = unwrapNamespaceError(err);
    const status = ns && NAMESPACE_STATUS[ns.code];
    if (ns && status) return c.json({ error: { code: ns.code, message: ns.message } }, status);
    console.error('keys route failed', err);
    return c.json({ error: { code: 'internal', message: 'internal error' } }, 500);
  });

  return app;
}

class BadRequest extends Error {}

/** The optional JSON body of POST: {territory?: string, label?: string}, at most KEY_REQUEST_MAX_BYTES. */
async function readJsonBody(req: Request): Promise<{ territory?: string; label?: string }> {
  const declared = Number(req.headers.get('Content-Length') ?? 0);
  if (declared > KEY_REQUEST_MAX_BYTES) throw new BadRequest(`request body exceeds ${KEY_REQUEST_MAX_BYTES} bytes`);
  if (!req.body) return {};
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > KEY_REQUEST_MAX_BYTES) {
      await reader.cancel();
      throw new BadRequest(`request body exceeds ${KEY_REQUEST_MAX_BYTES} bytes`);
    }
    chunks.push(value);
  }
  if (total === 0) return {};
  const text = new TextDecoder().decode(concat(chunks, total));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadRequest('body must be JSON: {"territory"?: string, "label"?: string}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new BadRequest('body must be a JSON object');
  const { territory, label } = parsed as Record<string, unknown>;
  if (territory !== undefined && typeof territory !== 'string') throw new BadRequest('territory must be a string');
  if (label !== undefined && typeof label !== 'string') throw new BadRequest('label must be a string');
  return { ...(territory !== undefined ? { territory } : {}), ...(label !== undefined ? { label } : {}) };
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
