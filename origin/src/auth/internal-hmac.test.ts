import { describe, expect, it } from 'vitest';
import { InternalAuthError, signInternal, verifyInternal } from './internal-hmac.ts';

const SECRET = 'edge-origin-shared-secret';
const NOW = 1_764_072_000_000;

function check(headers: Record<string, string>, method = 'PUT', path = '/internal/object', opts: Partial<Parameters<typeof verifyInternal>[3]> = {}) {
  try {
    return verifyInternal(method, path, new Headers(headers), { secret: SECRET, now: NOW, ...opts });
  } catch (err) {
    expect(err).toBeInstanceOf(InternalAuthError);
    return `refused:${(err as InternalAuthError).reason}`;
  }
}

describe('internal HMAC', () => {
  it('accepts a correctly signed request and returns the promised content hash', () => {
    const h = signInternal(SECRET, 'PUT', '/internal/object', { contentSha256: 'ab'.repeat(32), now: NOW });
    expect(check(h)).toBe('ab'.repeat(32));
  });

  it('refuses unsigned, tampered, stale, wrong-secret and replayed requests', () => {
    const h = signInternal(SECRET, 'PUT', '/internal/object', { now: NOW });
    expect(check({})).toBe('refused:missing');
    expect(check(h, 'GET')).toBe('refused:signature');
    expect(check(h, 'PUT', '/internal/object?x=1')).toBe('refused:signature');
    expect(check({ ...h, 'X-Deoss-Content-SHA256': 'cd'.repeat(32) })).toBe('refused:signature');
    expect(check(signInternal('other', 'PUT', '/internal/object', { now: NOW }))).toBe('refused:signature');
    expect(check(signInternal(SECRET, 'PUT', '/internal/object', { now: NOW - 301_000 }))).toBe('refused:skew');
    const seen = new Map<string, number>();
    expect(check(h, 'PUT', '/internal/object', { seen })).toBe('UNSIGNED-PAYLOAD');
    expect(check(h, 'PUT', '/internal/object', { seen })).toBe('refused:replayed');
    expect(check({ ...h, 'X-Deoss-Nonce': 'ab'.repeat(16) }, 'PUT', '/internal/object', { seen })).toBe('refused:signature');
    const { 'X-Deoss-Nonce': _, ...noNonce } = h;
    expect(check(noNonce)).toBe('refused:missing');
  });

  it('covers every X-Deoss-* header and Range: none can be added, dropped or changed', () => {
    const headers = { 'X-Deoss-Owner': 'cXalice', 'X-Deoss-Territory': 'home', 'X-Deoss-Sse-Key': 'a2V5', Range: 'bytes=0-9' };
    const h = signInternal(SECRET, 'GET', '/internal/object/f', { now: NOW, headers });
    expect(check(h, 'GET', '/internal/object/f')).toBe('UNSIGNED-PAYLOAD');
    // Names are case-insensitive and the order of fields is free, as for any HTTP header.
    const reordered = Object.fromEntries(Object.entries(h).reverse().map(([k, v]) => [k.toLowerCase(), v]));
    expect(check(reordered, 'GET', '/internal/object/f')).toBe('UNSIGNED-PAYLOAD');
    expect(check({ ...h, 'X-Deoss-Owner': 'cXmallory' }, 'GET', '/internal/object/f')).toBe('refused:signature');
    expect(check({ ...h, Range: 'bytes=0-99' }, 'GET', '/internal/object/f')).toBe('refused:signature');
    expect(check({ ...h, 'X-Deoss-Ack': 'stored' }, 'GET', '/internal/object/f')).toBe('refused:signature');
    const { 'X-Deoss-Sse-Key': _, ...withoutKey } = h;
    expect(check(withoutKey, 'GET', '/internal/object/f')).toBe('refused:signature');
    // Headers the origin does not act on may change on the way (a proxy's, the transport's).
    expect(check({ ...h, 'User-Agent': 'proxy', Via: '1.1 lb' }, 'GET', '/internal/object/f')).toBe('UNSIGNED-PAYLOAD');
  });

  it('accepts twin requests signed in the same millisecond (same path and body hash), each once', () => {
    // Two reads of one FID or two uploads of the same bytes: the Workers clock does not move between them.
    const seen = new Map<string, number>();
    const a = signInternal(SECRET, 'GET', '/internal/object/' + 'f'.repeat(64), { now: NOW });
    const b = signInternal(SECRET, 'GET', '/internal/object/' + 'f'.repeat(64), { now: NOW });
    expect(a['X-Deoss-Signature']).not.toBe(b['X-Deoss-Signature']);
    expect(check(a, 'GET', '/internal/object/' + 'f'.repeat(64), { seen })).toBe('UNSIGNED-PAYLOAD');
    expect(check(b, 'GET', '/internal/object/' + 'f'.repeat(64), { seen })).toBe('UNSIGNED-PAYLOAD');
    expect(check(b, 'GET', '/internal/object/' + 'f'.repeat(64), { seen })).toBe('refused:replayed');
  });
});
