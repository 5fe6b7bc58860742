import { describe, expect, it } from 'vitest';
import type { OriginClient } from '../upstream/origin-client.ts';
import { CDN_SEGMENT_SIZE, openObject, segmentKey, type CdnOptions } from './object-reader.ts';
import { SegmentMemory } from './segment-memory.ts';

/**
 * The reader against workerd's real Cache API. The origin is a stand-in (an in-memory file answering ranged
 * getObject calls): the real origin is exercised by the stack's end-to-end tests.
 */
function standInOrigin(files: Record<string, Uint8Array>) {
  const calls: { fid: string; start: number; end: number }[] = [];
  const origin = {
    async getObject(fid: string, p: { range?: { start: number; end: number } } = {}) {
      const bytes = files[fid];
      const start = p.range?.start ?? 0;
      const end = p.range?.end ?? bytes.length - 1;
      calls.push({ fid, start, end });
      return new Response(bytes.slice(start, end + 1), { status: p.range ? 206 : 200 });
    },
  } as unknown as OriginClient;
  return { origin, calls };
}

async function setup(size: number, memory?: SegmentMemory) {
  const fid = crypto.randomUUID().replaceAll('-', '').padEnd(64, '0'); // a fresh cache key per test
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 4093) bytes[i] = (i / 4093) & 0xff;
  bytes[size - 1] = 0x5a;
  const { origin, calls } = standInOrigin({ [fid]: bytes });
  const background: Promise<unknown>[] = [];
  const reads: { source: string; bytes: number }[] = [];
  const opened = await caches.open(`object-reader-test-${fid}`);
  const cacheMatches: string[] = [];
  // The real Cache API, with its lookups counted.
  const cache = new Proxy(opened, {
    get(target, name) {
      if (name === 'match') return (req: RequestInfo, options?: CacheQueryOptions) => (cacheMatches.push(typeof req === 'string' ? req : req.url), target.match(req, options));
      const value = Reflect.get(target, name) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const o: CdnOptions = { cache, memory, origin, waitUntil: (p) => background.push(p), onRead: (source, n) => reads.push({ source, bytes: n }) };
  const settle = async () => {
    while (background.length) await background.shift();
  };
  return { fid, bytes, o, calls, reads, settle, cacheMatches, files: [{ fid, size }] };
}

describe('openObject', () => {
  it('says miss while the origin serves, fills the segment, then says hit and serves from the cache', async () => {
    const t = await setup(100_000);
    const first = await openObject(t.files, { start: 0, end: t.bytes.length - 1 }, t.o);
    expect(first.cache).toBe('miss');
    expect(new Uint8Array(await new Response(first.body).arrayBuffer())).toEqual(t.bytes);
    await t.settle();
    expect(t.calls).toEqual([
      { fid: t.fid, start: 0, end: 99_999 }, // the read
      { fid: t.fid, start: 0, end: 99_999 }, // the background fill of segment 0
    ]);

    const second = await openObject(t.files, { start: 0, end: t.bytes.length - 1 }, t.o);
    expect(second.cache).toBe('hit');
    expect(new Uint8Array(await new Response(second.body).arrayBuffer())).toEqual(t.bytes);
    const ranged = await openObject(t.files, { start: 99_990, end: 99_999 }, t.o);
    expect(ranged.cache).toBe('hit');
    expect(new Uint8Array(await new Response(ranged.body).arrayBuffer())).toEqual(t.bytes.slice(99_990));
    await t.settle();
    expect(t.calls).toHaveLength(2); // nothing more from the origin
    expect(t.reads).toEqual([
      { source: 'origin', bytes: 100_000 },
      { source: 'cache', bytes: 100_000 },
      { source: 'cache', bytes: 10 },
    ]);
  });

  it('reports the first segment of a read that spans a cached and a missing segment', async () => {
    const t = await setup(CDN_SEGMENT_SIZE + 1000);
    // Fill only segment 1 (the tail) by reading it once.
    const tail = await openObject(t.files, { start: CDN_SEGMENT_SIZE, end: CDN_SEGMENT_SIZE + 999 }, t.o);
    expect(tail.cache).toBe('miss');
    await new Response(tail.body).arrayBuffer();
    await t.settle();
    const across = await openObject(t.files, { start: CDN_SEGMENT_SIZE - 10, end: CDN_SEGMENT_SIZE + 999 }, t.o);
    expect(across.cache).toBe('miss'); // it starts in segment 0, which is not cached
    expect(new Uint8Array(await new Response(across.body).arrayBuffer())).toEqual(t.bytes.slice(CDN_SEGMENT_SIZE - 10));
    const fromTail = await openObject(t.files, { start: CDN_SEGMENT_SIZE + 500, end: CDN_SEGMENT_SIZE + 999 }, t.o);
    expect(fromTail.cache).toBe('hit');
    expect(new Uint8Array(await new Response(fromTail.body).arrayBuffer())).toEqual(t.bytes.slice(CDN_SEGMENT_SIZE + 500));
    await t.settle();
  });

  it('keeps small segments in memory: filled with the cache, served again and again without asking the Cache API', async () => {
    const memory = new SegmentMemory({ capacityBytes: 1024 * 1024, entryMaxBytes: 200_000 });
    const t = await setup(100_000, memory);
    const miss = await openObject(t.files, { start: 0, end: 99_999 }, t.o);
    expect(miss.cache).toBe('miss');
    expect(new Uint8Array(await new Response(miss.body).arrayBuffer())).toEqual(t.bytes);
    await t.settle();
    expect(memory.bytes).toBe(100_000); // the bytes the read fetched went into both tiers
    expect(await t.o.cache.match(segmentKey(t.fid, 0))).toBeDefined();
    const lookups = t.cacheMatches.length;
    for (let i = 0; i < 3; i++) {
      const hit = await openObject(t.files, { start: 0, end: 99_999 }, t.o);
      expect(hit.cache).toBe('hit');
      expect(new Uint8Array(await new Response(hit.body).arrayBuffer())).toEqual(t.bytes); // served bytes stay whole
    }
    const ranged = await openObject(t.files, { start: 5, end: 14 }, t.o);
    expect(new Uint8Array(await new Response(ranged.body).arrayBuffer())).toEqual(t.bytes.slice(5, 15));
    expect(t.cacheMatches.length).toBe(lookups);
    expect(t.calls).toEqual([{ fid: t.fid, start: 0, end: 99_999 }]); // one origin request: the read was the fill

    // Another isolate (an empty memory) reads the segment whole from the Cache API once, then holds it.
    const other = { ...t.o, memory: new SegmentMemory({ capacityBytes: 1024 * 1024, entryMaxBytes: 200_000 }) };
    const fromCache = await openObject(t.files, { start: 10, end: 19 }, other);
    expect(fromCache.cache).toBe('hit');
    expect(new Uint8Array(await new Response(fromCache.body).arrayBuffer())).toEqual(t.bytes.slice(10, 20));
    expect(other.memory.bytes).toBe(100_000);
    expect(t.calls).toHaveLength(1);
  });

  it('answers a ranged miss of a small segment from the whole segment, fetched once', async () => {
    const memory = new SegmentMemory({ capacityBytes: 1024 * 1024, entryMaxBytes: 200_000 });
    const t = await setup(100_000, memory);
    const miss = await openObject(t.files, { start: 99_990, end: 99_999 }, t.o);
    expect(miss.cache).toBe('miss');
    expect(new Uint8Array(await new Response(miss.body).arrayBuffer())).toEqual(t.bytes.slice(99_990));
    await t.settle();
    expect(t.calls).toEqual([{ fid: t.fid, start: 0, end: 99_999 }]);
    expect(t.reads).toEqual([{ source: 'origin', bytes: 10 }]);
    const hit = await openObject(t.files, { start: 0, end: 99_999 }, t.o);
    expect(hit.cache).toBe('hit');
    expect(new Uint8Array(await new Response(hit.body).arrayBuffer())).toEqual(t.bytes);
    expect(t.calls).toHaveLength(1);
  });

  it('fails a small miss before answering when the origin fails (no truncated 200)', async () => {
    const memory = new SegmentMemory({ capacityBytes: 1024 * 1024, entryMaxBytes: 200_000 });
    const t = await setup(100_000, memory);
    const failing = { ...t.o, origin: { getObject: () => Promise.reject(new Error('origin down')) } as unknown as OriginClient };
    await expect(openObject(t.files, { start: 0, end: 99_999 }, failing)).rejects.toThrow('origin down');
    expect(memory.bytes).toBe(0);
  });

  it('leaves segments larger than the memory allows to the Cache API alone', async () => {
    const memory = new SegmentMemory({ capacityBytes: 1024 * 1024, entryMaxBytes: 50_000 });
    const t = await setup(100_000, memory);
    await new Response((await openObject(t.files, { start: 0, end: 99_999 }, t.o)).body).arrayBuffer();
    await t.settle();
    const hit = await openObject(t.files, { start: 0, end: 99_999 }, t.o);
    expect(hit.cache).toBe('hit');
    expect(new Uint8Array(await new Response(hit.body).arrayBuffer())).toEqual(t.bytes);
    expect(memory.bytes).toBe(0);
  });
});
