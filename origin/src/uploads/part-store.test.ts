import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PartKeyError, PartNotFoundError, PartStore } from './part-store.ts';
import { BodyTooLargeError } from './durable-file.ts';

async function* chunks(bytes: Uint8Array, size = 100_000) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

describe('PartStore', () => {
  it('stages a plain part durably and reads it back with its md5', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parts-'));
    const store = await PartStore.open({ dir });
    const bytes = randomBytes(1_234_567);
    const info = await store.put(chunks(bytes), { maxBytes: 10 ** 7 });
    expect(info.size).toBe(bytes.length);
    expect(info.md5).toBe((await import('node:crypto')).createHash('md5').update(bytes).digest('hex'));
    expect(await collect(store.read(info.handle))).toEqual(bytes);
    const reopened = await PartStore.open({ dir });
    expect((await reopened.info(info.handle)).size).toBe(bytes.length);
  });

  it('seals SSE-C parts: no plaintext on disk, the key is required, a wrong key or altered file fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parts-'));
    const store = await PartStore.open({ dir });
    const key = randomBytes(32);
    const bytes = Buffer.alloc(300_000, 'secret text ');
    const info = await store.put(chunks(bytes), { key, maxBytes: 10 ** 7 });
    const raw = await readFile(join(dir, `${info.handle}.part`));
    expect(raw.includes(Buffer.from('secret text'))).toBe(false);
    expect(await collect(store.read(info.handle, key))).toEqual(bytes);
    await expect(collect(store.read(info.handle))).rejects.toBeInstanceOf(PartKeyError);
    await expect(collect(store.read(info.handle, randomBytes(32)))).rejects.toBeInstanceOf(PartKeyError);
    raw[100] ^= 1;
    await writeFile(join(dir, `${info.handle}.part`), raw);
    await expect(collect(store.read(info.handle, key))).rejects.toBeInstanceOf(PartKeyError);
  });

  it('refuses oversize parts and failed checks without leaving files behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parts-'));
    const store = await PartStore.open({ dir });
    await expect(store.put(chunks(randomBytes(2000)), { maxBytes: 1000 })).rejects.toBeInstanceOf(BodyTooLargeError);
    await expect(
      store.put(chunks(randomBytes(10)), {
        maxBytes: 1000,
        check: () => {
          throw new Error('digest mismatch');
        },
      }),
    ).rejects.toThrow('digest mismatch');
    expect(await readdir(dir)).toEqual([]);
  });

  it('releases and sweeps abandoned parts; unknown handles are not found', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parts-'));
    const store = await PartStore.open({ dir, maxAgeMs: 1000 });
    const a = await store.put(chunks(randomBytes(10)), { maxBytes: 100 });
    const b = await store.put(chunks(randomBytes(10)), { maxBytes: 100 });
    await store.release(a.handle);
    await expect(store.info(a.handle)).rejects.toBeInstanceOf(PartNotFoundError);
    await expect(store.info('../../etc/passwd')).rejects.toBeInstanceOf(PartNotFoundError);
    expect(await store.sweep(Date.now())).toBe(0);
    expect(await store.sweep(Date.now() + 5000)).toBe(1);
    await expect(store.info(b.handle)).rejects.toBeInstanceOf(PartNotFoundError);
  });
});
