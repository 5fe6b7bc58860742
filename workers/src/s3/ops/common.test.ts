import { describe, expect, it } from 'vitest';
import { OriginError } from '../../upstream/origin-client.ts';
import { namespaceError } from '../../namespace/errors.ts';
import { S3_ERRORS } from '../errors.ts';
import { encodeAddress } from '../../keys/ss58.ts';
import { checkExpectedOwner, checkObjectAcl, ns, originToS3 } from './common.ts';

const codeFor = (status: number, message: string) => {
  try {
    originToS3(new OriginError(status, message, 'http://origin'));
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe('originToS3', () => {
  it('turns origin refusals into the S3 errors clients handle', () => {
    expect(codeFor(413, 'object larger than the limit')).toBe('EntityTooLarge');
    expect(codeFor(404, 'not found')).toBe('NoSuchKey');
    expect(codeFor(400, 'body does not match X-Deoss-Content-SHA256')).toBe('XAmzContentSHA256Mismatch');
    expect(codeFor(400, 'insufficient territory space')).toBe('AccessDenied');
    // A full write-behind backlog asks clients to slow down (SDKs back off on SlowDown); anything else is unavailable.
    expect(codeFor(503, 'the origin is still storing earlier uploads (write-behind backlog at its limit): retry shortly')).toBe('SlowDown');
    expect(codeFor(503, 'origin http://o unreachable: refused')).toBe('ServiceUnavailable');
    expect(() => originToS3(new TypeError('not an origin error'))).toThrow(TypeError);
  });
});

describe('ns', () => {
  it('answers a namespace refusal with its S3 error: a concurrent completion is 409 OperationAborted, not a 500', async () => {
    const err = await ns(Promise.reject(namespaceError('OperationAborted', 'Another CompleteMultipartUpload for this upload is in progress'))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'OperationAborted' });
    expect(S3_ERRORS.OperationAborted.status).toBe(409);
  });
});

describe('checkObjectAcl', () => {
  const code = (bucketAcl: 'private' | 'public-read', acl?: Parameters<typeof checkObjectAcl>[1]) => {
    try {
      checkObjectAcl({ acl: bucketAcl }, acl);
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code;
    }
  };
  it('accepts what grants nothing beyond the bucket, refuses what would', () => {
    for (const acl of [undefined, 'private', 'bucket-owner-full-control', 'bucket-owner-read'] as const) {
      expect(code('private', acl), acl).toBe('ok');
      expect(code('public-read', acl), acl).toBe('ok');
    }
    expect(code('public-read', 'public-read')).toBe('ok');
    for (const acl of ['public-read', 'public-read-write', 'authenticated-read'] as const) expect(code('private', acl), acl).toBe('AccessControlListNotSupported');
    expect(code('public-read', 'public-read-write')).toBe('AccessControlListNotSupported');
  });
});

describe('checkExpectedOwner', () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const owner = encodeAddress(key); // CESS prefix, as bucket records keep it
  const codeOf = (headers: Record<string, string>, role: 'target' | 'source' = 'target') => {
    try {
      checkExpectedOwner({ req: new Request('http://s3/b', { headers }) }, { owner }, role);
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code;
    }
  };

  it('passes without the header or with the owner in any SS58 form, and denies any other account', () => {
    expect(codeOf({})).toBe('ok');
    expect(codeOf({ 'x-amz-expected-bucket-owner': owner })).toBe('ok');
    expect(codeOf({ 'x-amz-expected-bucket-owner': encodeAddress(key, 42) })).toBe('ok'); // the generic prefix
    expect(codeOf({ 'x-amz-expected-bucket-owner': encodeAddress(key.map((b) => b ^ 1)) })).toBe('AccessDenied');
    expect(codeOf({ 'x-amz-expected-bucket-owner': '111122223333' })).toBe('AccessDenied'); // an AWS account number
  });

  it("checks a copy's source bucket against its own header only", () => {
    const other = encodeAddress(key.map((b) => b ^ 1));
    expect(codeOf({ 'x-amz-source-expected-bucket-owner': other }, 'source')).toBe('AccessDenied');
    expect(codeOf({ 'x-amz-source-expected-bucket-owner': other }, 'target')).toBe('ok');
    expect(codeOf({ 'x-amz-expected-bucket-owner': other }, 'source')).toBe('ok');
  });
});
