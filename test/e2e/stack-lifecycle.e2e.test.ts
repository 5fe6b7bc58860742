import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STREAMING_NODE_FLAGS } from '../../origin/src/cli/start.ts';
import { startStack } from '../support/stack.ts';

// `deoss start` as the tests and benches drive it (test/support/stack.ts): what is left behind when a stack stops,
// and how a start that cannot succeed ends.
describe('the local stack lifecycle', () => {
  it('runs the origin and the storage nodes with their V8 flags, and removes a home it made itself when the stack stops', async () => {
    const stack = await startStack({ args: ['--no-edge'] });
    expect(existsSync(join(stack.home, 'stack.json'))).toBe(true);
    // The origin and the storage nodes run with the garbage-collector flags (start.ts STREAMING_NODE_FLAGS).
    const { originProcesses, storageNodes } = stack.stack as unknown as { originProcesses: { pid: number }[]; storageNodes: { pid: number }[] };
    const argv = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(STREAMING_NODE_FLAGS).toEqual(['--max-semi-space-size=1', '--heap-growing-percent=100']);
    // Before the script: node's own options.
    expect(argv(originProcesses[0].pid).slice(1, 3)).toEqual(STREAMING_NODE_FLAGS);
    expect(argv(storageNodes[0].pid).slice(1, 3)).toEqual(STREAMING_NODE_FLAGS);
    await stack.stop();
    expect(existsSync(stack.home)).toBe(false);
  }, 240_000);

  it('ends a start whose storage node cannot start, names it, and keeps a home it was given', async () => {
    const home = await mkdtemp(join(tmpdir(), 'deoss-stack-given-'));
    try {
      // The first storage node's data directory is a file: that node exits while the others come up.
      await mkdir(join(home, 'nodes'), { recursive: true });
      await writeFile(join(home, 'nodes', '1'), 'not a directory');
      // Well inside the 180 s startup timeout a stray timer would keep `deoss start` waiting for.
      await expect(startStack({ home, args: ['--no-edge'] })).rejects.toThrow(/deoss start exited with 1[\s\S]*storage-node exited with 1 while starting/);
      expect(existsSync(join(home, 'nodes', '1'))).toBe(true);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }, 120_000);
});
