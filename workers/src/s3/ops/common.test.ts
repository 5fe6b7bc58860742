import { describe, expect, it } from 'vitest';
import { OriginError } from '../../upstream/origin-client.ts';
import { originToS3 } from './common.ts';

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
