/**
 * The edge's client of the origins' internal API (origin/src/api/internal*.ts). Every request is signed with the
 * shared secret as origin/src/auth/internal-hmac.ts verifies it (the string to sign and the signed headers come from
 * there): HMAC-SHA256 over method, path and query, time, nonce, body hash and the X-Deoss-* and Range headers.
 * Origins are chosen nearest first (by region, from `request.cf`), and requests without a body fail over to the next
 * origin when one is unreachable or answers 5xx. An origin that failed is skipped for `downForMs`.
 */
import { internalStringToSign, signedHeaderBlock } from '../../../origin/src/auth/internal-hmac.ts';

export interface OriginTarget {
  url: string;
  /** A name for the region the origin runs in, e.g. `eu-central`. */
  region: string;
  /** Cloudflare continent codes (`EU`, `NA`, `AS`, …) this origin is nearest to. */
  continents?: string[];
}

export interface Placement {
  /** `request.cf.continent`, or a configured override for local runs. */
  continent?: string;
  /** Preferred region by name (EDGE_REGION override). */
  region?: string;
}

export class OriginError extends Error {
  override name = 'OriginError';
  readonly status: number;
  readonly origin: string;
  constructor(status: number, message: string, origin: string) {
    super(message);
    this.status = status;
    this.origin = origin;
  }
}

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export interface StoredObject {
  fid: string;
  size: number;
  md5: string;
  state: string;
}

export interface StagedPart {
  /** `<origin url>#<handle>`: a part lives on the origin that staged it. */
  ref: string;
  size: number;
  md5: string;
}

export type ComposeSource = { part: string } | { fid: string; start?: number; end?: number };

export interface OriginClientOptions {
  origins: OriginTarget[];
  secret: string;
  /** How long an origin that failed is skipped, ms. @default 30000 */
  downForMs?: number;
  /**
   * How long a GET or HEAD waits for an origin's answer (status and headers) before it counts as failed and the next
   * origin is asked, ms: an origin that accepts connections and never answers must not hold reads. Only reads: a
   * write or a release may rightly take longer (a chain transaction, a large compose). @default 30000
   */
  readTimeoutMs?: number;
  /**
   * Writes and releases wait for their answer as long as their origin works on them, but not on an origin that
   * stopped answering altogether (hung, its socket still taking connections): after this long without an answer,
   * and again after twice as long each time (at most six times as long), the origin's `/version` must answer within
   * `writeProbeTimeoutMs`, or the request is given up and the origin counted as down. A slow client's upload keeps its origin busy, not silent. @default 10000
   */
  writeProbeAfterMs?: number;
  /** How long that probe may take, ms. @default 5000 */
  writeProbeTimeoutMs?: number;
  fetch?: typeof fetch;
}

/** The longest wait between two liveness probes of one write, in units of writeProbeAfterMs. */
const PROBE_BACKOFF_MAX = 6;

/** In-isolate memory of failed origins (per worker isolate; a fresh isolate simply tries again). */
const downUntil = new Map<string, number>();

export class OriginClient {
  readonly #o: Required<Omit<OriginClientOptions, 'fetch'>> & { fetch: typeof fetch };
  #key?: Promise<CryptoKey>;

  constructor(options: OriginClientOptions) {
    if (!options.origins.length) throw new Error('no origins configured (EDGE_ORIGINS)');
    if (!options.secret) throw new Error('no edge secret configured (EDGE_SECRET)');
    this.#o = { downForMs: 30_000, readTimeoutMs: 30_000, writeProbeAfterMs: 10_000, writeProbeTimeoutMs: 5_000, fetch: (...a) => fetch(...a), ...options };
  }

  /** Origins in the order to try them: nearest and healthy first. */
  ordered(placement: Placement = {}): OriginTarget[] {
    const now = Date.now();
    const score = (o: OriginTarget) =>
      (downUntil.get(o.url) ?? 0) > now ? 4 : placement.region === o.region ? 0 : placement.continent && o.continents?.includes(placement.continent) ? 1 : 2;
    return this.#o.origins.map((o, i) => ({ o, i, s: score(o) })).sort((a, b) => a.s - b.s || a.i - b.i).map((x) => x.o);
  }

  /**
   * Sends a signed request. Bodyless requests try each origin in turn; a streamed body goes to the first origin
   * only (it cannot be replayed). `origin` pins the request to one origin (staged parts live there).
   */
  async request(
    method: string,
    path: string,
    init: {
      headers?: Record<string, string>;
      body?: ReadableStream<Uint8Array> | string | null;
      contentSha256?: string;
      placement?: Placement;
      origin?: string;
      signal?: AbortSignal;
      /**
       * A 404 sends a replayable request on to the next origin: only the origin that packed an object knows its
       * pack reference (see isPackRef).
       */
      notFoundTriesNext?: boolean;
    } = {},
  ): Promise<Response> {
    const targets = init.origin ? [init.origin] : this.ordered(init.placement).map((o) => o.url);
    const replayable = init.body === undefined || init.body === null || typeof init.body === 'string';
    const sha = typeof init.body === 'string' ? await sha256Hex(init.body) : (init.contentSha256 ?? UNSIGNED_PAYLOAD);
    let lastError: unknown;
    for (const base of replayable ? targets : targets.slice(0, 1)) {
      const headers = new Headers(init.headers);
      for (const [k, v] of Object.entries(await this.#sign(method, path, sha, headers))) headers.set(k, v);
      // A read gives up on an origin that has not answered in time, a write on one that stopped answering probes;
      // the answer's body is not timed.
      const guard = method === 'GET' || method === 'HEAD' ? this.#readTimeout() : this.#probeWhileWaiting(base);
      const signal = init.signal ? AbortSignal.any([init.signal, guard.signal]) : guard.signal;
      try {
        const res = await this.#o.fetch(`${base}${path}`, { method, headers, body: init.body ?? undefined, signal, ...(init.body ? { duplex: 'half' } : {}) } as RequestInit);
        guard.stop();
        if (res.status >= 500 && res.status !== 501 && replayable) {
          downUntil.set(base, Date.now() + this.#o.downForMs);
          lastError = await originError(res, base);
          continue;
        }
        if (res.status === 404 && init.notFoundTriesNext && replayable && base !== targets[targets.length - 1]) {
          lastError = await originError(res, base);
          continue;
        }
        return res;
      } catch (err) {
        guard.stop();
        if (init.signal?.aborted) throw err;
        downUntil.set(base, Date.now() + this.#o.downForMs);
        const reason = guard.signal.aborted ? (guard.signal.reason as Error).message : (err as Error).message;
        lastError = new OriginError(503, `origin ${base} unreachable: ${reason}`, base);
      }
    }
    throw lastError ?? new OriginError(503, 'no origin available', '');
  }

  /**
   * Streams an object's bytes to an origin. Resolves with its FID (or pack reference), size and MD5 once the
   * origin has written and checked them; `durable` settles when they are committed there: at once for an origin
   * that answers only then, later for a write-behind object (the two-line answer of `X-Deoss-Report: written`),
   * so the caller can record the object meanwhile. `durable` rejecting means the bytes are gone.
   */
  async putObject(
    body: ReadableStream<Uint8Array>,
    p: {
      owner: string;
      territory: string;
      fileName: string;
      sseKey?: string;
      contentSha256?: string;
      /** Most bytes a body of unknown length can have (a form's file): lets the origin pack a small one. */
      sizeAtMost?: number;
      placement?: Placement;
      signal?: AbortSignal;
    },
  ): Promise<StoredObject & { durable: Promise<void> }> {
    const headers: Record<string, string> = { 'X-Deoss-Owner': p.owner, 'X-Deoss-Territory': p.territory, 'X-Deoss-File-Name': encodeURIComponent(p.fileName), 'X-Deoss-Report': 'written' };
    if (p.sseKey) headers['X-Deoss-Sse-Key'] = p.sseKey;
    if (p.sizeAtMost !== undefined) headers['X-Deoss-Size-At-Most'] = String(p.sizeAtMost);
    const res = await this.request('PUT', '/internal/object', { headers, body, contentSha256: p.contentSha256, placement: p.placement, signal: p.signal });
    if (!res.ok || !res.headers.get('Content-Type')?.startsWith('application/x-ndjson')) return { ...(await json<StoredObject>(res)), durable: Promise.resolve() };
    const origin = new URL(res.url || 'http://unknown').origin;
    const lines = ndjson(res.body!);
    const first = await lines.next();
    if (first.done) throw new OriginError(502, 'the origin ended its answer before reporting the object', origin);
    const durable = (async () => {
      const outcome = (await lines.next()).value as { durable?: boolean; code?: number; msg?: string } | undefined;
      // Read to the end: a body left unread keeps its connection from going back to the pool (a new TCP connection per PUT).
      for (let rest = await lines.next(); !rest.done; rest = await lines.next());
      if (outcome?.durable !== true) throw new OriginError(outcome?.code ?? 502, outcome?.msg ?? 'the origin broke off before committing the object', origin);
    })();
    durable.catch(() => {}); // the caller awaits it; this only keeps an early failure from counting as unhandled
    return { ...(first.value as StoredObject), durable };
  }

  /**
   * The object's bytes (or an inclusive range), as the origin streams them. With the `owner`, an origin that did not
   * write a packed object finds its sealed pack on the chain (so it reads while the writer is down).
   */
  async getObject(fid: string, p: { range?: { start: number; end: number }; sseKey?: string; owner?: string; placement?: Placement; signal?: AbortSignal } = {}): Promise<Response> {
    const headers: Record<string, string> = {};
    if (p.range) headers.Range = `bytes=${p.range.start}-${p.range.end}`;
    if (p.sseKey) headers['X-Deoss-Sse-Key'] = p.sseKey;
    if (p.owner && isPackRef(fid)) headers['X-Deoss-Owner'] = p.owner;
    const res = await this.request('GET', `/internal/object/${fid}`, { headers, placement: p.placement, signal: p.signal, notFoundTriesNext: isPackRef(fid) });
    if (!res.ok) throw await originError(res, '');
    return res;
  }

  /** Releases an owner's FID at the chain (no S3 key refers to it any more). Absent files are fine. */
  async releaseFile(fid: string, owner: string, signal?: AbortSignal): Promise<void> {
    const res = await this.request('DELETE', `/internal/object/${fid}`, { headers: { 'X-Deoss-Owner': owner }, signal, notFoundTriesNext: isPackRef(fid) });
    if (!res.ok && res.status !== 404) throw await originError(res, '');
    await res.body?.cancel();
  }

  async putPart(body: ReadableStream<Uint8Array>, p: { sseKey?: string; contentSha256?: string; placement?: Placement; origin?: string; signal?: AbortSignal }): Promise<StagedPart> {
    const origin = p.origin ?? this.ordered(p.placement)[0].url;
    const headers: Record<string, string> = {};
    if (p.sseKey) headers['X-Deoss-Sse-Key'] = p.sseKey;
    const staged = await json<{ handle: string; size: number; md5: string }>(
      await this.request('PUT', '/internal/part', { headers, body, contentSha256: p.contentSha256, origin, signal: p.signal }),
    );
    return { ref: `${origin}#${staged.handle}`, size: staged.size, md5: staged.md5 };
  }

  /** Stages a range of a stored file as a part (UploadPartCopy). */
  async copyPart(p: { fid: string; range?: { start: number; end: number }; sseKey?: string; sourceSseKey?: string; origin?: string; placement?: Placement; signal?: AbortSignal }): Promise<StagedPart> {
    const origin = p.origin ?? this.ordered(p.placement)[0].url;
    const headers: Record<string, string> = { 'X-Deoss-Copy-Fid': p.fid };
    if (p.range) headers['X-Deoss-Copy-Range'] = `bytes=${p.range.start}-${p.range.end}`;
    if (p.sseKey) headers['X-Deoss-Sse-Key'] = p.sseKey;
    if (p.sourceSseKey) headers['X-Deoss-Copy-Sse-Key'] = p.sourceSseKey;
    const staged = await json<{ handle: string; size: number; md5: string }>(await this.request('PUT', '/internal/part', { headers, origin, signal: p.signal }));
    return { ref: `${origin}#${staged.handle}`, size: staged.size, md5: staged.md5 };
  }

  async releasePart(ref: string, signal?: AbortSignal): Promise<void> {
    const { origin, handle } = splitRef(ref);
    const res = await this.request('DELETE', `/internal/part/${handle}`, { origin, signal }).catch(() => undefined);
    await res?.body?.cancel();
  }

  /**
   * Concatenates staged parts and stored file ranges into one new file. Staged parts must all live on one origin
   * (the one that staged them); without parts any origin will do.
   */
  async compose(
    p: {
      owner: string;
      territory: string;
      fileName: string;
      sources: ({ partRef: string } | { fid: string; start?: number; end?: number })[];
      sseKey?: string;
      /** The parts were staged with an SSE-C key the request did not bring: the origin uses the one it holds. */
      sseKeyHeld?: boolean;
      sourceSseKey?: string;
      placement?: Placement;
      signal?: AbortSignal;
    },
  ): Promise<StoredObject> {
    let origin: string | undefined;
    const sources: ComposeSource[] = p.sources.map((s) => {
      if (!('partRef' in s)) return s;
      const ref = splitRef(s.partRef);
      if (origin && origin !== ref.origin) throw new OriginError(409, 'the parts of this upload were staged on different origins', ref.origin);
      origin = ref.origin;
      return { part: ref.handle };
    });
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (p.sseKey) headers['X-Deoss-Sse-Key'] = p.sseKey;
    else if (p.sseKeyHeld) headers['X-Deoss-Sse-Key-Held'] = '1';
    if (p.sourceSseKey) headers['X-Deoss-Copy-Sse-Key'] = p.sourceSseKey;
    const body = JSON.stringify({ owner: p.owner, territory: p.territory, fileName: p.fileName, sources });
    const packed = sources.some((s) => 'fid' in s && isPackRef(s.fid));
    return json(await this.request('POST', '/internal/compose', { headers, body, origin, placement: p.placement, signal: p.signal, notFoundTriesNext: packed }));
  }

  /**
   * Forwards a DeOSS API request (the user's own headers and signature) to the nearest origin, unsigned by us, under
   * the same deadlines as request(): a read gives up after `readTimeoutMs`, anything else on a hung origin.
   */
  async forward(req: Request, path: string, placement?: Placement): Promise<Response> {
    const targets = this.ordered(placement).map((o) => o.url);
    const replayable = req.method === 'GET' || req.method === 'HEAD';
    let last: unknown;
    for (const base of replayable ? targets : targets.slice(0, 1)) {
      const guard = replayable ? this.#readTimeout() : this.#probeWhileWaiting(base);
      try {
        const signal = req.signal ? AbortSignal.any([req.signal, guard.signal]) : guard.signal;
        const res = await this.#o.fetch(`${base}${path}`, { method: req.method, headers: req.headers, body: req.body, signal, ...(req.body ? { duplex: 'half' } : {}) } as RequestInit);
        guard.stop();
        if (res.status >= 500 && replayable) {
          downUntil.set(base, Date.now() + this.#o.downForMs);
          last = res;
          continue;
        }
        return res;
      } catch (err) {
        guard.stop();
        // The client went away: nothing is wrong with the origin.
        if (req.signal?.aborted) throw err;
        downUntil.set(base, Date.now() + this.#o.downForMs);
        last = guard.signal.aborted ? guard.signal.reason : err;
      }
    }
    if (last instanceof Response) return last;
    throw new OriginError(503, `no origin reachable: ${(last as Error)?.message ?? ''}`, '');
  }

  /** Aborts once a read has waited `readTimeoutMs` for its answer. */
  #readTimeout(): { signal: AbortSignal; stop: () => void } {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error(`no answer within ${this.#o.readTimeoutMs} ms`)), this.#o.readTimeoutMs);
    return { signal: ac.signal, stop: () => clearTimeout(timer) };
  }

  /** Aborts once `base` leaves a probe unanswered while a write waits for it (see writeProbeAfterMs). */
  #probeWhileWaiting(base: string): { signal: AbortSignal; stop: () => void } {
    const ac = new AbortController();
    const { writeProbeAfterMs: every, writeProbeTimeoutMs: within } = this.#o;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Each answered probe doubles the wait for the next, up to PROBE_BACKOFF_MAX times the first: a long, slow upload
    // costs a few dozen subrequests, not one per interval (Workers count them per request).
    let wait = every;
    const probe = async () => {
      const deadline = new AbortController();
      const giveUp = setTimeout(() => deadline.abort(new Error(`no answer within ${within} ms`)), within);
      try {
        const res = await this.#o.fetch(`${base}/version`, { signal: deadline.signal });
        await res.body?.cancel();
        wait = Math.min(wait * 2, every * PROBE_BACKOFF_MAX);
        if (!stopped) timer = setTimeout(probe, wait);
      } catch (err) {
        if (!stopped) ac.abort(new Error(`it left a liveness probe unanswered (${(err as Error).message}) while a write waited for it`));
      } finally {
        clearTimeout(giveUp);
      }
    };
    timer = setTimeout(probe, every);
    return {
      signal: ac.signal,
      stop: () => {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }

  /** The signature origin/src/auth/internal-hmac.ts verifies, over `headers` too (signedHeaderBlock: what the origin acts on). */
  async #sign(method: string, pathAndQuery: string, contentSha256: string, headers: Headers): Promise<Record<string, string>> {
    this.#key ??= crypto.subtle.importKey('raw', new TextEncoder().encode(this.#o.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const date = String(Date.now());
    // The origin accepts each signature once, and Date.now() stands still between I/O in Workers: without a nonce,
    // two reads of one FID (or two uploads of the same bytes) signed together would look like a replay.
    const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
    const toSign = internalStringToSign(method, pathAndQuery, date, nonce, contentSha256, signedHeaderBlock(headers));
    const mac = await crypto.subtle.sign('HMAC', await this.#key, new TextEncoder().encode(toSign));
    return { 'X-Deoss-Date': date, 'X-Deoss-Nonce': nonce, 'X-Deoss-Content-SHA256': contentSha256, 'X-Deoss-Signature': hex(new Uint8Array(mac)) };
  }
}

/**
 * An origin's reference to an object it wrote behind into a pack (`pack-<id>-<offset>-<size>`), kept where a FID
 * would be. Any origin can serve a FID; a pack reference only the origin holding the pack.
 */
export function isPackRef(fid: string): boolean {
  return fid.startsWith('pack-');
}

export function splitRef(ref: string): { origin: string; handle: string } {
  const at = ref.lastIndexOf('#');
  if (at < 0) throw new OriginError(400, `not a staged part reference: ${ref}`, '');
  return { origin: ref.slice(0, at), handle: ref.slice(at + 1) };
}

async function json<T>(res: Response): Promise<T> {
  if (!res.ok) throw await originError(res, '');
  return (await res.json()) as T;
}

async function originError(res: Response, origin: string): Promise<OriginError> {
  let message = `origin answered ${res.status}`;
  try {
    const body = (await res.json()) as { msg?: string };
    if (body?.msg) message = body.msg;
  } catch {
    // not JSON: keep the status line
  }
  return new OriginError(res.status, message, origin || new URL(res.url || 'http://unknown').origin);
}

/** JSON values, one per line of a streamed body. */
async function* ndjson(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim()) yield JSON.parse(line);
    }
  }
}

async function sha256Hex(text: string): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))));
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
