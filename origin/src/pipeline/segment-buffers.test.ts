import { describe, expect, it } from 'vitest';
import { SEGMENT_SIZE } from './constants.ts';
import { SegmentBufferCache, SegmentLease } from './segment-buffers.ts';

describe('SegmentLease', () => {
  it('goes back to its buffer cache only when the last holder releases it', () => {
    const cache = new SegmentBufferCache(2);
    const lease = SegmentLease.from(cache);
    expect(lease.bytes.length).toBe(SEGMENT_SIZE);
    lease.retain();
    lease.release();
    expect(cache.free).toBe(0);
    lease.release();
    expect(cache.free).toBe(1);
    // The next lease reuses the same memory.
    expect(SegmentLease.from(cache).bytes).toBe(lease.bytes);
  });

  it('refuses a second release and a retain after the release', () => {
    const lease = SegmentLease.from(new SegmentBufferCache(1));
    lease.release();
    expect(() => lease.release()).toThrow(/released twice/);
    expect(() => lease.retain()).toThrow(/after its release/);
  });
});
