import { describe, expect, it, vi } from 'vitest';
import { verifyInternal } from '../../../origin/src/auth/internal-hmac.ts';
import { OriginClient, OriginError } from './origin-client.ts';

/** Records what the client sends instead of opening connections (the signature check is the origin's real one). */
function recorder(answer: (url: string, init: RequestInit) => Response | Promise<Response>) {
  const sent: { url: string; init: RequestInit }[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    sent.push({ url, init });
    return answer(url, init);
  }) as unknown as typeof fetch;
  return { sent, fetchImpl };
}

describe('OriginClient', () => {
  it('signs requests the way the origin verifies them', async () => {
    const { sent, fetchImpl } = recorder(() => Response.json({ fid: 'f'.repeat(64), size: 2, md5: 'x', state: 'staged' }));
    const client = new OriginClient({ origins: [{ url: 'http://o1', region: 'eu' }], secret: 's3cret', fetch: fetchImpl });
    const body = JSON.stringify({ owner: 'a', territory: 't', fileName: 'n', sources: [{ fid: 'a'.repeat(64) }] });
    await client.compose({ owner: 'a', territory: 't', fileName: 'n', sources: [{ fid: 'a'.repeat(64) }] });
    const h = new Headers(sent[0].init.headers);
    expect(sent[0].init.body).toBe(body);
    const promised = verifyInternal('POST', '/internal/compose', h, { secret: 's3cret' });
    expect(promised).toMatch(/^[0-9a-f]{64}$/);
    expect(() => verifyInternal('POST', '/internal/compose', h, { secret: 'other' })).toThrow();
    expect(() => verifyInternal('PUT', '/internal/compose', h, { secret: 's3cret' })).toThrow();
  });

  it("signs the headers the origin acts on, so none can be changed on the way", async () => {
    const { sent, fetchImpl } = recorder(() => new Response('bytes'));
    const client = new OriginClient({ origins: [{ url: 'http://o1', region: 'eu' }], secret: 's3cret', fetch: fetchImpl });
    const ref = `pack-${'c'.repeat(32)}-30-5`;
    await client.getObject(ref, { range: { start: 0, end: 9 }, sseKey: 'a2V5', owner: 'cXalice' });
    const path = `/internal/object/${ref}`;
    const h = new Headers(sent[0].init.headers);
    expect(verifyInternal('GET', path, h, { secret: 's3cret' })).toBe('UNSIGNED-PAYLOAD');
    for (const [name, value] of [
      ['X-Deoss-Owner', 'cXmallory'],
      ['Range', 'bytes=0-99'],
      ['X-Deoss-Sse-Key', 'b3RoZXI='],
      ['X-Deoss-Ack', 'stored'],
    ]) {
      const changed = new Headers(h);
      changed.set(name, value);
      expect(() => verifyInternal('GET', path, changed, { secret: 's3cret' }), name).toThrow(/bad signature/);
    }
  });

  it('signs twin requests differently, so the origin takes both (rclone uploading two identical files at once)', async () => {
    const { sent, fetchImpl } = recorder(() => new Response('bytes'));
    const client = new OriginClient({ origins: [{ url: 'http://o1', region: 'eu' }], secret: 's3cret', fetch: fetchImpl });
    const fid = 'f'.repeat(64);
    // Both signed within one millisecond (as Workers' clock, which stands still between I/O, makes likely).
    const clock = vi.spyOn(Date, 'now').mockReturnValue(Date.now());
    await Promise.all([client.getObject(fid), client.getObject(fid)]).finally(() => clock.mockRestore());
    const seen = new Map<string, number>();
    const [a, b] = sent.map((s) => new Headers(s.init.headers));
    expect(a.get('X-Deoss-Date')).toBe(b.get('X-Deoss-Date'));
    for (const h of [a, b]) expect(verifyInternal('GET', `/internal/object/${fid}`, h, { secret: 's3cret', seen })).toBe('UNSIGNED-PAYLOAD');
    expect(() => verifyInternal('GET', `/internal/object/${fid}`, b, { secret: 's3cret', seen })).toThrow(/already used/);
  });

  it('asks the other origins for a pack reference its nearest origin does not hold, but not for a missing FID', async () => {
    const pack = `pack-${'c'.repeat(32)}-30-5`;
    const { sent, fetchImpl } = recorder((url) => (url.startsWith('http://holder') ? new Response('bytes') : Response.json({ msg: 'not found' }, { status: 404 })));
    const client = new OriginClient({
      origins: [
        { url: 'http://near', region: 'eu' },
        { url: 'http://holder', region: 'us' },
      ],
      secret: 'k',
      fetch: fetchImpl,
    });
    expect(await (await client.getObject(pack, { placement: { region: 'eu' } })).text()).toBe('bytes');
    expect(sent.map((s) => s.url.split('/internal')[0])).toEqual(['http://near', 'http://holder']);
    await client.releaseFile(pack, 'owner');
    expect(sent.slice(2).map((s) => `${s.init.method} ${s.url.split('/internal')[0]}`)).toEqual(['DELETE http://near', 'DELETE http://holder']);
    sent.length = 0;
    await expect(client.getObject('d'.repeat(64), { placement: { region: 'eu' } })).rejects.toMatchObject({ status: 404 });
    expect(sent).toHaveLength(1); // a FID any origin can serve: its 404 is final
    sent.length = 0;
    await client.getObject(pack, { placement: { region: 'us' } }); // the holder is nearest: asked alone
    expect(sent).toHaveLength(1);
  });

  it("names the owner when it reads a pack reference, so an origin that did not write it can find it on the chain", async () => {
    const { sent, fetchImpl } = recorder(() => new Response('bytes'));
    const client = new OriginClient({ origins: [{ url: 'http://a', region: 'x' }], secret: 'k', fetch: fetchImpl });
    const owner = (i: number) => new Headers(sent[i].init.headers).get('X-Deoss-Owner');
    await client.getObject(`pack-${'c'.repeat(32)}-30-5`, { owner: 'cXowner' });
    await client.getObject('d'.repeat(64), { owner: 'cXowner' }); // a FID needs no owner to be found
    await client.getObject(`pack-${'c'.repeat(32)}-30-5`);
    expect([owner(0), owner(1), owner(2)]).toEqual(['cXowner', null, null]);
  });

  it('gives up on an origin that does not answer a read in time and asks the next; writes are not timed', async () => {
    const hanging = (init: RequestInit) =>
      new Promise<Response>((_, reject) => init.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    const { sent, fetchImpl } = recorder((url, init) => {
      if (init.signal?.aborted) throw init.signal.reason; // as fetch does
      return url.startsWith('http://hangs') ? hanging(init) : new Response('bytes');
    });
    const client = new OriginClient({
      origins: [
        { url: 'http://hangs', region: 'x' },
        { url: 'http://answers', region: 'y' },
      ],
      secret: 'k',
      fetch: fetchImpl,
      readTimeoutMs: 50,
    });
    const started = Date.now();
    expect(await (await client.getObject('e'.repeat(64), { placement: { region: 'x' } })).text()).toBe('bytes');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(sent.map((s) => `${s.init.method} ${s.url.split('/internal')[0]}`)).toEqual(['GET http://hangs', 'GET http://answers']);
    // The hanging origin is skipped for a while now; a caller's own abort still ends a read at once.
    expect(client.ordered({ region: 'x' }).map((o) => o.url)).toEqual(['http://answers', 'http://hangs']);
    const aborted = new AbortController();
    aborted.abort(new Error('caller gave up'));
    await expect(client.getObject('e'.repeat(64), { signal: aborted.signal })).rejects.toThrow();
    // A release (no timeout) waits for its answer however long it takes.
    const slow = new OriginClient({
      origins: [{ url: 'http://slow', region: 'x' }],
      secret: 'k',
      readTimeoutMs: 20,
      fetch: (async () => {
        await new Promise((r) => setTimeout(r, 80));
        return Response.json({ deleted: 'now' });
      }) as unknown as typeof fetch,
    });
    await expect(slow.releaseFile('f'.repeat(64), 'owner')).resolves.toBeUndefined();
  });

  it('gives up a write on an origin that stopped answering probes, never on one that answers them', async () => {
    const hanging = (init?: RequestInit) =>
      new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    let busyAnswersAt = 0;
    const { sent, fetchImpl } = recorder((url, init) => {
      if (url.startsWith('http://hung')) return hanging(init); // its writes and its probes alike
      if (url.endsWith('/version')) return Response.json({ version: 'x' });
      // A busy origin: the write's answer comes after several probes, all answered.
      if (url.startsWith('http://busy')) return new Promise((r) => setTimeout(() => r(Response.json({ handle: 'h', size: 1, md5: 'm' })), busyAnswersAt));
      return Response.json({ handle: 'h2', size: 1, md5: 'm' });
    });
    const body = () => new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(new Uint8Array([1])), c.close()) });
    const client = new OriginClient({
      origins: [
        { url: 'http://hung', region: 'x' },
        { url: 'http://other', region: 'y' },
      ],
      secret: 'k',
      fetch: fetchImpl,
      writeProbeAfterMs: 30,
      writeProbeTimeoutMs: 30,
    });
    // A streamed body cannot be replayed: the write fails (503, which S3 clients retry) once the probe went unanswered.
    const started = Date.now();
    await expect(client.putPart(body(), { placement: { region: 'x' } })).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/liveness probe/) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect(sent.map((s) => s.url)).toEqual(['http://hung/internal/part', 'http://hung/version']);
    // The retry goes to the other origin.
    expect(client.ordered({ region: 'x' }).map((o) => o.url)).toEqual(['http://other', 'http://hung']);
    expect(await client.putPart(body(), { placement: { region: 'x' } })).toMatchObject({ size: 1 });

    // An origin that answers its probes keeps a slow write, however long it takes; the probes space out (30, 60, 120,
    // then 180 ms apart: twice as long each time, at most six times the first wait).
    busyAnswersAt = 400;
    const busy = new OriginClient({ origins: [{ url: 'http://busy', region: 'x' }], secret: 'k', fetch: fetchImpl, writeProbeAfterMs: 30, writeProbeTimeoutMs: 30 });
    sent.length = 0;
    expect(await busy.putPart(body(), {})).toMatchObject({ size: 1 });
    const probes = sent.filter((s) => s.url === 'http://busy/version').length;
    expect(probes).toBeGreaterThanOrEqual(3);
    expect(probes).toBeLessThanOrEqual(5);
    // No probe outlives the write.
    await new Promise((r) => setTimeout(r, 100));
    expect(sent.filter((s) => s.url === 'http://busy/version').length).toBe(probes);
  });

  it("forwards DeOSS API requests under the same deadlines, and a client's own abort marks no origin down", async () => {
    const hanging = (init?: RequestInit) =>
      new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    const { sent, fetchImpl } = recorder((url, init) => (url.includes('-hung') ? hanging(init) : new Response('ok')));
    const origins = [
      { url: 'http://forward-hung', region: 'x' },
      { url: 'http://other', region: 'y' },
    ];
    const client = new OriginClient({ origins, secret: 'k', fetch: fetchImpl, readTimeoutMs: 30, writeProbeAfterMs: 30, writeProbeTimeoutMs: 30 });
    // A read moves on to the next origin after the read timeout.
    const read = await client.forward(new Request('http://edge/file/state/abc'), '/file/state/abc', { region: 'x' });
    expect(await read.text()).toBe('ok');
    expect(sent.map((s) => s.url)).toEqual(['http://forward-hung/file/state/abc', 'http://other/file/state/abc']);
    // An upload (not replayable) to a hung origin is given up once it leaves the probe unanswered.
    const fresh = new OriginClient({ origins: [{ url: 'http://upload-hung', region: 'x' }], secret: 'k', fetch: fetchImpl, writeProbeAfterMs: 30, writeProbeTimeoutMs: 30 });
    await expect(fresh.forward(new Request('http://edge/file', { method: 'PUT', body: 'bytes' }), '/file', { region: 'x' })).rejects.toMatchObject({ status: 503 });
    // The client's own abort is no failure of the origin: it stays first.
    const patient = new OriginClient({ origins: [{ url: 'http://patient-hung', region: 'x' }, origins[1]], secret: 'k', fetch: fetchImpl });
    const gone = new AbortController();
    const pending = patient.forward(new Request('http://edge/file/state/abc', { signal: gone.signal }), '/file/state/abc', { region: 'x' });
    gone.abort(new Error('client went away'));
    await expect(pending).rejects.toThrow('client went away');
    expect(patient.ordered({ region: 'x' })[0].url).toBe('http://patient-hung');
  });

  it('prefers the nearest origin and fails over on unreachable or 5xx origins for bodyless requests', async () => {
    const { sent, fetchImpl } = recorder((url) => {
      if (url.startsWith('http://eu')) throw new TypeError('connection refused');
      if (url.startsWith('http://as')) return new Response('{"msg":"boom"}', { status: 503 });
      return new Response('bytes', { status: 206 });
    });
    const client = new OriginClient({
      origins: [
        { url: 'http://us', region: 'us', continents: ['NA'] },
        { url: 'http://eu', region: 'eu', continents: ['EU'] },
        { url: 'http://as', region: 'as', continents: ['AS'] },
      ],
      secret: 'k',
      fetch: fetchImpl,
    });
    expect(client.ordered({ continent: 'EU' }).map((o) => o.url)).toEqual(['http://eu', 'http://us', 'http://as']);
    const res = await client.getObject('b'.repeat(64), { range: { start: 0, end: 4 }, placement: { continent: 'EU' } });
    expect(await res.text()).toBe('bytes');
    expect(sent.map((s) => s.url.split('/internal')[0])).toEqual(['http://eu', 'http://us']);
    // The failed origin is now skipped first.
    expect(client.ordered({ continent: 'EU' })[0].url).toBe('http://us');
  });

  it('reads the two-line write report: the object first, the commit after; a one-body answer counts as committed', async () => {
    const stored = { fid: `pack-${'e'.repeat(32)}-30-3`, size: 3, md5: '900150983cd24fb0d6963f7d28e17f72', state: 'packed' };
    const ndjson = (...lines: string[]) => new Response(lines.join(''), { headers: { 'Content-Type': 'application/x-ndjson' } });
    const answers = [
      ndjson(`${JSON.stringify(stored)}\n`, '{"durable":true}\n'),
      ndjson(`${JSON.stringify(stored)}\n`, '{"durable":false,"code":500,"msg":"disk failed"}\n'),
      ndjson(`${JSON.stringify(stored)}\n`), // the origin went away before the commit's line
      Response.json(stored),
    ];
    const { sent, fetchImpl } = recorder(() => answers.shift()!);
    const client = new OriginClient({ origins: [{ url: 'http://a', region: 'x' }], secret: 'k', fetch: fetchImpl });
    const put = () => client.putObject(new Blob(['abc']).stream(), { owner: 'o', territory: 't', fileName: 'k' });

    const ok = await put();
    expect(ok).toMatchObject(stored);
    await expect(ok.durable).resolves.toBeUndefined();
    expect(new Headers(sent[0].init.headers).get('X-Deoss-Report')).toBe('written');
    await expect((await put()).durable).rejects.toMatchObject({ status: 500, message: 'disk failed' });
    await expect((await put()).durable).rejects.toMatchObject({ status: 502 });
    const plain = await put();
    expect(plain).toMatchObject(stored);
    await expect(plain.durable).resolves.toBeUndefined();
  });

  it('reads a two-line report to its end, so the connection can serve the next request', async () => {
    const stored = { fid: `pack-${'e'.repeat(32)}-30-3`, size: 3, md5: '900150983cd24fb0d6963f7d28e17f72', state: 'packed' };
    const lines = [`${JSON.stringify(stored)}\n`, '{"durable":true}\n'];
    let readToEnd = false;
    // Pulled only when read (high-water mark 0): the end is reached only if the client asks past the last line.
    const body = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          const line = lines.shift();
          if (line === undefined) {
            readToEnd = true;
            c.close();
          } else c.enqueue(new TextEncoder().encode(line));
        },
      },
      { highWaterMark: 0 },
    );
    const { fetchImpl } = recorder(() => new Response(body, { headers: { 'Content-Type': 'application/x-ndjson' } }));
    const client = new OriginClient({ origins: [{ url: 'http://a', region: 'x' }], secret: 'k', fetch: fetchImpl });
    const put = await client.putObject(new Blob(['abc']).stream(), { owner: 'o', territory: 't', fileName: 'k' });
    await put.durable;
    expect(readToEnd).toBe(true);
  });

  it('does not replay streamed bodies and reports the origin refusal', async () => {
    const { sent, fetchImpl } = recorder(() => Response.json({ code: 400, msg: 'insufficient territory space' }, { status: 400 }));
    const client = new OriginClient({ origins: [{ url: 'http://a', region: 'x' }, { url: 'http://b', region: 'y' }], secret: 'k', fetch: fetchImpl });
    const err = await client.putObject(new Blob(['abc']).stream(), { owner: 'o', territory: 't', fileName: 'k é/x' }).catch((e) => e);
    expect(err).toBeInstanceOf(OriginError);
    expect(err).toMatchObject({ status: 400, message: 'insufficient territory space' });
    expect(sent).toHaveLength(1);
    expect(new Headers(sent[0].init.headers).get('X-Deoss-File-Name')).toBe('k%20%C3%A9%2Fx');
  });
});
