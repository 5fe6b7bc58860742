// Real S3 clients against the real local stack (`deoss start`: edge under wrangler dev, origin, 12 storage nodes):
// awscli, rclone, s3cmd, boto3 (Debian's, see .ci/run), @aws-sdk/client-s3 and minio-js. Every client gets its own
// bucket and runs the same user journeys: bucket and object round trips, Range reads, listings with prefix and
// delimiter, keys with special characters, a 20 MiB multipart upload, CopyObject, DeleteObjects, presigned URLs
// through curl, and the errors a user meets (missing key, wrong secret, expired URL). Downloads are compared byte
// for byte with what was uploaded.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CopyObjectCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import * as Minio from 'minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHeaders } from '../../origin/src/auth/signed-message.ts';
import { accountFromSuri } from '../../origin/src/chain/accounts.ts';
import { digestFile } from '../../origin/src/pipeline/file-digest.ts';
import { putExpectingContinue } from '../support/expect-continue.ts';
import { startStack, type RunningStack } from '../support/stack.ts';

const MiB = 1024 * 1024;
/** The multipart object: 20 MiB in 8 MiB parts (8 + 8 + 4). */
const BIG_BYTES = 20 * MiB;
const PART_BYTES = 8 * MiB;
/** A key with the characters clients encode differently: `& + - é "`, spaces and a slash. */
const ODD_KEY = 'odd dir &+-é"/file name &+-é" x.txt';
const CLIENT_TIMEOUT_MS = 120_000;

let stack: RunningStack;
let work: string;
let edge: URL;
let creds: { accessKeyId: string; secretAccessKey: string; region: string };
/** A client of our own for looking at what another client left on the server. */
let inspector: S3Client;
/** Every 20 MiB multipart upload of the suite (each client's own random bytes), for the CESS file check. */
const bigUploads: { client: string; path: string }[] = [];

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a client binary; never throws on a non-zero exit (error cases check the code). */
function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), CLIENT_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs a client binary that must succeed; its stdout as text. */
async function ok(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.code}:\n${r.stderr}\n${r.stdout.toString().slice(0, 2000)}`);
  return r.stdout.toString();
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
/** S3's multipart ETag: MD5 of the part MD5s, then -N. */
function multipartEtag(data: Buffer, partBytes: number): string {
  const digests: Buffer[] = [];
  for (let at = 0; at < data.length; at += partBytes) digests.push(createHash('md5').update(data.subarray(at, at + partBytes)).digest());
  return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}`;
}

/** A file of random bytes in the work directory. */
async function randomFile(name: string, size: number): Promise<{ path: string; data: Buffer }> {
  const data = randomBytes(size);
  const path = join(work, name);
  await writeFile(path, data);
  return { path, data };
}

/** The 20 MiB file a client uploads with multipart, remembered for the CESS file check at the end. */
async function bigFile(client: string): Promise<{ path: string; data: Buffer }> {
  const f = await randomFile(`${client}-big.bin`, BIG_BYTES);
  bigUploads.push({ client, path: f.path });
  return f;
}

async function expectSameFile(path: string, expected: Buffer): Promise<void> {
  const got = await readFile(path);
  expect(got.length).toBe(expected.length);
  expect(sha256(got)).toBe(sha256(expected));
}

async function curl(args: string[]): Promise<{ status: number; body: Buffer }> {
  const r = await run('/usr/bin/curl', ['-s', '-S', '-o', '-', '-w', '\n%{http_code}', ...args]);
  if (r.code !== 0) throw new Error(`curl ${args.join(' ')} failed: ${r.stderr}`);
  const text = r.stdout;
  const nl = text.lastIndexOf(10);
  return { status: Number(text.subarray(nl + 1).toString()), body: text.subarray(0, nl) };
}

/** For each needle, the files under `dir` modified since `since` (ms) whose bytes contain it. */
async function filesHolding(dir: string, since: number, needles: Buffer[]): Promise<string[][]> {
  const found: string[][] = needles.map(() => []);
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path).catch(() => undefined);
    if (!info || info.mtimeMs < since) continue;
    const bytes = await readFile(path).catch(() => undefined);
    if (!bytes) continue;
    needles.forEach((needle, i) => {
      if (bytes.includes(needle)) found[i].push(path);
    });
  }
  return found;
}

/** The CESS files of the dev account, as the origin lists them (stored files only). */
async function accountFiles(): Promise<{ fid: string; size: number }[]> {
  const res = await fetch(`${stack.stack.origin}/file/list?Account=${stack.stack.account}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: { fid: string; size: number }[] }).data;
}

/** The FID CESS gives these bytes, computed offline as `deoss hash` does. */
async function fidOf(path: string): Promise<string> {
  return (await digestFile(path)).fid;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'deoss-s3-clients-'));
  stack = await startStack();
  edge = new URL(stack.stack.edge);
  creds = stack.stack.s3;
  inspector = new S3Client({ endpoint: edge.origin, region: creds.region, forcePathStyle: true, credentials: creds });
  await writeFile(join(work, 'aws-config'), '[default]\ns3 =\n    addressing_style = path\n    multipart_threshold = 8MB\n    multipart_chunksize = 8MB\n');
}, 300_000);

afterAll(async () => {
  inspector?.destroy();
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** awscli's environment: the stack's key, path style and 8 MiB parts (aws-config), nothing of the user's own setup. */
function awsEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    AWS_DEFAULT_REGION: creds.region,
    AWS_CONFIG_FILE: join(work, 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(work, 'aws-credentials-none'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
}

const aws = (args: string[], env: NodeJS.ProcessEnv = awsEnv()) => run('/usr/bin/aws', ['--endpoint-url', edge.origin, ...args], { env });

async function awsOk(args: string[]): Promise<string> {
  const r = await aws(args);
  if (r.code !== 0) throw new Error(`aws ${args.join(' ')} exited with ${r.code}:\n${r.stderr}`);
  return r.stdout.toString();
}

describe('awscli', () => {
  const bucket = 'client-awscli';
  let small: { path: string; data: Buffer };

  beforeAll(async () => {
    small = await randomFile('aws-small.bin', 100_000);
  });

  it('makes a bucket, uploads, heads and downloads byte-exact', async () => {
    expect(await awsOk(['s3', 'mb', `s3://${bucket}`])).toContain(`make_bucket: ${bucket}`);
    await awsOk(['s3', 'cp', '--only-show-errors', small.path, `s3://${bucket}/dir/a.bin`]);
    const head = JSON.parse(await awsOk(['s3api', 'head-object', '--bucket', bucket, '--key', 'dir/a.bin']));
    expect(head.ContentLength).toBe(small.data.length);
    expect(head.ETag).toBe(`"${md5(small.data)}"`);
    await awsOk(['s3', 'cp', '--only-show-errors', `s3://${bucket}/dir/a.bin`, join(work, 'aws-small.got')]);
    await expectSameFile(join(work, 'aws-small.got'), small.data);
  });

  it('reads a byte range', async () => {
    const out = join(work, 'aws-range.got');
    const r = JSON.parse(await awsOk(['s3api', 'get-object', '--bucket', bucket, '--key', 'dir/a.bin', '--range', 'bytes=1000-1999', out]));
    expect(r.ContentRange).toBe(`bytes 1000-1999/${small.data.length}`);
    await expectSameFile(out, small.data.subarray(1000, 2000));
  });

  it('lists with prefix and delimiter', async () => {
    await awsOk(['s3', 'cp', '--only-show-errors', small.path, `s3://${bucket}/dir/sub/b.bin`]);
    await awsOk(['s3', 'cp', '--only-show-errors', small.path, `s3://${bucket}/top.bin`]);
    const listed = JSON.parse(await awsOk(['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'dir/', '--delimiter', '/']));
    expect(listed.Contents.map((o: { Key: string }) => o.Key)).toEqual(['dir/a.bin']);
    expect(listed.CommonPrefixes).toEqual([{ Prefix: 'dir/sub/' }]);
    const ls = await awsOk(['s3', 'ls', `s3://${bucket}/`]);
    expect(ls).toMatch(/PRE dir\//);
    expect(ls).toMatch(/top\.bin/);
  });

  it('round-trips a key with special characters', async () => {
    await awsOk(['s3', 'cp', '--only-show-errors', small.path, `s3://${bucket}/${ODD_KEY}`]);
    const listed = JSON.parse(await awsOk(['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'odd dir &+-é"/']));
    expect(listed.Contents.map((o: { Key: string }) => o.Key)).toEqual([ODD_KEY]);
    await awsOk(['s3', 'cp', '--only-show-errors', `s3://${bucket}/${ODD_KEY}`, join(work, 'aws-odd.got')]);
    await expectSameFile(join(work, 'aws-odd.got'), small.data);
  });

  it('uploads 20 MiB as a multipart upload (8 MiB parts)', async () => {
    const big = await bigFile('awscli');
    await awsOk(['s3', 'cp', '--only-show-errors', big.path, `s3://${bucket}/big.bin`]);
    const head = JSON.parse(await awsOk(['s3api', 'head-object', '--bucket', bucket, '--key', 'big.bin']));
    expect(head.ETag).toBe(`"${multipartEtag(big.data, PART_BYTES)}"`);
    expect(head.ContentLength).toBe(BIG_BYTES);
    await awsOk(['s3', 'cp', '--only-show-errors', `s3://${bucket}/big.bin`, join(work, 'aws-big.got')]);
    await expectSameFile(join(work, 'aws-big.got'), big.data);
  });

  it('copies an object server-side and deletes several keys at once', async () => {
    await awsOk(['s3api', 'copy-object', '--bucket', bucket, '--key', 'copy.bin', '--copy-source', `${bucket}/dir/a.bin`]);
    await awsOk(['s3', 'cp', '--only-show-errors', `s3://${bucket}/copy.bin`, join(work, 'aws-copy.got')]);
    await expectSameFile(join(work, 'aws-copy.got'), small.data);
    const deleted = JSON.parse(
      await awsOk(['s3api', 'delete-objects', '--bucket', bucket, '--delete', JSON.stringify({ Objects: [{ Key: 'copy.bin' }, { Key: 'top.bin' }] })]),
    );
    expect(deleted.Deleted.map((d: { Key: string }) => d.Key).sort()).toEqual(['copy.bin', 'top.bin']);
    const left = JSON.parse(await awsOk(['s3api', 'list-objects-v2', '--bucket', bucket]));
    expect(left.Contents.map((o: { Key: string }) => o.Key)).not.toContain('copy.bin');
    expect(left.Contents.map((o: { Key: string }) => o.Key)).not.toContain('top.bin');
  });

  it('presigns a GET that curl downloads, and one that expires', async () => {
    const url = (await awsOk(['s3', 'presign', `s3://${bucket}/dir/a.bin`, '--expires-in', '300'])).trim();
    const got = await curl([url]);
    expect(got.status).toBe(200);
    expect(sha256(got.body)).toBe(sha256(small.data));
    const short = (await awsOk(['s3', 'presign', `s3://${bucket}/dir/a.bin`, '--expires-in', '1'])).trim();
    await new Promise((r) => setTimeout(r, 2_100));
    const expired = await curl([short]);
    expect(expired.status).toBe(403);
    expect(expired.body.toString()).toContain('<Code>AccessDenied</Code>');
    expect(expired.body.toString()).toContain('Request has expired');
  });

  it('tags objects and buckets', async () => {
    const tagSet = async (args: string[]) => JSON.parse(await awsOk(args)).TagSet;
    const objectTags = () => tagSet(['s3api', 'get-object-tagging', '--bucket', bucket, '--key', 'dir/a.bin']);
    expect(await objectTags()).toEqual([]);
    await awsOk(['s3api', 'put-object-tagging', '--bucket', bucket, '--key', 'dir/a.bin', '--tagging', JSON.stringify({ TagSet: [{ Key: 'project', Value: 'deoss edge' }, { Key: 'été', Value: '' }] })]);
    expect(await objectTags()).toEqual([{ Key: 'project', Value: 'deoss edge' }, { Key: 'été', Value: '' }]);
    const bad = await aws(['s3api', 'put-object-tagging', '--bucket', bucket, '--key', 'dir/a.bin', '--tagging', JSON.stringify({ TagSet: [{ Key: 'aws:owner', Value: 'x' }] })]);
    expect(bad.stderr.toString()).toContain('InvalidTag');
    expect(await objectTags()).toEqual([{ Key: 'project', Value: 'deoss edge' }, { Key: 'été', Value: '' }]);
    await awsOk(['s3api', 'delete-object-tagging', '--bucket', bucket, '--key', 'dir/a.bin']);
    expect(await objectTags()).toEqual([]);

    const noTags = await aws(['s3api', 'get-bucket-tagging', '--bucket', bucket]);
    expect(noTags.stderr.toString()).toContain('NoSuchTagSet');
    await awsOk(['s3api', 'put-bucket-tagging', '--bucket', bucket, '--tagging', JSON.stringify({ TagSet: [{ Key: 'team', Value: 'storage' }] })]);
    expect(await tagSet(['s3api', 'get-bucket-tagging', '--bucket', bucket])).toEqual([{ Key: 'team', Value: 'storage' }]);
    await awsOk(['s3api', 'delete-bucket-tagging', '--bucket', bucket]);
    expect((await aws(['s3api', 'get-bucket-tagging', '--bucket', bucket])).stderr.toString()).toContain('NoSuchTagSet');
  });

  it("reads an object's ACL: its bucket's canned ACL", async () => {
    const grants = async () => JSON.parse(await awsOk(['s3api', 'get-object-acl', '--bucket', bucket, '--key', 'dir/a.bin'])).Grants;
    expect(await grants()).toEqual([{ Grantee: { ID: stack.stack.account, DisplayName: stack.stack.account, Type: 'CanonicalUser' }, Permission: 'FULL_CONTROL' }]);
    await awsOk(['s3api', 'put-bucket-acl', '--bucket', bucket, '--acl', 'public-read']);
    try {
      expect(await grants()).toContainEqual({ Grantee: { URI: 'http://acs.amazonaws.com/groups/global/AllUsers', Type: 'Group' }, Permission: 'READ' });
    } finally {
      await awsOk(['s3api', 'put-bucket-acl', '--bucket', bucket, '--acl', 'private']);
    }
    const missing = await aws(['s3api', 'get-object-acl', '--bucket', bucket, '--key', 'no/such/key']);
    expect(missing.stderr).toContain('NoSuchKey');
  });

  it('takes object ACLs that grant nothing beyond the bucket, and refuses the others', async () => {
    // Objects follow their bucket's ACL: asking to publish one object of a private bucket is an error, not a no-op.
    await awsOk(['s3api', 'put-object-acl', '--bucket', bucket, '--key', 'dir/a.bin', '--acl', 'bucket-owner-full-control']);
    const publish = await aws(['s3api', 'put-object-acl', '--bucket', bucket, '--key', 'dir/a.bin', '--acl', 'public-read']);
    expect(publish.stderr.toString()).toContain('AccessControlListNotSupported');
    const upload = await aws(['s3', 'cp', '--acl', 'public-read', small.path, `s3://${bucket}/acl/public.bin`]);
    expect(upload.code).not.toBe(0);
    expect(upload.stderr.toString()).toContain('AccessControlListNotSupported');
    expect((await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'acl/public.bin'])).code).not.toBe(0);
    await awsOk(['s3', 'cp', '--acl', 'private', small.path, `s3://${bucket}/acl/private.bin`]);
    // In a public-read bucket the same ACL grants nothing more: accepted.
    await awsOk(['s3api', 'put-bucket-acl', '--bucket', bucket, '--acl', 'public-read']);
    try {
      await awsOk(['s3', 'cp', '--acl', 'public-read', small.path, `s3://${bucket}/acl/public.bin`]);
      await awsOk(['s3api', 'put-object-acl', '--bucket', bucket, '--key', 'acl/public.bin', '--acl', 'public-read']);
    } finally {
      await awsOk(['s3api', 'put-bucket-acl', '--bucket', bucket, '--acl', 'private']);
    }
    await awsOk(['s3', 'rm', '--recursive', `s3://${bucket}/acl/`]);
  });

  it("makes a bucket public with the static-website guide's policy, and private again without it", async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Sid: 'PublicReadGetObject', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }],
    });
    const anonymous = async () => (await curl([`${edge.origin}/${bucket}/dir/a.bin`])).status;
    expect(await anonymous()).toBe(403);
    // The guide's steps: allow public policies, then the policy.
    await awsOk(['s3api', 'put-public-access-block', '--bucket', bucket, '--public-access-block-configuration', 'BlockPublicAcls=false,IgnorePublicAcls=false,BlockPublicPolicy=false,RestrictPublicBuckets=false']);
    await awsOk(['s3api', 'put-bucket-policy', '--bucket', bucket, '--policy', policy]);
    try {
      expect(JSON.parse(JSON.parse(await awsOk(['s3api', 'get-bucket-policy', '--bucket', bucket])).Policy)).toEqual(JSON.parse(policy));
      expect(await anonymous()).toBe(200);
      // Objects may now say public-read too: it grants nothing more.
      await awsOk(['s3', 'cp', '--acl', 'public-read', small.path, `s3://${bucket}/acl/public.bin`]);
      await awsOk(['s3', 'rm', `s3://${bucket}/acl/public.bin`]);
    } finally {
      await awsOk(['s3api', 'delete-bucket-policy', '--bucket', bucket]);
    }
    expect(await anonymous()).toBe(403);
    expect((await aws(['s3api', 'get-bucket-policy', '--bucket', bucket])).stderr.toString()).toContain('NoSuchBucketPolicy');
    // Any other policy is refused, not kept unenforced; blocking public access is refused too.
    const write = policy.replace('"s3:GetObject"', '["s3:GetObject","s3:PutObject"]');
    expect((await aws(['s3api', 'put-bucket-policy', '--bucket', bucket, '--policy', write])).stderr.toString()).toContain('NotImplemented');
    expect((await aws(['s3api', 'put-bucket-policy', '--bucket', bucket, '--policy', '{not json'])).stderr.toString()).toContain('MalformedPolicy');
    expect((await aws(['s3api', 'put-public-access-block', '--bucket', bucket, '--public-access-block-configuration', 'BlockPublicPolicy=true'])).stderr.toString()).toContain('NotImplemented');
    expect(await anonymous()).toBe(403);
  });

  it('reads the bucket settings it cannot set as unset, and refuses what it cannot keep', async () => {
    const errorOf = async (args: string[]) => /\(([A-Za-z]+)\)/.exec((await aws(['s3api', ...args, '--bucket', bucket])).stderr.toString())?.[1];
    expect(await errorOf(['get-bucket-policy'])).toBe('NoSuchBucketPolicy');
    expect(await errorOf(['get-bucket-lifecycle-configuration'])).toBe('NoSuchLifecycleConfiguration');
    expect(await errorOf(['get-bucket-encryption'])).toBe('ServerSideEncryptionConfigurationNotFoundError');
    expect(await errorOf(['get-object-lock-configuration'])).toBe('ObjectLockConfigurationNotFoundError');
    expect(await errorOf(['get-public-access-block'])).toBe('NoSuchPublicAccessBlockConfiguration');
    expect(JSON.parse(await awsOk(['s3api', 'get-bucket-ownership-controls', '--bucket', bucket]))).toEqual({ OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } });
    expect(JSON.parse(await awsOk(['s3api', 'get-bucket-request-payment', '--bucket', bucket]))).toEqual({ Payer: 'BucketOwner' });
    expect(await awsOk(['s3api', 'get-bucket-logging', '--bucket', bucket])).toBe('');
    expect(await errorOf(['put-bucket-lifecycle-configuration', '--lifecycle-configuration', '{"Rules":[{"ID":"x","Status":"Enabled","Filter":{"Prefix":""},"Expiration":{"Days":1}}]}'])).toBe('NotImplemented');
    // A write-once bucket is refused, not made as an ordinary one.
    const locked = await aws(['s3api', 'create-bucket', '--bucket', 'client-awscli-locked', '--object-lock-enabled-for-bucket']);
    expect(locked.stderr.toString()).toContain('NotImplemented');
    expect((await aws(['s3api', 'head-bucket', '--bucket', 'client-awscli-locked'])).code).not.toBe(0);
  });

  it('honours --expected-bucket-owner and --expected-source-bucket-owner: the owner passes, anyone else is denied', async () => {
    const owner = stack.stack.account;
    const stranger = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty'; // //Bob (generic SS58 form); the dev account is //Alice
    expect(owner).not.toBe(stranger);
    await awsOk(['s3api', 'head-bucket', '--bucket', bucket, '--expected-bucket-owner', owner]);
    const denied = await aws(['s3api', 'head-bucket', '--bucket', bucket, '--expected-bucket-owner', stranger]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr.toString()).toMatch(/403|Forbidden/);
    const put = await aws(['s3api', 'put-object', '--bucket', bucket, '--key', 'owner/denied.bin', '--body', small.path, '--expected-bucket-owner', stranger]);
    expect(put.stderr.toString()).toContain('AccessDenied');
    expect((await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'owner/denied.bin'])).code).not.toBe(0); // nothing written
    await awsOk(['s3api', 'put-object', '--bucket', bucket, '--key', 'owner/a.bin', '--body', small.path, '--expected-bucket-owner', owner]);
    const copy = ['s3api', 'copy-object', '--bucket', bucket, '--key', 'owner/b.bin', '--copy-source', `${bucket}/owner/a.bin`];
    expect((await aws([...copy, '--expected-source-bucket-owner', stranger])).stderr.toString()).toContain('AccessDenied');
    await awsOk([...copy, '--expected-source-bucket-owner', owner, '--expected-bucket-owner', owner]);
  });

  it('suspends versioning (objects keep version id null) and refuses to enable it', async () => {
    const versioning = async () => (await awsOk(['s3api', 'get-bucket-versioning', '--bucket', bucket])).trim();
    expect(await versioning()).toBe('');
    const enabled = await aws(['s3api', 'put-bucket-versioning', '--bucket', bucket, '--versioning-configuration', 'Status=Enabled']);
    expect(enabled.stderr.toString()).toContain('NotImplemented');
    expect(await versioning()).toBe('');
    await awsOk(['s3api', 'put-bucket-versioning', '--bucket', bucket, '--versioning-configuration', 'Status=Suspended']);
    expect(JSON.parse(await versioning())).toEqual({ Status: 'Suspended' });
    await awsOk(['s3', 'cp', '--only-show-errors', small.path, `s3://${bucket}/versioning/a.bin`]);
    const versions = JSON.parse(await awsOk(['s3api', 'list-object-versions', '--bucket', bucket, '--prefix', 'versioning/'])) as { Versions: { Key: string; VersionId: string; IsLatest: boolean }[] };
    expect(versions.Versions.map((v) => [v.Key, v.VersionId, v.IsLatest])).toEqual([['versioning/a.bin', 'null', true]]);
  });

  it('fails the way users expect: missing key, wrong secret', async () => {
    const missing = await aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'no/such/key', join(work, 'aws-missing')]);
    expect(missing.code).toBe(254);
    expect(missing.stderr).toContain('NoSuchKey');
    const cpMissing = await aws(['s3', 'cp', `s3://${bucket}/no/such/key`, join(work, 'aws-missing')]);
    expect(cpMissing.code).toBe(1);
    expect(cpMissing.stderr).toContain('404');
    const wrong = await aws(['s3', 'ls', `s3://${bucket}/`], { ...awsEnv(), AWS_SECRET_ACCESS_KEY: 'wrong-secret-wrong-secret-wrong-secret' });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('SignatureDoesNotMatch');
  });
});

describe('rclone', () => {
  const bucket = 'client-rclone';
  const env = (secret = creds.secretAccessKey) => {
    const e: NodeJS.ProcessEnv = {
      ...process.env,
      RCLONE_CONFIG: join(work, 'rclone-none.conf'),
      RCLONE_CONFIG_T_TYPE: 's3',
      RCLONE_CONFIG_T_PROVIDER: 'Other',
      RCLONE_CONFIG_T_ACCESS_KEY_ID: creds.accessKeyId,
      RCLONE_CONFIG_T_SECRET_ACCESS_KEY: secret,
      RCLONE_CONFIG_T_ENDPOINT: edge.origin,
      RCLONE_CONFIG_T_REGION: creds.region,
      RCLONE_CONFIG_T_FORCE_PATH_STYLE: 'true',
      // Failures should surface, not be retried for minutes.
      RCLONE_RETRIES: '1',
      RCLONE_LOW_LEVEL_RETRIES: '1',
    };
    // rclone 1.60 cannot load the machine-wide CA bundle (LoadCustomCABundleError); plain HTTP needs none.
    delete e.AWS_CA_BUNDLE;
    return e;
  };
  const rclone = (args: string[], e = env()) => run('/usr/bin/rclone', args, { env: e });
  const rcloneOk = async (args: string[]) => {
    const r = await rclone(args);
    if (r.code !== 0) throw new Error(`rclone ${args.join(' ')} exited with ${r.code}:\n${r.stderr}`);
    return r.stdout;
  };
  let small: { path: string; data: Buffer };

  beforeAll(async () => {
    small = await randomFile('rclone-small.bin', 100_000);
  });

  it('makes a bucket, uploads and downloads byte-exact', async () => {
    await rcloneOk(['mkdir', `t:${bucket}`]);
    await rcloneOk(['copyto', small.path, `t:${bucket}/dir/a.bin`]);
    await rcloneOk(['copyto', `t:${bucket}/dir/a.bin`, join(work, 'rclone-small.got')]);
    await expectSameFile(join(work, 'rclone-small.got'), small.data);
    // rclone reads the MD5 from the ETag.
    expect((await rcloneOk(['md5sum', `t:${bucket}/dir/a.bin`])).toString()).toContain(md5(small.data));
  });

  it('downloads text objects byte-exact although it asks for gzip', async () => {
    // rclone sends Accept-Encoding: gzip; the stored bytes must come back unchanged.
    const text = Buffer.from(Array.from({ length: 5000 }, (_, i) => `line ${i}\n`).join(''));
    await writeFile(join(work, 'rclone-text.txt'), text);
    await rcloneOk(['copyto', join(work, 'rclone-text.txt'), `t:${bucket}/text.txt`]);
    await rcloneOk(['copyto', `t:${bucket}/text.txt`, join(work, 'rclone-text.got')]);
    await expectSameFile(join(work, 'rclone-text.got'), text);
    expect(await rcloneOk(['cat', '--offset', '6', '--count', '13', `t:${bucket}/text.txt`])).toEqual(text.subarray(6, 19));
  });

  it('reads a byte range', async () => {
    const got = await rcloneOk(['cat', '--offset', '1000', '--count', '1000', `t:${bucket}/dir/a.bin`]);
    expect(sha256(got)).toBe(sha256(small.data.subarray(1000, 2000)));
  });

  it('lists with prefix and delimiter', async () => {
    await rcloneOk(['copyto', small.path, `t:${bucket}/dir/sub/b.bin`]);
    expect((await rcloneOk(['lsf', `t:${bucket}/dir/`])).toString().split('\n').filter(Boolean).sort()).toEqual(['a.bin', 'sub/']);
    expect((await rcloneOk(['lsf', '-R', `t:${bucket}/dir/`])).toString().split('\n').filter(Boolean).sort()).toEqual(['a.bin', 'sub/', 'sub/b.bin']);
    // One key per ListObjects page: rclone follows the markers.
    expect((await rcloneOk(['lsf', '-R', '--s3-list-chunk', '1', `t:${bucket}/dir/`])).toString().split('\n').filter(Boolean).sort()).toEqual(['a.bin', 'sub/', 'sub/b.bin']);
  });

  it('round-trips a key with special characters', async () => {
    await rcloneOk(['copyto', small.path, `t:${bucket}/${ODD_KEY}`]);
    expect((await rcloneOk(['lsf', `t:${bucket}/odd dir &+-é"/`])).toString()).toBe('file name &+-é" x.txt\n');
    await rcloneOk(['copyto', `t:${bucket}/${ODD_KEY}`, join(work, 'rclone-odd.got')]);
    await expectSameFile(join(work, 'rclone-odd.got'), small.data);
  });

  it('uploads 20 MiB in 8 MiB chunks (multipart)', async () => {
    const big = await bigFile('rclone');
    await rcloneOk(['copyto', '--s3-chunk-size', '8M', '--s3-upload-cutoff', '8M', big.path, `t:${bucket}/big.bin`]);
    await rcloneOk(['copyto', `t:${bucket}/big.bin`, join(work, 'rclone-big.got')]);
    await expectSameFile(join(work, 'rclone-big.got'), big.data);
  });

  it('copies server-side and deletes', async () => {
    await rcloneOk(['copyto', `t:${bucket}/dir/a.bin`, `t:${bucket}/copy.bin`]);
    expect((await rcloneOk(['cat', `t:${bucket}/copy.bin`])).equals(small.data)).toBe(true);
    await rcloneOk(['delete', `t:${bucket}/dir/sub`]);
    await rcloneOk(['deletefile', `t:${bucket}/copy.bin`]);
    expect((await rcloneOk(['lsf', '-R', `t:${bucket}`])).toString().split('\n').filter(Boolean).sort()).not.toContain('copy.bin');
  });

  it('syncs a directory holding identical files (uploaded concurrently) and checks it', async () => {
    const dir = join(work, 'rclone-sync');
    await mkdir(join(dir, 'sub'), { recursive: true });
    for (const name of ['a.bin', 'b.bin', 'sub/c.bin']) await writeFile(join(dir, name), small.data);
    await writeFile(join(dir, 'note.txt'), 'hello\n');
    await rcloneOk(['sync', '--transfers', '4', dir, `t:${bucket}/sync`]);
    await rcloneOk(['check', dir, `t:${bucket}/sync`]);
    await rm(join(dir, 'b.bin'));
    await rcloneOk(['sync', dir, `t:${bucket}/sync`]);
    expect((await rcloneOk(['lsf', '-R', `t:${bucket}/sync`])).toString().split('\n').filter(Boolean).sort()).toEqual(['a.bin', 'note.txt', 'sub/', 'sub/c.bin']);
  });

  it('makes a public link that curl downloads', async () => {
    const url = (await rcloneOk(['link', '--expire', '5m', `t:${bucket}/dir/a.bin`])).toString().trim();
    const got = await curl([url]);
    expect(got.status).toBe(200);
    expect(sha256(got.body)).toBe(sha256(small.data));
  });

  it('fails the way users expect: missing bucket or key, wrong secret', async () => {
    // rclone treats a path that is not an object as a directory: a missing key lists as nothing, a missing bucket
    // is "directory not found" (exit 3).
    expect((await rcloneOk(['lsf', `t:${bucket}/no/such/key`])).toString()).toBe('');
    const missing = await rclone(['lsf', 't:no-such-bucket-here']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('directory not found');
    const wrong = await rclone(['lsf', `t:${bucket}`], env('wrong-secret-wrong-secret-wrong-secret'));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('SignatureDoesNotMatch');
  });
});

describe('SSE-C (customer-provided keys), with awscli', () => {
  const bucket = 'client-ssec';
  /** A line no other object has: found on disk only where plaintext is kept. */
  const marker = (what: string) => `DEOSS-${what}-MARKER-${randomBytes(12).toString('hex')}`;
  let started: number;
  let secret: { path: string; data: Buffer };
  let key: string;
  let otherKey: string;
  const sse = (keyPath: string) => ['--sse-customer-algorithm', 'AES256', '--sse-customer-key', `fileb://${keyPath}`];

  beforeAll(async () => {
    started = Date.now() - 1000;
    const text = Buffer.concat([Buffer.from(`${marker('SSEC')}\n`), randomBytes(300_000)]);
    secret = { path: join(work, 'ssec-secret.bin'), data: text };
    await writeFile(secret.path, text);
    key = join(work, 'ssec.key');
    otherKey = join(work, 'ssec-other.key');
    await writeFile(key, randomBytes(32));
    await writeFile(otherKey, randomBytes(32));
    await awsOk(['s3', 'mb', `s3://${bucket}`]);
  });

  it('round-trips an object, a range and a multipart upload under a customer key', async () => {
    await awsOk(['s3', 'cp', '--only-show-errors', secret.path, `s3://${bucket}/secret.bin`, '--sse-c', 'AES256', '--sse-c-key', `fileb://${key}`]);
    await awsOk(['s3', 'cp', '--only-show-errors', `s3://${bucket}/secret.bin`, join(work, 'ssec.got'), '--sse-c', 'AES256', '--sse-c-key', `fileb://${key}`]);
    await expectSameFile(join(work, 'ssec.got'), secret.data);
    const head = JSON.parse(await awsOk(['s3api', 'head-object', '--bucket', bucket, '--key', 'secret.bin', ...sse(key)]));
    expect(head.SSECustomerAlgorithm).toBe('AES256');
    expect(head.ContentLength).toBe(secret.data.length);
    const range = JSON.parse(await awsOk(['s3api', 'get-object', '--bucket', bucket, '--key', 'secret.bin', '--range', 'bytes=100000-100999', ...sse(key), join(work, 'ssec-range.got')]));
    expect(range.ContentRange).toBe(`bytes 100000-100999/${secret.data.length}`);
    await expectSameFile(join(work, 'ssec-range.got'), secret.data.subarray(100_000, 101_000));
    // Three parts (8 + 8 + 2 MiB and a bit), each sent with the key; Complete comes without it. Not 20 MiB: the CESS
    // storage check below counts the suite's plain 20 MiB objects, and part-sized files (none may exist).
    const big = await randomFile('ssec-big.bin', 18 * MiB + 12_345);
    await awsOk(['s3', 'cp', '--only-show-errors', big.path, `s3://${bucket}/big.bin`, '--sse-c', 'AES256', '--sse-c-key', `fileb://${key}`]);
    await awsOk(['s3', 'cp', '--only-show-errors', `s3://${bucket}/big.bin`, join(work, 'ssec-big.got'), '--sse-c', 'AES256', '--sse-c-key', `fileb://${key}`]);
    await expectSameFile(join(work, 'ssec-big.got'), big.data);
  });

  it('refuses a read without the key or with another one', async () => {
    const without = await aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'secret.bin', join(work, 'ssec-none.got')]);
    expect(without.code).not.toBe(0);
    expect(without.stderr).toContain('InvalidRequest');
    const wrong = await aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'secret.bin', ...sse(otherKey), join(work, 'ssec-wrong.got')]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('AccessDenied');
  });

  it('copies under a new key: the copy opens with the new key only', async () => {
    await awsOk(['s3api', 'copy-object', '--bucket', bucket, '--key', 'rekeyed.bin', '--copy-source', `${bucket}/secret.bin`,
      '--copy-source-sse-customer-algorithm', 'AES256', '--copy-source-sse-customer-key', `fileb://${key}`, ...sse(otherKey)]);
    await awsOk(['s3api', 'get-object', '--bucket', bucket, '--key', 'rekeyed.bin', ...sse(otherKey), join(work, 'ssec-rekeyed.got')]);
    await expectSameFile(join(work, 'ssec-rekeyed.got'), secret.data);
    const old = await aws(['s3api', 'get-object', '--bucket', bucket, '--key', 'rekeyed.bin', ...sse(key), join(work, 'ssec-old.got')]);
    expect(old.stderr).toContain('AccessDenied');
  });

  it('keeps neither the key nor the plaintext anywhere on disk (a plain object\'s bytes are found, as a control)', async () => {
    const plainMarker = marker('PLAIN');
    const plain = join(work, 'ssec-plain.txt');
    await writeFile(plain, `${plainMarker}\n`);
    await awsOk(['s3', 'cp', '--only-show-errors', plain, `s3://${bucket}/plain.txt`]);
    // Everything the encrypted uploads owe the storage nodes is done: staging, cache and fragments are all written.
    const until = Date.now() + 120_000;
    for (;;) {
      const metrics = await (await fetch(`${stack.stack.origin}/metrics`)).text();
      if (/^deoss_origin_uploads_unsettled 0$/m.test(metrics)) break;
      if (Date.now() > until) throw new Error(`uploads still unsettled:\n${metrics}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const needles = {
      plaintext: Buffer.from(secret.data.subarray(0, 64)),
      key: await readFile(key),
      keyBase64: Buffer.from((await readFile(key)).toString('base64')),
      otherKey: await readFile(otherKey),
      plainControl: Buffer.from(plainMarker),
    };
    const found = await filesHolding(stack.home, started, Object.values(needles));
    const byNeedle = Object.fromEntries(Object.keys(needles).map((name, i) => [name, found[i]]));
    expect(byNeedle.plainControl.length).toBeGreaterThan(0);
    expect(byNeedle).toMatchObject({ plaintext: [], key: [], keyBase64: [], otherKey: [] });
  }, 180_000);
});

describe('s3cmd', () => {
  const bucket = 'client-s3cmd';
  const config = (secret: string) =>
    [
      '[default]',
      `access_key = ${creds.accessKeyId}`,
      `secret_key = ${secret}`,
      `host_base = ${edge.host}`,
      `host_bucket = ${edge.host}`,
      'use_https = False',
      'signature_v2 = False',
      `bucket_location = ${creds.region}`,
      '',
    ].join('\n');
  const s3cmd = (args: string[], cfg = join(work, 's3cfg')) => run('/usr/bin/s3cmd', ['-c', cfg, '--no-progress', ...args]);
  const s3cmdOk = async (args: string[]) => {
    const r = await s3cmd(args);
    if (r.code !== 0) throw new Error(`s3cmd ${args.join(' ')} exited with ${r.code}:\n${r.stderr}`);
    return r.stdout.toString();
  };
  let small: { path: string; data: Buffer };

  beforeAll(async () => {
    await writeFile(join(work, 's3cfg'), config(creds.secretAccessKey));
    await writeFile(join(work, 's3cfg-wrong'), config('wrong-secret-wrong-secret-wrong-secret'));
    small = await randomFile('s3cmd-small.bin', 100_000);
  });

  it('makes a bucket, uploads and downloads byte-exact', async () => {
    await s3cmdOk(['mb', `s3://${bucket}`]);
    await s3cmdOk(['put', small.path, `s3://${bucket}/dir/a.bin`]);
    await s3cmdOk(['get', '--force', `s3://${bucket}/dir/a.bin`, join(work, 's3cmd-small.got')]);
    await expectSameFile(join(work, 's3cmd-small.got'), small.data);
    const info = await s3cmdOk(['info', `s3://${bucket}/dir/a.bin`]);
    expect(info).toContain(md5(small.data));
    expect(info).toMatch(/ACL: +\S+: FULL_CONTROL/);
  });

  it('resumes a partial download with a Range request', async () => {
    // `get --continue` asks for the bytes after what the local file holds.
    const partial = join(work, 's3cmd-partial.got');
    await writeFile(partial, small.data.subarray(0, 30_000));
    await s3cmdOk(['get', '--continue', `s3://${bucket}/dir/a.bin`, partial]);
    await expectSameFile(partial, small.data);
  });

  it('lists with prefix and delimiter', async () => {
    await s3cmdOk(['put', small.path, `s3://${bucket}/dir/sub/b.bin`]);
    const ls = await s3cmdOk(['ls', `s3://${bucket}/dir/`]);
    expect(ls).toMatch(/DIR\s+s3:\/\/client-s3cmd\/dir\/sub\/\n/);
    expect(ls).toMatch(/100000\s+s3:\/\/client-s3cmd\/dir\/a\.bin\n/);
    expect(ls).not.toContain('b.bin');
  });

  it('round-trips a key with special characters', async () => {
    await s3cmdOk(['put', small.path, `s3://${bucket}/${ODD_KEY}`]);
    expect(await s3cmdOk(['ls', `s3://${bucket}/odd dir &+-é"/`])).toContain(`s3://${bucket}/${ODD_KEY}`);
    await s3cmdOk(['get', '--force', `s3://${bucket}/${ODD_KEY}`, join(work, 's3cmd-odd.got')]);
    await expectSameFile(join(work, 's3cmd-odd.got'), small.data);
  });

  it('uploads 20 MiB as a multipart upload (8 MiB chunks)', async () => {
    const big = await bigFile('s3cmd');
    await s3cmdOk(['put', '--multipart-chunk-size-mb=8', big.path, `s3://${bucket}/big.bin`]);
    // s3cmd shows the MD5 it keeps in its own metadata; the server's ETag tells how the object was uploaded.
    expect((await inspector.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big.bin' }))).ETag).toBe(`"${multipartEtag(big.data, PART_BYTES)}"`);
    await s3cmdOk(['get', '--force', `s3://${bucket}/big.bin`, join(work, 's3cmd-big.got')]);
    await expectSameFile(join(work, 's3cmd-big.got'), big.data);
  });

  it('copies an object and deletes several keys at once', async () => {
    await s3cmdOk(['cp', `s3://${bucket}/dir/a.bin`, `s3://${bucket}/copy/a.bin`]);
    await s3cmdOk(['cp', `s3://${bucket}/dir/a.bin`, `s3://${bucket}/copy/b.bin`]);
    await s3cmdOk(['get', '--force', `s3://${bucket}/copy/b.bin`, join(work, 's3cmd-copy.got')]);
    await expectSameFile(join(work, 's3cmd-copy.got'), small.data);
    // A recursive delete is one DeleteObjects request.
    const out = await s3cmdOk(['del', '--recursive', `s3://${bucket}/copy/`]);
    expect(out).toContain(`delete: 's3://${bucket}/copy/a.bin'`);
    expect(out).toContain(`delete: 's3://${bucket}/copy/b.bin'`);
    expect(await s3cmdOk(['ls', `s3://${bucket}/`])).not.toContain('copy/');
  });

  it('fails the way users expect: missing key, wrong secret', async () => {
    const info = await s3cmd(['info', `s3://${bucket}/no/such/key`]);
    expect(info.code).toBe(12); // EX_NOTFOUND
    expect(info.stderr).toContain('404 (NoSuchKey)');
    // `get` looks the object up first and reports a parameter problem (EX_USAGE).
    const get = await s3cmd(['get', '--force', `s3://${bucket}/no/such/key`, join(work, 's3cmd-missing')]);
    expect(get.code).toBe(64);
    expect(get.stderr).toContain("Source object 's3://client-s3cmd/no/such/key' does not exist");
    const wrong = await s3cmd(['ls', `s3://${bucket}/`], join(work, 's3cfg-wrong'));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('SignatureDoesNotMatch');
  });
});

describe('boto3', () => {
  const bucket = 'client-boto3';
  /** Runs a Python snippet with `s3` (a path-style SigV4 client), `bucket`, `work` and `args` defined; it prints JSON. */
  async function py(body: string, args: Record<string, unknown> = {}, secret = creds.secretAccessKey): Promise<any> {
    const prelude = [
      'import json, os, sys',
      'import boto3',
      'from botocore.config import Config',
      'from botocore.exceptions import ClientError',
      'from boto3.s3.transfer import TransferConfig',
      "args = json.loads(os.environ['PY_ARGS'])",
      "bucket = args['bucket']",
      "work = args['work']",
      "s3 = boto3.client('s3', endpoint_url=args['endpoint'], region_name=args['region'], aws_access_key_id=args['key'],",
      "    aws_secret_access_key=args['secret'], config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))",
      '',
    ].join('\n');
    const env = {
      ...process.env,
      PY_ARGS: JSON.stringify({ ...args, bucket, work, endpoint: edge.origin, region: creds.region, key: creds.accessKeyId, secret }),
    };
    const out = await ok('/usr/bin/python3', ['-c', prelude + body], { env });
    return JSON.parse(out);
  }
  let small: { path: string; data: Buffer };

  beforeAll(async () => {
    small = await randomFile('boto3-small.bin', 100_000);
  });

  it('makes a bucket, puts, heads and gets byte-exact', async () => {
    const r = await py(
      `s3.create_bucket(Bucket=bucket)
put = s3.put_object(Bucket=bucket, Key='dir/a.bin', Body=open(args['path'], 'rb').read(), ContentType='application/x-test', Metadata={'note': 'hello'})
head = s3.head_object(Bucket=bucket, Key='dir/a.bin')
body = s3.get_object(Bucket=bucket, Key='dir/a.bin')['Body'].read()
open(os.path.join(work, 'boto3-small.got'), 'wb').write(body)
print(json.dumps({'etag': put['ETag'], 'length': head['ContentLength'], 'type': head['ContentType'], 'meta': head['Metadata']}))`,
      { path: small.path },
    );
    expect(r).toEqual({ etag: `"${md5(small.data)}"`, length: small.data.length, type: 'application/x-test', meta: { note: 'hello' } });
    await expectSameFile(join(work, 'boto3-small.got'), small.data);
  });

  it('reads a byte range', async () => {
    const r = await py(`o = s3.get_object(Bucket=bucket, Key='dir/a.bin', Range='bytes=1000-1999')
print(json.dumps({'range': o['ContentRange'], 'status': o['ResponseMetadata']['HTTPStatusCode'], 'hex': o['Body'].read().hex()}))`);
    expect(r).toEqual({ range: `bytes 1000-1999/${small.data.length}`, status: 206, hex: small.data.subarray(1000, 2000).toString('hex') });
  });

  it('lists with prefix and delimiter (V2 and V1)', async () => {
    const r = await py(
      `for k in ['dir/sub/b.bin', 'top.bin']:
    s3.put_object(Bucket=bucket, Key=k, Body=b'x')
v2 = s3.list_objects_v2(Bucket=bucket, Prefix='dir/', Delimiter='/')
v1 = s3.list_objects(Bucket=bucket, Prefix='dir/', Delimiter='/')
# One entry per page: continuation tokens (V2), markers (V1) and key markers (versions) go round trip.
paged = {}
for op in ['list_objects_v2', 'list_objects', 'list_object_versions']:
    keys, prefixes, pages = [], [], 0
    for page in s3.get_paginator(op).paginate(Bucket=bucket, Delimiter='/', PaginationConfig={'PageSize': 1}):
        pages += 1
        keys += [c['Key'] for c in page.get('Contents', page.get('Versions', []))]
        prefixes += [c['Prefix'] for c in page.get('CommonPrefixes', [])]
    paged[op] = [keys, prefixes, pages]
print(json.dumps({'v2': [[c['Key'] for c in v2.get('Contents', [])], [p['Prefix'] for p in v2.get('CommonPrefixes', [])], v2['KeyCount'], v2['IsTruncated']],
                  'v1': [[c['Key'] for c in v1.get('Contents', [])], [p['Prefix'] for p in v1.get('CommonPrefixes', [])], v1['IsTruncated']], 'paged': paged}))`,
    );
    const page = [['top.bin'], ['dir/'], 2];
    expect(r).toEqual({ v2: [['dir/a.bin'], ['dir/sub/'], 2, false], v1: [['dir/a.bin'], ['dir/sub/'], false], paged: { list_objects_v2: page, list_objects: page, list_object_versions: page } });
  });

  it('round-trips a key with special characters', async () => {
    const r = await py(
      `s3.put_object(Bucket=bucket, Key=args['key_name'], Body=open(args['path'], 'rb').read())
listed = s3.list_objects_v2(Bucket=bucket, Prefix='odd dir')
body = s3.get_object(Bucket=bucket, Key=args['key_name'])['Body'].read()
print(json.dumps({'keys': [c['Key'] for c in listed['Contents']], 'sha': __import__('hashlib').sha256(body).hexdigest()}))`,
      { path: small.path, key_name: ODD_KEY },
    );
    expect(r).toEqual({ keys: [ODD_KEY], sha: sha256(small.data) });
  });

  it('uploads 20 MiB with upload_file and an 8 MiB TransferConfig (multipart)', async () => {
    const big = await bigFile('boto3');
    const r = await py(
      `cfg = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
s3.upload_file(args['path'], bucket, 'big.bin', Config=cfg)
head = s3.head_object(Bucket=bucket, Key='big.bin')
s3.download_file(bucket, 'big.bin', os.path.join(work, 'boto3-big.got'), Config=cfg)
print(json.dumps({'etag': head['ETag'], 'length': head['ContentLength'], 'parts': head.get('PartsCount')}))`,
      { path: big.path },
    );
    expect(r).toEqual({ etag: `"${multipartEtag(big.data, PART_BYTES)}"`, length: BIG_BYTES, parts: 3 });
    await expectSameFile(join(work, 'boto3-big.got'), big.data);
  });

  it('copies with and without a metadata directive, and deletes several keys at once', async () => {
    const r = await py(
      `s3.copy_object(Bucket=bucket, Key='copy.bin', CopySource={'Bucket': bucket, 'Key': 'dir/a.bin'})
s3.copy_object(Bucket=bucket, Key='copy2.bin', CopySource={'Bucket': bucket, 'Key': 'dir/a.bin'}, MetadataDirective='REPLACE', ContentType='text/x-replaced', Metadata={'note': 'new'})
h1 = s3.head_object(Bucket=bucket, Key='copy.bin')
h2 = s3.head_object(Bucket=bucket, Key='copy2.bin')
same = s3.get_object(Bucket=bucket, Key='copy2.bin')['Body'].read() == open(args['path'], 'rb').read()
d = s3.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': 'copy.bin'}, {'Key': 'copy2.bin'}, {'Key': 'never-existed'}]})
left = [c['Key'] for c in s3.list_objects_v2(Bucket=bucket).get('Contents', [])]
print(json.dumps({'h1': [h1['ContentType'], h1['Metadata']], 'h2': [h2['ContentType'], h2['Metadata']], 'same': same,
                  'deleted': sorted(x['Key'] for x in d['Deleted']), 'errors': d.get('Errors', []), 'left': left}))`,
      { path: small.path },
    );
    expect(r.h1).toEqual(['application/x-test', { note: 'hello' }]);
    expect(r.h2).toEqual(['text/x-replaced', { note: 'new' }]);
    expect(r.same).toBe(true);
    expect(r.deleted).toEqual(['copy.bin', 'copy2.bin', 'never-existed']);
    expect(r.errors).toEqual([]);
    expect(r.left).not.toContain('copy.bin');
    expect(r.left).not.toContain('copy2.bin');
  });

  it('keeps tags given on upload, copy and multipart, and counts them on GET', async () => {
    const r = await py(
      `s3.put_object(Bucket=bucket, Key='tagged.bin', Body=b'tagged', Tagging='a=1&b=two%20words', WebsiteRedirectLocation='/elsewhere.html')
get = s3.get_object(Bucket=bucket, Key='tagged.bin')
head = s3.head_object(Bucket=bucket, Key='tagged.bin')
tags = lambda key: [[t['Key'], t['Value']] for t in s3.get_object_tagging(Bucket=bucket, Key=key)['TagSet']]
s3.copy_object(Bucket=bucket, Key='tagged-copy.bin', CopySource={'Bucket': bucket, 'Key': 'tagged.bin'})
s3.copy_object(Bucket=bucket, Key='retagged-copy.bin', CopySource={'Bucket': bucket, 'Key': 'tagged.bin'}, TaggingDirective='REPLACE', Tagging='c=3')
up = s3.create_multipart_upload(Bucket=bucket, Key='tagged-multi.bin', Tagging='m=yes')
part = s3.upload_part(Bucket=bucket, Key='tagged-multi.bin', UploadId=up['UploadId'], PartNumber=1, Body=b'one part')
s3.complete_multipart_upload(Bucket=bucket, Key='tagged-multi.bin', UploadId=up['UploadId'], MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': part['ETag']}]})
print(json.dumps({'count': get.get('TagCount'), 'redirect': [get.get('WebsiteRedirectLocation'), head.get('WebsiteRedirectLocation')],
                  'tags': tags('tagged.bin'), 'copy': tags('tagged-copy.bin'), 'replaced': tags('retagged-copy.bin'), 'multi': tags('tagged-multi.bin'),
                  'copyRedirect': s3.head_object(Bucket=bucket, Key='tagged-copy.bin').get('WebsiteRedirectLocation')}))`,
    );
    expect(r.count).toBe(2);
    expect(r.redirect).toEqual(['/elsewhere.html', '/elsewhere.html']);
    expect(r.tags).toEqual([['a', '1'], ['b', 'two words']]);
    expect(r.copy).toEqual([['a', '1'], ['b', 'two words']]);
    expect(r.replaced).toEqual([['c', '3']]);
    expect(r.multi).toEqual([['m', 'yes']]);
    // A website redirect is not copied (as S3).
    expect(r.copyRedirect).toBeNull();
  });

  it('presigns GET and PUT URLs that curl uses', async () => {
    const upload = await randomFile('boto3-presigned.bin', 50_000);
    const urls = await py(`print(json.dumps({
  'get': s3.generate_presigned_url('get_object', Params={'Bucket': bucket, 'Key': 'dir/a.bin'}, ExpiresIn=300),
  'put': s3.generate_presigned_url('put_object', Params={'Bucket': bucket, 'Key': 'presigned-put.bin'}, ExpiresIn=300)}))`);
    const got = await curl([urls.get]);
    expect(got.status).toBe(200);
    expect(sha256(got.body)).toBe(sha256(small.data));
    const put = await curl(['-X', 'PUT', '-T', upload.path, urls.put]);
    expect(put.status).toBe(200);
    const back = await py(`print(json.dumps({'hex': s3.get_object(Bucket=bucket, Key='presigned-put.bin')['Body'].read().hex()}))`);
    expect(back.hex).toBe(upload.data.toString('hex'));
  });

  it('signs POST forms (generate_presigned_post) that curl uploads, within the policy only', async () => {
    const file = await randomFile('boto3-form.txt', 30_000);
    const make = (extra: Record<string, unknown> = {}) =>
      py(
        `p = s3.generate_presigned_post(bucket, 'forms/\${filename}', Fields=args['fields'], Conditions=args['conditions'], ExpiresIn=args['expires'])
print(json.dumps(p))`,
        {
          fields: { success_action_status: '201', 'x-amz-meta-note': 'from a form', 'Content-Type': 'text/plain' },
          conditions: [['starts-with', '$key', 'forms/'], ['content-length-range', 1, 40_000], { success_action_status: '201' }, { 'x-amz-meta-note': 'from a form' }, ['starts-with', '$Content-Type', 'text/']],
          expires: 300,
          ...extra,
        },
      ) as Promise<{ url: string; fields: Record<string, string> }>;
    /** curl -F with the fields as given (in order), then the file; returns status and body. */
    const post = (form: { url: string; fields: Record<string, string> }, path = file.path) =>
      curl([...Object.entries(form.fields).flatMap(([k, v]) => ['--form-string', `${k}=${v}`]), '-F', `file=@${path};filename=report.txt`, form.url]);
    const errorCode = (body: Buffer) => /<Code>([^<]+)<\/Code>/.exec(body.toString())?.[1];
    const exists = async (key: string) => (await py(`try:
    s3.head_object(Bucket=bucket, Key=args['key'])
    print('true')
except ClientError:
    print('false')`, { key })) as boolean;

    const form = await make();
    const ok201 = await post(form);
    expect(ok201.status).toBe(201);
    expect(ok201.body.toString()).toContain('<Key>forms/report.txt</Key>');
    expect(ok201.body.toString()).toContain(md5(file.data));
    const got = await py(`o = s3.get_object(Bucket=bucket, Key='forms/report.txt')
print(json.dumps({'hex': o['Body'].read().hex(), 'type': o['ContentType'], 'meta': o['Metadata'], 'etag': o['ETag']}))`);
    expect(got).toEqual({ hex: file.data.toString('hex'), type: 'text/plain', meta: { note: 'from a form' }, etag: `"${md5(file.data)}"` });

    // Each refusal leaves no object behind.
    const outside = await post({ ...form, fields: { ...form.fields, key: 'elsewhere/${filename}' } });
    expect([outside.status, errorCode(outside.body)]).toEqual([403, 'AccessDenied']);
    expect(await exists('elsewhere/report.txt')).toBe(false);
    const extraField = await post({ ...form, fields: { ...form.fields, 'x-amz-meta-sneaky': '1' } });
    expect([extraField.status, errorCode(extraField.body)]).toEqual([403, 'AccessDenied']);
    const tampered = await post({ ...form, fields: { ...form.fields, policy: Buffer.from(Buffer.from(form.fields.policy!, 'base64').toString().replace('forms/', '')).toString('base64') } });
    expect([tampered.status, errorCode(tampered.body)]).toEqual([403, 'SignatureDoesNotMatch']);
    const big = await randomFile('boto3-form-big.txt', 50_000);
    const tooBig = await post(await make(), big.path);
    expect([tooBig.status, errorCode(tooBig.body)]).toEqual([400, 'EntityTooLarge']);
    const expired = await post(await make({ expires: -60 }));
    expect([expired.status, errorCode(expired.body)]).toEqual([403, 'AccessDenied']);
    const wrongKey = await py(`p = s3.generate_presigned_post(bucket, 'forms/x', ExpiresIn=300)
print(json.dumps(p))`, {}, 'wrong-secret-wrong-secret-wrong-secret');
    const forged = await post(wrongKey);
    expect([forged.status, errorCode(forged.body)]).toEqual([403, 'SignatureDoesNotMatch']);
    expect(await exists('forms/x')).toBe(false);
    // A form may not publish one object of a private bucket (objects follow their bucket's ACL).
    const publish = await post(await make({ fields: { acl: 'public-read' }, conditions: [['starts-with', '$key', 'forms/'], { acl: 'public-read' }] }), big.path);
    expect([publish.status, errorCode(publish.body)]).toEqual([400, 'AccessControlListNotSupported']);
    // The upload that succeeded is untouched by the refused ones (same key, same bytes).
    const again = await py(`print(json.dumps({'hex': s3.get_object(Bucket=bucket, Key='forms/report.txt')['Body'].read().hex()}))`);
    expect(again.hex).toBe(file.data.toString('hex'));
  });

  it('fails the way users expect: NoSuchKey, SignatureDoesNotMatch', async () => {
    const r = await py(`out = {}
try:
    s3.get_object(Bucket=bucket, Key='no/such/key')
except ClientError as e:
    out['missing'] = [e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]
try:
    s3.head_object(Bucket=bucket, Key='no/such/key')
except ClientError as e:
    out['headMissing'] = [e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']]
print(json.dumps(out))`);
    expect(r).toEqual({ missing: ['NoSuchKey', 404], headMissing: ['404', 404] });
    const wrong = await py(
      `try:
    s3.list_objects_v2(Bucket=bucket)
    print(json.dumps({'code': None}))
except ClientError as e:
    print(json.dumps({'code': e.response['Error']['Code'], 'status': e.response['ResponseMetadata']['HTTPStatusCode']}))`,
      {},
      'wrong-secret-wrong-secret-wrong-secret',
    );
    expect(wrong).toEqual({ code: 'SignatureDoesNotMatch', status: 403 });
  });
});

describe('@aws-sdk/client-s3', () => {
  const bucket = 'client-aws-sdk';
  const client = (secret = creds.secretAccessKey) =>
    new S3Client({ endpoint: edge.origin, region: creds.region, forcePathStyle: true, credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: secret }, maxAttempts: 1 });
  let s3: S3Client;
  let small: { path: string; data: Buffer };
  const bytes = async (key: string, range?: string) => {
    const o = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
    return { body: Buffer.from(await o.Body!.transformToByteArray()), out: o };
  };

  beforeAll(async () => {
    s3 = client();
    small = await randomFile('sdk-small.bin', 100_000);
  });
  afterAll(() => s3?.destroy());

  it('creates a bucket, puts a buffer and a stream (aws-chunked), gets byte-exact', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/a.bin', Body: small.data }));
    expect(put.ETag).toBe(`"${md5(small.data)}"`);
    expect((await bytes('dir/a.bin')).body.equals(small.data)).toBe(true);
    // A stream body goes out as aws-chunked with a trailing CRC32 checksum.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/stream.bin', Body: createReadStream(small.path), ContentLength: small.data.length }));
    const streamed = await bytes('dir/stream.bin');
    expect(streamed.body.equals(small.data)).toBe(true);
    expect(streamed.out.ContentLength).toBe(small.data.length);
  });

  it('serves concurrent reads of one object', async () => {
    // Several readers of one FID at once reach the origin together (nothing is cached yet).
    const data = randomBytes(30_000);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'concurrent.bin', Body: data }));
    const got = await Promise.all(Array.from({ length: 6 }, (_, i) => bytes('concurrent.bin', i % 2 ? `bytes=${i * 100}-${i * 100 + 99}` : undefined)));
    got.forEach((g, i) => expect(g.body.equals(i % 2 ? data.subarray(i * 100, i * 100 + 100) : data)).toBe(true));
  });

  it('reads a byte range', async () => {
    const r = await bytes('dir/a.bin', 'bytes=1000-1999');
    expect(r.out.ContentRange).toBe(`bytes 1000-1999/${small.data.length}`);
    expect(r.body.equals(small.data.subarray(1000, 2000))).toBe(true);
  });

  it('lists with prefix and delimiter', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/sub/b.bin', Body: 'b' }));
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dir/', Delimiter: '/' }));
    expect(r.Contents!.map((o) => o.Key)).toEqual(['dir/a.bin', 'dir/stream.bin']);
    expect(r.CommonPrefixes).toEqual([{ Prefix: 'dir/sub/' }]);
    expect(r.IsTruncated).toBe(false);
  });

  it('round-trips a key with special characters', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: ODD_KEY, Body: small.data }));
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'odd dir &+-é"/' }));
    expect(r.Contents!.map((o) => o.Key)).toEqual([ODD_KEY]);
    expect((await bytes(ODD_KEY)).body.equals(small.data)).toBe(true);
  });

  it('uploads 20 MiB with explicit multipart (8 MiB parts)', async () => {
    const big = await bigFile('aws-sdk');
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big.bin' }));
    // Parts in parallel, as lib-storage's Upload sends them.
    const parts = await Promise.all(
      [0, 1, 2].map(async (i) => {
        const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'big.bin', UploadId, PartNumber: i + 1, Body: big.data.subarray(i * PART_BYTES, (i + 1) * PART_BYTES) }));
        return { PartNumber: i + 1, ETag: part.ETag };
      }),
    );
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'big.bin', UploadId, MultipartUpload: { Parts: parts } }));
    expect(done.ETag).toBe(`"${multipartEtag(big.data, PART_BYTES)}"`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big.bin' }));
    expect(head.ContentLength).toBe(BIG_BYTES);
    const attrs = await s3.send(new GetObjectAttributesCommand({ Bucket: bucket, Key: 'big.bin', ObjectAttributes: ['ETag', 'ObjectParts', 'ObjectSize'] }));
    expect(attrs).toMatchObject({ ETag: multipartEtag(big.data, PART_BYTES), ObjectSize: BIG_BYTES, ObjectParts: { TotalPartsCount: 3 } });
    const got = await bytes('big.bin');
    expect(sha256(got.body)).toBe(sha256(big.data));
  });

  it('copies an object and deletes several keys at once', async () => {
    const copy = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy.bin', CopySource: `${bucket}/${encodeURIComponent('dir/a.bin')}` }));
    expect(copy.CopyObjectResult?.ETag).toBe(`"${md5(small.data)}"`);
    const oddCopy = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'odd-copy.bin', CopySource: `${bucket}/${ODD_KEY.split('/').map(encodeURIComponent).join('/')}` }));
    expect(oddCopy.CopyObjectResult?.ETag).toBe(`"${md5(small.data)}"`);
    expect((await bytes('odd-copy.bin')).body.equals(small.data)).toBe(true);
    const d = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'copy.bin' }, { Key: 'odd-copy.bin' }, { Key: ODD_KEY }] } }));
    expect(d.Deleted!.map((x) => x.Key).sort()).toEqual(['copy.bin', 'odd-copy.bin', ODD_KEY].sort());
    const left = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(left.Contents!.map((o) => o.Key)).toEqual(['big.bin', 'concurrent.bin', 'dir/a.bin', 'dir/stream.bin', 'dir/sub/b.bin']);
  });

  it("keeps a copy's bytes when the object it was copied from is deleted", async () => {
    // Both keys refer to one written-behind pack member; deleting one must not release it at the origin. Nothing is
    // read before the delete, so the read after it is not served from the edge's cache.
    const data = randomBytes(40_000);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'shared/source.bin', Body: data }));
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'shared/copy.bin', CopySource: `${bucket}/shared/source.bin` }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'shared/source.bin' }));
    // A release goes out from FileReferences' alarm right away: give it time to reach the origin.
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await bytes('shared/copy.bin')).body.equals(data)).toBe(true);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'shared/copy.bin' }));
  });

  it('presigns GET and PUT (getSignedUrl) for curl; an expired URL is 403', async () => {
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'dir/a.bin' }), { expiresIn: 300 });
    const got = await curl([getUrl]);
    expect(got.status).toBe(200);
    expect(sha256(got.body)).toBe(sha256(small.data));
    const upload = await randomFile('sdk-presigned.bin', 50_000);
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'presigned put é.bin' }), { expiresIn: 300 });
    expect((await curl(['-X', 'PUT', '-T', upload.path, putUrl])).status).toBe(200);
    expect((await bytes('presigned put é.bin')).body.equals(upload.data)).toBe(true);
    const shortUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'dir/a.bin' }), { expiresIn: 1 });
    await new Promise((r) => setTimeout(r, 2_100));
    const expired = await curl([shortUrl]);
    expect(expired.status).toBe(403);
    expect(expired.body.toString()).toContain('Request has expired');
  });

  it('fails the way users expect: NoSuchKey, SignatureDoesNotMatch', async () => {
    const missing = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'no/such/key' })).catch((e: Error & { $metadata?: { httpStatusCode?: number } }) => e);
    expect(missing).toMatchObject({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    const wrongClient = client('wrong-secret-wrong-secret-wrong-secret');
    const wrong = await wrongClient.send(new ListObjectsV2Command({ Bucket: bucket })).catch((e: Error) => e);
    wrongClient.destroy();
    expect(wrong).toMatchObject({ name: 'SignatureDoesNotMatch', $metadata: { httpStatusCode: 403 } });
  });
});

describe('minio-js', () => {
  const bucket = 'client-minio';
  const client = (secret = creds.secretAccessKey) =>
    new Minio.Client({
      endPoint: edge.hostname,
      port: Number(edge.port),
      useSSL: false,
      pathStyle: true,
      region: creds.region,
      accessKey: creds.accessKeyId,
      secretKey: secret,
      // Multipart above 8 MiB, in 8 MiB parts (the default part size is 64 MiB).
      partSize: PART_BYTES,
    });
  let mc: Minio.Client;
  let small: { path: string; data: Buffer };
  const readAll = async (s: NodeJS.ReadableStream) => {
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(Buffer.from(c as Buffer));
    return Buffer.concat(chunks);
  };

  beforeAll(async () => {
    mc = client();
    small = await randomFile('minio-small.bin', 100_000);
  });

  it('makes a bucket, puts, stats and gets byte-exact', async () => {
    await mc.makeBucket(bucket, creds.region);
    expect(await mc.bucketExists(bucket)).toBe(true);
    const put = await mc.putObject(bucket, 'dir/a.bin', small.data, small.data.length, { 'Content-Type': 'application/x-minio' });
    expect(put.etag).toBe(md5(small.data));
    const stat = await mc.statObject(bucket, 'dir/a.bin');
    expect(stat).toMatchObject({ size: small.data.length, etag: md5(small.data), metaData: { 'content-type': 'application/x-minio' } });
    expect((await readAll(await mc.getObject(bucket, 'dir/a.bin'))).equals(small.data)).toBe(true);
  });

  it('reads a byte range', async () => {
    expect((await readAll(await mc.getPartialObject(bucket, 'dir/a.bin', 1000, 1000))).equals(small.data.subarray(1000, 2000))).toBe(true);
  });

  it('lists with prefix and delimiter', async () => {
    await mc.putObject(bucket, 'dir/sub/b.bin', Buffer.from('b'));
    const entries: { name?: string; prefix?: string }[] = [];
    for await (const o of mc.listObjectsV2(bucket, 'dir/', false)) entries.push(o);
    expect(entries.map((o) => o.name ?? `prefix:${o.prefix}`).sort()).toEqual(['dir/a.bin', 'prefix:dir/sub/']);
  });

  it('round-trips a key with special characters', async () => {
    await mc.putObject(bucket, ODD_KEY, small.data);
    const names: string[] = [];
    for await (const o of mc.listObjectsV2(bucket, 'odd dir', true)) if (o.name) names.push(o.name);
    expect(names).toEqual([ODD_KEY]);
    expect((await readAll(await mc.getObject(bucket, ODD_KEY))).equals(small.data)).toBe(true);
  });

  it('uploads 20 MiB with fPutObject in 8 MiB parts (multipart)', async () => {
    const big = await bigFile('minio');
    const put = await mc.fPutObject(bucket, 'big.bin', big.path, {});
    expect(put.etag).toBe(multipartEtag(big.data, PART_BYTES));
    await mc.fGetObject(bucket, 'big.bin', join(work, 'minio-big.got'));
    await expectSameFile(join(work, 'minio-big.got'), big.data);
  });

  it('copies an object and removes several keys at once', async () => {
    const conds = new Minio.CopyConditions();
    await mc.copyObject(bucket, 'copy.bin', `/${bucket}/dir/a.bin`, conds);
    expect((await readAll(await mc.getObject(bucket, 'copy.bin'))).equals(small.data)).toBe(true);
    const result = await mc.removeObjects(bucket, ['copy.bin', ODD_KEY, 'dir/sub/b.bin']);
    expect(result.flat().filter((r) => (r as { Error?: unknown }).Error)).toEqual([]);
    const names: string[] = [];
    for await (const o of mc.listObjectsV2(bucket, '', true)) if (o.name) names.push(o.name);
    expect(names.sort()).toEqual(['big.bin', 'dir/a.bin']);
  });

  it('presigns GET and PUT URLs that curl uses', async () => {
    const get = await mc.presignedGetObject(bucket, 'dir/a.bin', 300);
    const got = await curl([get]);
    expect(got.status).toBe(200);
    expect(sha256(got.body)).toBe(sha256(small.data));
    const upload = await randomFile('minio-presigned.bin', 50_000);
    const put = await mc.presignedPutObject(bucket, 'presigned-put.bin', 300);
    expect((await curl(['-X', 'PUT', '-T', upload.path, put])).status).toBe(200);
    expect((await readAll(await mc.getObject(bucket, 'presigned-put.bin'))).equals(upload.data)).toBe(true);
  });

  it('fails the way users expect: NoSuchKey, SignatureDoesNotMatch', async () => {
    const missing = await mc.statObject(bucket, 'no/such/key').catch((e: { code?: string }) => e);
    expect(missing).toMatchObject({ code: 'NotFound' });
    const missingGet = await mc.getObject(bucket, 'no/such/key').catch((e: { code?: string }) => e);
    expect(missingGet).toMatchObject({ code: 'NoSuchKey' });
    const wrong = await client('wrong-secret-wrong-secret-wrong-secret')
      .getObject(bucket, 'dir/a.bin')
      .catch((e: { code?: string }) => e);
    expect(wrong).toMatchObject({ code: 'SignatureDoesNotMatch' });
  });
});

describe('CESS storage of multipart uploads', () => {
  it('costs ONE CESS file per 20 MiB multipart object, none per part', async () => {
    // Parts are staged at the origin and merged into one file on completion. Every 20 MiB object of the suite must
    // be on chain under the FID of its whole bytes, and nothing part-sized (8 MiB, 4 MiB) may ever be stored.
    expect(bigUploads.map((u) => u.client)).toEqual(['awscli', 'rclone', 's3cmd', 'boto3', 'aws-sdk', 'minio']);
    const fids = await Promise.all(bigUploads.map((u) => fidOf(u.path)));
    const until = Date.now() + 120_000;
    let files = await accountFiles();
    while (!fids.every((fid) => files.some((f) => f.fid === fid)) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 1_000));
      files = await accountFiles();
    }
    expect(files.filter((f) => f.size === BIG_BYTES).map((f) => f.fid).sort()).toEqual([...fids].sort());
    expect(files.filter((f) => f.size === PART_BYTES || f.size === BIG_BYTES - 2 * PART_BYTES)).toEqual([]);
  });
});

describe('the DeOSS API at the edge', () => {
  it("forwards uploads, metadata, state and deletes to the origin with the user's own signature", async () => {
    const user = await accountFromSuri(stack.stack.devSuri);
    const data = randomBytes(150_000);
    const boundary = `b${randomBytes(8).toString('hex')}`;
    const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="notes.bin"\r\n\r\n`), data, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const signed = signHeaders(user);
    const upload = () =>
      fetch(`${edge.origin}/file`, { method: 'PUT', body, headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`, Territory: stack.stack.territory, ...signed } });
    const res = await upload();
    expect(res.status).toBe(200);
    const { fid } = ((await res.json()) as { data: { fid: string } }).data;
    // The origin saw the user's own headers: the same signature a second time is a replay.
    expect((await upload()).status).toBe(403);
    const state = async () => ((await (await fetch(`${edge.origin}/file/state/${fid}`)).json()) as { data: { state: string } }).data.state;
    for (const until = Date.now() + 90_000; (await state()) !== 'stored' && Date.now() < until; ) await new Promise((r) => setTimeout(r, 250));
    expect(await state()).toBe('stored');
    const metadata = (await (await fetch(`${edge.origin}/file/metadata/${fid}`)).json()) as { data: { size: number; owner: { user: string; file_name: string }[] } };
    expect(metadata.data).toMatchObject({ size: data.length, owner: [{ user: user.address, file_name: 'notes.bin' }] });
    expect(Buffer.from(await (await fetch(`${edge.origin}/file/download/${fid}`)).arrayBuffer()).equals(data)).toBe(true);
    // A delete needs the owner's signature, and gets through the edge with it.
    expect((await fetch(`${edge.origin}/file/${fid}`, { method: 'DELETE' })).status).toBe(403);
    expect((await fetch(`${edge.origin}/file/${fid}`, { method: 'DELETE', headers: signHeaders(user) })).status).toBe(200);
    expect((await fetch(`${edge.origin}/file/metadata/${fid}`)).status).toBe(404);
  });

  it('serves a stored file by FID through the edge cache, saying hit or miss', async () => {
    const fid = await fidOf(bigUploads[0].path);
    const read = async () => {
      const res = await fetch(`${edge.origin}/file/download/${fid}`, { headers: { Range: 'bytes=100-199' } });
      const bytes = Buffer.from(await res.arrayBuffer());
      return { status: res.status, cache: res.headers.get('x-deoss-cache'), bytes };
    };
    const expected = (await readFile(bigUploads[0].path)).subarray(100, 200);
    const first = await read();
    expect(first.status).toBe(206);
    expect(['hit', 'miss']).toContain(first.cache);
    expect(first.bytes.equals(expected)).toBe(true);
    // A miss fills the segment in the background; the same read is then a hit with the same bytes.
    let again = await read();
    for (const until = Date.now() + 60_000; again.cache !== 'hit' && Date.now() < until; again = await read()) await new Promise((r) => setTimeout(r, 250));
    expect(again.cache).toBe('hit');
    expect(again.bytes.equals(expected)).toBe(true);
  });
});

describe('the local edge', () => {
  // Clients that send `Expect: 100-continue` (the AWS CLI, curl, the SDKs for larger bodies) hold the body back until
  // they hear `100 Continue` or give up waiting (1 s or more per upload). Cloudflare answers it; so must local workerd.
  it('answers Expect: 100-continue before the body is sent, then takes the body', async () => {
    const bucket = 'expect-continue';
    await inspector.send(new CreateBucketCommand({ Bucket: bucket }));
    const body = randomBytes(256 * 1024);
    expect(await putExpectingContinue(edge, creds, `/${bucket}/object`, body)).toBe(200);
    const got = await inspector.send(new GetObjectCommand({ Bucket: bucket, Key: 'object' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
  });
});
