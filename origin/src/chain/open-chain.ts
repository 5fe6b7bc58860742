import { accountFromSuri } from './accounts.ts';
import type { CessChainOptions } from './cess/index.ts';
import { openLocalChain } from './local/index.ts';
import type { Chain } from './port.ts';
import type { MessageSigner } from '../auth/signed-message.ts';

/** Settings of the `cess` adapter (docs/chain.md); every one has a default. */
export interface CessSettings {
  /** What a transaction waits for. @default inBlock */
  waitFor?: 'inBlock' | 'finalized';
  /** Longest wait for a transaction to be included (or final), ms. @default 120000 */
  txTimeoutMs?: number;
  /** Longest wait for a (re)connection before an operation fails as unavailable, ms. @default 30000 */
  connectTimeoutMs?: number;
  /** Most upload declarations in one `utility.batch_all`; 1 = no batching. @default 8 */
  batchMax?: number;
  /** Bucket name for declarations on runtimes whose UserBrief has one (spec ≤ 125). @default deoss */
  bucketName?: string;
  log?: (msg: string) => void;
}

export interface OpenChainOptions {
  /** The signing key: mnemonic or SURI (e.g. `//Alice`). */
  suri: string;
  /** Local ledger file, used when no RPC endpoints are configured. */
  localPath: string;
  /** CESS RPC endpoints (ws/wss, failover in this order). Empty or absent: the local chain. */
  rpc?: string[];
  /** Settings of the `cess` adapter. */
  cess?: CessSettings;
  signal?: AbortSignal;
}

/** The one place that picks a Chain adapter: `local` unless RPC endpoints are configured. */
export async function openChain(options: OpenChainOptions): Promise<{ chain: Chain; signer: MessageSigner }> {
  const signer = await accountFromSuri(options.suri);
  if (options.rpc && options.rpc.length > 0) {
    const c = options.cess ?? {};
    const cess: CessChainOptions = {
      suri: options.suri,
      connection: { endpoints: options.rpc, ...(c.connectTimeoutMs !== undefined && { connectTimeoutMs: c.connectTimeoutMs }), log: c.log },
      submit: { ...(c.waitFor && { waitFor: c.waitFor }), ...(c.txTimeoutMs !== undefined && { txTimeoutMs: c.txTimeoutMs }) },
      batch: c.batchMax !== undefined ? { maxCalls: c.batchMax } : undefined,
      bucketName: c.bucketName,
    };
    // Loaded only when used: @polkadot/api and its type registry cost every process seconds of startup.
    const { openCessChain } = await import('./cess/index.ts');
    return { chain: await openCessChain(cess, options.signal), signer };
  }
  const chain = await openLocalChain({ path: options.localPath, signer });
  return { chain, signer };
}
