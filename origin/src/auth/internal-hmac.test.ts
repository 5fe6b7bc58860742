import { describe, expect, it } from 'vitest';
import { InternalAuthError, signInternal, verifyInternal } from './internal-hmac.ts';

const SECRET = 'edge-origin-shared-secret';
const NOW = 1_764_072_000_000;

function check(headers: Record<string, string>, method = 'PUT', path = '/internal/object', opts: Partial<Parameters<typeof verifyInternal>[3]> = {}) {
  try {
    return verifyInternal(method, path, (n) => headers[n], { secret: SECRET, now: NOW, ...opts });
  } catch (err) {
    expect(err).toBeInstanceOf(InternalAuthError);
    return `refused:${(err as InternalAuthError).reason}`;
  }
}

describe('internal HMAC', () => {
  it('accepts a correctly signed request and returns the promised content hash', () => {
    const h = signInternal(SECRET, 'PUT', '/internal/object', 'ab'.repeat(32), NOW);
    expect(check(h)).toBe('ab'.repeat(32));
  });

  it('refuses unsigned, tampered, stale, wrong-secret and replayed requests', () => {
    const h = signInternal(SECRET, 'PUT', '/internal/object', undefined, NOW);
    expect(check({})).toBe('refused:missing');
    expect(check(h, 'GET')).toBe('refused:signature');
    expect(check(h, 'PUT', '/internal/object?x=1')).toBe('refused:signature');
    expect(check({ ...h, 'X-Deoss-Content-SHA256': 'cd'.repeat(32) })).toBe('refused:signature');
    expect(check(signInternal('other', 'PUT', '/internal/object', undefined, NOW))).toBe('refused:signature');
    expect(check(signInternal(SECRET, 'PUT', '/internal/object', undefined, NOW - 301_000))).toBe('refused:skew');
    const seen = new Map<string, number>();
    expect(check(h, 'PUT', '/internal/object', { seen })).toBe('UNSIGNED-PAYLOAD');
    expect(check(h, 'PUT', '/internal/object', { seen })).toBe('refused:replayed');
    expect(check({ ...h, 'X-Deoss-Nonce': 'ab'.repeat(16) }, 'PUT', '/internal/object', { seen })).toBe('refused:signature');
    const { 'X-Deoss-Nonce': _, ...noNonce } = h;
    expect(check(noNonce)).toBe('refused:missing');
  });

  it('accepts twin requests signed in the same millisecond (same path and body hash), each once', () => {
    // Two reads of one FID or two uploads of the same bytes: the Workers clock does not move between them.
    const seen = new Map<string, number>();
    const a = signInternal(SECRET, 'GET', '/internal/object/' + 'f'.repeat(64), undefined, NOW);
    const b = signInternal(SECRET, 'GET', '/internal/object/' + 'f'.repeat(64), undefined, NOW);
    expect(a['X-Deoss-Signature']).not.toBe(b['X-Deoss-Signature']);
    expect(check(a, 'GET', '/internal/object/' + 'f'.repeat(64), { seen })).toBe('UNSIGNED-PAYLOAD');
    expect(check(b, 'GET', '/internal/object/' + 'f'.repeat(64), { seen })).toBe('UNSIGNED-PAYLOAD');
    expect(check(b, 'GET', '/internal/object/' + 'f'.repeat(64), { seen })).toBe('refused:replayed');
  });
});
