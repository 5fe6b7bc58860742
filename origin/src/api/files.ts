import type { Hono } from 'hono';
import { decodeAddress, encodeAddress } from '@polkadot/util-crypto';
import { requireSignature } from './auth.ts';
import type { OriginEnv, OriginServices } from './context.ts';
import { describeFile } from './download.ts';
import { ApiError } from './errors.ts';

const FID = /^[0-9a-f]{64}$/;

function fidParam(value: string): string {
  if (!FID.test(value)) throw new ApiError(400, 'invalid fid');
  return value;
}

/** File information routes and delete. */
export function fileRoutes(app: Hono<OriginEnv>, s: OriginServices): void {
  app.get('/file/metadata/:fid', async (c) => {
    const fid = fidParam(c.req.param('fid'));
    const file = await describeFile(s, fid);
    if (!file) {
      const deal = await s.chain.deal(fid);
      if (!deal) throw new ApiError(404, 'not found');
      return c.json({ code: 200, msg: 'ok', data: { fid, size: Number(deal.fileSize), owner: [{ user: deal.user.user, file_name: deal.user.fileName }] } });
    }
    return c.json({ code: 200, msg: 'ok', data: { fid, size: file.size, owner: file.owners.map((o) => ({ user: o.user, file_name: o.fileName })) } });
  });

  /** Where an upload stands: staged, dispatching (n of 12 columns), reporting, stored, failed. */
  app.get('/file/state/:fid', async (c) => {
    const fid = fidParam(c.req.param('fid'));
    const local = s.uploads.byFid(fid);
    if (local) return c.json({ code: 200, msg: 'ok', data: { fid, ...s.uploads.progress(local) } });
    if (await s.chain.file(fid)) return c.json({ code: 200, msg: 'ok', data: { fid, state: 'stored', columnsDone: 12 } });
    const deal = await s.chain.deal(fid);
    if (deal) return c.json({ code: 200, msg: 'ok', data: { fid, state: 'reporting', columnsDone: deal.completed.length, segments: deal.segments.length } });
    throw new ApiError(404, 'not found');
  });

  app.get('/file/location/:fid', async (c) => {
    const fid = fidParam(c.req.param('fid'));
    s.retriever.forgetRecord(fid);
    const record = await s.chain.file(fid);
    if (!record) throw new ApiError(404, 'not found');
    const endpoints = new Map((await s.chain.miners()).map((m) => [m.account, m.endpoint]));
    const columns = record.segments[0].fragments.map((f, column) => ({ column, account: f.miner, endpoint: endpoints.get(f.miner) ?? null }));
    return c.json({ code: 200, msg: 'ok', data: { fid, columns } });
  });

  app.get('/file/list', async (c) => {
    const raw = c.req.query('Account') ?? c.req.header('Account');
    if (!raw) throw new ApiError(400, 'please set your Account in the header or url');
    let account: string;
    try {
      account = encodeAddress(decodeAddress(raw), 11330);
    } catch {
      throw new ApiError(400, `invalid CESS account: ${raw}`);
    }
    const territory = c.req.query('Territory') ?? c.req.header('Territory');
    const files = (await s.chain.userFiles(account)).filter((f) => !territory || f.territoryName === territory);
    return c.json({ code: 200, msg: 'ok', data: files.map((f) => ({ territory: f.territoryName, fid: f.fid, size: Number(f.fileSize) })) });
  });

  app.delete('/file/:fid', requireSignature(s), async (c) => {
    const fid = fidParam(c.req.param('fid'));
    const receipt = await s.chain.deleteFile({ owner: c.get('caller'), fid });
    s.retriever.forgetRecord(fid);
    const record = await s.chain.file(fid);
    if (!record) await s.cache.delete(fid);
    return c.json({ code: 200, msg: 'ok', data: { block: receipt.block } });
  });
}
