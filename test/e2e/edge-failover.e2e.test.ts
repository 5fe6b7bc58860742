/**
 * The edge in front of two origins (`deoss start --origins 2`), the way a user's S3 client sees it when the nearest
 * origin stops answering (stopped with SIGSTOP: its socket still takes connections, nothing answers): an upload sent
 * to it is given up once it leaves a liveness probe unanswered, and the client's retry lands on the other origin;
 * reads of objects it wrote (a small packed one, a 40 MiB one of its own) come from the other origin, from the
 * storage nodes and the chain's record. With both origins stopped, what the edge has cached is still served. (An
 * origin that exits ends the whole local stack, so refused connections are the unit tests' part:
 * workers/src/upstream/origin-client.test.ts.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type RunningStack } from '../support/stack.ts';

const MiB = 1024 * 1024;
/** The edge's failover settings, shortened for the test (docs/edge.md). */
const EDGE_VARS = { ORIGIN_READ_TIMEOUT_MS: '3000', ORIGIN_DOWN_FOR_MS: '2000', ORIGIN_WRITE_PROBE_AFTER_MS: '1000', ORIGIN_WRITE_PROBE_TIMEOUT_MS: '1000' };

let stack: RunningStack;
let s3: S3Client;
let signed: AwsClient;
let nearest: { url: string; pid: number };
let other: { url: string; pid: number };
const bucket = 'failover';
const small = randomBytes(200_000);
const large = randomBytes(40 * MiB);
const fresh = randomBytes(300_000);

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
  stack = await startStack({ args: ['--origins', '2'], env: { DEOSS_EDGE_VARS: JSON.stringify(EDGE_VARS) } });
  const processes = (stack.stack as unknown as { originProcesses: { url: string; pid: number }[] }).originProcesses;
  expect(processes).toHaveLength(2);
  nearest = processes[0]; // the edge's own region (deoss start gives the first origin the edge's region)
  other = processes[1];
  const creds = stack.stack.s3;
  // The SDK's default retries (3 attempts): what a user's client does with a 503.
  s3 = new S3Client({ endpoint: stack.stack.edge, region: creds.region, forcePathStyle: true, credentials: creds });
  signed = new AwsClient({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, region: creds.region, service: 's3' });
}, 300_000);

afterAll(async () => {
  s3?.destroy();
  for (const o of [nearest, other]) {
    if (!o) continue;
    try {
      process.kill(o.pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }
  await stack?.stop();
});

describe('the edge with two origins', () => {
  it('uploads to the other origin while the nearest one hangs, and reads what the hung one wrote from the other', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'small.bin', Body: small }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'large.bin', Body: large }));
    // Both written by the nearest origin; wait until their CESS files are stored (the small one's pack sealed).
    await until('both objects to be stored', async () => (await metric(nearest.url, 'deoss_origin_write_behind_packs')) === 0 && (await metric(nearest.url, 'deoss_origin_uploads_unsettled')) === 0);

    // Hung (stopped, its socket still accepting). An upload goes to it first: given up once the probe after 1 s went
    // unanswered for 1 s (503), then the SDK's retry goes to the other origin.
    process.kill(nearest.pid, 'SIGSTOP');
    const started = Date.now();
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'during.bin', Body: fresh }));
    expect(put.$metadata.attempts).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(await read('during.bin')).toEqual({ md5: md5(fresh), cache: 'miss' });

    // Once the edge tries the hung origin again (ORIGIN_DOWN_FOR_MS), a read waits out its timeout and asks the
    // other origin, which finds what the hung one wrote on the storage nodes.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await read('small.bin')).toEqual({ md5: md5(small), cache: 'miss' });
    expect(await read('large.bin')).toEqual({ md5: md5(large), cache: 'miss' });
  });

  it('serves what it has cached with every origin stopped', async () => {
    // The misses above filled the edge's cache in the background; the namespace and the keys live at the edge.
    await until('the small object to be cached', async () => (await read('small.bin')).cache === 'hit', 30_000);
    process.kill(other.pid, 'SIGSTOP');
    expect(await read('small.bin')).toEqual({ md5: md5(small), cache: 'hit' });
    expect(await read('during.bin')).toEqual({ md5: md5(fresh), cache: 'hit' });
  });
});
