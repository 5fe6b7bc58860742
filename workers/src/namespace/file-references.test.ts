import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { FileReferences } from './file-references.ts';

const OWNER = 'cXjmuHdBk4J3Zyt2oGodwGegNFaTFPcfC48PZ9NMmcUFzF6cc';
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

const refsOf = (name: string) => (env as unknown as { FILE_REFERENCES: DurableObjectNamespace<FileReferences> }).FILE_REFERENCES.get((env as unknown as { FILE_REFERENCES: DurableObjectNamespace<FileReferences> }).FILE_REFERENCES.idFromName(name));

describe('FileReferences', () => {
  it('queues files nothing refers to for release, retries failed releases with backoff, and un-queues a file counted again', async () => {
    const stub = refsOf(`owner-${crypto.randomUUID()}`);
    await stub.retain([A, A, B]);
    expect(await stub.release([A, B], OWNER)).toEqual([B]);
    expect(await stub.count(A)).toBe(1);
    expect(await stub.pendingReleases()).toEqual([{ fid: B, attempts: 0 }]);

    await runInDurableObject(stub, async (refs: FileReferences, state) => {
      expect(await state.storage.getAlarm()).not.toBeNull(); // the release runs from the alarm
      const before = Date.now();
      await refs.drain(async () => {
        throw new Error('origin unreachable');
      });
      expect(await refs.pendingReleases()).toEqual([{ fid: B, attempts: 1 }]);
      expect(await state.storage.getAlarm()).toBeGreaterThanOrEqual(before + 1000); // backed off, not spinning
      // Not due yet: nothing is sent.
      const sent: string[] = [];
      await refs.drain(async (fid) => void sent.push(fid));
      expect(sent).toEqual([]);
      await refs.drain(async (fid, owner) => void sent.push(`${fid} ${owner}`), Date.now() + 60_000);
      expect(sent).toEqual([`${B} ${OWNER}`]);
      expect(await refs.pendingReleases()).toEqual([]);

      // Counted again before its release went out: the release is dropped.
      expect(await refs.release([A], OWNER)).toEqual([A]);
      await refs.retain([A]);
      expect(await refs.pendingReleases()).toEqual([]);
      await refs.drain(async (fid) => void sent.push(fid), Date.now() + 60_000);
      expect(sent).toHaveLength(1);
      expect(await refs.count(A)).toBe(1);
      // No alarm may outlive the test (isolated storage is undone after each test).
      await state.storage.deleteAlarm();
    });
  });
  it('implies the first holder of a pack reference: copies are counted, the last release frees it', async () => {
    const stub = refsOf(`owner-${crypto.randomUUID()}`);
    const P = `pack-${'c'.repeat(32)}-30-7`;
    const Q = `pack-${'d'.repeat(32)}-30-7`;
    expect(await stub.count(P)).toBe(1); // written by a PutObject that counted nothing
    await stub.retain([P, P]); // two copies
    expect(await stub.count(P)).toBe(3);
    expect(await stub.release([P], OWNER)).toEqual([]);
    expect(await stub.release([P], OWNER)).toEqual([]);
    expect(await stub.release([P], OWNER)).toEqual([P]); // the last of three holders
    expect(await stub.count(P)).toBe(0);
    // A copy counted after its reference was freed, before the release went out, is now its only holder.
    await stub.retain([P]);
    expect(await stub.pendingReleases()).toEqual([]);
    expect(await stub.count(P)).toBe(1);
    expect(await stub.release([P], OWNER)).toEqual([P]);
    // A reference counted in full before this scheme keeps its count.
    await runInDurableObject(stub, async (_refs: FileReferences, state) => {
      state.storage.sql.exec('INSERT INTO refs (fid, count) VALUES (?, 2)', Q);
    });
    expect(await stub.release([Q], OWNER)).toEqual([]);
    expect(await stub.release([Q], OWNER)).toEqual([Q]);
    // A FID that was never counted is nobody's to free.
    expect(await stub.release(['e'.repeat(64)], OWNER)).toEqual([]);
    await runInDurableObject(stub, async (_refs: FileReferences, state) => {
      await state.storage.deleteAlarm(); // no alarm may outlive the test
    });
  });
});
