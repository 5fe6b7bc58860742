import { createReadStream } from 'node:fs';
import { ChainDispatchError } from '../chain/port.ts';
import type { CipherSpec } from '../pipeline/cipher.ts';
import { readFile } from '../retrieve/file-reader.ts';
import { PACK_REF } from '../uploads/pack-store.ts';
import type { OriginServices } from './context.ts';
import { describeFile } from './download.ts';
import { ApiError } from './errors.ts';

/**
 * What the edge keeps where S3 keeps an object's bytes: a FID, or a packed object's reference (uploads/pack-store.ts).
 * Both read the same way here, so the internal routes (GET, copy, compose) take either.
 */
export interface StoredBytes {
  size: number;
  /** An inclusive range of the object's (plaintext) bytes; `cipher` decrypts an encrypted CESS file. */
  read(range: { start: number; end: number }, o: { cipher?: CipherSpec; signal?: AbortSignal }): AsyncGenerator<Uint8Array>;
}

const FID = /^[0-9a-f]{64}$/;

export function isStoredRef(ref: string): boolean {
  return FID.test(ref) || PACK_REF.test(ref);
}

/**
 * The bytes behind a FID or pack reference; undefined when there is no such file or member. A pack reference this
 * origin does not hold is looked up on the chain when its `owner` is given: a sealed and stored pack's member reads
 * like a range of its file.
 */
export async function openStored(s: OriginServices, ref: string, owner?: string): Promise<StoredBytes | undefined> {
  if (FID.test(ref)) {
    const file = await describeFile(s, ref);
    if (!file) return undefined;
    return { size: file.size, read: (range, o) => readFile(s.retriever, { fid: ref, size: file.size, cipher: o.cipher, range, signal: o.signal }) };
  }
  const placed = s.packs?.resolve(ref);
  if (!placed) return owner ? openForeignMember(s, ref, owner) : undefined;
  return {
    size: placed.size,
    async *read(range, o) {
      if (o.cipher) throw new ApiError(400, 'this object is not encrypted');
      let at = s.packs!.resolve(ref);
      if (at?.kind === 'staged') {
        const stream = createReadStream(at.path, { start: at.offset + range.start, end: at.offset + range.end, highWaterMark: 1024 * 1024, signal: o.signal });
        try {
          // Opening fails only if the pack was sealed (and its data file removed) since it was resolved.
          yield* stream as AsyncIterable<Uint8Array>;
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          at = s.packs!.resolve(ref);
        }
      }
      if (at?.kind !== 'file') throw new ApiError(404, `packed object ${ref} is gone`);
      yield* readFile(s.retriever, { fid: at.fid, size: at.fileSize, range: { start: at.offset + range.start, end: at.offset + range.end }, signal: o.signal });
    },
  };
}

/** A member of a pack another origin wrote: found on the chain once the pack is sealed and stored. */
async function openForeignMember(s: OriginServices, ref: string, owner: string): Promise<StoredBytes | undefined> {
  const [, packId, offset, size] = PACK_REF.exec(ref)!;
  const pack = await s.sealedPacks.find(owner, packId);
  const start = Number(offset);
  if (!pack || start + Number(size) > pack.size) return undefined;
  return {
    size: Number(size),
    async *read(range, o) {
      if (o.cipher) throw new ApiError(400, 'this object is not encrypted');
      yield* readFile(s.retriever, { fid: pack.fid, size: pack.size, range: { start: start + range.start, end: start + range.end }, signal: o.signal });
    },
  };
}

/**
 * Releases an owner's CESS file at the chain. An upload still on its way to the storage nodes is deleted once it
 * settles (in memory: after an origin restart the caller's retry does it).
 */
export async function deleteOwnedFile(s: OriginServices, owner: string, fid: string): Promise<'now' | 'deferred' | 'absent'> {
  const local = s.uploads.byFid(fid);
  if (local && local.state !== 'stored' && local.state !== 'failed') {
    void s.uploads
      .whenSettled(local)
      .then((r) => (r.state === 'stored' ? s.chain.deleteFile({ owner, fid }) : undefined))
      .catch((err) => console.error(`origin: deferred delete of ${fid} failed:`, err));
    return 'deferred';
  }
  try {
    await s.chain.deleteFile({ owner, fid });
  } catch (err) {
    if (err instanceof ChainDispatchError && (err.id === 'fileBank.NonExistent' || err.id === 'fileBank.NotOwner')) return 'absent';
    throw err;
  }
  s.retriever.forgetRecord(fid);
  if (!(await s.chain.file(fid))) await s.cache.delete(fid);
  return 'now';
}
