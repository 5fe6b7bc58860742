import { Hono, type Context } from 'hono';
import type { Chain } from '../chain/port.ts';
import { SignatureError, verifySignedHeaders, type ReplayCache } from '../auth/signed-message.ts';
import { multipartBoundary, multipartParts, MultipartError } from '../http/multipart.ts';
import { sendStream } from '../http/node-response.ts';
import { FRAGMENT_SIZE, ZERO_FRAGMENT_HASH } from '../pipeline/constants.ts';
import type { ColumnReporter } from './column-reporter.ts';
import { CapacityExceededError, FragmentMismatchError, type FragmentDisk } from './fragment-disk.ts';
import { requestBody } from '../http/node-request.ts';

export interface StorageNodeAppOptions {
  chain: Chain;
  disk: FragmentDisk;
  reporter: ColumnReporter;
  /** Accept DeOSS-style messages without an expiry (16 random characters). @default false */
  allowMessageWithoutExpiry?: boolean;
  /** Furthest ahead a signed message may expire. @default 1 h */
  maxAheadMs?: number;
  replay?: ReplayCache;
  /** How long a gateway registration looked up on chain is trusted. @default 60 s */
  gatewayCacheMs?: number;
}

const HASH = /^[0-9a-f]{64}$/;

/** Errors of the fragment protocol: HTTP status and the DeOSS-style body `{code,msg}`. */
class FragmentHttpError extends Error {
  readonly status: 400 | 403 | 404 | 416 | 507;
  constructor(status: FragmentHttpError['status'], message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * The CESS storage-node fragment protocol: `PUT /fragment` (multipart field `file`) and `GET /fragment` (optional
 * `Range`), headers `Fid`, `Fragment`, `Account`, `Message`, `Signature`. Only registered gateways may call it, and
 * only for fragments of deals on chain.
 */
export function storageNodeApp(options: StorageNodeAppOptions): Hono {
  const { chain, disk, reporter } = options;
  const metrics = { puts: 0, gets: 0, putBytes: 0, rejected: 0 };
  const gateways = new Map<string, number>();
  const gatewayCacheMs = options.gatewayCacheMs ?? 60_000;

  async function authorize(c: Context): Promise<{ fid: string; hash: string }> {
    const fid = c.req.header('Fid') ?? '';
    const hash = c.req.header('Fragment') ?? '';
    if (!HASH.test(fid) || !HASH.test(hash)) throw new FragmentHttpError(400, 'Fid and Fragment must be 64 lowercase hex characters');
    let account: string;
    try {
      ({ account } = await verifySignedHeaders(
        { account: c.req.header('Account'), message: c.req.header('Message'), signature: c.req.header('Signature') },
        { allowMessageWithoutExpiry: options.allowMessageWithoutExpiry, maxAheadMs: options.maxAheadMs ?? 3_600_000, replay: options.replay },
      ));
    } catch (err) {
      if (err instanceof SignatureError) throw new FragmentHttpError(403, err.message);
      throw err;
    }
    const known = gateways.get(account);
    if (!known || known < Date.now()) {
      if (!(await chain.gateway(account))) throw new FragmentHttpError(403, 'caller is not a registered gateway');
      gateways.set(account, Date.now() + gatewayCacheMs);
    }
    return { fid, hash };
  }

  async function fragmentIsDeclared(fid: string, hash: string): Promise<boolean> {
    const has = (segments: { fragments: (string | { hash: string })[] }[]) =>
      segments.some((s) => s.fragments.some((f) => (typeof f === 'string' ? f : f.hash) === hash));
    const deal = await chain.deal(fid);
    if (deal && has(deal.segments)) return true;
    const file = await chain.file(fid);
    return !!file && has(file.segments);
  }

  const app = new Hono();

  app.onError((err, c) => {
    metrics.rejected++;
    if (err instanceof FragmentHttpError) return c.json({ code: err.status, msg: err.message }, err.status);
    if (err instanceof FragmentMismatchError || err instanceof MultipartError) return c.json({ code: 400, msg: err.message }, 400);
    if (err instanceof CapacityExceededError) return c.json({ code: 507, msg: err.message }, 507);
    console.error('storage node error:', err);
    return c.json({ code: 500, msg: 'internal error' }, 500);
  });

  app.put('/fragment', async (c) => {
    const { fid, hash } = await authorize(c);
    if (!(await fragmentIsDeclared(fid, hash))) throw new FragmentHttpError(403, 'fragment is not part of a declared deal');
    const body = requestBody(c);
    if (hash !== ZERO_FRAGMENT_HASH) {
      const boundary = multipartBoundary(c.req.header('Content-Type'));
      if (!boundary || !body) throw new FragmentHttpError(400, 'expected a multipart/form-data body with a field "file"');
      let stored = false;
      for await (const part of multipartParts(body, boundary)) {
        if (part.name !== 'file' || stored) continue;
        await disk.write(fid, hash, part.body, c.req.raw.signal);
        stored = true;
      }
      if (!stored) throw new FragmentHttpError(400, 'multipart field "file" is missing');
      metrics.putBytes += FRAGMENT_SIZE;
    } else {
      // An all-zero fragment is known by its hash (CESS miners accept it without a body); record that we hold it.
      await disk.write(fid, hash, body ?? (async function* () {})(), c.req.raw.signal);
    }
    metrics.puts++;
    reporter.touch(fid);
    return c.json({ code: 200, msg: 'ok' });
  });

  app.get('/fragment', async (c) => {
    const { fid, hash } = await authorize(c);
    const range = parseFragmentRange(c.req.header('Range'));
    const stream = await disk.read(fid, hash, range);
    if (!stream) throw new FragmentHttpError(404, 'fragment not held by this node');
    metrics.gets++;
    if (!range) return sendStream(c, 200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(FRAGMENT_SIZE) }, stream);
    return sendStream(
      c,
      206,
      {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(range.end - range.start + 1),
        'Content-Range': `bytes ${range.start}-${range.end}/${FRAGMENT_SIZE}`,
      },
      stream,
    );
  });

  app.get('/healthz', (c) => c.json({ ok: true, role: 'storage-node', account: chain.account, used: disk.used, capacity: disk.capacity }));

  app.get('/metrics', (c) =>
    c.text(
      [
        `deoss_storage_node_capacity_bytes ${disk.capacity}`,
        `deoss_storage_node_used_bytes ${disk.used}`,
        `deoss_storage_node_fragment_puts_total ${metrics.puts}`,
        `deoss_storage_node_fragment_put_bytes_total ${metrics.putBytes}`,
        `deoss_storage_node_fragment_gets_total ${metrics.gets}`,
        `deoss_storage_node_rejected_total ${metrics.rejected}`,
        '',
      ].join('\n'),
      200,
      { 'Content-Type': 'text/plain; version=0.0.4' },
    ),
  );

  return app;
}

/**
 * `Range: bytes=a-b` (standard, b inclusive; `bytes=a-` reads to the end) or `bytes=a-b/8388608`, what DeOSS
 * sends miners, where CESS miners return b − a bytes (b exclusive). Returns an inclusive range within one fragment.
 */
export function parseFragmentRange(header: string | undefined): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d+)-(\d*)(?:\/(\d+))?$/.exec(header.trim());
  if (!m) throw new FragmentHttpError(416, `unsupported Range: ${header}`);
  const start = Number(m[1]);
  const last = m[2] === '' ? FRAGMENT_SIZE - 1 : Number(m[2]) - (m[3] !== undefined ? 1 : 0);
  const end = Math.min(last, FRAGMENT_SIZE - 1);
  if (start > end) throw new FragmentHttpError(416, `unsatisfiable Range: ${header}`);
  return { start, end };
}
