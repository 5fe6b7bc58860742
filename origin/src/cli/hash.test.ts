import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = new URL('../../../bin/deoss.mjs', import.meta.url).pathname;
let dir: string;

async function deoss(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deoss-cli-'));
  await writeFile(join(dir, 'hello'), 'hello');
  await writeFile(join(dir, 'empty'), '');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('deoss hash', () => {
  it('prints the FID', async () => {
    const r = await deoss('hash', join(dir, 'hello'));
    expect(r).toMatchObject({ code: 0, stdout: 'c1f6e523054d358591ebee84a9fd71329abcaa9e3e51e20bf19ae7b3f4e774c2\n' });
  });

  it('prints exactly fid, size and segments with --json', async () => {
    const r = await deoss('hash', join(dir, 'hello'), '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['fid', 'size', 'segments']);
    expect(out.size).toBe(5);
    expect(Object.keys(out.segments[0])).toEqual(['hash', 'fragments']);
    expect(out.segments[0].fragments).toHaveLength(12);
    for (const f of out.segments[0].fragments) expect(f).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is deterministic for legacy-cbc and for aes-256-gcm with a fixed salt, and the cipher changes the FID', async () => {
    const file = join(dir, 'hello');
    const cbc1 = await deoss('hash', file, '--cipher', 'legacy-cbc', '--password', 'abc');
    const cbc2 = await deoss('hash', file, '--cipher', 'legacy-cbc', '--password', 'abc');
    expect(cbc1.code).toBe(0);
    expect(cbc1.stdout).toBe(cbc2.stdout);
    expect(cbc1.stdout).not.toBe((await deoss('hash', file)).stdout);
    const salt = 'ab'.repeat(32);
    const key = 'cd'.repeat(32);
    const g1 = await deoss('hash', file, '--cipher', 'aes-256-gcm', '--key', key, '--salt', salt);
    const g2 = await deoss('hash', file, '--cipher', 'aes-256-gcm', '--key', key, '--salt', salt);
    expect(g1.code).toBe(0);
    expect(g1.stdout).toBe(g2.stdout);
  });

  it('fails clearly on an empty file, a missing file, a bad cipher and bad usage', async () => {
    expect(await deoss('hash', join(dir, 'empty'))).toMatchObject({ code: 2, stderr: expect.stringMatching(/empty file/) });
    expect(await deoss('hash', join(dir, 'nope'))).toMatchObject({ code: 2, stderr: expect.stringMatching(/ENOENT|no such file/) });
    expect(await deoss('hash', join(dir, 'hello'), '--cipher', 'rot13')).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/unknown cipher 'rot13'/),
    });
    expect(await deoss('hash', join(dir, 'hello'), '--cipher', 'legacy-cbc')).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/needs --password/),
    });
    expect(await deoss('hash')).toMatchObject({ code: 2, stderr: expect.stringMatching(/exactly one FILE/) });
    expect(await deoss('frobnicate')).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown command/) });
  });
});
