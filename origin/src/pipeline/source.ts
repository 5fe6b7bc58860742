import type { FileHandle } from 'node:fs/promises';

/**
 * A pull source of bytes. `read` fills as much of `into` as it can and returns how many bytes it wrote;
 * 0 means the end. Files are read straight into the caller's buffer (no intermediate chunks).
 */
export interface ByteSource {
  read(into: Uint8Array, signal?: AbortSignal): Promise<number>;
}

/** Reads a file from its current position to its end. The caller keeps ownership of the handle. */
export function fileSource(handle: FileHandle): ByteSource {
  return {
    async read(into, signal) {
      signal?.throwIfAborted();
      const { bytesRead } = await handle.read(into, 0, into.length, null);
      return bytesRead;
    },
  };
}

/** Adapts any async iterable of byte chunks (Node streams, web ReadableStreams, generators). */
export function iterableSource(chunks: AsyncIterable<Uint8Array>): ByteSource {
  const it = chunks[Symbol.asyncIterator]();
  let rest: Uint8Array | undefined;
  let done = false;
  return {
    async read(into, signal) {
      let at = 0;
      while (at < into.length) {
        if (!rest || rest.length === 0) {
          if (done) break;
          signal?.throwIfAborted();
          const next = await it.next();
          if (next.done) {
            done = true;
            break;
          }
          rest = next.value;
          continue;
        }
        const n = Math.min(rest.length, into.length - at);
        into.set(rest.subarray(0, n), at);
        rest = rest.subarray(n);
        at += n;
      }
      return at;
    },
  };
}

/** Reads until `into` is full or the source ends; returns the bytes read. */
export async function readFull(source: ByteSource, into: Uint8Array, signal?: AbortSignal): Promise<number> {
  let at = 0;
  while (at < into.length) {
    const n = await source.read(into.subarray(at), signal);
    if (n === 0) break;
    at += n;
  }
  return at;
}
