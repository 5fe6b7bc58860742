import { describe, expect, it } from 'vitest';
import { ChainDispatchError, CHAIN, type Chain, type ChainEvent } from '../../origin/src/chain/port.ts';

/**
 * The Chain port's conformance suite. Every adapter runs it: `local` in CI, `cess` against a live dev chain.
 * The harness provides clients signing as named roles, funding, and (when the adapter can) a way to move time.
 */
export interface ChainHarness {
  /** A client signing as `role`; the same role always gets the same account. */
  client(role: string): Promise<Chain>;
  /** Gives `role` enough balance for territories. */
  fund(role: string, amount: bigint): Promise<void>;
  /** Moves the chain's clock forward (adapters that cannot, leave it out; those cases are skipped). */
  advanceDays?(days: number): Promise<void>;
}

const hex = (n: number, salt = 0) => (n * 7919 + salt).toString(16).padStart(64, '0').slice(-64);
const segment = (i: number, salt = 0) => ({ hash: hex(1000 + i, salt), fragments: Array.from({ length: 12 }, (_, k) => hex(2000 + i * 12 + k, salt)) });
const MiB = 1024n * 1024n;

async function refused(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    expect(err).toBeInstanceOf(ChainDispatchError);
    return (err as ChainDispatchError).id;
  }
}

export function chainConformance(name: string, setup: () => Promise<ChainHarness>): void {
  describe(`Chain conformance: ${name}`, () => {
    let salt = 0;
    /** A funded user with territory `t1` (2 GiB) who authorized a registered gateway, plus the gateway. */
    async function world() {
      salt++;
      const h = await setup();
      const user = await h.client(`user${salt}`);
      const gateway = await h.client(`gateway${salt}`);
      await h.fund(`user${salt}`, 10n ** 6n * CHAIN.unit);
      await gateway.registerGateway({ endpoint: `http://127.0.0.1:${8000 + salt}`, domain: '' });
      await user.mintTerritory({ name: 't1', gib: 2, days: 30 });
      await user.authorize(gateway.account);
      return { h, user, gateway };
    }
    const declare = (gw: Chain, owner: string, fid: string, segments = [segment(0, salt)], territoryName = 't1') =>
      gw.declareUpload({ fid, segments, user: { user: owner, fileName: 'hello.txt', territoryName }, fileSize: 5n });

    it('keeps balances and charges territories by size × days × price', async () => {
      const h = await setup();
      const a = await h.client('payer');
      const b = await h.client('payee');
      await h.fund('payer', 10_000n * CHAIN.unit);
      const before = await a.balance(a.account);
      await a.transfer(b.account, 5n * CHAIN.unit);
      expect(await a.balance(a.account)).toBe(before - 5n * CHAIN.unit);
      expect(await b.balance(b.account)).toBeGreaterThanOrEqual(5n * CHAIN.unit);
      await a.mintTerritory({ name: 'paid', gib: 1, days: 30 });
      expect(await a.balance(a.account)).toBe(before - 5n * CHAIN.unit - 30n * CHAIN.unitPrice);
      const t = await a.territory(a.account, 'paid');
      expect(t).toMatchObject({ name: 'paid', totalSpace: 1024n * MiB, usedSpace: 0n, lockedSpace: 0n, remainingSpace: 1024n * MiB, state: 'Active' });
      expect(t!.deadline - t!.start).toBe(30 * CHAIN.blocksPerDay);
      expect(await refused(a.mintTerritory({ name: 'paid', gib: 1, days: 30 }))).toMatch(/^storageHandler\./);
      expect(await refused(b.mintTerritory({ name: 'huge', gib: 100_000, days: 365 }))).toBe('balances.InsufficientBalance');
      await a.expandTerritory({ name: 'paid', gib: 1 });
      await a.renewTerritory({ name: 'paid', days: 10 });
      const t2 = await a.territory(a.account, 'paid');
      expect(t2!.totalSpace).toBe(2048n * MiB);
      expect(t2!.deadline).toBe(t!.deadline + 10 * CHAIN.blocksPerDay);
    });

    it('registers gateways and records authorizations', async () => {
      const { user, gateway, h } = await world();
      expect(await gateway.gateway(gateway.account)).toMatchObject({ account: gateway.account, endpoint: `http://127.0.0.1:${8000 + salt}` });
      expect(await user.isAuthorized(user.account, gateway.account)).toBe(true);
      const stranger = await h.client(`stranger${salt}`);
      expect(await refused(user.authorize(stranger.account))).toMatch(/^oss\./); // not a gateway
      await user.cancelAuthorize(gateway.account);
      expect(await user.isAuthorized(user.account, gateway.account)).toBe(false);
      expect(await refused(gateway.registerGateway({ endpoint: 'x', domain: 'd'.repeat(51) }))).toMatch(/^oss\./);
    });

    it('lets only the owner or an authorized gateway declare, and locks 12 × 8 MiB per segment', async () => {
      const { user, gateway, h } = await world();
      const other = await h.client(`other${salt}`);
      const fid = hex(1, salt);
      expect(await refused(declare(other, user.account, fid))).toBe('fileBank.NoPermission');
      const receipt = await declare(gateway, user.account, fid, [segment(0, salt), segment(1, salt)]);
      expect(receipt.events).toContainEqual(expect.objectContaining({ type: 'UploadDeclaration', owner: user.account, fid }));
      expect((await user.territory(user.account, 't1'))!.lockedSpace).toBe(2n * 12n * 8n * MiB);
      const deal = await user.deal(fid);
      expect(deal).toMatchObject({ fid, fileSize: 5n, completed: [], user: { user: user.account, fileName: 'hello.txt', territoryName: 't1' } });
      expect(deal!.segments).toHaveLength(2);
      expect(await refused(declare(gateway, user.account, fid))).toMatch(/^fileBank\./); // already being stored
    });

    it('refuses malformed declarations and ones that do not fit', async () => {
      const { user, gateway } = await world();
      const bad = { ...segment(0, salt), fragments: segment(0, salt).fragments.slice(0, 11) };
      expect(await refused(declare(gateway, user.account, hex(2, salt), [bad]))).toMatch(/^fileBank\./);
      expect(await refused(declare(gateway, user.account, 'ABC'))).toMatch(/^fileBank\./);
      expect(
        await refused(gateway.declareUpload({ fid: hex(3, salt), segments: [segment(0, salt)], user: { user: user.account, fileName: 'ab', territoryName: 't1' }, fileSize: 5n })),
      ).toMatch(/^fileBank\./);
      expect(await refused(declare(gateway, user.account, hex(4, salt), [segment(0, salt)], 'nope'))).toBe('storageHandler.NotHaveTerritory');
      // 2 GiB holds 21 segments' worth (96 MiB each) strictly; 22 do not fit.
      const many = Array.from({ length: 22 }, (_, i) => segment(100 + i, salt));
      expect(await refused(declare(gateway, user.account, hex(5, salt), many))).toBe('fileBank.InsufficientAvailableSpace');
    });

    it('turns a deal into a file record after 12 distinct column reports', async () => {
      const { user, gateway, h } = await world();
      const miners = await Promise.all(Array.from({ length: 13 }, (_, i) => h.client(`miner${salt}-${i}`)));
      for (const [i, m] of miners.entries()) await m.registerMiner({ endpoint: `http://127.0.0.1:${9000 + i}`, idleSpace: 1024n * MiB });
      const listed = await user.miners();
      for (const m of miners) expect(listed).toContainEqual(expect.objectContaining({ account: m.account, state: 'positive' }));
      const fid = hex(6, salt);
      const seen: ChainEvent[] = [];
      const ac = new AbortController();
      const watching = (async () => {
        for await (const e of user.events({ signal: ac.signal })) {
          if ('fid' in e && e.fid === fid) seen.push(e);
          if (e.type === 'StorageCompleted' && e.fid === fid) break;
        }
      })();
      await new Promise((r) => setTimeout(r, 50)); // the subscription starts from "now"
      await declare(gateway, user.account, fid);
      expect(await refused(gateway.transferReport({ index: 1, fid }))).toMatch(/^fileBank\./); // not a miner
      expect(await refused(miners[0].transferReport({ index: 0, fid }))).toMatch(/^fileBank\./);
      expect(await refused(miners[0].transferReport({ index: 1, fid: hex(999, salt) }))).toMatch(/^fileBank\./);
      for (let i = 0; i < 11; i++) await miners[i].transferReport({ index: i + 1, fid });
      expect(await refused(miners[11].transferReport({ index: 3, fid }))).toMatch(/^fileBank\./); // column taken
      expect(await refused(miners[2].transferReport({ index: 12, fid }))).toMatch(/^fileBank\./); // one column per node
      expect((await user.deal(fid))!.completed).toHaveLength(11);
      const last = await miners[11].transferReport({ index: 12, fid });
      expect(last.events.map((e) => e.type)).toEqual(['TransferReport', 'StorageCompleted']);
      expect(await user.deal(fid)).toBeUndefined();
      const file = await user.file(fid);
      expect(file).toMatchObject({ fid, fileSize: 5n, state: 'Active', owners: [{ user: user.account, fileName: 'hello.txt', territoryName: 't1' }] });
      expect(file!.segments[0].fragments.map((f) => f.miner)).toEqual(miners.slice(0, 12).map((m) => m.account));
      expect(await user.userFiles(user.account)).toEqual([{ fid, territoryName: 't1', fileSize: 5n }]);
      const t = await user.territory(user.account, 't1');
      expect(t).toMatchObject({ lockedSpace: 0n, usedSpace: 12n * 8n * MiB });
      await watching;
      ac.abort();
      expect(seen.map((e) => e.type)).toEqual(['UploadDeclaration', ...Array(12).fill('TransferReport'), 'StorageCompleted']);

      // Another user declaring the stored FID becomes an owner at once ("fly upload").
      const second = await h.client(`second${salt}`);
      await h.fund(`second${salt}`, 10n ** 5n * CHAIN.unit);
      await second.mintTerritory({ name: 't2', gib: 1, days: 30 });
      await second.authorize(gateway.account);
      await gateway.declareUpload({ fid, segments: [segment(0, salt)], user: { user: second.account, fileName: 'copy.txt', territoryName: 't2' }, fileSize: 5n });
      expect((await user.file(fid))!.owners.map((o) => o.user)).toEqual([user.account, second.account]);
      expect((await second.territory(second.account, 't2'))!.usedSpace).toBe(12n * 8n * MiB);

      // Delete: the first owner leaves, the file stays for the second; the second leaves, the file is gone.
      await gateway.deleteFile({ owner: user.account, fid });
      expect(await user.userFiles(user.account)).toEqual([]);
      expect((await user.territory(user.account, 't1'))!.usedSpace).toBe(0n);
      expect((await user.file(fid))!.owners.map((o) => o.user)).toEqual([second.account]);
      expect(await refused(gateway.deleteFile({ owner: user.account, fid }))).toMatch(/^fileBank\./);
      const del = await second.deleteFile({ owner: second.account, fid });
      expect(del.events).toContainEqual(expect.objectContaining({ type: 'DeleteFile', owner: second.account, fid }));
      expect(await user.file(fid)).toBeUndefined();
    });

    it('deletes a pending deal for its user and unlocks the space', async () => {
      const { user, gateway } = await world();
      const fid = hex(7, salt);
      await declare(gateway, user.account, fid);
      await gateway.deleteFile({ owner: user.account, fid });
      expect(await user.deal(fid)).toBeUndefined();
      expect((await user.territory(user.account, 't1'))!.lockedSpace).toBe(0n);
      expect(await refused(gateway.deleteFile({ owner: user.account, fid }))).toBe('fileBank.NonExistent');
    });

    it('expires territories after their deadline and refuses declarations into them', async (ctx) => {
      const { user, gateway, h } = await world();
      if (!h.advanceDays) return ctx.skip();
      await h.advanceDays(31);
      expect((await user.territory(user.account, 't1'))!.state).toBe('Expired');
      expect(await refused(declare(gateway, user.account, hex(8, salt)))).toBe('storageHandler.TerritoryExpired');
      await user.renewTerritory({ name: 't1', days: 30 });
      expect((await user.territory(user.account, 't1'))!.state).toBe('Active');
      await declare(gateway, user.account, hex(8, salt));
    });
  });
}
