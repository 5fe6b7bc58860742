import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountFromSuri, type Account } from '../chain/accounts.ts';
import { openLocalChain, type LocalChain } from '../chain/local/index.ts';
import { CHAIN } from '../chain/port.ts';
import { FragmentClient, FragmentTransferError } from '../dispatch/fragment-client.ts';
import { FRAGMENT_SIZE, ZERO_FRAGMENT_HASH } from '../pipeline/constants.ts';
import { startStorageNode, type RunningStorageNode } from './node.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
let dir: string;
let node: RunningStorageNode;
let gatewayKey: Account;
let strangerKey: Account;
let user: LocalChain;
let gateway: LocalChain;
const fragments = [randomBytes(FRAGMENT_SIZE), randomBytes(FRAGMENT_SIZE)];
const fid = 'f'.repeat(63) + '1';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deoss-node-'));
  const path = join(dir, 'ledger.sqlite');
  gatewayKey = await accountFromSuri('//NodeTestGateway');
  strangerKey = await accountFromSuri('//NodeTestStranger');
  user = await openLocalChain({ path, signer: await accountFromSuri('//NodeTestUser') });
  gateway = await openLocalChain({ path, signer: gatewayKey });
  await user.fund(user.account, 10n ** 6n * CHAIN.unit);
  await user.mintTerritory({ name: 't', gib: 4, days: 30 });
  await gateway.registerGateway({ endpoint: 'http://gw', domain: '' });
  await user.authorize(gateway.account);
  // Two segments; this node gets column 5: fragments[0] in segment 0, fragments[1] in segment 1.
  const seg = (i: number) => ({ hash: sha(Buffer.from([i])), fragments: Array.from({ length: 12 }, (_, k) => (k === 5 ? sha(fragments[i]) : sha(Buffer.from([i, k])))) });
  await gateway.declareUpload({ fid, segments: [seg(0), seg(1)], user: { user: user.account, fileName: 'node.bin', territoryName: 't' }, fileSize: 100n });
  const nodeChain = await openLocalChain({ path, signer: await accountFromSuri('//NodeTestMiner') });
  node = await startStorageNode({ chain: nodeChain, dir: join(dir, 'node'), capacity: 3 * FRAGMENT_SIZE });
});
afterAll(async () => {
  await node?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('storage node fragment protocol', () => {
  it('registers itself on chain with its endpoint', async () => {
    expect(await user.miners()).toContainEqual(expect.objectContaining({ account: node.account, endpoint: node.url, state: 'positive' }));
  });

  it('stores declared fragments from a registered gateway, serves them and ranges of them', async () => {
    const client = new FragmentClient({ signer: gatewayKey });
    await client.put(node.url, { fid, hash: sha(fragments[0]) }, fragments[0]);
    await client.put(node.url, { fid, hash: sha(fragments[0]) }, fragments[0]); // idempotent
    const whole = Buffer.concat(await collect(await client.get(node.url, { fid, hash: sha(fragments[0]) })));
    expect(whole.equals(fragments[0])).toBe(true);
    const part = Buffer.concat(await collect(await client.get(node.url, { fid, hash: sha(fragments[0]) }, { range: { start: 100, end: 199 } })));
    expect(part.equals(fragments[0].subarray(100, 200))).toBe(true);
    // DeOSS's miner range form: end exclusive, with the fragment size.
    const res = await fetch(`${node.url}/fragment`, { headers: { ...(await signed(gatewayKey)), Fid: fid, Fragment: sha(fragments[0]), Range: `bytes=0-10/${FRAGMENT_SIZE}` } });
    expect(res.status).toBe(206);
    expect((await res.arrayBuffer()).byteLength).toBe(10);
  });

  it('reports its column to the chain once it holds it for every segment', async () => {
    const client = new FragmentClient({ signer: gatewayKey });
    await client.put(node.url, { fid, hash: sha(fragments[1]) }, fragments[1]);
    const until = Date.now() + 5000;
    while (Date.now() < until && !(await user.deal(fid))?.completed.length) await new Promise((r) => setTimeout(r, 50));
    expect((await user.deal(fid))!.completed).toEqual([{ index: 6, miner: node.account }]);
  });

  it('refuses strangers, unsigned calls, undeclared and mislabelled fragments', async () => {
    const status = async (p: Promise<unknown>) => {
      try {
        await p;
        return 200;
      } catch (err) {
        return (err as FragmentTransferError).status;
      }
    };
    const stranger = new FragmentClient({ signer: strangerKey });
    expect(await status(stranger.put(node.url, { fid, hash: sha(fragments[0]) }, fragments[0]))).toBe(403);
    const client = new FragmentClient({ signer: gatewayKey });
    const other = randomBytes(FRAGMENT_SIZE);
    expect(await status(client.put(node.url, { fid, hash: sha(other) }, other))).toBe(403); // not in the deal
    expect(await status(client.put(node.url, { fid, hash: sha(fragments[1]) }, other))).toBe(200); // already held: kept
    // A declared hash with bytes that do not match it is refused.
    await rm(join(dir, 'node', 'fragments', fid, sha(fragments[1])));
    expect(await status(client.put(node.url, { fid, hash: sha(fragments[1]) }, other))).toBe(400);
    expect(await status(client.put(node.url, { fid, hash: ZERO_FRAGMENT_HASH }, new Uint8Array(FRAGMENT_SIZE)))).toBe(403); // undeclared zero
    const res = await fetch(`${node.url}/fragment`, { method: 'PUT', body: 'x', headers: { Fid: fid, Fragment: sha(fragments[0]) } });
    expect(res.status).toBe(403);
    expect(await status(client.get(node.url, { fid, hash: sha(other) }))).toBe(404);
  });
});

async function signed(key: Account) {
  const { signHeaders } = await import('../auth/signed-message.ts');
  return signHeaders(key);
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of body) out.push(chunk);
  return out;
}
