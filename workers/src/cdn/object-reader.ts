import type { OriginClient, Placement } from '../upstream/origin-client.ts';
import type { SegmentMemory } from './segment-memory.ts';

/**
 * Reads objects through the Cache API. Stored bytes are addressed by FID, so a cached segment can never be stale:
 * keys name `(fid, segment)` and nothing else. Segments are the origin's 32 MiB segments, which keeps every cache
 * entry far below the platform's 512 MB object cap and lets a Range read touch only the segments it needs (the
 * Cache API answers a Range against a cached segment with 206 by itself).
 *
 * On a miss the requested bytes stream straight from the origin (no waiting for a whole segment), and the missed
 * segments are filled into the cache in the background (`waitUntil`), at most `fillMaxSegments` per request.
 * Bodies are never `tee()`d: a tee buffers whatever the slower branch has not read. The exception is a read that one
 * small segment (one the isolate's memory holds) answers: the origin sends that segment once, whole, and the read is
 * served from it while the same bytes go into both tiers.
 */
export const CDN_SEGMENT_SIZE = 32 * 1024 * 1024;
/** Production Cache API limit for one object. */
export const CACHE_OBJECT_LIMIT = 512 * 1000 * 1000;

export interface StoredFile {
  fid: string;
  size: number;
}

export interface CdnOptions {
  cache: Cache;
  /** The first tier: small segments in the isolate's memory (none: every read asks the Cache API). */
  memory?: SegmentMemory;
  origin: OriginClient;
  /** Background work (the segment fills). */
  waitUntil: (p: Promise<unknown>) => void;
  placement?: Placement;
  /** The account that owns the objects read (lets any origin find a packed object's sealed pack on the chain). */
  owner?: string;
  /** Most segments one request may fill into the cache. @default 8 (256 MiB) */
  fillMaxSegments?: number;
  /** Counts where bytes came from, for tests and metrics. */
  onRead?: (source: 'cache' | 'origin', bytes: number) => void;
}

const CACHE_HOST = 'https://cdn.deoss.invalid';
const filling = new Set<string>();

export function segmentKey(fid: string, index: number): string {
  return `${CACHE_HOST}/fid/${fid}/segment/${index}`;
}

/** One contiguous piece of one stored file. */
interface Piece {
  fid: string;
  size: number;
  start: number;
  end: number;
}

/** Maps an inclusive byte range of an object made of `files` (in order) onto the files. */
export function piecesOf(files: StoredFile[], start: number, end: number): Piece[] {
  const pieces: Piece[] = [];
  let base = 0;
  for (const f of files) {
    const from = Math.max(start, base);
    const to = Math.min(end, base + f.size - 1);
    if (from <= to) pieces.push({ fid: f.fid, size: f.size, start: from - base, end: to - base });
    base += f.size;
  }
  return pieces;
}

/** Response header naming where the first bytes of a response came from: the edge cache or the origin. */
export const CACHE_STATUS_HEADER = 'x-deoss-cache';

/**
 * The part of segment `index` of `piece` that a read needs, from the edge cache, or undefined on a miss. A small
 * segment is served from the isolate's memory, and read whole into it from the Cache API when it is not there yet;
 * a larger one is asked of the Cache API with a Range (206 on a hit).
 */
async function matchSegment(piece: Piece, index: number, o: CdnOptions): Promise<Response | undefined> {
  const base = index * CDN_SEGMENT_SIZE;
  const from = Math.max(piece.start, base) - base;
  const to = Math.min(piece.end, base + CDN_SEGMENT_SIZE - 1) - base;
  const key = segmentKey(piece.fid, index);
  if (o.memory?.holds(segmentLength(piece, index))) {
    let bytes = o.memory.get(key);
    if (!bytes) {
      const cached = await o.cache.match(key);
      if (!cached?.body) return undefined;
      bytes = await cached.blob();
      o.memory.set(key, bytes);
    }
    return new Response(bytes.slice(from, to + 1));
  }
  return o.cache.match(new Request(key, { headers: { Range: `bytes=${from}-${to}` } }));
}

/**
 * Like `readObject`, but first looks the first segment up, so the caller can tell the client where the bytes start
 * from (`hit`: the edge cache, `miss`: the origin). A read spanning several segments may mix both; the first
 * lookup is reused, so this costs no extra cache call.
 */
export async function openObject(files: StoredFile[], range: { start: number; end: number }, o: CdnOptions): Promise<{ body: ReadableStream<Uint8Array>; cache: 'hit' | 'miss' }> {
  const pieces = piecesOf(files, range.start, range.end);
  const first = pieces[0];
  const index = first ? Math.floor(first.start / CDN_SEGMENT_SIZE) : 0;
  const oneSegment = pieces.length === 1 && index === Math.floor(first.end / CDN_SEGMENT_SIZE);
  const firstMatch = first ? await matchSegment(first, index, o) : undefined;
  // A read that one cached segment answers whole is that segment's body as it is: no stream pumped in JavaScript.
  if (firstMatch?.body && oneSegment) {
    o.onRead?.('cache', first.end - first.start + 1);
    return { body: firstMatch.body, cache: 'hit' };
  }
  // A miss that one small segment answers: one origin request for the whole segment, which also fills the cache.
  if (!firstMatch?.body && oneSegment && o.memory?.holds(segmentLength(first, index))) {
    const bytes = await fetchSegment({ fid: first.fid, size: first.size, index }, o);
    o.onRead?.('origin', first.end - first.start + 1);
    o.waitUntil(keepSegment(segmentKey(first.fid, index), bytes, o).catch(() => {}));
    const base = index * CDN_SEGMENT_SIZE;
    return { body: new Response(bytes.slice(first.start - base, first.end - base + 1)).body!, cache: 'miss' };
  }
  return { body: readObject(files, range, o, firstMatch ?? null), cache: firstMatch?.body ? 'hit' : 'miss' };
}

function segmentLength(piece: { size: number }, index: number): number {
  return Math.min(piece.size - index * CDN_SEGMENT_SIZE, CDN_SEGMENT_SIZE);
}

/** A whole small segment from the origin, as a Blob (see SegmentMemory). */
async function fetchSegment(s: { fid: string; size: number; index: number }, o: CdnOptions): Promise<Blob> {
  const start = s.index * CDN_SEGMENT_SIZE;
  const res = await o.origin.getObject(s.fid, { range: { start, end: start + segmentLength(s, s.index) - 1 }, owner: o.owner, placement: o.placement });
  return res.blob();
}

const SEGMENT_HEADERS = { 'Cache-Control': 'public, max-age=31536000, immutable', 'Content-Type': 'application/octet-stream' };

/** Puts a small segment into both tiers: the Cache API (shared with other isolates) and then this isolate's memory. */
async function keepSegment(key: string, bytes: Blob, o: CdnOptions): Promise<void> {
  await o.cache.put(key, new Response(bytes, { headers: { ...SEGMENT_HEADERS, 'Content-Length': String(bytes.size) } }));
  o.memory?.set(key, bytes);
}

/**
 * Streams bytes [start, end] of an object. The returned stream has a known length (FixedLengthStream), so the
 * response keeps its Content-Length. `firstMatch` is the first segment's lookup when `openObject` made it already.
 */
export function readObject(files: StoredFile[], range: { start: number; end: number }, o: CdnOptions, firstMatch?: Response | null): ReadableStream<Uint8Array> {
  const length = range.end - range.start + 1;
  const { readable, writable } = new FixedLengthStream(length);
  const pump = async () => {
    const toFill: { fid: string; size: number; index: number }[] = [];
    let pending = firstMatch;
    try {
      for (const piece of piecesOf(files, range.start, range.end)) {
        let index = Math.floor(piece.start / CDN_SEGMENT_SIZE);
        const last = Math.floor(piece.end / CDN_SEGMENT_SIZE);
        while (index <= last) {
          const from = Math.max(piece.start, index * CDN_SEGMENT_SIZE);
          const hit = pending !== undefined ? pending : await matchSegment(piece, index, o);
          pending = undefined;
          if (hit?.body) {
            o.onRead?.('cache', Math.min(piece.end, (index + 1) * CDN_SEGMENT_SIZE - 1) - from + 1);
            await hit.body.pipeTo(writable, { preventClose: true });
            index++;
            continue;
          }
          // A run of missed segments is one origin request.
          let runEnd = index;
          while (runEnd < last && !(await isCached(piece.fid, runEnd + 1, o))) runEnd++;
          const to = Math.min(piece.end, (runEnd + 1) * CDN_SEGMENT_SIZE - 1);
          const res = await o.origin.getObject(piece.fid, { range: { start: from, end: to }, owner: o.owner, placement: o.placement });
          o.onRead?.('origin', to - from + 1);
          await res.body!.pipeTo(writable, { preventClose: true });
          for (let i = index; i <= runEnd; i++) toFill.push({ fid: piece.fid, size: piece.size, index: i });
          index = runEnd + 1;
        }
      }
      await writable.close();
    } catch (err) {
      await writable.abort(err).catch(() => {});
    } finally {
      if (toFill.length) o.waitUntil(fillSegments(toFill.slice(0, o.fillMaxSegments ?? 8), o));
    }
  };
  o.waitUntil(pump());
  return readable;
}

function isCached(fid: string, index: number, o: CdnOptions): Promise<boolean> {
  const key = segmentKey(fid, index);
  if (o.memory?.get(key)) return Promise.resolve(true);
  return o.cache.match(key, { ignoreMethod: true }).then((r) => (r?.body?.cancel(), !!r));
}

/** Fetches whole segments from the origin into the cache, one at a time, skipping those being filled already. */
async function fillSegments(segments: { fid: string; size: number; index: number }[], o: CdnOptions): Promise<void> {
  for (const s of segments) {
    const key = segmentKey(s.fid, s.index);
    if (filling.has(key)) continue;
    filling.add(key);
    try {
      const length = segmentLength(s, s.index);
      if (length > CACHE_OBJECT_LIMIT) continue;
      if (o.memory?.holds(length)) {
        await keepSegment(key, await fetchSegment(s, o), o);
        continue;
      }
      const start = s.index * CDN_SEGMENT_SIZE;
      const res = await o.origin.getObject(s.fid, { range: { start, end: start + length - 1 }, owner: o.owner, placement: o.placement });
      await o.cache.put(key, new Response(res.body, { headers: { ...SEGMENT_HEADERS, 'Content-Length': String(length) } }));
    } catch {
      // A failed fill only means the next read goes to the origin again.
    } finally {
      filling.delete(key);
    }
  }
}
