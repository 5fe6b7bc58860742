import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { syncDirectory } from '../uploads/durable-file.ts';

/**
 * The origin's libp2p identity: an Ed25519 key kept at `path` (protobuf-encoded, mode 0600), created on first start.
 * The same key across restarts means the same peer id, so allow lists and bootstrap addresses stay valid.
 */
export async function loadOrCreatePeerKey(path: string): Promise<PrivateKey> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (bytes) {
    try {
      return privateKeyFromProtobuf(bytes);
    } catch (err) {
      throw new Error(`peer key ${path} is not a libp2p private key (${(err as Error).message}); move it away to create a new identity`);
    }
  }
  const key = await generateKeyPair('Ed25519');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Written private from the first byte (never a world-readable temp file), fsynced, renamed into place.
  const tmp = join(dirname(path), `.${randomBytes(8).toString('hex')}.tmp`);
  const file = await open(tmp, 'wx', 0o600);
  try {
    await file.write(privateKeyToProtobuf(key));
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  await syncDirectory(dirname(path));
  return key;
}
