import { randomBytes } from 'node:crypto';
import { open, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Writes a file so that after a crash it is either absent/old or complete: write a temp file beside it, fsync,
 * rename over the target, fsync the directory.
 */
export async function writeDurably(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(8).toString('hex')}.tmp`);
  const file = await open(tmp, 'w');
  try {
    await file.write(typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  await syncDirectory(dirname(path));
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
