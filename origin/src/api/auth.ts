import type { MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { encodeAddress } from '@polkadot/util-crypto';
import { verifySignedHeaders } from '../auth/signed-message.ts';
import type { OriginEnv, OriginServices } from './context.ts';
import { ApiError } from './errors.ts';

/** Per client IP rate limit for every route. */
export function ipRateLimit(s: OriginServices): MiddlewareHandler {
  return async (c, next) => {
    let ip = 'unknown';
    try {
      ip = getConnInfo(c).remote.address ?? ip;
    } catch {
      /* not a node-server request (tests) */
    }
    if (!s.ipLimiter.take(ip)) throw new ApiError(429, 'too many requests from this address');
    await next();
  };
}

/**
 * Signed routes: a valid, unexpired, unreplayed sr25519 signature (DeOSS headers), the access list, the per-account
 * rate limit, and, unless the caller is the gateway itself, the caller's on-chain authorization of this gateway.
 */
export function requireSignature(s: OriginServices): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    if (c.req.header('EthAcc')) {
      // DeOSS trusted Account without linking it to the EVM key; we accept EthAcc only with a verifiable binding,
      // which this gateway does not have yet.
      throw new ApiError(403, 'EthAcc signatures are refused: the EVM address cannot be verified as bound to Account');
    }
    const caller = await verifySignedHeaders(
      { account: c.req.header('Account'), message: c.req.header('Message'), signature: c.req.header('Signature') },
      { maxAheadMs: s.config.maxMessageAheadMs, replay: s.replay },
    );
    // Accounts arrive in any SS58 format (CESS 11330 or generic 42); everything inside speaks CESS's.
    const account = encodeAddress(caller.publicKey, 11330);
    const listed = s.config.accessList.includes(account);
    if (s.config.accessMode === 'public' ? listed : !listed) throw new ApiError(403, 'no permission');
    if (!s.accountLimiter.take(account)) throw new ApiError(429, 'too many requests for this account');
    if (account !== s.gateway && !(await s.chain.isAuthorized(account, s.gateway))) {
      throw new ApiError(403, `please authorize this gateway account: ${s.gateway}`);
    }
    c.set('caller', account);
    await next();
  };
}
