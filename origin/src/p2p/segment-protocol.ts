/**
 * Framing of `/deoss/segment/1.0.0`, the segment-fetch protocol between origins. One request per stream:
 *
 *   request  (45 bytes): u8 version=1 | 32 bytes FID | u32 segment index | u32 offset | u32 length (0 = to the end)
 *   response (5 bytes + body): u8 status | u32 body length | body
 *
 * With status OK the body is the requested bytes of the segment; with any other status it is a short UTF-8
 * reason. Integers are big-endian. The server closes its side after the body.
 */
import { SEGMENT_SIZE } from '../pipeline/constants.ts';

export const SEGMENT_PROTOCOL = '/deoss/segment/1.0.0';
export const REQUEST_BYTES = 45;
export const RESPONSE_HEADER_BYTES = 5;
const VERSION = 1;
/** Longest reason a non-OK response may carry. */
export const MAX_REASON_BYTES = 256;

export const Status = { OK: 0, NOT_FOUND: 1, BUSY: 2, BAD_REQUEST: 3, FAILED: 4 } as const;
export type Status = (typeof Status)[keyof typeof Status];

export interface SegmentRequest {
  fid: string;
  index: number;
  offset: number;
  /** Bytes wanted; always resolved (never 0) once decoded. */
  length: number;
}

export interface ResponseHeader {
  status: Status;
  length: number;
}

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

const FID = /^[0-9a-f]{64}$/;
const U32 = 0xffff_ffff;

/** A request, checked: a FID, an index, and a range that lies inside one segment. */
export function encodeRequest(request: { fid: string; index: number; offset?: number; length?: number }): Uint8Array {
  const offset = request.offset ?? 0;
  const length = request.length ?? SEGMENT_SIZE - offset;
  checkRequest({ fid: request.fid, index: request.index, offset, length });
  const out = new Uint8Array(REQUEST_BYTES);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
  out.set(Buffer.from(request.fid, 'hex'), 1);
  view.setUint32(33, request.index);
  view.setUint32(37, offset);
  view.setUint32(41, length === SEGMENT_SIZE - offset ? 0 : length);
  return out;
}

export function decodeRequest(bytes: Uint8Array): SegmentRequest {
  if (bytes.length !== REQUEST_BYTES) throw new ProtocolError(`request must be ${REQUEST_BYTES} bytes, got ${bytes.length}`);
  if (bytes[0] !== VERSION) throw new ProtocolError(`unsupported request version ${bytes[0]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offset = view.getUint32(37);
  const raw = view.getUint32(41);
  const request = {
    fid: Buffer.from(bytes.subarray(1, 33)).toString('hex'),
    index: view.getUint32(33),
    offset,
    length: raw === 0 ? SEGMENT_SIZE - offset : raw,
  };
  checkRequest(request);
  return request;
}

function checkRequest(r: SegmentRequest): void {
  if (!FID.test(r.fid)) throw new ProtocolError('fid must be 64 lowercase hex characters');
  if (!Number.isInteger(r.index) || r.index < 0 || r.index > U32) throw new ProtocolError(`invalid segment index ${r.index}`);
  if (!Number.isInteger(r.offset) || r.offset < 0 || r.offset >= SEGMENT_SIZE) throw new ProtocolError(`offset ${r.offset} is outside a segment`);
  if (!Number.isInteger(r.length) || r.length <= 0 || r.offset + r.length > SEGMENT_SIZE) {
    throw new ProtocolError(`range ${r.offset}+${r.length} does not fit in a segment of ${SEGMENT_SIZE} bytes`);
  }
}

export function encodeResponseHeader(status: Status, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > U32) throw new ProtocolError(`invalid body length ${length}`);
  const out = new Uint8Array(RESPONSE_HEADER_BYTES);
  out[0] = status;
  new DataView(out.buffer).setUint32(1, length);
  return out;
}

/** A non-OK response with its reason, in one frame. */
export function encodeRefusal(status: Exclude<Status, 0>, reason: string): Uint8Array {
  const text = Buffer.from(reason).subarray(0, MAX_REASON_BYTES);
  const out = new Uint8Array(RESPONSE_HEADER_BYTES + text.length);
  out.set(encodeResponseHeader(status, text.length));
  out.set(text, RESPONSE_HEADER_BYTES);
  return out;
}

/**
 * Checks a response header against what was asked: an OK body must be exactly the requested length, a refusal's
 * reason short. Anything else is a protocol violation by the peer.
 */
export function decodeResponseHeader(bytes: Uint8Array, requestedLength: number): ResponseHeader {
  if (bytes.length !== RESPONSE_HEADER_BYTES) throw new ProtocolError(`response header must be ${RESPONSE_HEADER_BYTES} bytes`);
  const status = bytes[0];
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  if (!Object.values(Status).includes(status as Status)) throw new ProtocolError(`unknown response status ${status}`);
  if (status === Status.OK && length !== requestedLength) {
    throw new ProtocolError(`peer offered ${length} bytes for a request of ${requestedLength}`);
  }
  if (status !== Status.OK && length > MAX_REASON_BYTES) throw new ProtocolError(`refusal reason of ${length} bytes is too long`);
  return { status: status as Status, length };
}
