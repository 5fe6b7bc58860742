import type { Connection, Stream, StreamHandler } from '@libp2p/interface';
import { open } from 'node:fs/promises';
import { RateLimiter } from '../api/rate-limit.ts';
import type { PeerServeOutcome } from './segment-peers.ts';
import { decodeRequest, encodeRefusal, encodeResponseHeader, REQUEST_BYTES, Status, type SegmentRequest } from './segment-protocol.ts';
import { StreamReader } from './stream-reader.ts';

export interface SegmentServerOptions {
  /**
   * The on-disk path of a segment this origin holds, or undefined. The server only ever serves from here: it never
   * fetches on a requester's behalf, so a request costs at most one local read (no amplification).
   */
  source: (fid: string, index: number) => string | undefined;
  /** Requests one peer may make per minute (burst: the same number). */
  ratePerMinute: number;
  /** Requests served to one peer at the same time. */
  concurrentPerPeer: number;
  /** Requests served to all peers at the same time. */
  concurrent: number;
  /** Longest wait for the request, or for the requester to take more bytes, ms. */
  stallMs: number;
  /** Bytes per read from disk (and per stream message). @default 256 KiB */
  chunkBytes?: number;
  onServed?: (outcome: PeerServeOutcome, bytes: number, peer: string, request?: SegmentRequest) => void;
}

/** The `/deoss/segment/1.0.0` handler: one request per stream, answered from the local cache or refused. */
export function segmentServer(o: SegmentServerOptions): StreamHandler {
  const limiter = new RateLimiter({ perMinute: o.ratePerMinute, burst: o.ratePerMinute });
  const perPeer = new Map<string, number>();
  let active = 0;
  const chunkBytes = o.chunkBytes ?? 256 * 1024;

  return async (stream: Stream, connection: Connection) => {
    const peer = connection.remotePeer.toString();
    const refuse = async (status: Exclude<Status, 0>, reason: string, outcome: PeerServeOutcome, request?: SegmentRequest) => {
      o.onServed?.(outcome, 0, peer, request);
      try {
        stream.send(encodeRefusal(status, reason));
        await stream.close({ signal: AbortSignal.timeout(o.stallMs) });
      } catch {
        stream.abort(new Error('refusal not delivered'));
      }
    };
    if (active >= o.concurrent || (perPeer.get(peer) ?? 0) >= o.concurrentPerPeer) return refuse(Status.BUSY, 'too many requests in flight', 'busy');
    if (!limiter.take(peer)) return refuse(Status.BUSY, `over ${o.ratePerMinute} requests per minute`, 'busy');
    active++;
    perPeer.set(peer, (perPeer.get(peer) ?? 0) + 1);
    let request: SegmentRequest | undefined;
    let sent = 0;
    try {
      const reader = new StreamReader(stream, { stallMs: o.stallMs });
      try {
        request = decodeRequest(await reader.exactly(REQUEST_BYTES));
      } catch (err) {
        return await refuse(Status.BAD_REQUEST, (err as Error).message, 'bad-request');
      }
      const path = o.source(request.fid, request.index);
      const file = path ? await open(path, 'r').catch(() => undefined) : undefined;
      if (!file) return await refuse(Status.NOT_FOUND, 'segment not in this origin\'s cache', 'not-found', request);
      try {
        const { size } = await file.stat();
        if (request.offset + request.length > size) return await refuse(Status.NOT_FOUND, 'cached segment is shorter than the range', 'not-found', request);
        stream.send(encodeResponseHeader(Status.OK, request.length));
        const body = file.createReadStream({ start: request.offset, end: request.offset + request.length - 1, highWaterMark: chunkBytes });
        for await (const chunk of body as AsyncIterable<Buffer>) {
          sent += chunk.length;
          // Backpressure: wait for the requester to take bytes, but not forever.
          if (!stream.send(chunk)) await stream.onDrain({ signal: AbortSignal.timeout(o.stallMs) });
        }
      } finally {
        await file.close();
      }
      await stream.close({ signal: AbortSignal.timeout(o.stallMs) });
      o.onServed?.('ok', sent, peer, request);
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      o.onServed?.('failed', sent, peer, request);
    } finally {
      active--;
      const n = (perPeer.get(peer) ?? 1) - 1;
      if (n > 0) perPeer.set(peer, n);
      else perPeer.delete(peer);
    }
  };
}
