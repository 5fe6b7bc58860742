import { parseArgs } from 'node:util';
import { openChain } from '../chain/open-chain.ts';
import { originConfig } from '../config.ts';
import { startOrigin } from '../origin.ts';
import { untilSignal } from './storage-node.ts';

const HELP = `usage: deoss origin [--port N] [--host H]

Runs an origin node: the DeOSS API, the upload pipeline, dispatch to storage nodes, retrieval and cache.
Settings come from the environment (docs/configuration.md): DEOSS_HOME, DEOSS_GATEWAY_SURI, DEOSS_CACHE_BYTES,
DEOSS_MAX_UPLOAD_BYTES, DEOSS_ACK, DEOSS_ACCESS_MODE, DEOSS_ACCESS_LIST, DEOSS_EDGE_SECRET, DEOSS_CACHE,
DEOSS_P2P, DEOSS_P2P_LISTEN, DEOSS_P2P_BOOTSTRAP, DEOSS_P2P_ALLOW, DEOSS_P2P_DENY, ... (docs/p2p.md)
`;

export async function originCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const config = originConfig({
    ...(values.port !== undefined ? { port: Number(values.port) } : {}),
    ...(values.host !== undefined ? { host: values.host } : {}),
  });
  const log = (m: string) => process.stderr.write(`origin: ${m}\n`);
  const { chain, signer } = await openChain({ suri: config.gatewaySuri, localPath: config.chainDb, rpc: config.chainRpc, cess: { ...config.chain, log } });
  const origin = await startOrigin(config, { chain, signer, log: (m) => process.stderr.write(`origin: ${m}\n`) });
  process.stdout.write(`${JSON.stringify({ role: 'origin', url: origin.url, gateway: chain.account, pid: process.pid, p2p: origin.p2p })}\n`);
  await untilSignal();
  await origin.close();
  await chain.close();
  return 0;
}
