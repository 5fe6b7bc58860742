import { describe, expect, it } from 'vitest';
import { SEGMENT_SIZE } from '../pipeline/constants.ts';
import {
  decodeRequest,
  decodeResponseHeader,
  encodeRefusal,
  encodeRequest,
  encodeResponseHeader,
  MAX_REASON_BYTES,
  ProtocolError,
  REQUEST_BYTES,
  RESPONSE_HEADER_BYTES,
  Status,
} from './segment-protocol.ts';

const fid = 'c1f6e523054d358591ebee84a9fd71329abcaa9e3e51e20bf19ae7b3f4e774c2';

describe('segment protocol framing', () => {
  it('round-trips a whole-segment request in 45 bytes, length 0 on the wire meaning "to the end"', () => {
    const bytes = encodeRequest({ fid, index: 7 });
    expect(bytes.length).toBe(REQUEST_BYTES);
    expect(bytes[0]).toBe(1);
    expect(Buffer.from(bytes.subarray(1, 33)).toString('hex')).toBe(fid);
    expect(Buffer.from(bytes.subarray(33, 37)).readUInt32BE()).toBe(7);
    expect(Buffer.from(bytes.subarray(41, 45)).readUInt32BE()).toBe(0);
    expect(decodeRequest(bytes)).toEqual({ fid, index: 7, offset: 0, length: SEGMENT_SIZE });
  });

  it('round-trips a range (a data-fragment quarter)', () => {
    const quarter = SEGMENT_SIZE / 4;
    expect(decodeRequest(encodeRequest({ fid, index: 0, offset: quarter * 2, length: quarter }))).toEqual({ fid, index: 0, offset: quarter * 2, length: quarter });
    // A range to the end of the segment is encoded as length 0 and decodes to the same length.
    expect(decodeRequest(encodeRequest({ fid, index: 3, offset: 100 }))).toEqual({ fid, index: 3, offset: 100, length: SEGMENT_SIZE - 100 });
  });

  it('refuses malformed requests with a reason', () => {
    expect(() => decodeRequest(new Uint8Array(44))).toThrow(/45 bytes/);
    const bad = encodeRequest({ fid, index: 1 });
    bad[0] = 9;
    expect(() => decodeRequest(bad)).toThrow(/version 9/);
    const past = Buffer.from(encodeRequest({ fid, index: 1 }));
    past.writeUInt32BE(SEGMENT_SIZE - 10, 37);
    past.writeUInt32BE(11, 41);
    expect(() => decodeRequest(past)).toThrow(ProtocolError);
    const offsetOut = Buffer.from(encodeRequest({ fid, index: 1 }));
    offsetOut.writeUInt32BE(SEGMENT_SIZE, 37);
    expect(() => decodeRequest(offsetOut)).toThrow(/outside a segment/);
    expect(() => encodeRequest({ fid: 'ABC', index: 0 })).toThrow(/fid/);
    expect(() => encodeRequest({ fid, index: -1 })).toThrow(/index/);
    expect(() => encodeRequest({ fid, index: 0, offset: 0, length: SEGMENT_SIZE + 1 })).toThrow(/does not fit/);
  });

  it('checks response headers against the request', () => {
    const ok = encodeResponseHeader(Status.OK, 1000);
    expect(ok.length).toBe(RESPONSE_HEADER_BYTES);
    expect(decodeResponseHeader(ok, 1000)).toEqual({ status: Status.OK, length: 1000 });
    // A peer offering a different length than asked is caught before any body is read.
    expect(() => decodeResponseHeader(ok, 999)).toThrow(/offered 1000 bytes/);
    const unknown = encodeResponseHeader(Status.OK, 5);
    unknown[0] = 77;
    expect(() => decodeResponseHeader(unknown, 5)).toThrow(/unknown response status 77/);
    expect(() => decodeResponseHeader(encodeResponseHeader(Status.NOT_FOUND, MAX_REASON_BYTES + 1), 5)).toThrow(/too long/);
  });

  it('carries a refusal reason, truncated to the limit', () => {
    const frame = encodeRefusal(Status.BUSY, 'slow down');
    const header = decodeResponseHeader(frame.subarray(0, RESPONSE_HEADER_BYTES), 123);
    expect(header).toEqual({ status: Status.BUSY, length: 9 });
    expect(Buffer.from(frame.subarray(RESPONSE_HEADER_BYTES)).toString()).toBe('slow down');
    expect(encodeRefusal(Status.NOT_FOUND, 'x'.repeat(1000)).length).toBe(RESPONSE_HEADER_BYTES + MAX_REASON_BYTES);
  });
});
