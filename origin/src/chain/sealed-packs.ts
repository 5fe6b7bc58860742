import type { Chain } from './port.ts';

/** A sealed pack's CESS file, as the chain records it. */
export interface SealedPack {
  fid: string;
  size: number;
}

/** Owners whose pack files are remembered at most, least recently asked for dropped first. */
export const SEALED_PACK_OWNERS_MAX = 1_000;

/** The file name a sealed pack gets in its owner's file list (uploads/pack-store.ts). */
export function packFileName(packId: string): string {
  return `s3-pack-${packId}`;
}

/** The pack id in a file name packFileName made, else undefined. */
function packIdOf(fileName: string): string | undefined {
  return /^s3-pack-([0-9a-f]{32})$/.exec(fileName)?.[1];
}

/** What is known of one owner's files: those already looked up, the packs among them, and a scan under way. */
interface OwnerFiles {
  seen: Set<string>;
  packs: Map<string, SealedPack>;
  scan?: Promise<void>;
}

/**
 * Finds the CESS file of a pack another origin wrote and sealed, from the chain alone: the pack's file is named
 * `s3-pack-<id>` in its owner's file list. This is what lets any origin serve a packed object while the origin that
 * wrote it is down (the reference carries the member's offset and size; the file's bytes come from peers or the
 * storage nodes like any file's).
 *
 * The chain has no index by name: the owner's file list is read and each file not seen before is looked up once
 * (names never change), so a lookup costs one query plus one per file new since the last. What was learnt is kept
 * per owner; lookups for one owner under way are shared. A pack not found (not sealed, not yet stored, or deleted)
 * is not remembered as missing.
 */
export class SealedPacks {
  readonly #chain: Pick<Chain, 'userFiles' | 'file'>;
  readonly #owners = new Map<string, OwnerFiles>();

  constructor(chain: Pick<Chain, 'userFiles' | 'file'>) {
    this.#chain = chain;
  }

  async find(owner: string, packId: string): Promise<SealedPack | undefined> {
    const known: OwnerFiles = this.#owners.get(owner) ?? { seen: new Set(), packs: new Map() };
    // Re-inserted: the most recently asked for last, the least first out.
    this.#owners.delete(owner);
    this.#owners.set(owner, known);
    if (this.#owners.size > SEALED_PACK_OWNERS_MAX) this.#owners.delete(this.#owners.keys().next().value!);
    const hit = known.packs.get(packId);
    if (hit) return hit;
    known.scan ??= this.#scan(owner, known).finally(() => (known.scan = undefined));
    await known.scan;
    return known.packs.get(packId);
  }

  async #scan(owner: string, known: OwnerFiles): Promise<void> {
    for (const { fid } of await this.#chain.userFiles(owner)) {
      if (known.seen.has(fid)) continue;
      const record = await this.#chain.file(fid);
      if (!record) continue; // not stored yet: look again next time
      known.seen.add(fid);
      for (const brief of record.owners) {
        const id = brief.user === owner ? packIdOf(brief.fileName) : undefined;
        if (id) known.packs.set(id, { fid, size: Number(record.fileSize) });
      }
    }
  }
}
