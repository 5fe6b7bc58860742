import { accountFromSuri } from './accounts.ts';
import { openLocalChain } from './local/index.ts';
import type { Chain } from './port.ts';
import type { MessageSigner } from '../auth/signed-message.ts';

export interface OpenChainOptions {
  /** The signing key: mnemonic or SURI (e.g. `//Alice`). */
  suri: string;
  /** Local ledger file, used when no RPC endpoints are configured. */
  localPath: string;
  /** CESS RPC endpoints (ws/wss). The `cess` adapter is not built yet: configuring them is an error for now. */
  rpc?: string[];
}

/** The one place that picks a Chain adapter: `local` unless RPC endpoints are configured. */
export async function openChain(options: OpenChainOptions): Promise<{ chain: Chain; signer: MessageSigner }> {
  if (options.rpc && options.rpc.length > 0) {
    throw new Error('DEOSS_CHAIN_RPC is set, but the cess chain adapter is not available yet; unset it to use the local chain');
  }
  const signer = await accountFromSuri(options.suri);
  const chain = await openLocalChain({ path: options.localPath, signer });
  return { chain, signer };
}
