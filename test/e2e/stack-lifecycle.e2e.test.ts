import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { STREAMING_NODE_FLAGS } from '../../origin/src/cli/start.ts';
import { putExpectingContinue } from '../support/expect-continue.ts';
import { startStack, type RunningStack } from '../support/stack.ts';

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

  it('runs the edge in workerd, or under wrangler dev with --edge-dev, on the same state', async () => {
    const home = await mkdtemp(join(tmpdir(), 'deoss-stack-runners-'));
    const client = (stack: RunningStack) => new S3Client({ endpoint: stack.stack.edge, region: stack.stack.s3.region, credentials: stack.stack.s3, forcePathStyle: true });
    const read = async (s3: S3Client, key: string) => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'runners', Key: key }))).Body!.transformToByteArray());
    const first = randomBytes(3 * 1024 * 1024);
    const second = randomBytes(300 * 1024);
    try {
      const workerd = await startStack({ home });
      try {
        expect(workerd.stack.edgeRunner).toBe('workerd');
        const s3 = client(workerd);
        await s3.send(new CreateBucketCommand({ Bucket: 'runners' }));
        await s3.send(new PutObjectCommand({ Bucket: 'runners', Key: 'first', Body: first }));
        s3.destroy();
      } finally {
        await workerd.stop();
      }
      // The same home under wrangler's dev server: the bucket, the object and the S3 key are still there.
      const dev = await startStack({ home, args: ['--edge-dev'] });
      try {
        expect(dev.stack.edgeRunner).toBe('wrangler-dev');
        expect(dev.stack.s3.accessKeyId).toBe(workerd.stack.s3.accessKeyId);
        const s3 = client(dev);
        expect((await read(s3, 'first')).equals(first)).toBe(true);
        // wrangler's proxy answers `Expect: 100-continue` too (the workerd it runs is the one package.json pins).
        expect(await putExpectingContinue(new URL(dev.stack.edge), dev.stack.s3, '/runners/second', second)).toBe(200);
        expect((await read(s3, 'second')).equals(second)).toBe(true);
        s3.destroy();
      } finally {
        await dev.stop();
      }
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }, 420_000);
});
