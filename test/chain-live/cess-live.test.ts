import { afterAll, describe, it } from 'vitest';
import { chainConformance } from '../conformance/chain.ts';
import { DevChain } from './dev-chain.ts';

/**
 * The Chain conformance suite against a live CESS node: `CESS_RPC=ws://127.0.0.1:9944 npm run test:chain-live`
 * (a chopsticks dev chain running the CESS runtime; docs/chain.md says how). Skipped without CESS_RPC.
 */
const rpc = (process.env.CESS_RPC ?? '').split(',').filter(Boolean);

if (rpc.length === 0) {
  describe('cess adapter on a live node', () => {
    it.skip('set CESS_RPC (ws://…) to run the Chain conformance suite against a CESS dev chain', () => {});
  });
} else {
  let dev: Promise<DevChain> | undefined;
  const open = () => (dev ??= DevChain.open(rpc));
  afterAll(async () => {
    if (dev) await (await dev).close();
  });
  chainConformance('cess (live)', async () => (await open()).harness());
}
