import type { OriginClient, Placement } from '../upstream/origin-client.ts';

/**
 * Reads objects through the Cache API. Stored bytes are addressed by FID, so a cached segment can never be stale:
 * keys name `(fid, segment)` and nothing else. Segments are the origin's 32 MiB segments, which keeps every cache
 * entry far below the platform's 512 MB object cap and lets a Range read touch only the segments it needs (the
 * Cache API answers a Range against a cached segment with 206 by itself).
 *
 * On a miss the requested bytes stream straight from the origin (no waiting for a whole segment), and the missed
 * segments are filled into the cache in the background (`waitUntil`), at most `fillMaxSegments` per request.
 * Bodies are never `tee()`d: a tee buffers whatever the slower branch has not read.
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
  origin: OriginClient;
  /** Background work (the segment fills). */
  waitUntil: (p: Promise<unknown>) => void;
  placement?: Placement;
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

/** The part of segment `index` of `piece` that a read needs, looked up in the cache (with Range: 206 on a hit). */
function matchSegment(piece: Piece, index: number, cache: Cache): Promise<Response | undefined> {
  const from = Math.max(piece.start, index * CDN_SEGMENT_SIZE) - index * CDN_SEGMENT_SIZE;
  const to = Math.min(piece.end, (index + 1) * CDN_SEGMENT_SIZE - 1) - index * CDN_SEGMENT_SIZE;
  return cache.match(new Request(segmentKey(piece.fid, index), { headers: { Range: `bytes=${from}-${to}` } }));
}

/**
 * Like `readObject`, but first looks the first segment up, so the caller can tell the client where the bytes start
 * from (`hit`: the edge cache, `miss`: the origin). A read spanning several segments may mix both; the first
 * lookup is reused, so this costs no extra cache call.
 */
export async function openObject(files: StoredFile[], range: { start: number; end: number }, o: CdnOptions): Promise<{ body: ReadableStream<Uint8Array>; cache: 'hit' | 'miss' }> {
  const first = piecesOf(files, range.start, range.end)[0];
  const firstMatch = first ? await matchSegment(first, Math.floor(first.start / CDN_SEGMENT_SIZE), o.cache) : undefined;
  return { body: readObject(files, range, o, firstMatch ?? null), cache: firstMatch?.body ? 'hit' : 'miss' };
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
          const hit = pending !== undefined ? pending : await matchSegment(piece, index, o.cache);
          pending = undefined;
          if (hit?.body) {
            o.onRead?.('cache', Number(hit.headers.get('Content-Length') ?? 0));
            await hit.body.pipeTo(writable, { preventClose: true });
            index++;
            continue;
          }
          // A run of missed segments is one origin request.
          let runEnd = index;
          while (runEnd < last && !(await o.cache.match(segmentKey(piece.fid, runEnd + 1), { ignoreMethod: true }).then((r) => (r?.body?.cancel(), !!r)))) runEnd++;
          const to = Math.min(piece.end, (runEnd + 1) * CDN_SEGMENT_SIZE - 1);
          const res = await o.origin.getObject(piece.fid, { range: { start: from, end: to }, placement: o.placement });
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

/** Fetches whole segments from the origin into the cache, one at a time, skipping those being filled already. */
async function fillSegments(segments: { fid: string; size: number; index: number }[], o: CdnOptions): Promise<void> {
  for (const s of segments) {
    const key = segmentKey(s.fid, s.index);
    if (filling.has(key)) continue;
    filling.add(key);
    try {
      const start = s.index * CDN_SEGMENT_SIZE;
      const end = Math.min(s.size, start + CDN_SEGMENT_SIZE) - 1;
      if (end - start + 1 > CACHE_OBJECT_LIMIT) continue;
      const res = await o.origin.getObject(s.fid, { range: { start, end }, placement: o.placement });
      await o.cache.put(
        key,
        new Response(res.body, {
          headers: { 'Content-Length': String(end - start + 1), 'Cache-Control': 'public, max-age=31536000, immutable', 'Content-Type': 'application/octet-stream' },
        }),
      );
    } catch {
      // A failed fill only means the next read goes to the origin again.
    } finally {
      filling.delete(key);
    }
  }
}
