import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainConformance } from '../../../../test/conformance/chain.ts';
import { accountFromSuri } from '../accounts.ts';
import { CHAIN } from '../port.ts';
import { openLocalChain, type LocalChain } from './index.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deoss-local-chain-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

let n = 0;
chainConformance('local', async () => {
  const path = join(dir, `ledger-${++n}.sqlite`);
  let now = Date.now();
  const clock = () => now;
  const clients = new Map<string, LocalChain>();
  const client = async (role: string) => {
    let c = clients.get(role);
    if (!c) {
      c = await openLocalChain({ path, signer: await accountFromSuri(`//${role}`), clock, pollMs: 20 });
      clients.set(role, c);
    }
    return c;
  };
  return {
    client,
    fund: async (role, amount) => (await client(role)).fund((await client(role)).account, amount),
    key: (role) => accountFromSuri(`//${role}`),
    advanceDays: async (days) => {
      now += days * 86_400_000;
    },
  };
});

describe('local chain across processes', () => {
  it('keeps every concurrent write of two processes and sees their events', async () => {
    const path = join(dir, 'shared.sqlite');
    const alice = await openLocalChain({ path, signer: await accountFromSuri('//Alice'), pollMs: 20 });
    const bob = await accountFromSuri('//Bob');
    await alice.fund(alice.account, 1_000_000n);
    const script = join(dir, 'transfers.ts');
    await writeFile(
      script,
      `import { openLocalChain } from ${JSON.stringify(new URL('./index.ts', import.meta.url).pathname)};
import { accountFromSuri } from ${JSON.stringify(new URL('../accounts.ts', import.meta.url).pathname)};
const chain = await openLocalChain({ path: process.argv[2], signer: await accountFromSuri('//Alice') });
const bob = await accountFromSuri('//Bob');
for (let i = 0; i < 100; i++) await chain.transfer(bob.address, 1n);
await chain.close();
`,
    );
    const ac = new AbortController();
    let transfers = 0;
    const watching = (async () => {
      for await (const e of alice.events({ signal: ac.signal })) if (e.type === 'Transfer' && e.to === bob.address && ++transfers === 200) break;
    })();
    const run = () =>
      new Promise<number>((resolve) => spawn(process.execPath, [script, path], { stdio: 'inherit' }).once('exit', (code) => resolve(code ?? -1)));
    expect(await Promise.all([run(), run()])).toEqual([0, 0]);
    expect(await alice.balance(bob.address)).toBe(200n);
    expect(await alice.balance(alice.account)).toBe(1_000_000n - 200n);
    await watching;
    ac.abort();
    expect(transfers).toBe(200);
    await alice.close();
    // State survives reopening.
    const again = await openLocalChain({ path, signer: bob });
    expect(await again.balance(bob.address)).toBe(200n);
    await again.close();
  });

  it('opens a ledger while another process holds its write lock, and switches it to WAL once the lock is freed', async () => {
    // Switching the journal mode upgrades a read lock to a write lock, and SQLite refuses that upgrade at once
    // (no busy wait) while another process holds the write lock: the case of a dozen stack processes starting.
    const path = join(dir, 'contended.sqlite');
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import Database from 'better-sqlite3';
const db = new Database(${JSON.stringify(path)});
db.exec('BEGIN IMMEDIATE; CREATE TABLE held (x)');
process.stdout.write('locked\\n');
setTimeout(() => { db.exec('COMMIT'); db.close(); }, 500);`,
      ],
      { cwd: new URL('.', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    const chain = await openLocalChain({ path, signer: await accountFromSuri('//Alice') });
    await chain.close();
    expect(await exited).toBe(0);
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('prices a territory like CESS: 30 CESS per GiB per day', () => {
    expect(CHAIN.unitPrice).toBe(30n * 10n ** 18n);
  });
});
