/**
 * The edge in front of two origins (`deoss start --origins 2`), the way a user's S3 client sees it when the nearest
 * origin stops answering (stopped with SIGSTOP: its socket still takes connections, nothing answers): reads of
 * objects it wrote (a small packed one, a 40 MiB one of its own) come from the other origin, from the storage nodes
 * and the chain's record; new uploads go to the other origin. (An origin that exits ends the whole local stack, so
 * refused connections are the unit tests' part: workers/src/upstream/origin-client.test.ts.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type RunningStack } from '../support/stack.ts';

const MiB = 1024 * 1024;
/** How long the edge waits for an origin's answer to a read before it asks the next (ORIGIN_READ_TIMEOUT_MS). */
const READ_TIMEOUT_MS = 3000;

let stack: RunningStack;
let s3: S3Client;
let signed: AwsClient;
let nearest: { url: string; pid: number };
const bucket = 'failover';
const small = randomBytes(200_000);
const large = randomBytes(40 * MiB);

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
/** GetObject, with the edge's word on whether its cache answered (a miss asked an origin). */
const read = async (key: string) => {
  const res = await signed.fetch(`${stack.stack.edge}/${bucket}/${key}`);
  expect(res.status).toBe(200);
  return { md5: md5(new Uint8Array(await res.arrayBuffer())), cache: res.headers.get('x-deoss-cache') };
};

async function until(what: string, check: () => Promise<boolean>, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const metric = async (url: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`${url}/metrics`)).text())?.[1]);

beforeAll(async () => {
  stack = await startStack({ args: ['--origins', '2'], env: { DEOSS_EDGE_VARS: JSON.stringify({ ORIGIN_READ_TIMEOUT_MS: String(READ_TIMEOUT_MS) }) } });
  const processes = (stack.stack as unknown as { originProcesses: { url: string; pid: number }[] }).originProcesses;
  expect(processes).toHaveLength(2);
  nearest = processes[0]; // the edge's own region (deoss start gives the first origin the edge's region)
  const creds = stack.stack.s3;
  // The SDK's default retries (3 attempts): what a user's client does with a 503.
  s3 = new S3Client({ endpoint: stack.stack.edge, region: creds.region, forcePathStyle: true, credentials: creds });
  signed = new AwsClient({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, region: creds.region, service: 's3' });
}, 300_000);

afterAll(async () => {
  s3?.destroy();
  if (nearest) {
    try {
      process.kill(nearest.pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }
  await stack?.stop();
});

describe('the edge with two origins', () => {
  it('reads what the nearest origin wrote from the other one while it hangs, and uploads there', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'small.bin', Body: small }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'large.bin', Body: large }));
    // Both written by the nearest origin; wait until their CESS files are stored (the small one's pack sealed).
    await until('both objects to be stored', async () => (await metric(nearest.url, 'deoss_origin_write_behind_packs')) === 0 && (await metric(nearest.url, 'deoss_origin_uploads_unsettled')) === 0);

    // Hung (stopped, its socket still accepting): the first read waits out the timeout and asks the other origin;
    // the edge then skips the hung one for a while.
    process.kill(nearest.pid, 'SIGSTOP');
    expect(await read('small.bin')).toEqual({ md5: md5(small), cache: 'miss' });
    expect(await read('large.bin')).toEqual({ md5: md5(large), cache: 'miss' });

    // Uploads meanwhile go to the other origin: the edge remembers the one that did not answer (for downForMs).
    const fresh = randomBytes(300_000);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'after.bin', Body: fresh }));
    expect(await read('after.bin')).toEqual({ md5: md5(fresh), cache: 'miss' });
  });
});
