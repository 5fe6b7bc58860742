import { describe, expect, it } from 'vitest';
import { errorResponse, isS3ErrorCode, S3_ERRORS, S3Error, s3Error, toS3Error } from './errors.ts';
import { parseXml } from './xml.ts';

const ctx = { requestId: 'req-123', resource: '/bucket/key', method: 'GET' };

describe('S3 error table', () => {
  it('gives the AWS status for the codes clients branch on', () => {
    const expected: Record<string, number> = {
      AccessDenied: 403, SignatureDoesNotMatch: 403, InvalidAccessKeyId: 403, RequestTimeTooSkewed: 403,
      AuthorizationHeaderMalformed: 400, AuthorizationQueryParametersError: 400, MissingContentLength: 411,
      InvalidDigest: 400, BadDigest: 400, XAmzContentSHA256Mismatch: 400, InvalidChunkSizeError: 403,
      IncompleteBody: 400, EntityTooLarge: 400, EntityTooSmall: 400, InvalidArgument: 400, InvalidRequest: 400,
      InvalidRange: 416, InvalidBucketName: 400, BucketAlreadyExists: 409, BucketAlreadyOwnedByYou: 409,
      BucketNotEmpty: 409, NoSuchBucket: 404, NoSuchKey: 404, NoSuchUpload: 404, InvalidPart: 400,
      InvalidPartOrder: 400, NoSuchCORSConfiguration: 404, NoSuchWebsiteConfiguration: 404, MalformedXML: 400,
      MethodNotAllowed: 405, NotImplemented: 501, PreconditionFailed: 412, InternalError: 500,
      ServiceUnavailable: 503, SlowDown: 503, KeyTooLongError: 400, MetadataTooLarge: 400, InvalidObjectState: 403,
      ExpiredToken: 400, NotModified: 304, MalformedTrailerError: 400,
    };
    for (const [code, status] of Object.entries(expected)) {
      expect(isS3ErrorCode(code), code).toBe(true);
      expect(S3_ERRORS[code as keyof typeof S3_ERRORS].status, code).toBe(status);
    }
    for (const [code, spec] of Object.entries(S3_ERRORS)) {
      expect(spec.message.length, code).toBeGreaterThan(0);
      expect(spec.status >= 300 && spec.status < 600, code).toBe(true);
    }
    expect(isS3ErrorCode('NoSuchThing')).toBe(false);
    expect(isS3ErrorCode('toString')).toBe(false);
  });

  it('S3Error carries code, status, message and extra', () => {
    const e = s3Error('NoSuchKey', undefined, { Key: 'a/b.txt' });
    expect(e).toBeInstanceOf(S3Error);
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('NoSuchKey');
    expect(e.status).toBe(404);
    expect(e.message).toBe(S3_ERRORS.NoSuchKey.message);
    expect(e.extra).toEqual({ Key: 'a/b.txt' });
    expect(new S3Error('InvalidArgument', 'custom').message).toBe('custom');
  });

  it('maps unknown errors to InternalError and aborts to RequestTimeout', () => {
    const internal = toS3Error(new TypeError('secret detail'));
    expect(internal.code).toBe('InternalError');
    expect(internal.message).not.toContain('secret');
    expect(internal.cause).toBeInstanceOf(TypeError);
    expect(toS3Error('a string').code).toBe('InternalError');
    expect(toS3Error(new DOMException('gone', 'AbortError')).code).toBe('RequestTimeout');
    const same = s3Error('SlowDown');
    expect(toS3Error(same)).toBe(same);
  });
});

describe('errorResponse', () => {
  it('writes the XML error body with status, request id and extras', async () => {
    const res = errorResponse(s3Error('NoSuchKey', undefined, { Key: 'a<&>b' }), ctx);
    expect(res.status).toBe(404);
    expect(res.headers.get('x-amz-request-id')).toBe('req-123');
    expect(res.headers.get('content-type')).toBe('application/xml');
    const text = await res.text();
    expect(text.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    const doc = parseXml(text);
    expect(doc.name).toBe('Error');
    expect(doc.children.map((c) => c.name)).toEqual(['Code', 'Message', 'Key', 'Resource', 'RequestId']);
    const get = (n: string) => doc.children.find((c) => c.name === n)?.text;
    expect(get('Code')).toBe('NoSuchKey');
    expect(get('Message')).toBe(S3_ERRORS.NoSuchKey.message);
    expect(get('Key')).toBe('a<&>b');
    expect(get('Resource')).toBe('/bucket/key');
    expect(get('RequestId')).toBe('req-123');
  });

  it('maps non-S3 errors to a 500 InternalError body', async () => {
    const res = errorResponse(new Error('db exploded'), { ...ctx, hostId: 'colo-AMS' });
    expect(res.status).toBe(500);
    expect(res.headers.get('x-amz-id-2')).toBe('colo-AMS');
    const text = await res.text();
    expect(text).toContain('<Code>InternalError</Code>');
    expect(text).toContain('<HostId>colo-AMS</HostId>');
    expect(text).not.toContain('exploded');
  });

  it('sends no body for HEAD and for 304', async () => {
    const head = errorResponse(s3Error('NoSuchKey'), { ...ctx, method: 'HEAD' });
    expect(head.status).toBe(404);
    expect(head.body).toBeNull();
    expect(head.headers.get('x-amz-request-id')).toBe('req-123');
    const nm = errorResponse(s3Error('NotModified'), ctx);
    expect(nm.status).toBe(304);
    expect(nm.body).toBeNull();
  });

  it('asks clients to back off on SlowDown and drops extra names that are not XML names', async () => {
    const res = errorResponse(s3Error('SlowDown', undefined, { 'bad name': 'x', Good: 'y' }), ctx);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    const text = await res.text();
    expect(text).toContain('<Good>y</Good>');
    expect(text).not.toContain('bad name');
  });
});
