/**
 * Holdings announcements, published on the gossipsub topic `ANNOUNCE_TOPIC`. The publisher is the holder: gossipsub
 * signs every message with the publisher's peer key (StrictSign), so a peer can only announce for itself.
 *
 *   u8 version=1 | u8 kind (1 = have, 2 = gone) | u32 ttl seconds | u16 groups |
 *   groups × ( 32 bytes FID | u16 count | count × u32 segment index )
 *
 * Big-endian. A message carries at most MAX_ANNOUNCED_SEGMENTS segments; larger holdings go out in several.
 */
import type { SegmentKey } from './segment-peers.ts';
import { ProtocolError } from './segment-protocol.ts';

export const ANNOUNCE_TOPIC = '/deoss/segments/1';
export const MAX_ANNOUNCED_SEGMENTS = 4096;
const VERSION = 1;
const KIND = { have: 1, gone: 2 } as const;

export interface Announcement {
  kind: 'have' | 'gone';
  /** How long a `have` stays true unless repeated, seconds. */
  ttlSeconds: number;
  keys: SegmentKey[];
}

/** Splits holdings into messages of at most `max` segments each, grouped by FID. */
export function encodeAnnouncements(announcement: Announcement, max = MAX_ANNOUNCED_SEGMENTS): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < announcement.keys.length; at += max) {
    out.push(encodeOne({ ...announcement, keys: announcement.keys.slice(at, at + max) }));
  }
  return out;
}

function encodeOne({ kind, ttlSeconds, keys }: Announcement): Uint8Array {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > 0xffff_ffff) throw new ProtocolError(`invalid ttl ${ttlSeconds}`);
  const groups = new Map<string, number[]>();
  for (const k of keys) {
    if (!/^[0-9a-f]{64}$/.test(k.fid)) throw new ProtocolError(`invalid fid ${k.fid.slice(0, 70)}`);
    if (!Number.isInteger(k.index) || k.index < 0 || k.index > 0xffff_ffff) throw new ProtocolError(`invalid segment index ${k.index}`);
    const list = groups.get(k.fid) ?? [];
    list.push(k.index);
    groups.set(k.fid, list);
  }
  let size = 8;
  for (const list of groups.values()) size += 34 + 4 * list.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
  out[1] = KIND[kind];
  view.setUint32(2, ttlSeconds);
  view.setUint16(6, groups.size);
  let at = 8;
  for (const [fid, list] of groups) {
    out.set(Buffer.from(fid, 'hex'), at);
    view.setUint16(at + 32, list.length);
    at += 34;
    for (const index of list) {
      view.setUint32(at, index);
      at += 4;
    }
  }
  return out;
}

/** Decodes and checks one message; anything malformed (truncated, trailing bytes, too many segments) throws. */
export function decodeAnnouncement(bytes: Uint8Array): Announcement {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8) throw new ProtocolError('announcement is truncated');
  if (bytes[0] !== VERSION) throw new ProtocolError(`unsupported announcement version ${bytes[0]}`);
  const kind = bytes[1] === KIND.have ? 'have' : bytes[1] === KIND.gone ? 'gone' : undefined;
  if (!kind) throw new ProtocolError(`unknown announcement kind ${bytes[1]}`);
  const ttlSeconds = view.getUint32(2);
  const groups = view.getUint16(6);
  const keys: SegmentKey[] = [];
  let at = 8;
  for (let g = 0; g < groups; g++) {
    if (at + 34 > bytes.length) throw new ProtocolError('announcement is truncated');
    const fid = Buffer.from(bytes.subarray(at, at + 32)).toString('hex');
    const count = view.getUint16(at + 32);
    at += 34;
    if (at + 4 * count > bytes.length) throw new ProtocolError('announcement is truncated');
    if (keys.length + count > MAX_ANNOUNCED_SEGMENTS) throw new ProtocolError(`announcement lists more than ${MAX_ANNOUNCED_SEGMENTS} segments`);
    for (let i = 0; i < count; i++, at += 4) keys.push({ fid, index: view.getUint32(at) });
  }
  if (at !== bytes.length) throw new ProtocolError(`announcement has ${bytes.length - at} trailing bytes`);
  return { kind, ttlSeconds, keys };
}
