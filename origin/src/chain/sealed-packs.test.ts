import { describe, expect, it } from 'vitest';
import type { FileRecord, UserFile } from './port.ts';
import { SealedPacks } from './sealed-packs.ts';

const id = (c: string) => c.repeat(32);
const fid = (c: string) => c.repeat(64);

/** The two queries SealedPacks makes, over an in-memory file list, counting how often each file is looked up. */
function chainWith(files: { fid: string; owners: { user: string; fileName: string }[]; stored?: boolean }[]) {
  const lookups = new Map<string, number>();
  let lists = 0;
  const chain = {
    async userFiles(owner: string): Promise<UserFile[]> {
      lists++;
      return files.filter((f) => f.owners.some((o) => o.user === owner)).map((f) => ({ fid: f.fid, territoryName: 't', fileSize: 100n }));
    },
    async file(f: string): Promise<FileRecord | undefined> {
      lookups.set(f, (lookups.get(f) ?? 0) + 1);
      const found = files.find((x) => x.fid === f);
      if (!found || found.stored === false) return undefined;
      return { fid: f, fileSize: 4096n, segments: [], owners: found.owners.map((o) => ({ ...o, territoryName: 't' })), completion: 1, state: 'Active' };
    },
  };
  return { chain, files, lookups, lists: () => lists };
}

describe('SealedPacks', () => {
  it("finds a pack by its file's name in the owner's list, and only the owner's name counts", async () => {
    const c = chainWith([
      { fid: fid('a'), owners: [{ user: 'alice', fileName: 'photo.jpg' }] },
      { fid: fid('b'), owners: [{ user: 'alice', fileName: `s3-pack-${id('1')}` }] },
      // Bob's file has the name of a pack; Alice holds it under another name: not Alice's pack.
      { fid: fid('c'), owners: [{ user: 'bob', fileName: `s3-pack-${id('2')}` }, { user: 'alice', fileName: 'other' }] },
    ]);
    const packs = new SealedPacks(c.chain);
    expect(await packs.find('alice', id('1'))).toEqual({ fid: fid('b'), size: 4096 });
    expect(await packs.find('alice', id('2'))).toBeUndefined();
    expect(await packs.find('bob', id('2'))).toEqual({ fid: fid('c'), size: 4096 });
  });

  it('looks each file up once; a miss reads the list again and looks up only what is new or was not stored yet', async () => {
    const c = chainWith([
      { fid: fid('a'), owners: [{ user: 'alice', fileName: 'photo.jpg' }] },
      { fid: fid('b'), owners: [{ user: 'alice', fileName: `s3-pack-${id('1')}` }], stored: false },
    ]);
    const packs = new SealedPacks(c.chain);
    expect(await packs.find('alice', id('1'))).toBeUndefined(); // declared, not stored yet
    c.files[1].stored = true;
    c.files.push({ fid: fid('c'), owners: [{ user: 'alice', fileName: `s3-pack-${id('3')}` }] });
    expect(await packs.find('alice', id('1'))).toEqual({ fid: fid('b'), size: 4096 });
    expect(await packs.find('alice', id('3'))).toEqual({ fid: fid('c'), size: 4096 }); // learnt by the same scan
    expect(Object.fromEntries(c.lookups)).toEqual({ [fid('a')]: 1, [fid('b')]: 2, [fid('c')]: 1 });
    expect(c.lists()).toBe(2);
  });

  it('shares a scan under way between lookups for one owner', async () => {
    const c = chainWith([{ fid: fid('b'), owners: [{ user: 'alice', fileName: `s3-pack-${id('1')}` }] }]);
    const packs = new SealedPacks(c.chain);
    const found = await Promise.all([packs.find('alice', id('1')), packs.find('alice', id('1')), packs.find('alice', id('9'))]);
    expect(found).toEqual([{ fid: fid('b'), size: 4096 }, { fid: fid('b'), size: 4096 }, undefined]);
    expect(c.lists()).toBe(1);
  });
});
