import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mnemonicGenerate } from '@polkadot/util-crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProofError, verifyKeyProof } from '../../../workers/src/keys/proof.ts';
import { accountFromSuri } from '../chain/accounts.ts';
import { keysCommand } from './keys.ts';

// The CLI against a stand-in edge on real TCP: a small Node server that checks every request with the edge's own
// proof verifier (workers/src/keys/proof.ts) and keeps keys in memory. The real routes and Durable Object are
// tested inside workerd (workers/src/keys/routes.test.ts).

interface Seen {
  method: string;
  path: string;
  account: string;
  body: string;
}

let server: Server;
let edge: string;
const seen: Seen[] = [];
const keys = new Map<string, { accessKeyId: string; account: string; territory: string; label?: string; created: number; revoked?: number }>();
const used = new Set<string>();
let failNext: { status: number; code: string; message: string } | undefined;

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const text = await body(req);
    if (failNext) {
      const f = failNext;
      failNext = undefined;
      return send(f.status, { error: { code: f.code, message: f.message } });
    }
    const path = new URL(req.url!, 'http://x').pathname;
    const revokeId = /^\/_deoss\/keys\/([^/]+)$/.exec(path)?.[1];
    const purpose = req.method === 'POST' ? 'keys.create' : req.method === 'GET' ? 'keys.list' : `keys.revoke.${revokeId}`;
    try {
      const proof = verifyKeyProof(
        { account: req.headers.account as string, message: req.headers.message as string, signature: req.headers.signature as string },
        { purpose, audience: req.headers.host!, now: Date.now() },
      );
      if (used.has(proof.signatureHex)) throw new ProofError('replayed', 'used');
      used.add(proof.signatureHex);
      seen.push({ method: req.method!, path, account: proof.account, body: text });
      if (req.method === 'POST') {
        const { territory = 'default', label } = text ? JSON.parse(text) : {};
        const k = { accessKeyId: `DOSS${String(keys.size).padStart(16, 'A')}`, account: proof.account, territory, label, created: Date.now() };
        keys.set(k.accessKeyId, k);
        return send(201, { ...k, secretAccessKey: `secret-of-${k.accessKeyId}` });
      }
      if (req.method === 'GET') return send(200, { account: proof.account, keys: [...keys.values()].filter((k) => k.account === proof.account) });
      const k = keys.get(revokeId!);
      if (!k || k.account !== proof.account) return send(404, { error: { code: 'InvalidAccessKeyId', message: 'no such key' } });
      k.revoked = Date.now();
      return send(200, k);
    } catch (e) {
      if (e instanceof ProofError) return send(401, { error: { code: e.reason, message: e.message } });
      throw e;
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  edge = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

async function run(argv: string[], env: Record<string, string | undefined> = {}) {
  let out = '';
  let err = '';
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    const code = await keysCommand(argv, { out: { write: (t: string) => (out += t) }, err: { write: (t: string) => (err += t) } });
    return { code, out, err };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('deoss keys', () => {
  it('creates, lists and revokes keys with proofs the edge verifier accepts', async () => {
    const alice = (await accountFromSuri('//Alice')).address;
    const created = await run(['create', '--edge', edge, '--suri', '//Alice', '--territory', 'photos', '--label', 'ci', '--json']);
    expect(created.err).toBe('');
    expect(created.code).toBe(0);
    const key = JSON.parse(created.out) as { accessKeyId: string; secretAccessKey: string; account: string; territory: string };
    expect(key).toMatchObject({ account: alice, territory: 'photos' });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', path: '/_deoss/keys', account: alice });
    expect(JSON.parse(seen.at(-1)!.body)).toEqual({ territory: 'photos', label: 'ci' });

    const human = await run(['create', '--edge', edge, '--suri', '//Alice']);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/Access key id: +DOSS\w{16}\nSecret access key: +secret-of-DOSS\w{16}\n/);
    expect(human.out).toContain(`aws --endpoint-url ${edge} s3 ls`);

    const listed = await run(['list', '--edge', edge, '--suri', '//Alice']);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(`Account ${alice}: 2 keys`);
    expect(listed.out).toContain(key.accessKeyId);

    const revoked = await run(['revoke', key.accessKeyId, '--edge', edge, '--suri', '//Alice']);
    expect(revoked).toMatchObject({ code: 0, out: `revoked ${key.accessKeyId}\n` });
    expect(seen.at(-1)).toMatchObject({ method: 'DELETE', path: `/_deoss/keys/${key.accessKeyId}` });
    expect((await run(['list', '--edge', edge, '--suri', '//Alice'])).out).toMatch(new RegExp(`${key.accessKeyId}  revoked `));
  });

  it('signs with a mnemonic from --mnemonic or DEOSS_MNEMONIC', async () => {
    const mnemonic = mnemonicGenerate();
    const address = (await accountFromSuri(mnemonic)).address;
    const a = await run(['create', '--edge', edge, '--mnemonic', mnemonic, '--json']);
    expect(JSON.parse(a.out).account).toBe(address);
    const b = await run(['list', '--edge', edge, '--json'], { DEOSS_MNEMONIC: mnemonic });
    expect(JSON.parse(b.out)).toMatchObject({ account: address });
    expect(JSON.parse(b.out).keys).toHaveLength(1);
  });

  it('finds the edge and the dev key in $DEOSS_HOME/stack.json', async () => {
    const home = await mkdtemp(join(tmpdir(), 'deoss-keys-'));
    try {
      await writeFile(join(home, 'stack.json'), JSON.stringify({ edge, devSuri: '//Bob' }));
      const r = await run(['create', '--json'], { DEOSS_HOME: home, DEOSS_EDGE: undefined, DEOSS_MNEMONIC: undefined, DEOSS_SURI: undefined });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out).account).toBe((await accountFromSuri('//Bob')).address);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('reports refusals and usage errors', async () => {
    failNext = { status: 401, code: 'expired', message: 'the signed message has expired' };
    const refused = await run(['list', '--edge', edge, '--suri', '//Alice']);
    expect(refused).toMatchObject({ code: 1, err: 'deoss keys: 401 expired: the signed message has expired\n' });
    const notMine = await run(['revoke', 'DOSSNOTAKEYAAAAAAAAA', '--edge', edge, '--suri', '//Alice']);
    expect(notMine.code).toBe(1);
    expect(notMine.err).toContain('404 InvalidAccessKeyId');

    const home = await mkdtemp(join(tmpdir(), 'deoss-keys-'));
    try {
      const noEdge = await run(['list'], { DEOSS_HOME: home, DEOSS_EDGE: undefined });
      expect(noEdge.code).toBe(2);
      expect(noEdge.err).toContain('no edge');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
    expect((await run(['revoke', '--edge', edge])).code).toBe(2);
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['list', '--edge', edge, '--suri', '//Alice', '--ttl', '601'])).code).toBe(2);
    const down = await run(['list', '--edge', 'http://127.0.0.1:9', '--suri', '//Alice']);
    expect(down.code).toBe(1);
    expect(down.err).toContain('cannot reach');
  });
});
