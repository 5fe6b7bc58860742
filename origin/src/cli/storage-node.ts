import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openChain } from '../chain/open-chain.ts';
import { startStorageNode } from '../storage-node/node.ts';
import { parseBytes } from './bytes.ts';

const HELP = `usage: deoss storage-node --suri SURI [--dir DIR] [--port N] [--host H] [--capacity SIZE] [--chain-db FILE]

Runs the storage-node role: the CESS fragment protocol, registered on chain with its endpoint.
  --suri SURI        the node's key (mnemonic or //Dev URI); env DEOSS_NODE_SURI
  --dir DIR          data directory (default $DEOSS_HOME/nodes/<port>)
  --port N           listen port (default 0: any free port)
  --capacity SIZE    bytes offered, e.g. 64GiB (default 16GiB)
  --chain-db FILE    local chain ledger (default $DEOSS_HOME/chain/ledger.sqlite)
  --no-report        do not send transfer_report for completed columns (reporting done by other means)
`;

export async function storageNodeCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      suri: { type: 'string' },
      dir: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      capacity: { type: 'string' },
      'chain-db': { type: 'string' },
      'no-report': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const home = resolve(process.env.DEOSS_HOME ?? '.deoss');
  const suri = values.suri ?? process.env.DEOSS_NODE_SURI;
  if (!suri) {
    process.stderr.write(`deoss storage-node: --suri is required\n\n${HELP}`);
    return 2;
  }
  const port = Number(values.port ?? 0);
  const rpc = (process.env.DEOSS_CHAIN_RPC ?? '').split(',').filter(Boolean);
  const { chain } = await openChain({ suri, localPath: values['chain-db'] ?? join(home, 'chain', 'ledger.sqlite'), rpc });
  const node = await startStorageNode({
    chain,
    dir: values.dir ?? join(home, 'nodes', String(port || chain.account)),
    port,
    host: values.host ?? '127.0.0.1',
    capacity: values.capacity ? parseBytes(values.capacity) : undefined,
    report: !values['no-report'],
    keepAliveMs: process.env.DEOSS_KEEP_ALIVE_MS ? Number.parseInt(process.env.DEOSS_KEEP_ALIVE_MS, 10) : undefined,
    log: (m) => process.stderr.write(`storage-node ${chain.account.slice(0, 8)}: ${m}\n`),
  });
  process.stdout.write(`${JSON.stringify({ role: 'storage-node', url: node.url, account: node.account, pid: process.pid })}\n`);
  await untilSignal();
  await node.close();
  await chain.close();
  return 0;
}

export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
