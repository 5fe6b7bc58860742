import { describe, expect, it } from 'vitest';
import { ByteSource, checkedStream } from './byte-source.ts';

function pattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function drain(src: ByteSource, carry = 0): Promise<{ bytes: Uint8Array; sizes: number[] }> {
  const pieces: Uint8Array[] = [];
  const sizes: number[] = [];
  let prefix: Uint8Array | undefined;
  for (;;) {
    const { data, eof } = await src.read(prefix);
    sizes.push(data.byteLength);
    // Keep the last `carry` bytes as the next prefix, as a decoder does with a split header.
    const keep = eof ? 0 : Math.min(carry, data.byteLength);
    pieces.push(data.slice(0, data.byteLength - keep));
    prefix = data.slice(data.byteLength - keep);
    if (eof) break;
  }
  const bytes = new Uint8Array(pieces.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of pieces) {
    bytes.set(p, off);
    off += p.byteLength;
  }
  return { bytes, sizes };
}

describe('ByteSource', () => {
  it('reads a byte stream in large pieces and keeps prefixes in order', async () => {
    const data = pattern(3 * 1024 * 1024 + 5);
    const { bytes, sizes } = await drain(new ByteSource(new Response(data).body!), 100);
    expect(bytes.length).toBe(data.length);
    expect(sameBytes(bytes, data)).toBe(true);
    // Every read but the last two (the tail of the stream, then the end) is large.
    expect(Math.min(...sizes.slice(0, -2))).toBeGreaterThanOrEqual(256 * 1024);
  });

  it('gathers a default stream of small chunks and splits oversize ones', async () => {
    const data = pattern(50_000);
    let off = 0;
    const sizes = [10, 3000, 20_000, 7, 26_983];
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        const n = sizes.shift();
        if (n === undefined) return c.close();
        c.enqueue(data.slice(off, off + n));
        off += n;
      },
    });
    const src = new ByteSource(stream, { bufferBytes: 8192, minReadBytes: 4096 });
    const got = await drain(src, 3);
    expect(sameBytes(got.bytes, data)).toBe(true);
    expect(Math.max(...got.sizes)).toBeLessThanOrEqual(8192);
  });

  it('hands large default-stream chunks over without copying', async () => {
    const chunk = pattern(300 * 1024);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(chunk);
        c.close();
      },
    });
    const src = new ByteSource(stream);
    const first = await src.read();
    expect(first.data).toBe(chunk);
    expect((await src.read()).eof).toBe(true);
  });

  it('reports eof with the prefix at the end of the stream', async () => {
    const src = new ByteSource(new Response(pattern(10)).body!);
    const a = await src.read();
    const rest = a.eof ? a : await src.read(a.data.subarray(8));
    expect(rest.eof).toBe(true);
  });
});

describe('checkedStream', () => {
  /** A source of `chunks`, recording whether it was cancelled and why. */
  function source(chunks: Uint8Array[]) {
    const seen = { cancelled: false, reason: undefined as unknown };
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        const next = chunks.shift();
        if (next) c.enqueue(next);
        else c.close();
      },
      cancel(reason) {
        seen.cancelled = true;
        seen.reason = reason;
      },
    });
    return { src: new ByteSource(body), seen };
  }

  it('passes what each step enqueues and resolves with what ends it', async () => {
    const { src } = source([pattern(10), pattern(20)]);
    let total = 0;
    const { stream, result } = checkedStream<number>(src, async (controller, end) => {
      const { data, eof } = await src.read();
      total += data.byteLength;
      if (data.byteLength) controller.enqueue(data);
      if (eof) end(total);
    }, { cancelReason: () => new Error('cancelled') });
    expect((await new Response(stream).arrayBuffer()).byteLength).toBe(30);
    expect(await result).toBe(30);
  });

  it('errors the stream, rejects the result and cancels the source when a step throws', async () => {
    const { src, seen } = source([pattern(10), pattern(10)]);
    const refused = new Error('checksum mismatch');
    const { stream, result, failure } = checkedStream<number>(src, async () => {
      throw refused;
    }, { cancelReason: () => new Error('cancelled') });
    await expect(new Response(stream).arrayBuffer()).rejects.toBe(refused);
    await expect(result).rejects.toBe(refused);
    expect(failure()).toBe(refused);
    expect(seen).toEqual({ cancelled: true, reason: refused });
  });

  it("rejects the result with the consumer's reason, or cancelReason, when the stream is cancelled", async () => {
    for (const reason of [new Error('client went away'), undefined]) {
      const { src, seen } = source([pattern(10)]);
      const { stream, result } = checkedStream<number>(src, async () => {}, { cancelReason: () => new Error('no reason given'), highWaterMark: 0 });
      await stream.cancel(reason);
      await expect(result).rejects.toThrow(reason ? 'client went away' : 'no reason given');
      expect(seen.cancelled).toBe(true);
    }
  });
});
