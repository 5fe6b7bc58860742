import { describe, expect, it } from 'vitest';
import type { Account } from '../../origin/src/chain/accounts.ts';
import { ChainDispatchError, CHAIN, type Chain, type ChainEvent, type TxReceipt } from '../../origin/src/chain/port.ts';
import { proxyAuthorizationMessage } from '../../origin/src/chain/proxy-authorization.ts';

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
  /** The key of `role`, for what users sign themselves (proxy authorizations, territory transactions). */
  key(role: string): Promise<Account>;
  /**
   * Makes `role` an active storage node serving `endpoint`. Default: the client's `registerMiner`. A real CESS
   * node only turns a registered miner `positive` after TEE-certified space; a dev chain harness does that part.
   */
  activateMiner?(role: string, endpoint: string, idleSpace: bigint): Promise<void>;
  /** Where the chain's rules differ by runtime (defaults: the local chain's, which follow current CESS). */
  rules?: {
    /** Whether a pending deal can be deleted by its user (local: yes; CESS: `fileBank.NonExistent`). @default true */
    pendingDealDeletable?: boolean;
    /**
     * Territory space a "fly upload" (declaring a stored FID) charges per segment. @default 96 MiB. Less than that
     * (the spec-100 devnet runtime) also means that owner's delete fails: the chain gives back 96 MiB per segment.
     */
    flyUploadBytesPerSegment?: bigint;
  };
}

const hex = (n: number, salt = 0) => (n * 7919 + salt).toString(16).padStart(64, '0').slice(-64);
const segment = (i: number, salt = 0) => ({ hash: hex(1000 + i, salt), fragments: Array.from({ length: 12 }, (_, k) => hex(2000 + i * 12 + k, salt)) });
const MiB = 1024n * 1024n;
const fees = (...receipts: TxReceipt[]) => receipts.reduce((sum, r) => sum + r.fee, 0n);
const types = (events: { type: string }[]) => events.map((e) => e.type).sort();

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
    // A random base keeps FIDs and names of one run apart from earlier runs on a chain that persists (live nodes).
    let salt = Math.floor(Math.random() * 1_000_000);
    /** A funded user with territory `t1` (2 GiB) who authorized a registered gateway, plus the gateway. */
    async function world() {
      salt++;
      const h = await setup();
      const user = await h.client(`user${salt}`);
      const gateway = await h.client(`gateway${salt}`);
      await h.fund(`user${salt}`, 10n ** 6n * CHAIN.unit);
      await gateway.registerGateway({ endpoint: `http://127.0.0.1:${8000 + (salt % 1000)}`, domain: '' });
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
      const sent = await a.transfer(b.account, 5n * CHAIN.unit);
      expect(sent.fee).toBeGreaterThanOrEqual(0n);
      expect(await a.balance(a.account)).toBe(before - 5n * CHAIN.unit - sent.fee);
      expect(await b.balance(b.account)).toBeGreaterThanOrEqual(5n * CHAIN.unit);
      const minted = await a.mintTerritory({ name: 'paid', gib: 1, days: 30 });
      expect(minted.events).toContainEqual(expect.objectContaining({ type: 'MintTerritory', owner: a.account, name: 'paid', space: 1024n * MiB }));
      expect(await a.balance(a.account)).toBe(before - 5n * CHAIN.unit - 30n * CHAIN.unitPrice - fees(sent, minted));
      const t = await a.territory(a.account, 'paid');
      expect(t).toMatchObject({ name: 'paid', totalSpace: 1024n * MiB, usedSpace: 0n, lockedSpace: 0n, remainingSpace: 1024n * MiB, state: 'Active' });
      expect(t!.deadline - t!.start).toBe(30 * CHAIN.blocksPerDay);
      expect(await refused(a.mintTerritory({ name: 'paid', gib: 1, days: 30 }))).toMatch(/^storageHandler\./);
      // The local chain says balances.InsufficientBalance, CESS storageHandler.InsufficientBalance.
      expect(await refused(b.mintTerritory({ name: 'huge', gib: 100_000, days: 365 }))).toMatch(/\.InsufficientBalance$/);
      await a.expandTerritory({ name: 'paid', gib: 1 });
      await a.renewTerritory({ name: 'paid', days: 10 });
      const t2 = await a.territory(a.account, 'paid');
      expect(t2!.totalSpace).toBe(2048n * MiB);
      expect(t2!.deadline).toBe(t!.deadline + 10 * CHAIN.blocksPerDay);
    });

    it('registers gateways and records authorizations', async () => {
      const { user, gateway, h } = await world();
      expect(await gateway.gateway(gateway.account)).toMatchObject({ account: gateway.account, endpoint: `http://127.0.0.1:${8000 + (salt % 1000)}` });
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
      // Thirteen accounts registering at once.
      await Promise.all(
        miners.map((m, i) => {
          const endpoint = `http://127.0.0.1:${9000 + i}`;
          return h.activateMiner ? h.activateMiner(`miner${salt}-${i}`, endpoint, 1024n * MiB) : m.registerMiner({ endpoint, idleSpace: 1024n * MiB });
        }),
      );
      const listed = await user.miners();
      for (const m of miners) expect(listed).toContainEqual(expect.objectContaining({ account: m.account, state: 'positive' }));
      const fid = hex(6, salt);
      const seen: ChainEvent[] = [];
      const ac = new AbortController();
      const watching = (async () => {
        for await (const e of user.events({ signal: ac.signal })) {
          if ('fid' in e && e.fid === fid) seen.push(e);
          // The last report and StorageCompleted share a transaction, in either order.
          if (seen.some((x) => x.type === 'StorageCompleted') && seen.filter((x) => x.type === 'TransferReport').length === 12) break;
        }
      })();
      await new Promise((r) => setTimeout(r, 50)); // the subscription starts from "now"
      await declare(gateway, user.account, fid);
      expect(await refused(gateway.transferReport({ index: 1, fid }))).toMatch(/^(fileBank|sminer)\./); // not a miner
      expect(await refused(miners[0].transferReport({ index: 0, fid }))).toMatch(/^fileBank\./);
      expect(await refused(miners[0].transferReport({ index: 1, fid: hex(999, salt) }))).toMatch(/^fileBank\./);
      for (let i = 0; i < 11; i++) await miners[i].transferReport({ index: i + 1, fid });
      expect(await refused(miners[11].transferReport({ index: 3, fid }))).toMatch(/^fileBank\./); // column taken
      expect(await refused(miners[2].transferReport({ index: 12, fid }))).toMatch(/^fileBank\./); // one column per node
      expect((await user.deal(fid))!.completed).toHaveLength(11);
      const last = await miners[11].transferReport({ index: 12, fid });
      // CESS emits StorageCompleted inside the report, before TransferReport: same block, same transaction.
      expect(types(last.events)).toEqual(['StorageCompleted', 'TransferReport']);
      expect(last.events).toContainEqual(expect.objectContaining({ type: 'TransferReport', miner: miners[11].account, fid }));
      expect(await user.deal(fid)).toBeUndefined();
      const file = await user.file(fid);
      expect(file).toMatchObject({ fid, fileSize: 5n, state: 'Active', owners: [{ user: user.account, fileName: 'hello.txt', territoryName: 't1' }] });
      expect(file!.segments[0].fragments.map((f) => f.miner)).toEqual(miners.slice(0, 12).map((m) => m.account));
      expect(await user.userFiles(user.account)).toEqual([{ fid, territoryName: 't1', fileSize: 5n }]);
      const t = await user.territory(user.account, 't1');
      expect(t).toMatchObject({ lockedSpace: 0n, usedSpace: 12n * 8n * MiB });
      await watching;
      ac.abort();
      expect(seen[0].type).toBe('UploadDeclaration');
      expect(types(seen)).toEqual(['StorageCompleted', ...Array(12).fill('TransferReport'), 'UploadDeclaration']);
      const reported = seen.flatMap((e) => (e.type === 'TransferReport' ? [e] : []));
      expect(reported.map((e) => e.miner)).toEqual(miners.slice(0, 12).map((m) => m.account));
      for (const [i, e] of reported.entries()) if (e.index !== undefined) expect(e.index).toBe(i + 1);

      // Another user declaring the stored FID becomes an owner at once ("fly upload").
      const second = await h.client(`second${salt}`);
      await h.fund(`second${salt}`, 10n ** 5n * CHAIN.unit);
      await second.mintTerritory({ name: 't2', gib: 1, days: 30 });
      await second.authorize(gateway.account);
      await gateway.declareUpload({ fid, segments: [segment(0, salt)], user: { user: second.account, fileName: 'copy.txt', territoryName: 't2' }, fileSize: 5n });
      expect((await user.file(fid))!.owners.map((o) => o.user)).toEqual([user.account, second.account]);
      expect((await second.territory(second.account, 't2'))!.usedSpace).toBe(h.rules?.flyUploadBytesPerSegment ?? 12n * 8n * MiB);

      // Delete: the first owner leaves, the file stays for the second; the second leaves, the file is gone.
      await gateway.deleteFile({ owner: user.account, fid });
      expect(await user.userFiles(user.account)).toEqual([]);
      expect((await user.territory(user.account, 't1'))!.usedSpace).toBe(0n);
      expect((await user.file(fid))!.owners.map((o) => o.user)).toEqual([second.account]);
      expect(await refused(gateway.deleteFile({ owner: user.account, fid }))).toMatch(/^fileBank\./);
      if ((h.rules?.flyUploadBytesPerSegment ?? 12n * 8n * MiB) < 12n * 8n * MiB) {
        // The spec-100 devnet runtime charged a fly upload less than deleting gives back: the chain's subtraction
        // overflows and the second owner cannot leave (fixed in later runtimes).
        expect(await refused(second.deleteFile({ owner: second.account, fid }))).toBe('storageHandler.Overflow');
        return;
      }
      const del = await second.deleteFile({ owner: second.account, fid });
      expect(del.events).toContainEqual(expect.objectContaining({ type: 'DeleteFile', owner: second.account, fid }));
      expect(await user.file(fid)).toBeUndefined();
    });

    it('deletes a pending deal for its user and unlocks the space (where the chain allows it)', async () => {
      const { user, gateway, h } = await world();
      const fid = hex(7, salt);
      await declare(gateway, user.account, fid);
      if (h.rules?.pendingDealDeletable === false) {
        // CESS deletes stored files only: the deal stays and keeps its space locked.
        expect(await refused(gateway.deleteFile({ owner: user.account, fid }))).toBe('fileBank.NonExistent');
        expect(await user.deal(fid)).toBeDefined();
        expect((await user.territory(user.account, 't1'))!.lockedSpace).toBe(12n * 8n * MiB);
        return;
      }
      await gateway.deleteFile({ owner: user.account, fid });
      expect(await user.deal(fid)).toBeUndefined();
      expect((await user.territory(user.account, 't1'))!.lockedSpace).toBe(0n);
      expect(await refused(gateway.deleteFile({ owner: user.account, fid }))).toBe('fileBank.NonExistent');
    });

    it('keeps several transactions of one account in flight at once', async () => {
      const { user, gateway } = await world();
      const fids = Array.from({ length: 6 }, (_, i) => hex(50 + i, salt));
      const receipts = await Promise.all(fids.map((fid, i) => declare(gateway, user.account, fid, [segment(10 + i, salt)])));
      for (const [i, r] of receipts.entries()) expect(r.events).toContainEqual(expect.objectContaining({ type: 'UploadDeclaration', fid: fids[i] }));
      for (const fid of fids) expect(await user.deal(fid)).toMatchObject({ fid });
      expect((await user.territory(user.account, 't1'))!.lockedSpace).toBe(6n * 12n * 8n * MiB);
      // A refused one among them fails alone.
      const mixed = await Promise.allSettled([declare(gateway, user.account, hex(60, salt), [segment(20, salt)]), declare(gateway, user.account, hex(61, salt), [segment(21, salt)], 'nope')]);
      expect(mixed[0].status).toBe('fulfilled');
      expect(mixed[1].status).toBe('rejected');
      expect((mixed[1] as PromiseRejectedResult).reason).toMatchObject({ id: 'storageHandler.NotHaveTerritory' });
      // Back to back: each waits for the previous one's block.
      for (let i = 0; i < 3; i++) await user.transfer(gateway.account, CHAIN.unit);
    });

    it('accepts a gateway authorization the user signed and the gateway submits', async () => {
      const h = await setup();
      salt++;
      const owner = await h.key(`proxy-user${salt}`);
      const user = await h.client(`proxy-user${salt}`);
      const gateway = await h.client(`proxy-gateway${salt}`);
      await gateway.registerGateway({ endpoint: `http://127.0.0.1:${9000 + (salt % 1000)}`, domain: '' });
      const exp = await gateway.blockNumber();
      const sign = (operator: string, e: number) => owner.sign(proxyAuthorizationMessage({ operator, exp: e }));
      const forged = new Uint8Array(sign(gateway.account, exp));
      forged[0] ^= 1;
      expect(await refused(gateway.proxyAuthorize({ owner: owner.address, operator: gateway.account, exp, signature: forged }))).toBe('oss.VerifySigFailed');
      expect(await refused(gateway.proxyAuthorize({ owner: owner.address, operator: gateway.account, exp: exp + 1, signature: sign(gateway.account, exp) }))).toBe('oss.VerifySigFailed');
      expect(await user.isAuthorized(owner.address, gateway.account)).toBe(false);
      await gateway.proxyAuthorize({ owner: owner.address, operator: gateway.account, exp, signature: sign(gateway.account, exp) });
      expect(await user.isAuthorized(owner.address, gateway.account)).toBe(true);
      expect(await refused(gateway.proxyAuthorize({ owner: owner.address, operator: gateway.account, exp, signature: sign(gateway.account, exp) }))).toBe('oss.Existed');
      // Expired: more than 100 blocks after the block it was signed for.
      await user.cancelAuthorize(gateway.account);
      expect(await user.isAuthorized(owner.address, gateway.account)).toBe(false);
      let old = exp - CHAIN.proxyPayloadExpiryBlocks;
      if (old < 0 && h.advanceDays) {
        await h.advanceDays(1);
        old = exp;
      }
      if (old >= 0) {
        expect(await refused(gateway.proxyAuthorize({ owner: owner.address, operator: gateway.account, exp: old, signature: sign(gateway.account, old) }))).toBe('oss.Expired');
      }
    });

    it('builds territory transactions that the user signs and anyone submits', async () => {
      const h = await setup();
      salt++;
      const key = await h.key(`buyer${salt}`);
      const buyer = await h.client(`buyer${salt}`);
      const relay = await h.client(`relay${salt}`);
      await h.fund(`buyer${salt}`, 10n ** 5n * CHAIN.unit);
      const mint = await relay.buildTerritoryTx(key.address, { kind: 'mint', name: 'web', gib: 1, days: 30 });
      expect(mint).toMatchObject({ signer: key.address, call: { kind: 'mint', name: 'web', gib: 1, days: 30 }, price: 30n * CHAIN.unitPrice });
      expect(mint.signingPayload).toMatch(/^0x[0-9a-f]+$/);
      expect(mint.validUntil).toBeGreaterThan(await relay.blockNumber());
      const sig = key.sign(Buffer.from(mint.signingPayload.slice(2), 'hex'));
      // A signature over anything else is refused, and nothing is charged.
      const before = await buyer.balance(key.address);
      const wrong = key.sign(new TextEncoder().encode('something else'));
      await expect(relay.submitSignedTx({ signer: key.address, payload: mint.payload, signature: wrong })).rejects.toBeInstanceOf(ChainDispatchError);
      expect(await buyer.balance(key.address)).toBe(before);
      // Round trip through JSON, as a web client does.
      const payload = JSON.parse(JSON.stringify(mint.payload));
      const receipt = await relay.submitSignedTx({ signer: key.address, payload, signature: sig });
      expect(receipt.events).toContainEqual(expect.objectContaining({ type: 'MintTerritory', owner: key.address, name: 'web' }));
      expect(await buyer.territory(key.address, 'web')).toMatchObject({ totalSpace: 1024n * MiB, state: 'Active' });
      expect(await buyer.balance(key.address)).toBe(before - 30n * CHAIN.unitPrice - receipt.fee);
      // The same signed transaction cannot run twice.
      await expect(relay.submitSignedTx({ signer: key.address, payload, signature: sig })).rejects.toBeInstanceOf(ChainDispatchError);
      const t0 = (await buyer.territory(key.address, 'web'))!;
      const expand = await relay.buildTerritoryTx(key.address, { kind: 'expand', name: 'web', gib: 1 });
      await relay.submitSignedTx({ signer: key.address, payload: expand.payload, signature: key.sign(Buffer.from(expand.signingPayload.slice(2), 'hex')) });
      const renew = await relay.buildTerritoryTx(key.address, { kind: 'renew', name: 'web', days: 30 });
      expect(renew.price).toBe(2n * 30n * CHAIN.unitPrice);
      await relay.submitSignedTx({ signer: key.address, payload: renew.payload, signature: key.sign(Buffer.from(renew.signingPayload.slice(2), 'hex')) });
      const t1 = (await buyer.territory(key.address, 'web'))!;
      expect(t1.totalSpace).toBe(2048n * MiB);
      expect(t1.deadline).toBe(t0.deadline + 30 * CHAIN.blocksPerDay);
      await expect(relay.buildTerritoryTx(key.address, { kind: 'mint', name: '', gib: 1, days: 30 })).rejects.toBeInstanceOf(ChainDispatchError);
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
