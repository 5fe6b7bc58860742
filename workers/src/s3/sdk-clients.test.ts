/**
 * Requests produced by the real AWS SDK for JavaScript v3 (@aws-sdk/client-s3, the devDependency), captured by a
 * request handler inside workerd and run through the protocol core: signature, parse, body decoding, XML readers.
 * Nothing answers like a server beyond the minimal replies the SDK needs to finish its call. The SDK runs here in its
 * browser build; its Node build's streaming uploads (aws-chunked) are replayed from recorded fixtures in
 * recorded-clients.test.ts.
 */
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand,
  CreateMultipartUploadCommand, DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, ListObjectsV2Command,
  ListPartsCommand, PutBucketCorsCommand, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { awsChunkedOptionsFor, decodeAwsChunked } from './aws-chunked.ts';
import { validateStream, type Digests } from './checksums.ts';
import { parseS3Request, type S3Operation } from './parse.ts';
import { verifyRequest, type AuthResult } from './sigv4.ts';
import { parseCompleteMultipartUpload, parseCorsConfiguration, parseCreateBucketConfiguration, parseDelete } from './xml.ts';

const KEY = 'AKIDSDKCLIENT';
const SECRET = 'sdk/secret+key=with/odd chars';
const DOMAINS = ['s3.test'];

interface Captured {
  op: S3Operation;
  auth: AuthResult | undefined;
  body?: Uint8Array;
  digests?: Digests;
  headers: Headers;
}

function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

type SmithyRequest = {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
};

function toFetch(r: SmithyRequest): Request {
  const query = Object.entries(r.query ?? {})
    .flatMap(([k, v]) => (v === null ? [escapeUri(k)] : (Array.isArray(v) ? v : [v]).map((x) => `${escapeUri(k)}=${escapeUri(x)}`)))
    .join('&');
  const url = `${r.protocol}//${r.hostname}${r.port ? `:${r.port}` : ''}${r.path}${query ? `?${query}` : ''}`;
  const body = r.body === undefined || r.body === null || r.method === 'GET' || r.method === 'HEAD' ? undefined : (r.body as BodyInit);
  return new Request(url, { method: r.method, headers: r.headers, body, duplex: 'half' } as RequestInit);
}

async function collect(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

function client(captured: Captured[], opts: { forcePathStyle?: boolean } = {}): S3Client {
  const handler = {
    async handle(request: SmithyRequest) {
      const req = toFetch(request);
      const auth = await verifyRequest(req, async (id) => (id === KEY ? SECRET : undefined), { region: 'us-east-1' });
      const op = parseS3Request(req, { s3Domains: DOMAINS });
      const entry: Captured = { op, auth, headers: req.headers };
      if (req.body && (op.kind === 'PutObject' || op.kind === 'UploadPart')) {
        const chunked = awsChunkedOptionsFor(req.headers, auth?.payload);
        if (chunked) {
          const d = decodeAwsChunked(req.body, { ...chunked, computeMd5: true });
          entry.body = await collect(d.stream);
          entry.digests = (await d.done).digests;
        } else {
          const v = validateStream(req.body, {
            spec: op.checksum,
            expectedSha256Hex: auth?.payload.mode === 'sha256' ? auth.payload.sha256 : undefined,
            computeMd5: true,
            expectedLength: op.contentLength,
          });
          entry.body = await collect(v.stream);
          entry.digests = await v.verify();
        }
      } else if (req.body) {
        entry.body = new Uint8Array(await req.arrayBuffer());
      }
      captured.push(entry);
      // Minimal replies: the SDK's browser build parses XML with DOMParser, which workerd lacks, so bodies stay empty.
      const headers: Record<string, string> = { 'x-amz-request-id': 'test', etag: '"0cc175b9c0f1b6a831c399e269772661"' };
      if (op.kind === 'GetObject') {
        return { response: { statusCode: 200, headers: { ...headers, 'content-length': '5' }, body: new Response('hello').body } };
      }
      return { response: { statusCode: 200, headers, body: new Response('').body } };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  return new S3Client({
    region: 'us-east-1',
    endpoint: 'http://s3.test:8787',
    forcePathStyle: opts.forcePathStyle ?? true,
    credentials: { accessKeyId: KEY, secretAccessKey: SECRET },
    requestHandler: handler as never,
    maxAttempts: 1,
  });
}

// CopyObject and CompleteMultipartUpload treat an empty 200 as an aborted request; the request was captured already.
function emptyReplyRefused(e: Error): void {
  expect(e.message).toBe('S3 aborted request');
}

const ODD_KEY = 'dir with space/odd &+-é"/ key~!*\'().txt';

describe('requests from @aws-sdk/client-s3', () => {
  it('PutObject with a byte body: signed, parsed, checksum verified', async () => {
    const captured: Captured[] = [];
    const data = new TextEncoder().encode('hello from the SDK');
    await client(captured).send(new PutObjectCommand({ Bucket: 'sdk-bucket', Key: ODD_KEY, Body: data, ContentType: 'text/plain', Metadata: { Color: 'blue' } }));
    const [c] = captured;
    expect(c.auth?.accessKeyId).toBe(KEY);
    expect(c.op).toMatchObject({ kind: 'PutObject', bucket: 'sdk-bucket', key: ODD_KEY, headers: { contentType: 'text/plain', metadata: { color: 'blue' } } });
    expect(new TextDecoder().decode(c.body)).toBe('hello from the SDK');
    if (c.op.kind === 'PutObject' && c.op.checksum.algorithm) {
      expect(c.digests?.checksums[c.op.checksum.algorithm]).toBeDefined();
    }
  });

  it('GetObject with Range and conditions; ListObjectsV2 with odd parameters', async () => {
    const captured: Captured[] = [];
    const s3 = client(captured);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'sdk-bucket', Key: ODD_KEY, Range: 'bytes=0-4', IfNoneMatch: '"abc"', ResponseContentDisposition: 'attachment; filename="é.txt"' }));
    expect(await got.Body?.transformToString()).toBe('hello');
    await s3.send(new ListObjectsV2Command({ Bucket: 'sdk-bucket', Prefix: 'odd &+-é"/ p', Delimiter: '/', StartAfter: "it's", MaxKeys: 50 }));
    expect(captured[0].op).toMatchObject({ kind: 'GetObject', key: ODD_KEY, range: { start: 0, end: 4 }, conditions: { ifNoneMatch: ['abc'] }, overrides: { contentDisposition: 'attachment; filename="é.txt"' } });
    expect(captured[1].op).toMatchObject({ kind: 'ListObjectsV2', prefix: 'odd &+-é"/ p', delimiter: '/', startAfter: "it's", maxKeys: 50 });
    expect(captured.every((c) => c.auth?.accessKeyId === KEY)).toBe(true);
  });

  it('CopyObject with an encoded odd source key', async () => {
    const captured: Captured[] = [];
    const source = `src-bucket/${ODD_KEY.split('/').map(encodeURIComponent).join('/')}`;
    await client(captured).send(new CopyObjectCommand({ Bucket: 'dst-bucket', Key: 'copy.txt', CopySource: source, MetadataDirective: 'REPLACE', CopySourceIfMatch: '"e1"' })).catch(emptyReplyRefused);
    expect(captured[0].op).toMatchObject({ kind: 'CopyObject', sourceBucket: 'src-bucket', sourceKey: ODD_KEY, metadataDirective: 'REPLACE', copyConditions: { ifMatch: ['e1'] } });
  });

  it('the multipart sequence', async () => {
    const captured: Captured[] = [];
    const s3 = client(captured);
    await s3.send(new CreateMultipartUploadCommand({ Bucket: 'sdk-bucket', Key: 'big.bin', ContentType: 'application/octet-stream' }));
    const part = new Uint8Array(10_000).fill(3);
    await s3.send(new UploadPartCommand({ Bucket: 'sdk-bucket', Key: 'big.bin', UploadId: 'upload-1', PartNumber: 2, Body: part }));
    await s3.send(new ListPartsCommand({ Bucket: 'sdk-bucket', Key: 'big.bin', UploadId: 'upload-1', MaxParts: 5 }));
    await s3
      .send(new CompleteMultipartUploadCommand({ Bucket: 'sdk-bucket', Key: 'big.bin', UploadId: 'upload-1', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"a"' }, { PartNumber: 2, ETag: '"b"' }] } }))
      .catch(emptyReplyRefused);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: 'sdk-bucket', Key: 'big.bin', UploadId: 'upload-1' }));
    expect(captured.map((c) => c.op.kind)).toEqual(['CreateMultipartUpload', 'UploadPart', 'ListParts', 'CompleteMultipartUpload', 'AbortMultipartUpload']);
    expect(captured[1].op).toMatchObject({ uploadId: 'upload-1', partNumber: 2 });
    expect(captured[1].body?.length).toBe(10_000);
    expect(captured[2].op).toMatchObject({ maxParts: 5 });
    expect(parseCompleteMultipartUpload(captured[3].body!).parts).toEqual([
      { partNumber: 1, etag: 'a' },
      { partNumber: 2, etag: 'b' },
    ]);
  });

  it('bucket calls with XML bodies, virtual-hosted style', async () => {
    const captured: Captured[] = [];
    const s3 = client(captured, { forcePathStyle: false });
    await s3.send(new CreateBucketCommand({ Bucket: 'vhost-bucket', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
    await s3.send(new HeadBucketCommand({ Bucket: 'vhost-bucket' }));
    await s3.send(new PutBucketCorsCommand({ Bucket: 'vhost-bucket', CORSConfiguration: { CORSRules: [{ AllowedMethods: ['GET', 'PUT'], AllowedOrigins: ['https://app.example'], MaxAgeSeconds: 60 }] } }));
    await s3.send(new DeleteObjectsCommand({ Bucket: 'vhost-bucket', Delete: { Objects: [{ Key: ODD_KEY }, { Key: 'b' }], Quiet: true } }));
    expect(captured.map((c) => [c.op.kind, c.op.kind === 'ListBuckets' || c.op.kind === 'OptionsPreflight' ? undefined : (c.op as { style: string }).style])).toEqual([
      ['CreateBucket', 'virtual-hosted'],
      ['HeadBucket', 'virtual-hosted'],
      ['PutBucketCors', 'virtual-hosted'],
      ['DeleteObjects', 'virtual-hosted'],
    ]);
    expect(parseCreateBucketConfiguration(captured[0].body!)).toEqual({ locationConstraint: 'eu-west-1' });
    expect(parseCorsConfiguration(captured[2].body!)).toEqual([{ allowedMethods: ['GET', 'PUT'], allowedOrigins: ['https://app.example'], allowedHeaders: [], exposeHeaders: [], maxAgeSeconds: 60 }]);
    expect(parseDelete(captured[3].body!)).toEqual({ quiet: true, objects: [{ key: ODD_KEY }, { key: 'b' }] });
    // DeleteObjects carries an integrity header (Content-MD5 or a checksum), which the parser picked up.
    const del = captured[3].op;
    expect(del.kind === 'DeleteObjects' && (del.checksum.algorithm !== undefined || del.checksum.contentMd5 !== undefined)).toBe(true);
  });
});
