import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PartKeyMemory } from './part-key-memory.ts';

describe('PartKeyMemory', () => {
  it('gives back the one key all the parts were staged with', () => {
    const memory = new PartKeyMemory({ ttlMs: 1000 });
    const key = randomBytes(32);
    memory.remember('p1', key);
    memory.remember('p2', key);
    expect(memory.keyFor(['p1', 'p2'])?.equals(key)).toBe(true);
    // A copy: what the caller does with it does not touch what is held.
    memory.keyFor(['p1'])!.fill(0);
    expect(memory.keyFor(['p2'])?.equals(key)).toBe(true);
  });

  it('gives nothing for parts with different keys, or a part it never held', () => {
    const memory = new PartKeyMemory({ ttlMs: 1000 });
    memory.remember('p1', randomBytes(32));
    memory.remember('p2', randomBytes(32));
    expect(memory.keyFor(['p1', 'p2'])).toBeUndefined();
    expect(memory.keyFor(['p1', 'unknown'])).toBeUndefined();
    expect(memory.keyFor([])).toBeUndefined();
  });

  it('drops a key a while after its last part, and each new part extends the while', () => {
    let now = 0;
    const memory = new PartKeyMemory({ ttlMs: 1000, now: () => now });
    const key = randomBytes(32);
    memory.remember('p1', key);
    now = 900;
    memory.remember('p2', key);
    now = 1500;
    expect(memory.keyFor(['p1', 'p2'])?.equals(key)).toBe(true);
    now = 1900;
    expect(memory.keyFor(['p1'])).toBeUndefined();
    expect(memory.size).toBe(0);
  });

  it('drops a key with its last part, and the least recently used beyond its limit', () => {
    const memory = new PartKeyMemory({ ttlMs: 1000, maxParts: 2 });
    const [a, b] = [randomBytes(32), randomBytes(32)];
    memory.remember('a1', a);
    memory.remember('a2', a);
    memory.forget('a1');
    expect(memory.keyFor(['a2'])?.equals(a)).toBe(true);
    memory.forget('a2');
    expect(memory.keyFor(['a2'])).toBeUndefined();
    memory.remember('a1', a);
    memory.remember('b1', b);
    memory.remember('b2', b);
    expect(memory.keyFor(['a1'])).toBeUndefined();
    expect(memory.keyFor(['b1', 'b2'])?.equals(b)).toBe(true);
  });

  it('holds nothing when the time is zero', () => {
    const memory = new PartKeyMemory({ ttlMs: 0 });
    memory.remember('p1', randomBytes(32));
    expect(memory.keyFor(['p1'])).toBeUndefined();
  });
});
