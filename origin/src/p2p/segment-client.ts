import type { Stream } from '@libp2p/interface';
import { createHash } from 'node:crypto';
import {
  decodeResponseHeader,
  encodeRequest,
  ProtocolError,
  RESPONSE_HEADER_BYTES,
  Status,
  type SegmentRequest,
} from './segment-protocol.ts';
import { StreamReader } from './stream-reader.ts';

/** The peer answered, but not with the bytes: it does not hold them, is busy, or refused the request. */
export class PeerRefusedError extends Error {
  override name = 'PeerRefusedError';
  readonly status: Status;
  constructor(status: Status, reason: string) {
    super(reason);
    this.status = status;
  }
}

/** The peer sent bytes that are not what was asked for (wrong hash, more than offered, a bad header): not to be trusted. */
export class PeerLiedError extends Error {
  override name = 'PeerLiedError';
}

/**
 * The stream ended before all offered bytes arrived, without an error. A connection that went away looks the same,
 * so this is a failure of the transfer, not proof of a lie (a peer doing it on purpose only wastes its own turn).
 */
export class PeerTruncatedError extends Error {
  override name = 'PeerTruncatedError';
}

/** A peer that accepted a request and is about to send `length` bytes. */
export interface SegmentOffer {
  stream: Stream;
  reader: StreamReader;
  length: number;
}

/**
 * Sends one request on a fresh `/deoss/segment/1.0.0` stream and waits for the answer's header. Resolves with an
 * offer when the peer will send the bytes; throws PeerRefusedError, PeerLiedError (malformed header), or a stall
 * or abort error. Each wait is bounded by `stallMs`.
 */
export async function requestSegment(
  stream: Stream,
  request: SegmentRequest,
  options: { stallMs: number; signal?: AbortSignal },
): Promise<SegmentOffer> {
  const reader = new StreamReader(stream, options);
  try {
    stream.send(encodeRequest(request));
    const header = await reader.exactly(RESPONSE_HEADER_BYTES);
    let parsed;
    try {
      parsed = decodeResponseHeader(header, request.length);
    } catch (err) {
      throw new PeerLiedError((err as ProtocolError).message);
    }
    if (parsed.status !== Status.OK) {
      const reason = parsed.length ? Buffer.from(await reader.exactly(parsed.length)).toString('utf8') : 'refused';
      throw new PeerRefusedError(parsed.status, reason);
    }
    return { stream, reader, length: parsed.length };
  } catch (err) {
    stream.abort(err as Error);
    throw err;
  }
}

/**
 * Receives an offer's bytes into `into` (exactly `offer.length` bytes), hashing as they arrive, and checks the
 * SHA-256 against `hash`. Nothing is returned that did not verify.
 */
export async function receiveVerified(offer: SegmentOffer, into: Uint8Array, hash: string): Promise<void> {
  if (into.length !== offer.length) throw new Error(`buffer of ${into.length} bytes for an offer of ${offer.length}`);
  const digest = createHash('sha256');
  let at = 0;
  try {
    while (at < offer.length) {
      const chunk = await offer.reader.next();
      if (!chunk) throw new PeerTruncatedError(`stream ended after ${at} of ${offer.length} bytes`);
      if (at + chunk.length > offer.length) throw new PeerLiedError('peer sent more bytes than it offered');
      into.set(chunk, at);
      digest.update(chunk);
      at += chunk.length;
    }
    const actual = digest.digest('hex');
    if (actual !== hash) throw new PeerLiedError(`peer sent bytes hashing to ${actual.slice(0, 12)}…, not ${hash.slice(0, 12)}…`);
  } catch (err) {
    offer.stream.abort(err as Error);
    throw err;
  }
  // All bytes are in; the peer's close is not waited for.
  offer.stream.close().catch(() => {});
}
