import { describe, expect, it } from 'vitest';
import { toBase64 } from './checksums.ts';
import { S3Error } from './errors.ts';
import {
  bucketNameProblem, evaluateConditions, MAX_KEY_BYTES, parseCopySource, parseEtagList, parsePostObjectFields, parseRange,
  parseS3Request, resolveRange, type S3Op, type S3Operation,
} from './parse.ts';

const DOMAINS = { s3Domains: ['s3.example.com', 'example.com', 's3.amazonaws.com'] };

function req(method: string, url: string, headers: Record<string, string> = {}, body?: string): Request {
  return new Request(url.startsWith('http') ? url : `http://127.0.0.1:8787${url}`, { method, headers, body });
}

function parse(method: string, url: string, headers: Record<string, string> = {}, body?: string): S3Operation {
  return parseS3Request(req(method, url, headers, body), DOMAINS);
}

function as<K extends S3Operation['kind']>(kind: K, op: S3Operation): S3Op<K> {
  expect(op.kind).toBe(kind);
  return op as S3Op<K>;
}

function errorOf(fn: () => unknown): S3Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof S3Error) return e;
    throw e;
  }
  throw new Error('did not throw');
}
const codeOf = (fn: () => unknown) => errorOf(fn).code;

async function sseHeaders(prefix = 'x-amz-'): Promise<Record<string, string>> {
  const key = new Uint8Array(32).map((_, i) => i * 7);
  const md5 = new Uint8Array(await crypto.subtle.digest('MD5', key));
  return {
    [`${prefix}server-side-encryption-customer-algorithm`]: 'AES256',
    [`${prefix}server-side-encryption-customer-key`]: toBase64(key),
    [`${prefix}server-side-encryption-customer-key-md5`]: toBase64(md5),
  };
}

describe('addressing', () => {
  it('path style: service, bucket and key', () => {
    expect(parse('GET', '/')).toEqual({ kind: 'ListBuckets', resource: '/' });
    expect(parse('GET', '/bucket')).toMatchObject({ kind: 'ListObjectsV1', bucket: 'bucket', resource: '/bucket', style: 'path' });
    expect(parse('GET', '/bucket/')).toMatchObject({ kind: 'ListObjectsV1', bucket: 'bucket' });
    expect(parse('GET', '/bucket/dir/file.txt')).toMatchObject({ kind: 'GetObject', bucket: 'bucket', key: 'dir/file.txt', resource: '/bucket/dir/file.txt' });
  });

  it('virtual-hosted style, longest matching domain wins, ports and dotted buckets', () => {
    const op = parseS3Request(req('GET', 'http://photos.s3.example.com:8787/a/b.jpg'), DOMAINS);
    expect(op).toMatchObject({ kind: 'GetObject', bucket: 'photos', key: 'a/b.jpg', style: 'virtual-hosted', resource: '/photos/a/b.jpg' });
    expect(parseS3Request(req('GET', 'http://my.bucket.s3.example.com/'), DOMAINS)).toMatchObject({ kind: 'ListObjectsV1', bucket: 'my.bucket' });
    expect(parseS3Request(req('GET', 'http://site.example.com/index.html'), DOMAINS)).toMatchObject({ bucket: 'site', key: 'index.html' });
    // The Host header decides (a proxy may have rewritten the URL).
    expect(parseS3Request(req('GET', 'http://127.0.0.1:8787/x', { host: 'bk1.s3.example.com' }), DOMAINS)).toMatchObject({ bucket: 'bk1', key: 'x' });
    // The domain itself, and unknown hosts, are path-style.
    expect(parseS3Request(req('GET', 'http://s3.example.com/bk2/k'), DOMAINS)).toMatchObject({ bucket: 'bk2', key: 'k', style: 'path' });
    expect(parseS3Request(req('GET', 'http://10.0.0.1/bk3/k'), DOMAINS)).toMatchObject({ bucket: 'bk3', key: 'k', style: 'path' });
  });

  it('the AWS documentation example URLs', () => {
    const aws = (method: string, url: string, headers: Record<string, string> = {}) => parseS3Request(req(method, url, headers), DOMAINS);
    expect(aws('GET', 'https://examplebucket.s3.amazonaws.com/test.txt', { range: 'bytes=0-9' })).toMatchObject({ kind: 'GetObject', bucket: 'examplebucket', key: 'test.txt', range: { start: 0, end: 9 } });
    expect(aws('PUT', 'https://examplebucket.s3.amazonaws.com/test$file.text', { 'content-length': '21' })).toMatchObject({ kind: 'PutObject', key: 'test$file.text', contentLength: 21 });
    expect(aws('GET', 'https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J')).toMatchObject({ kind: 'ListObjectsV1', bucket: 'examplebucket', prefix: 'J', maxKeys: 2 });
    expect(aws('GET', 'https://examplebucket.s3.amazonaws.com/?lifecycle')).toMatchObject({ kind: 'GetBucketSetting', bucket: 'examplebucket', setting: 'lifecycle' });
    expect(aws('PUT', 'https://s3.amazonaws.com/examplebucket/chunkObject.txt', { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '66560', 'content-length': '66824' })).toMatchObject({
      kind: 'PutObject', bucket: 'examplebucket', key: 'chunkObject.txt', contentLength: 66824, decodedContentLength: 66560, headers: { metadata: {} },
    });
  });

  it('decodes keys once and keeps their bytes', () => {
    expect(as('GetObject', parse('GET', '/bkt/a%20b%2Bc/%C3%A9%25')).key).toBe('a b+c/é%');
    expect(as('GetObject', parse('GET', '/bkt/plus+stays')).key).toBe('plus+stays');
    expect(as('GetObject', parse('GET', '/bkt//leading-slash')).key).toBe('/leading-slash');
    expect(as('GetObject', parse('GET', '/bkt/dir/')).key).toBe('dir/');
    expect(codeOf(() => parse('GET', '/bkt/%E9t%E9'))).toBe('InvalidURI');
  });

  it('limits keys to 1024 UTF-8 bytes', () => {
    expect(as('GetObject', parse('GET', `/bkt/${'k'.repeat(MAX_KEY_BYTES)}`)).key.length).toBe(1024);
    const e = errorOf(() => parse('GET', `/bkt/${'é'.repeat(513)}`));
    expect(e.code).toBe('KeyTooLongError');
    expect(e.extra?.Size).toBe('1026');
  });
});

describe('bucket names', () => {
  it('accepts valid names', () => {
    for (const ok of ['abc', 'my.bucket-1', 'a'.repeat(63), '0day', 'x-y.z']) expect(bucketNameProblem(ok), ok).toBeUndefined();
  });
  it('rejects what S3 rejects, with a reason', () => {
    for (const bad of ['ab', 'a'.repeat(64), 'Abc', 'a_b', '-abc', 'abc-', '.abc', 'a..b', '192.168.1.1', 'xn--abc', 'sthree-x', 'amzn-s3-demo-x', 'abc-s3alias', 'abc--ol-s3', 'abc.mrap', 'abc--x-s3', 'abc--table-s3', 'a b']) {
      expect(bucketNameProblem(bad), bad).toBeTypeOf('string');
    }
    const e = errorOf(() => parse('PUT', '/Bad_Bucket'));
    expect(e.code).toBe('InvalidBucketName');
    expect(e.extra?.BucketName).toBe('Bad_Bucket');
    expect(codeOf(() => parse('GET', '/ab/key'))).toBe('InvalidBucketName');
  });
});

describe('service and bucket operations', () => {
  it('ListBuckets with its parameters; other methods are not allowed', () => {
    expect(parse('GET', '/?prefix=a&continuation-token=t&max-buckets=10&bucket-region=us-east-1')).toEqual({
      kind: 'ListBuckets', resource: '/', prefix: 'a', continuationToken: 't', maxBuckets: 10, bucketRegion: 'us-east-1',
    });
    expect(codeOf(() => parse('GET', '/?max-buckets=0'))).toBe('InvalidArgument');
    expect(codeOf(() => parse('GET', '/?max-buckets=10001'))).toBe('InvalidArgument');
    expect(codeOf(() => parse('PUT', '/'))).toBe('MethodNotAllowed');
  });

  it('CreateBucket with canned ACL and options', () => {
    expect(parse('PUT', '/newbucket', { 'x-amz-acl': 'public-read', 'x-amz-bucket-object-lock-enabled': 'true', 'x-amz-object-ownership': 'BucketOwnerEnforced' })).toMatchObject({
      kind: 'CreateBucket', bucket: 'newbucket', acl: 'public-read', objectLockEnabled: true, objectOwnership: 'BucketOwnerEnforced',
    });
    expect(as('CreateBucket', parse('PUT', '/newbucket')).acl).toBeUndefined();
    expect(codeOf(() => parse('PUT', '/newbucket', { 'x-amz-acl': 'everyone' }))).toBe('InvalidArgument');
    expect(codeOf(() => parse('PUT', '/newbucket', { 'x-amz-grant-read': 'id=1' }))).toBe('NotImplemented');
  });

  it('bucket sub-resources', () => {
    const kinds: [string, string, string][] = [
      ['DELETE', '/b1b', 'DeleteBucket'],
      ['HEAD', '/b1b', 'HeadBucket'],
      ['GET', '/b1b?location', 'GetBucketLocation'],
      ['GET', '/b1b?cors', 'GetBucketCors'],
      ['PUT', '/b1b?cors', 'PutBucketCors'],
      ['DELETE', '/b1b?cors', 'DeleteBucketCors'],
      ['GET', '/b1b?website', 'GetBucketWebsite'],
      ['PUT', '/b1b?website', 'PutBucketWebsite'],
      ['DELETE', '/b1b?website', 'DeleteBucketWebsite'],
      ['GET', '/b1b?acl', 'GetBucketAcl'],
      ['GET', '/b1b?versioning', 'GetBucketVersioning'],
      ['POST', '/b1b?delete', 'DeleteObjects'],
      ['GET', '/b1b?x-id=ListObjects', 'ListObjectsV1'],
    ];
    for (const [m, u, k] of kinds) expect(parse(m, u).kind, `${m} ${u}`).toBe(k);
    expect(as('PutBucketCors', parse('PUT', '/b1b?cors', { 'content-md5': '1B2M2Y8AsgTpgAmY7PhCfg==' })).checksum.contentMd5).toBe('1B2M2Y8AsgTpgAmY7PhCfg==');
    expect(as('DeleteObjects', parse('POST', '/b1b?delete', { 'x-amz-checksum-crc32': 'AAAAAA==' })).checksum).toEqual({ trailer: false, algorithm: 'CRC32', expected: 'AAAAAA==' });
  });

  it('PutBucketAcl takes canned ACLs only', () => {
    expect(parse('PUT', '/b1b?acl', { 'x-amz-acl': 'public-read' })).toMatchObject({ kind: 'PutBucketAcl', acl: 'public-read' });
    expect(codeOf(() => parse('PUT', '/b1b?acl', {}, '<AccessControlPolicy/>'))).toBe('NotImplemented');
    expect(codeOf(() => parse('PUT', '/b1b?acl'))).toBe('InvalidRequest');
  });

  it('refuses unimplemented sub-resources and methods', () => {
    expect(parse('PUT', '/b1b?policy')).toMatchObject({ kind: 'PutBucketPolicy', bucket: 'b1b' });
    expect(parse('GET', '/b1b?policy')).toMatchObject({ kind: 'GetBucketPolicy' });
    expect(parse('DELETE', '/b1b?policy')).toMatchObject({ kind: 'DeleteBucketPolicy' });
    expect(parse('PUT', '/b1b?publicAccessBlock')).toMatchObject({ kind: 'PutPublicAccessBlock' });
    expect(parse('DELETE', '/b1b?publicAccessBlock')).toMatchObject({ kind: 'DeletePublicAccessBlock' });
    expect(parse('GET', '/b1b?publicAccessBlock')).toMatchObject({ kind: 'GetBucketSetting', setting: 'publicAccessBlock' });
    for (const sub of ['lifecycle', 'encryption', 'replication', 'notification', 'object-lock', 'logging']) {
      expect(codeOf(() => parse('PUT', `/b1b?${sub}`)), sub).toBe('NotImplemented');
      expect(codeOf(() => parse('DELETE', `/b1b?${sub}`)), sub).toBe('NotImplemented');
      // Reading one is answered: every bucket has it unset.
      expect(parse('GET', `/b1b?${sub}`), sub).toMatchObject({ kind: 'GetBucketSetting', setting: sub, bucket: 'b1b' });
    }
    for (const sub of ['analytics', 'inventory', 'metrics', 'intelligent-tiering']) expect(codeOf(() => parse('GET', `/b1b?${sub}`)), sub).toBe('NotImplemented');
    expect(codeOf(() => parse('GET', '/b1b/k?policy'))).toBe('NotImplemented');
    expect(parse('PUT', '/b1b?versioning').kind).toBe('PutBucketVersioning');
    expect(codeOf(() => parse('PUT', '/b1b?versioning', { 'x-amz-mfa': '123456 789' }))).toBe('NotImplemented');
    expect(codeOf(() => parse('POST', '/b1b'))).toBe('MethodNotAllowed');
    expect(codeOf(() => parse('PUT', '/b1b/k?acl', {}, '<AccessControlPolicy/>'))).toBe('NotImplemented');
    expect(codeOf(() => parse('PUT', '/b1b/k?acl'))).toBe('InvalidRequest');
    expect(parse('PUT', '/b1b/k?acl', { 'x-amz-acl': 'bucket-owner-full-control' })).toMatchObject({ kind: 'PutObjectAcl', key: 'k', acl: 'bucket-owner-full-control' });
    const e = errorOf(() => parse('PATCH', '/b1b'));
    expect(e.code).toBe('MethodNotAllowed');
    expect(e.status).toBe(405);
  });
});

describe('listings', () => {
  it('ListObjectsV2 with every parameter; max-keys is clamped to 1000', () => {
    expect(parse('GET', '/b1b?list-type=2&prefix=a%2Fb&delimiter=%2F&max-keys=5000&start-after=x&continuation-token=tok&fetch-owner=true&encoding-type=url')).toEqual({
      kind: 'ListObjectsV2', bucket: 'b1b', resource: '/b1b', style: 'path', prefix: 'a/b', delimiter: '/', maxKeys: 1000,
      startAfter: 'x', continuationToken: 'tok', fetchOwner: true, encodingType: 'url',
    });
    expect(parse('GET', '/b1b?list-type=2')).toEqual({ kind: 'ListObjectsV2', bucket: 'b1b', resource: '/b1b', style: 'path', maxKeys: 1000, fetchOwner: false });
    expect(as('ListObjectsV2', parse('GET', '/b1b?list-type=2&max-keys=0')).maxKeys).toBe(0);
    expect(as('ListObjectsV2', parse('GET', '/b1b?list-type=2&prefix=&delimiter=')).prefix).toBeUndefined();
  });

  it('ListObjectsV1, versions and multipart uploads', () => {
    expect(parse('GET', '/b1b?marker=m&max-keys=7&prefix=p')).toMatchObject({ kind: 'ListObjectsV1', marker: 'm', maxKeys: 7, prefix: 'p' });
    expect(parse('GET', '/b1b?versions&key-marker=k&version-id-marker=v&max-keys=3')).toMatchObject({ kind: 'ListObjectVersions', keyMarker: 'k', versionIdMarker: 'v', maxKeys: 3 });
    expect(parse('GET', '/b1b?uploads&key-marker=k&upload-id-marker=u&max-uploads=2000&prefix=x&delimiter=/')).toMatchObject({
      kind: 'ListMultipartUploads', keyMarker: 'k', uploadIdMarker: 'u', maxUploads: 1000, prefix: 'x', delimiter: '/',
    });
  });

  it('validates list parameters', () => {
    for (const q of ['list-type=3', 'max-keys=-1', 'max-keys=abc', 'max-keys=99999999999', 'encoding-type=xml', 'list-type=2&fetch-owner=yes', 'list-type=2&continuation-token=', 'uploads&max-uploads=x']) {
      expect(codeOf(() => parse('GET', `/b1b?${q}`)), q).toBe('InvalidArgument');
    }
  });
});

describe('PutObject', () => {
  it('collects content headers, metadata, ACL, storage class, tagging and checksums', () => {
    const op = as(
      'PutObject',
      parse('PUT', '/b1b/k.txt', {
        'content-length': '5',
        'content-type': 'text/plain',
        'content-encoding': 'gzip, aws-chunked',
        'content-language': 'en',
        'content-disposition': 'inline',
        'cache-control': 'max-age=60',
        expires: 'Wed, 21 Oct 2026 07:28:00 GMT',
        'x-amz-meta-Color': 'blue',
        'x-amz-meta-empty': '',
        'x-amz-acl': 'private',
        'x-amz-storage-class': 'STANDARD',
        'x-amz-tagging': 'a=1&b=two%20words',
        'x-amz-server-side-encryption': 'AES256',
        'x-amz-website-redirect-location': '/other',
        'x-amz-checksum-crc32': 'AAAAAA==',
        'content-md5': '1B2M2Y8AsgTpgAmY7PhCfg==',
        'if-none-match': '*',
      }, 'hello'),
    );
    expect(op).toMatchObject({
      bucket: 'b1b', key: 'k.txt', contentLength: 5, ifNoneMatch: '*',
      headers: {
        contentType: 'text/plain', contentEncoding: 'gzip', contentLanguage: 'en', contentDisposition: 'inline', cacheControl: 'max-age=60',
        expires: 'Wed, 21 Oct 2026 07:28:00 GMT', metadata: { color: 'blue', empty: '' }, acl: 'private', storageClass: 'STANDARD',
        tagging: [['a', '1'], ['b', 'two words']], serverSideEncryption: 'AES256', websiteRedirectLocation: '/other',
      },
      checksum: { algorithm: 'CRC32', expected: 'AAAAAA==', contentMd5: '1B2M2Y8AsgTpgAmY7PhCfg==', trailer: false },
    });
    expect(op.sseCustomer).toBeUndefined();
    expect(as('PutObject', parse('PUT', '/b1b/k', { 'content-length': '0', 'content-encoding': 'aws-chunked' })).headers.contentEncoding).toBeUndefined();
    expect(as('PutObject', parse('PUT', '/b1b/k', { 'content-length': '1', 'if-match': '"abc"' }, 'x')).ifMatch).toBe('abc');
  });

  it('needs a length and respects S3 limits', () => {
    expect(codeOf(() => parse('PUT', '/b1b/k'))).toBe('MissingContentLength');
    expect(as('PutObject', parse('PUT', '/b1b/k', { 'x-amz-decoded-content-length': '10' })).decodedContentLength).toBe(10);
    expect(codeOf(() => parse('PUT', '/b1b/k', { 'x-amz-decoded-content-length': String(5 * 1024 ** 3 + 1) }))).toBe('EntityTooLarge');
    expect(codeOf(() => parse('PUT', '/b1b/k', { 'x-amz-decoded-content-length': '1e3' }))).toBe('InvalidArgument');
    const big = { 'content-length': '0', 'x-amz-meta-a': 'x'.repeat(2047) };
    expect(as('PutObject', parse('PUT', '/b1b/k', big)).headers.metadata.a.length).toBe(2047);
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...big, 'x-amz-meta-ab': 'x'.repeat(2047) }))).toBe('MetadataTooLarge');
  });

  it('refuses bad storage classes, SSE-KMS, tags and conditional writes it cannot do', () => {
    const base = { 'content-length': '0' };
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, 'x-amz-storage-class': 'COLD' }))).toBe('InvalidStorageClass');
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, 'x-amz-server-side-encryption': 'aws:kms' }))).toBe('NotImplemented');
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, 'x-amz-server-side-encryption': 'DES' }))).toBe('InvalidArgument');
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, 'x-amz-tagging': Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&') }))).toBe('InvalidTag');
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, 'x-amz-tagging': 'a=1&a=2' }))).toBe('InvalidTag');
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, 'if-none-match': '"etag"' }))).toBe('NotImplemented');
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, 'x-amz-website-redirect-location': 'ftp://x' }))).toBe('InvalidArgument');
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-checksum-sha1': 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' }))).toBe('InvalidRequest');
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, 'x-amz-tagging': 'aws%3Aowner=me' }))).toBe('InvalidTag');
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, 'x-amz-tagging': 'a=%3Cscript%3E' }))).toBe('InvalidTag');
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, 'x-amz-tagging': `${'k'.repeat(129)}=v` }))).toBe('InvalidTag');
  });

  it('reads object and bucket tagging requests', () => {
    expect(parse('GET', '/b1b/k?tagging')).toMatchObject({ kind: 'GetObjectTagging', bucket: 'b1b', key: 'k' });
    expect(parse('PUT', '/b1b/k?tagging&versionId=null', { 'content-length': '10' })).toMatchObject({ kind: 'PutObjectTagging', key: 'k', versionId: 'null' });
    expect(parse('DELETE', '/b1b/k?tagging')).toMatchObject({ kind: 'DeleteObjectTagging', key: 'k' });
    expect(codeOf(() => parse('HEAD', '/b1b/k?tagging'))).toBe('MethodNotAllowed');
    expect(parse('GET', '/b1b?tagging').kind).toBe('GetBucketTagging');
    expect(parse('PUT', '/b1b?tagging').kind).toBe('PutBucketTagging');
    expect(parse('DELETE', '/b1b?tagging').kind).toBe('DeleteBucketTagging');
    // Tags with every character S3 allows, and Unicode letters and digits.
    const op = as('PutObject', parse('PUT', '/b1b/k', { 'content-length': '0', 'x-amz-tagging': 'project=deoss%20edge&path=%2Fa%2Bb%3Dc.d_e%3Af%40g-h&%C3%A9t%C3%A9=%D9%A3' }));
    expect(op.headers.tagging).toEqual([['project', 'deoss edge'], ['path', '/a+b=c.d_e:f@g-h'], ['été', '٣']]);
  });

  it('checks SSE-C headers, including the key MD5', async () => {
    const sse = await sseHeaders();
    const op = as('PutObject', parse('PUT', '/b1b/k', { 'content-length': '0', ...sse }));
    expect(op.sseCustomer).toEqual({ algorithm: 'AES256', key: sse['x-amz-server-side-encryption-customer-key'], keyMd5: sse['x-amz-server-side-encryption-customer-key-md5'] });
    const base = { 'content-length': '0' };
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, ...sse, 'x-amz-server-side-encryption-customer-key-md5': toBase64(new Uint8Array(16)) }))).toBe('InvalidArgument');
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, ...sse, 'x-amz-server-side-encryption-customer-algorithm': 'AES128' }))).toBe('InvalidEncryptionAlgorithmError');
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, ...sse, 'x-amz-server-side-encryption-customer-key': toBase64(new Uint8Array(16)) }))).toBe('InvalidArgument');
    const { ['x-amz-server-side-encryption-customer-key-md5']: _omit, ...noMd5 } = sse;
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, ...noMd5 }))).toBe('InvalidArgument');
    expect(codeOf(() => parse('PUT', '/b1b/k', { ...base, 'x-amz-server-side-encryption-customer-key': sse['x-amz-server-side-encryption-customer-key'] }))).toBe('InvalidArgument');
    // Reads carry SSE-C too.
    expect(as('GetObject', parse('GET', '/b1b/k', sse)).sseCustomer?.algorithm).toBe('AES256');
  });
});

describe('CopyObject', () => {
  it('parses the copy source, directives and copy conditions', async () => {
    const op = as(
      'CopyObject',
      parse('PUT', '/dst-bucket/new%20key', {
        'x-amz-copy-source': '/src-bucket/dir/a%20b%2Bc.txt?versionId=v1',
        'x-amz-metadata-directive': 'REPLACE',
        'x-amz-tagging-directive': 'COPY',
        'x-amz-meta-x': 'y',
        'x-amz-copy-source-if-match': '"e1"',
        'x-amz-copy-source-if-unmodified-since': 'Wed, 21 Oct 2015 07:28:00 GMT',
        'x-amz-checksum-algorithm': 'crc32c',
        ...(await sseHeaders('x-amz-copy-source-')),
      }),
    );
    expect(op).toMatchObject({
      key: 'new key', sourceBucket: 'src-bucket', sourceKey: 'dir/a b+c.txt', sourceVersionId: 'v1', metadataDirective: 'REPLACE',
      taggingDirective: 'COPY', headers: { metadata: { x: 'y' } }, checksumAlgorithm: 'CRC32C',
      copyConditions: { ifMatch: ['e1'], ifUnmodifiedSince: new Date('2015-10-21T07:28:00Z') },
    });
    expect(op.sourceSseCustomer?.algorithm).toBe('AES256');
    expect(op.sseCustomer).toBeUndefined();
    expect(as('CopyObject', parse('PUT', '/dst-bucket/k', { 'x-amz-copy-source': 'src-bucket/k' })).metadataDirective).toBe('COPY');
  });

  it('refuses bad sources, unknown directives and pointless self-copies', () => {
    const copy = (src: string, extra: Record<string, string> = {}) => () => parse('PUT', '/dst-bucket/k', { 'x-amz-copy-source': src, ...extra });
    expect(codeOf(copy('/src-bucket'))).toBe('InvalidArgument');
    expect(codeOf(copy('/src-bucket/'))).toBe('InvalidArgument');
    expect(codeOf(copy('/src-bucket/%E9'))).toBe('InvalidArgument');
    expect(codeOf(copy('/Src_Bucket/k'))).toBe('InvalidBucketName');
    expect(codeOf(copy('arn:aws:s3:us-east-1:1:accesspoint/ap/object/k'))).toBe('NotImplemented');
    expect(codeOf(copy('/src-bucket/k', { 'x-amz-metadata-directive': 'MERGE' }))).toBe('InvalidArgument');
    expect(codeOf(copy('/dst-bucket/k'))).toBe('InvalidRequest');
    expect(parse('PUT', '/dst-bucket/k', { 'x-amz-copy-source': '/dst-bucket/k', 'x-amz-metadata-directive': 'REPLACE' }).kind).toBe('CopyObject');
    expect(parse('PUT', '/dst-bucket/k', { 'x-amz-copy-source': '/dst-bucket/k', 'x-amz-storage-class': 'STANDARD' }).kind).toBe('CopyObject');
    expect(parseCopySource('b1b/k?versionId=abc')).toEqual({ bucket: 'b1b', key: 'k', versionId: 'abc' });
  });
});

describe('GetObject and HeadObject', () => {
  it('reads ranges, conditions, overrides, version and checksum mode', () => {
    const op = as(
      'GetObject',
      parse('GET', '/b1b/k?versionId=null&response-content-type=text%2Fhtml&response-content-disposition=attachment%3B%20filename%3D%22a.txt%22&response-cache-control=no-cache&x-id=GetObject', {
        range: 'bytes=100-',
        'if-match': '"a", W/"b"',
        'if-none-match': '*',
        'if-modified-since': 'Sat, 01 Jan 2000 00:00:00 GMT',
        'if-unmodified-since': 'not a date',
        'x-amz-checksum-mode': 'ENABLED',
      }),
    );
    expect(op).toEqual({
      kind: 'GetObject', bucket: 'b1b', key: 'k', resource: '/b1b/k', style: 'path', versionId: 'null', range: { start: 100 },
      conditions: { ifMatch: ['a', 'b'], ifNoneMatch: ['*'], ifModifiedSince: new Date('2000-01-01T00:00:00Z') },
      overrides: { contentType: 'text/html', contentDisposition: 'attachment; filename="a.txt"', cacheControl: 'no-cache' },
      checksumMode: true,
    });
    expect(parse('HEAD', '/b1b/k', { range: 'bytes=-10' })).toMatchObject({ kind: 'HeadObject', range: { suffix: 10 }, checksumMode: false });
  });

  it('part numbers exclude ranges and must be 1..10000', () => {
    expect(as('GetObject', parse('GET', '/b1b/k?partNumber=3')).partNumber).toBe(3);
    expect(codeOf(() => parse('GET', '/b1b/k?partNumber=1', { range: 'bytes=0-1' }))).toBe('InvalidRequest');
    for (const n of ['0', '10001', 'x', '-1', '']) expect(codeOf(() => parse('GET', `/b1b/k?partNumber=${n}`)), n).toBe('InvalidArgument');
  });

  it("reads an object's ACL (its bucket's); sets only canned ones", () => {
    expect(parse('GET', '/b1b/k?acl')).toMatchObject({ kind: 'GetObjectAcl', bucket: 'b1b', key: 'k' });
    expect(parse('GET', '/b1b/k?acl&versionId=null')).toMatchObject({ kind: 'GetObjectAcl', versionId: 'null' });
    expect(codeOf(() => parse('HEAD', '/b1b/k?acl'))).toBe('MethodNotAllowed');
    expect(parse('PUT', '/b1b/k?acl', { 'x-amz-acl': 'private' })).toMatchObject({ kind: 'PutObjectAcl', acl: 'private' });
  });

  it('parseRange ignores what HTTP says to ignore; resolveRange applies the object size', () => {
    expect(parseRange('bytes=0-9')).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=5-')).toEqual({ start: 5 });
    expect(parseRange('bytes=-5')).toEqual({ suffix: 5 });
    for (const ignored of [null, 'bytes=-', 'bytes=9-3', 'bytes=0-1,4-5', 'items=0-1', 'bytes=a-b']) expect(parseRange(ignored), String(ignored)).toBeUndefined();
    expect(resolveRange({ start: 0, end: 9 }, 5)).toEqual({ start: 0, end: 4 });
    expect(resolveRange({ start: 3 }, 5)).toEqual({ start: 3, end: 4 });
    expect(resolveRange({ suffix: 10 }, 5)).toEqual({ start: 0, end: 4 });
    expect(resolveRange({ suffix: 2 }, 5)).toEqual({ start: 3, end: 4 });
    for (const [r, size] of [[{ start: 5 }, 5], [{ suffix: 0 }, 5], [{ suffix: 3 }, 0], [{ start: 0, end: 0 }, 0]] as const) {
      expect(errorOf(() => resolveRange(r, size)).code).toBe('InvalidRange');
    }
    expect(errorOf(() => resolveRange({ start: 7 }, 5)).extra?.ActualObjectSize).toBe('5');
  });

  it('parseEtagList and evaluateConditions follow S3', () => {
    expect(parseEtagList('"a","b" , W/"c", *')).toEqual(['a', 'b', 'c', '*']);
    expect(parseEtagList(null)).toBeUndefined();
    const obj = { etag: '"abc"', lastModified: new Date('2024-01-01T12:00:00.500Z') };
    const before = new Date('2023-12-31T00:00:00Z');
    const after = new Date('2024-02-01T00:00:00Z');
    const same = new Date('2024-01-01T12:00:00Z'); // second precision: not modified since
    expect(evaluateConditions({}, obj)).toBe('ok');
    expect(evaluateConditions({ ifMatch: ['abc'] }, obj)).toBe('ok');
    expect(evaluateConditions({ ifMatch: ['*'] }, obj)).toBe('ok');
    expect(evaluateConditions({ ifMatch: ['zzz'] }, obj)).toBe('precondition-failed');
    expect(evaluateConditions({ ifUnmodifiedSince: before }, obj)).toBe('precondition-failed');
    expect(evaluateConditions({ ifMatch: ['abc'], ifUnmodifiedSince: before }, obj)).toBe('ok'); // If-Match wins
    expect(evaluateConditions({ ifNoneMatch: ['abc'] }, obj)).toBe('not-modified');
    expect(evaluateConditions({ ifNoneMatch: ['zzz'] }, obj)).toBe('ok');
    expect(evaluateConditions({ ifModifiedSince: after }, obj)).toBe('not-modified');
    expect(evaluateConditions({ ifModifiedSince: same }, obj)).toBe('not-modified');
    expect(evaluateConditions({ ifModifiedSince: before }, obj)).toBe('ok');
    expect(evaluateConditions({ ifNoneMatch: ['abc'], ifModifiedSince: before }, obj)).toBe('not-modified'); // If-None-Match wins
    expect(evaluateConditions({ ifNoneMatch: ['zzz'], ifModifiedSince: after }, obj)).toBe('ok');
    expect(evaluateConditions({ ifNoneMatch: ['abc'] }, obj, 'copy')).toBe('precondition-failed');
    expect(evaluateConditions({ ifModifiedSince: after }, obj, 'copy')).toBe('precondition-failed');
  });
});

describe('DeleteObject and multipart', () => {
  it('DeleteObject and AbortMultipartUpload', () => {
    expect(parse('DELETE', '/b1b/k?versionId=v', { 'if-match': '"e"' })).toMatchObject({ kind: 'DeleteObject', key: 'k', versionId: 'v', ifMatch: 'e' });
    expect(parse('DELETE', '/b1b/k?uploadId=u1')).toMatchObject({ kind: 'AbortMultipartUpload', uploadId: 'u1' });
  });

  it('CreateMultipartUpload with headers and checksum settings', () => {
    expect(parse('POST', '/b1b/big.bin?uploads', { 'content-type': 'application/zip', 'x-amz-meta-a': 'b', 'x-amz-checksum-algorithm': 'CRC64NVME', 'x-amz-checksum-type': 'FULL_OBJECT' })).toMatchObject({
      kind: 'CreateMultipartUpload', headers: { contentType: 'application/zip', metadata: { a: 'b' } }, checksumAlgorithm: 'CRC64NVME', checksumType: 'FULL_OBJECT',
    });
    expect(codeOf(() => parse('POST', '/b1b/k?uploads', { 'x-amz-checksum-algorithm': 'SHA256', 'x-amz-checksum-type': 'FULL_OBJECT' }))).toBe('InvalidRequest');
    expect(codeOf(() => parse('POST', '/b1b/k?uploads', { 'x-amz-checksum-algorithm': 'CRC64NVME', 'x-amz-checksum-type': 'COMPOSITE' }))).toBe('InvalidRequest');
    expect(codeOf(() => parse('POST', '/b1b/k?uploads', { 'x-amz-checksum-algorithm': 'MD5' }))).toBe('InvalidArgument');
    expect(codeOf(() => parse('POST', '/b1b/k'))).toBe('MethodNotAllowed');
    expect(codeOf(() => parse('POST', '/b1b/k?restore'))).toBe('NotImplemented');
  });

  it('UploadPart needs an upload id, a part number and a length', () => {
    expect(parse('PUT', '/b1b/k?partNumber=2&uploadId=u%2B1', { 'content-length': '8388608', 'x-amz-checksum-crc32c': 'AAAAAA==' })).toMatchObject({
      kind: 'UploadPart', uploadId: 'u+1', partNumber: 2, contentLength: 8388608, checksum: { algorithm: 'CRC32C', expected: 'AAAAAA==' },
    });
    expect(codeOf(() => parse('PUT', '/b1b/k?partNumber=2', { 'content-length': '1' }))).toBe('InvalidArgument');
    expect(codeOf(() => parse('PUT', '/b1b/k?uploadId=u', { 'content-length': '1' }))).toBe('InvalidArgument');
    expect(codeOf(() => parse('PUT', '/b1b/k?partNumber=2&uploadId=', { 'content-length': '1' }))).toBe('InvalidArgument');
    expect(codeOf(() => parse('PUT', '/b1b/k?partNumber=2&uploadId=u'))).toBe('MissingContentLength');
  });

  it('UploadPartCopy with a source range', () => {
    expect(parse('PUT', '/b1b/k?partNumber=1&uploadId=u', { 'x-amz-copy-source': '/src-bucket/obj?versionId=3', 'x-amz-copy-source-range': 'bytes=0-5242879', 'x-amz-copy-source-if-none-match': '"x"' })).toMatchObject({
      kind: 'UploadPartCopy', partNumber: 1, uploadId: 'u', sourceBucket: 'src-bucket', sourceKey: 'obj', sourceVersionId: '3', range: { start: 0, end: 5242879 },
      copyConditions: { ifNoneMatch: ['x'] },
    });
    for (const bad of ['bytes=5-1', 'bytes=0-', 'bytes=-5', '0-5']) {
      expect(codeOf(() => parse('PUT', '/b1b/k?partNumber=1&uploadId=u', { 'x-amz-copy-source': '/src-bucket/obj', 'x-amz-copy-source-range': bad })), bad).toBe('InvalidArgument');
    }
  });

  it('CompleteMultipartUpload and ListParts', () => {
    expect(parse('POST', '/b1b/k?uploadId=u', { 'if-none-match': '*', 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-checksum-type': 'FULL_OBJECT' })).toMatchObject({
      kind: 'CompleteMultipartUpload', uploadId: 'u', ifNoneMatch: '*', checksum: { algorithm: 'CRC32', expected: 'AAAAAA==' }, checksumType: 'FULL_OBJECT',
    });
    expect(parse('GET', '/b1b/k?uploadId=u&max-parts=5000&part-number-marker=3')).toMatchObject({ kind: 'ListParts', uploadId: 'u', maxParts: 1000, partNumberMarker: 3 });
    expect(as('ListParts', parse('GET', '/b1b/k?uploadId=u')).maxParts).toBe(1000);
  });
});

describe('GetObjectAttributes', () => {
  it('needs valid attribute names', () => {
    expect(parse('GET', '/b1b/k?attributes&versionId=v', { 'x-amz-object-attributes': 'ETag, ObjectSize,ETag', 'x-amz-max-parts': '2000', 'x-amz-part-number-marker': '4' })).toMatchObject({
      kind: 'GetObjectAttributes', attributes: ['ETag', 'ObjectSize'], versionId: 'v', maxParts: 1000, partNumberMarker: 4,
    });
    expect(codeOf(() => parse('GET', '/b1b/k?attributes'))).toBe('InvalidArgument');
    expect(codeOf(() => parse('GET', '/b1b/k?attributes', { 'x-amz-object-attributes': 'Size' }))).toBe('InvalidArgument');
  });
});

describe('CORS preflight', () => {
  it('parses OPTIONS at object, bucket and service level', () => {
    expect(parse('OPTIONS', '/b1b/k', { origin: 'https://app.example', 'access-control-request-method': 'put', 'access-control-request-headers': 'Content-Type, X-Amz-Date' })).toEqual({
      kind: 'OptionsPreflight', resource: '/b1b/k', bucket: 'b1b', key: 'k', origin: 'https://app.example', requestMethod: 'PUT', requestHeaders: ['content-type', 'x-amz-date'],
    });
    expect(parseS3Request(req('OPTIONS', 'http://site.s3.example.com/', { origin: 'o', 'access-control-request-method': 'GET' }), DOMAINS)).toMatchObject({ bucket: 'site', requestHeaders: [] });
    expect(parse('OPTIONS', '/', { origin: 'o', 'access-control-request-method': 'GET' })).toMatchObject({ kind: 'OptionsPreflight', resource: '/' });
    expect(codeOf(() => parse('OPTIONS', '/b1b/k', { 'access-control-request-method': 'GET' }))).toBe('InvalidRequest');
    expect(codeOf(() => parse('OPTIONS', '/b1b/k', { origin: 'o' }))).toBe('InvalidRequest');
  });
});

describe('POST Object', () => {
  it('takes a form POST to a bucket, path-style or virtual-hosted, and needs its boundary', () => {
    const op = as('PostObject', parse('POST', '/b1b', { 'content-type': 'multipart/form-data; boundary=xyz' }));
    expect(op).toMatchObject({ bucket: 'b1b', boundary: 'xyz', style: 'path' });
    expect(as('PostObject', parse('POST', 'http://b1b.s3.example.com/', { 'content-type': 'multipart/form-data; boundary="q r"' })).style).toBe('virtual-hosted');
    expect(codeOf(() => parse('POST', '/b1b', { 'content-type': 'multipart/form-data' }))).toBe('MalformedPOSTRequest');
  });

  it('reads the object from the form fields as PutObject reads its headers', async () => {
    const fields = new Map([
      ['key', 'up/${filename}'],
      ['acl', 'private'],
      ['cache-control', 'max-age=60'],
      ['x-amz-meta-note', 'hi'],
      ['x-amz-credential', 'not a header'],
      ['tagging', '<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>'],
      ['success_action_status', '201'],
      ...Object.entries(await sseHeaders()),
    ]);
    const p = parsePostObjectFields(fields, { filename: 'C:\\docs\\report.pdf', contentType: 'application/pdf' }, DOMAINS);
    expect(p.key).toBe('up/report.pdf');
    expect(p.status).toBe(201);
    expect(p.headers).toMatchObject({ acl: 'private', cacheControl: 'max-age=60', contentType: 'application/pdf', metadata: { note: 'hi' }, tagging: [['a', '1']] });
    expect(p.sseCustomer?.algorithm).toBe('AES256');
    // A Content-Type field wins over the file's; other statuses answer 204; a redirect must be a web URL.
    const typed = parsePostObjectFields(new Map([['key', 'k'], ['content-type', 'text/plain'], ['success_action_status', '302']]), { filename: 'f', contentType: 'image/png' }, DOMAINS);
    expect([typed.headers.contentType, typed.status]).toEqual(['text/plain', 204]);
    expect(parsePostObjectFields(new Map([['key', 'k'], ['success_action_redirect', 'https://app.example/done']]), { filename: 'f' }, DOMAINS).redirect).toBe('https://app.example/done');
    expect(codeOf(() => parsePostObjectFields(new Map([['key', 'k'], ['success_action_redirect', 'javascript:alert(1)']]), { filename: 'f' }, DOMAINS))).toBe('InvalidArgument');
    expect(codeOf(() => parsePostObjectFields(new Map([['acl', 'private']]), { filename: 'f' }, DOMAINS))).toBe('InvalidArgument');
    expect(codeOf(() => parsePostObjectFields(new Map([['key', 'k'], ['acl', 'no-such-acl']]), { filename: 'f' }, DOMAINS))).toBe('InvalidArgument');
    expect(codeOf(() => parsePostObjectFields(new Map([['key', 'k'.repeat(MAX_KEY_BYTES + 1)]]), { filename: 'f' }, DOMAINS))).toBe('KeyTooLongError');
  });
});
