import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signHeaders } from '../../origin/src/auth/signed-message.ts';
import { accountFromSuri } from '../../origin/src/chain/accounts.ts';
import { openLocalChain } from '../../origin/src/chain/local/index.ts';
import { startCluster, type Cluster } from '../support/cluster.ts';

let cluster: Cluster;
let silent: string;

beforeAll(async () => {
  // 13 nodes; node 1 takes fragments but never reports them, and is preferred so it surely gets a column.
  silent = (await accountFromSuri('//TestNode1')).address;
  cluster = await startCluster({
    nodes: 13,
    nodeArgs: (i) => (i === 0 ? ['--no-report'] : []),
    env: { DEOSS_REPORT_TIMEOUT_MS: '4000', DEOSS_PREFERRED_MINERS: silent },
  });
}, 120_000);
afterAll(() => cluster?.close());

it('moves a column a storage node never reports to another node, and the file gets stored', async () => {
  const alice = await accountFromSuri(cluster.user.suri);
  const res = await fetch(`${cluster.origin.url}/object/silent.bin`, {
    method: 'PUT',
    body: randomBytes(100_000),
    headers: { ...signHeaders(alice), Territory: cluster.user.territory },
  });
  expect(res.status).toBe(200);
  const { data } = (await res.json()) as { data: { fid: string } };
  const until = Date.now() + 60_000;
  let state = '';
  while (state !== 'stored' && Date.now() < until) {
    state = ((await (await fetch(`${cluster.origin.url}/file/state/${data.fid}`)).json()) as { data: { state: string } }).data.state;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(state).toBe('stored');
  const chain = await openLocalChain({ path: `${cluster.home}/chain/ledger.sqlite`, signer: alice });
  const holders = (await chain.file(data.fid))!.segments[0].fragments.map((f) => f.miner);
  await chain.close();
  expect(new Set(holders).size).toBe(12);
  expect(holders).not.toContain(silent);
});
