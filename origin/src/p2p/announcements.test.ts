import { describe, expect, it } from 'vitest';
import { decodeAnnouncement, encodeAnnouncements, MAX_ANNOUNCED_SEGMENTS } from './announcements.ts';

const fidA = 'a'.repeat(64);
const fidB = '0123456789abcdef'.repeat(4);

describe('holdings announcements', () => {
  it('round-trips have and gone, grouped by FID', () => {
    const keys = [
      { fid: fidA, index: 0 },
      { fid: fidB, index: 4_000_000_000 },
      { fid: fidA, index: 2 },
    ];
    const [msg, ...rest] = encodeAnnouncements({ kind: 'have', ttlSeconds: 900, keys });
    expect(rest).toEqual([]);
    // 8 bytes of header, two groups of 34 bytes, three indexes of 4.
    expect(msg.length).toBe(8 + 2 * 34 + 3 * 4);
    const decoded = decodeAnnouncement(msg);
    expect(decoded.kind).toBe('have');
    expect(decoded.ttlSeconds).toBe(900);
    expect(decoded.keys).toEqual([
      { fid: fidA, index: 0 },
      { fid: fidA, index: 2 },
      { fid: fidB, index: 4_000_000_000 },
    ]);
    expect(decodeAnnouncement(encodeAnnouncements({ kind: 'gone', ttlSeconds: 0, keys: [{ fid: fidB, index: 1 }] })[0])).toEqual({
      kind: 'gone',
      ttlSeconds: 0,
      keys: [{ fid: fidB, index: 1 }],
    });
  });

  it('splits large holdings into bounded messages', () => {
    const keys = Array.from({ length: 2 * MAX_ANNOUNCED_SEGMENTS + 5 }, (_, i) => ({ fid: i % 2 ? fidA : fidB, index: i }));
    const msgs = encodeAnnouncements({ kind: 'have', ttlSeconds: 1, keys });
    expect(msgs.length).toBe(3);
    const back = msgs.flatMap((m) => decodeAnnouncement(m).keys);
    expect(back.length).toBe(keys.length);
    expect(new Set(back.map((k) => `${k.fid}/${k.index}`))).toEqual(new Set(keys.map((k) => `${k.fid}/${k.index}`)));
  });

  it('rejects malformed messages', () => {
    const [good] = encodeAnnouncements({ kind: 'have', ttlSeconds: 5, keys: [{ fid: fidA, index: 1 }] });
    expect(() => decodeAnnouncement(good.subarray(0, good.length - 1))).toThrow(/truncated/);
    expect(() => decodeAnnouncement(Buffer.concat([good, Buffer.from([0])]))).toThrow(/trailing/);
    expect(() => decodeAnnouncement(new Uint8Array(3))).toThrow(/truncated/);
    const kind = Buffer.from(good);
    kind[1] = 3;
    expect(() => decodeAnnouncement(kind)).toThrow(/kind 3/);
    const version = Buffer.from(good);
    version[0] = 2;
    expect(() => decodeAnnouncement(version)).toThrow(/version 2/);
    // A group claiming more segments than a message may hold.
    const huge = Buffer.alloc(8 + 34 + 4 * (MAX_ANNOUNCED_SEGMENTS + 1));
    huge[0] = 1;
    huge[1] = 1;
    huge.writeUInt16BE(1, 6);
    huge.writeUInt16BE(MAX_ANNOUNCED_SEGMENTS + 1, 40);
    expect(() => decodeAnnouncement(huge)).toThrow(/more than/);
    expect(() => encodeAnnouncements({ kind: 'have', ttlSeconds: 5, keys: [{ fid: 'xyz', index: 1 }] })).toThrow(/invalid fid/);
  });
});
