import { decodeAddress } from '@polkadot/util-crypto';
import type { AccountId, BlockNumber } from './port.ts';

const OPEN = new TextEncoder().encode('<Bytes>');
const CLOSE = new TextEncoder().encode('</Bytes>');

/**
 * The bytes a user signs (sr25519) to authorize `operator` through `Oss.proxy_authorzie`: the SCALE encoding of
 * the runtime's `ProxyAuthPayload { oss: AccountId32, exp: u32 }` wrapped in `<Bytes>…</Bytes>`, the wrapping
 * polkadot.js `signRaw` adds, so browser wallets produce a valid signature.
 *
 * @example
 * const message = proxyAuthorizationMessage({ operator: gateway, exp: await chain.blockNumber() });
 * const signature = userPair.sign(message);
 */
export function proxyAuthorizationMessage(p: { operator: AccountId; exp: BlockNumber }): Uint8Array {
  if (!Number.isInteger(p.exp) || p.exp < 0 || p.exp > 0xffff_ffff) throw new RangeError('exp must be a block number (u32)');
  const out = new Uint8Array(OPEN.length + 32 + 4 + CLOSE.length);
  out.set(OPEN, 0);
  out.set(decodeAddress(p.operator), OPEN.length);
  new DataView(out.buffer).setUint32(OPEN.length + 32, p.exp, true);
  out.set(CLOSE, OPEN.length + 36);
  return out;
}
