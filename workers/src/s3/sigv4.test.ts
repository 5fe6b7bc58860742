import { AwsV4Signer } from 'aws4fetch';
import { describe, expect, it } from 'vitest';
import { S3Error } from './errors.ts';
import {
  canonicalHeaderValue, canonicalQueryString, canonicalRequest, canonicalUri, deriveSigningKey, EMPTY_SHA256,
  formatAmzDate, hmacHex, parseAmzDate, percentDecodeBytes, SigningKeyCache, stringToSign, uriEncode,
  verifyRequest, type AuthResult,
} from './sigv4.ts';

// The credentials of the S3 documentation examples ("Examples: Signature calculations", 2013-05-24).
const DOC_KEY = 'AKIAIOSFODNN7EXAMPLE';
const DOC_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const DOC_NOW = new Date('2013-05-24T00:00:00Z');
const docLookup = async (id: string) => (id === DOC_KEY ? DOC_SECRET : undefined);
const docAuth = (signedHeaders: string, signature: string) =>
  `AWS4-HMAC-SHA256 Credential=${DOC_KEY}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;

async function rejection(p: Promise<unknown>): Promise<S3Error> {
  try {
    await p;
  } catch (e) {
    if (e instanceof S3Error) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('AWS S3 documentation examples (header form)', () => {
  const getObject = (signature = 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41', extra: Record<string, string> = {}) =>
    new Request('https://examplebucket.s3.amazonaws.com/test.txt', {
      headers: {
        host: 'examplebucket.s3.amazonaws.com',
        range: 'bytes=0-9',
        'x-amz-content-sha256': EMPTY_SHA256,
        'x-amz-date': '20130524T000000Z',
        authorization: docAuth('host;range;x-amz-content-sha256;x-amz-date', signature),
        ...extra,
      },
    });

  it('GET Object with Range', async () => {
    const auth = await verifyRequest(getObject(), docLookup, { now: DOC_NOW, region: 'us-east-1' });
    expect(auth).toMatchObject({
      accessKeyId: DOC_KEY,
      region: 'us-east-1',
      method: 'header',
      signedHeaders: ['host', 'range', 'x-amz-content-sha256', 'x-amz-date'],
      payload: { mode: 'sha256', sha256: EMPTY_SHA256 },
    });
    expect(auth!.requestTime.toISOString()).toBe('2013-05-24T00:00:00.000Z');
  });

  it('PUT Object (key test$file.text, signed body hash, Date header signed)', async () => {
    const req = new Request('https://examplebucket.s3.amazonaws.com/test$file.text', {
      method: 'PUT',
      body: 'Welcome to Amazon S3.',
      headers: {
        host: 'examplebucket.s3.amazonaws.com',
        date: 'Fri, 24 May 2013 00:00:00 GMT',
        'x-amz-date': '20130524T000000Z',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
        authorization: docAuth('date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class', '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd'),
      },
    });
    const auth = await verifyRequest(req, docLookup, { now: DOC_NOW });
    expect(auth?.payload).toEqual({ mode: 'sha256', sha256: '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072' });
  });

  it('GET Bucket lifecycle and List Objects (query parameters, sorted)', async () => {
    for (const [path, signature] of [
      ['/?lifecycle', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'],
      ['/?max-keys=2&prefix=J', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'],
      ['/?prefix=J&max-keys=2', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'],
    ]) {
      const req = new Request(`https://examplebucket.s3.amazonaws.com${path}`, {
        headers: {
          'x-amz-content-sha256': EMPTY_SHA256,
          'x-amz-date': '20130524T000000Z',
          authorization: docAuth('host;x-amz-content-sha256;x-amz-date', signature),
        },
      });
      // No Host header: the URL's host is used, as a proxy-less request would carry it.
      expect((await verifyRequest(req, docLookup, { now: DOC_NOW }))?.accessKeyId, path).toBe(DOC_KEY);
    }
  });

  it('signed streaming upload: seed signature of the chunked example', async () => {
    const body = new Uint8Array(66824);
    const req = new Request('https://s3.amazonaws.com/examplebucket/chunkObject.txt', {
      method: 'PUT',
      body,
      headers: {
        host: 's3.amazonaws.com',
        'content-encoding': 'aws-chunked',
        'content-length': '66824',
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'x-amz-date': '20130524T000000Z',
        'x-amz-decoded-content-length': '66560',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        authorization: docAuth(
          'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class',
          '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
        ),
      },
    });
    const auth = await verifyRequest(req, docLookup, { now: DOC_NOW });
    expect(auth?.payload.mode).toBe('streaming-signed');
    if (auth?.payload.mode !== 'streaming-signed') return;
    expect(auth.payload.trailer).toBe(false);
    expect(auth.payload.seed.seedSignature).toBe('4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9');
    expect(auth.payload.seed.scope).toBe('20130524/us-east-1/s3/aws4_request');
    expect(auth.payload.seed.amzDate).toBe('20130524T000000Z');
  });

  it('signed streaming upload with trailer: seed signature of the trailer example', async () => {
    const req = new Request('https://s3.amazonaws.com/examplebucket/chunkObject.txt', {
      method: 'PUT',
      body: 'x',
      headers: {
        host: 's3.amazonaws.com',
        'content-encoding': 'aws-chunked',
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
        'x-amz-date': '20130524T000000Z',
        'x-amz-decoded-content-length': '66560',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        'x-amz-trailer': 'x-amz-checksum-crc32c',
        authorization: docAuth(
          'content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer',
          '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
        ),
      },
    });
    const auth = await verifyRequest(req, docLookup, { now: DOC_NOW });
    expect(auth?.payload).toMatchObject({ mode: 'streaming-signed', trailer: true });
  });

  it('rejects a wrong signature, secret or key, with the canonical request in the error', async () => {
    const bad = await rejection(verifyRequest(getObject('0'.repeat(64)), docLookup, { now: DOC_NOW }));
    expect(bad.code).toBe('SignatureDoesNotMatch');
    expect(bad.status).toBe(403);
    expect(bad.extra?.CanonicalRequest).toBe(
      'GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\nx-amz-content-sha256:' + EMPTY_SHA256 +
        '\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n' + EMPTY_SHA256,
    );
    expect(bad.extra?.StringToSign).toBe(
      'AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972',
    );
    expect((await rejection(verifyRequest(getObject(), async () => 'other-secret', { now: DOC_NOW }))).code).toBe('SignatureDoesNotMatch');
    const unknown = await rejection(verifyRequest(getObject(), async () => undefined, { now: DOC_NOW }));
    expect(unknown.code).toBe('InvalidAccessKeyId');
    expect(unknown.extra?.AWSAccessKeyId).toBe(DOC_KEY);
    // A changed signed header value breaks the signature.
    expect((await rejection(verifyRequest(getObject(undefined, { range: 'bytes=0-10' }), docLookup, { now: DOC_NOW }))).code).toBe('SignatureDoesNotMatch');
  });

  it('allows 15 minutes of clock skew either way, not more', async () => {
    for (const offset of [-15 * 60_000, 15 * 60_000]) {
      await expect(verifyRequest(getObject(), docLookup, { now: new Date(DOC_NOW.getTime() + offset) })).resolves.toBeDefined();
    }
    for (const offset of [-15 * 60_000 - 1000, 15 * 60_000 + 1000]) {
      const e = await rejection(verifyRequest(getObject(), docLookup, { now: new Date(DOC_NOW.getTime() + offset) }));
      expect(e.code).toBe('RequestTimeTooSkewed');
      expect(e.extra?.RequestTime).toBe('20130524T000000Z');
      expect(e.extra?.MaxAllowedSkewMilliseconds).toBe('900000');
    }
  });

  it('checks region and service of the credential scope', async () => {
    const e = await rejection(verifyRequest(getObject(), docLookup, { now: DOC_NOW, region: 'eu-central-1' }));
    expect(e.code).toBe('AuthorizationHeaderMalformed');
    expect(e.extra?.Region).toBe('eu-central-1');
    expect((await rejection(verifyRequest(getObject(), docLookup, { now: DOC_NOW, service: 'sqs' }))).code).toBe('AuthorizationHeaderMalformed');
  });
});

describe('AWS S3 documentation example (presigned URL)', () => {
  const url =
    'https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256' +
    '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
    '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
  const at = (seconds: number) => new Date(DOC_NOW.getTime() + seconds * 1000);

  it('is valid for exactly its lifetime', async () => {
    const auth = await verifyRequest(new Request(url), docLookup, { now: DOC_NOW });
    expect(auth).toMatchObject({ accessKeyId: DOC_KEY, method: 'presigned', payload: { mode: 'unsigned' } });
    expect(auth!.expiresAt!.toISOString()).toBe('2013-05-25T00:00:00.000Z');
    await expect(verifyRequest(new Request(url), docLookup, { now: at(86400) })).resolves.toBeDefined();
    const expired = await rejection(verifyRequest(new Request(url), docLookup, { now: at(86401) }));
    expect(expired.code).toBe('AccessDenied');
    expect(expired.message).toBe('Request has expired');
    expect(expired.extra).toMatchObject({ 'X-Amz-Expires': '86400', Expires: '2013-05-25T00:00:00.000Z' });
    const early = await rejection(verifyRequest(new Request(url), docLookup, { now: at(-16 * 60) }));
    expect(early.code).toBe('AccessDenied');
    expect(early.message).toBe('Request is not valid yet');
  });

  it('detects tampering with the path or the query', async () => {
    expect((await rejection(verifyRequest(new Request(url.replace('test.txt', 'test2.txt')), docLookup, { now: DOC_NOW }))).code).toBe('SignatureDoesNotMatch');
    expect((await rejection(verifyRequest(new Request(url + '&extra=1'), docLookup, { now: DOC_NOW }))).code).toBe('SignatureDoesNotMatch');
    expect((await rejection(verifyRequest(new Request(url, { method: 'PUT', body: 'x' }), docLookup, { now: DOC_NOW }))).code).toBe('SignatureDoesNotMatch');
  });

  it('enforces X-Amz-Expires between 1 and 604800 and the required parameters', async () => {
    for (const [expires, msg] of [
      ['0', /at least 1/],
      ['604801', /less than a week/],
      ['-5', /at least 1/],
      ['soon', /should be a number/],
    ] as const) {
      const e = await rejection(verifyRequest(new Request(url.replace('X-Amz-Expires=86400', `X-Amz-Expires=${expires}`)), docLookup, { now: DOC_NOW }));
      expect(e.code, expires).toBe('AuthorizationQueryParametersError');
      expect(e.message).toMatch(msg);
    }
    const missing = await rejection(verifyRequest(new Request(url.replace('&X-Amz-SignedHeaders=host', '')), docLookup, { now: DOC_NOW }));
    expect(missing.code).toBe('AuthorizationQueryParametersError');
    const badDate = await rejection(verifyRequest(new Request(url.replace('20130524T000000Z', '2013-05-24')), docLookup, { now: DOC_NOW }));
    expect(badDate.code).toBe('AuthorizationQueryParametersError');
    const badAlg = await rejection(verifyRequest(new Request(url.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512')), docLookup, { now: DOC_NOW }));
    expect(badAlg.code).toBe('AuthorizationQueryParametersError');
  });
});

// The aws-sig-v4-test-suite (awslabs/aws-c-auth tests/aws-signing-test-suite/v4): AKIDEXAMPLE, service "service",
// 2015-08-30T12:36:00Z. These services normalize differently from S3, so the vectors drive the canonicalization
// functions directly (for the cases where the rules coincide) rather than verifyRequest.
describe('aws-sig-v4-test-suite vectors', () => {
  const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
  const DATE = '20150830T123600Z';
  const SCOPE = '20150830/us-east-1/service/aws4_request';
  interface Vector {
    name: string;
    method: string;
    path: string;
    query: string;
    headers: [string, string][];
    payloadHash?: string;
    header: string;
    presigned: string;
    canonical?: string;
  }
  const host: [string, string] = ['Host', 'example.amazonaws.com'];
  const vectors: Vector[] = [
    {
      name: 'get-vanilla', method: 'GET', path: '/', query: '', headers: [host],
      header: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31', presigned: 'e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d',
      canonical: `GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n${EMPTY_SHA256}`,
    },
    {
      name: 'get-header-value-trim', method: 'GET', path: '/', query: '', headers: [host, ['My-Header1', ' value1'], ['My-Header2', ' "a   b   c"']],
      header: 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736', presigned: 'e7bb0fd515e125e1aec2ecc4c0c17484fb06f6846b927c35e46005dd3df3acd4',
      canonical: `GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:"a b c"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n${EMPTY_SHA256}`,
    },
    {
      name: 'get-header-key-duplicate', method: 'GET', path: '/', query: '', headers: [host, ['My-Header1', 'value2'], ['My-Header1', 'value2'], ['My-Header1', 'value1']],
      header: 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea', presigned: '3349ee0b81b4b589da0ff28a395c3591e04de515651dd74f298fa992d1507a97',
    },
    {
      name: 'get-vanilla-query-order-key-case', method: 'GET', path: '/', query: 'Param2=value2&Param1=value1', headers: [host],
      header: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500', presigned: '86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5',
    },
    {
      name: 'get-utf8', method: 'GET', path: '/\u1234', query: '', headers: [host],
      header: '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85', presigned: '10eae3f14a260bd3911cc6d008d3c576d143b05b62f09782a7a4b37f52178e44',
    },
    {
      name: 'get-unreserved', method: 'GET', path: '/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', query: '', headers: [host],
      header: '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f', presigned: '95968482db1b9e0fadef6efc1bd24689f77c77d9ef56919c96a28cc92e0d6005',
    },
    {
      name: 'get-vanilla-utf8-query', method: 'GET', path: '/', query: '\u1234=bar', headers: [host],
      header: '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04', presigned: '0bdd809b1519ac4f0c1dc3540e2cc46bd0c7f778eda408b2ebf3b913d21ff600',
    },
    {
      name: 'get-vanilla-query-unreserved', method: 'GET', path: '/',
      query: '-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', headers: [host],
      header: '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197', presigned: '8e76a88a7433637b12778d5592799b29ad21ecd6cf6325051c21d86f0acda2bf',
    },
    {
      name: 'get-vanilla-empty-query-key', method: 'GET', path: '/', query: 'Param1=value1', headers: [host],
      header: 'a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb', presigned: '49096700cbbaa5753443850f40df10f904fc2fdb544dc9512203cc77c471a9de',
    },
    {
      name: 'get-space-unnormalized', method: 'GET', path: '/example space/', query: '', headers: [host],
      header: '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741', presigned: '7a1f416954786484c9824d93c1f26ef64acb9b1b6c9154d08c9f07d0e394abf6',
    },
    {
      name: 'post-vanilla-empty-query-value', method: 'POST', path: '/', query: 'Param1=value1', headers: [host],
      header: '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11', presigned: 'a9ef26247f293bffe40eeff86a0480ba8c14d31503b2e0c3399e3a16bf1a3682',
    },
    {
      name: 'post-x-www-form-urlencoded', method: 'POST', path: '/', query: '',
      headers: [['Content-Type', 'application/x-www-form-urlencoded'], host, ['Content-Length', '13']],
      payloadHash: '9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e',
      header: 'd3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b', presigned: '89a40deed0f26f9461242825a082d2222717248abc7ab41f552ad84a94ad46e9',
    },
  ];

  const headerMap = (pairs: [string, string][]) => {
    const m = new Map<string, string[]>();
    for (const [k, v] of pairs) m.set(k.toLowerCase(), [...(m.get(k.toLowerCase()) ?? []), v]);
    return m;
  };

  for (const v of vectors) {
    it(`${v.name}: header and query signatures`, async () => {
      const key = await deriveSigningKey(SECRET, '20150830', 'us-east-1', 'service');
      const payloadHash = v.payloadHash ?? EMPTY_SHA256;
      // Header form: x-amz-date (and the body hash when the body is signed) join the signed headers.
      const hm = headerMap([...v.headers, ['X-Amz-Date', DATE], ...(v.payloadHash ? [['X-Amz-Content-Sha256', v.payloadHash] as [string, string]] : [])]);
      const signed = [...hm.keys()].sort();
      const canonical = canonicalRequest({ method: v.method, canonicalUri: canonicalUri(v.path), canonicalQuery: canonicalQueryString(v.query), headers: hm, signedHeaders: signed, payloadHash });
      if (v.canonical) expect(canonical).toBe(v.canonical);
      expect(await hmacHex(key, await stringToSign(DATE, SCOPE, canonical))).toBe(v.header);

      // Query (presigned) form.
      const qm = headerMap(v.headers);
      const qSigned = [...qm.keys()].sort();
      const auth = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(`AKIDEXAMPLE/${SCOPE}`)}&X-Amz-Date=${DATE}&X-Amz-SignedHeaders=${encodeURIComponent(qSigned.join(';'))}&X-Amz-Expires=3600&X-Amz-Signature=ignored`;
      const query = canonicalQueryString(v.query ? `${v.query}&${auth}` : auth, 'X-Amz-Signature');
      const qCanonical = canonicalRequest({ method: v.method, canonicalUri: canonicalUri(v.path), canonicalQuery: query, headers: qm, signedHeaders: qSigned, payloadHash });
      expect(await hmacHex(key, await stringToSign(DATE, SCOPE, qCanonical))).toBe(v.presigned);
    });
  }
});

describe('canonicalization rules for S3', () => {
  it('encodes the path once, keeping slashes and decoding what arrives encoded', () => {
    expect(canonicalUri('/test$file.text')).toBe('/test%24file.text');
    expect(canonicalUri('/b/a%20b/%C3%A9%2B')).toBe('/b/a%20b/%C3%A9%2B');
    expect(canonicalUri('/b/a b+c')).toBe('/b/a%20b%2Bc');
    expect(canonicalUri('/b//double/%2Fslash')).toBe('/b//double//slash');
    expect(canonicalUri('/b/100%')).toBe('/b/100%25');
    expect(canonicalUri('/b/%FF%FE')).toBe('/b/%FF%FE'); // not UTF-8, still byte-exact
    expect(canonicalUri('')).toBe('/');
    expect(uriEncode("!'()*~ ", false)).toBe('%21%27%28%29%2A~%20');
  });

  it('decodes the query (+ is a space), re-encodes and sorts by name then value', () => {
    expect(canonicalQueryString('?prefix=a+b&delimiter=%2F&acl')).toBe('acl=&delimiter=%2F&prefix=a%20b');
    expect(canonicalQueryString('b=2&a=2&a=1&A=0')).toBe('A=0&a=1&a=2&b=2');
    expect(canonicalQueryString('k=%zz&e=%C3%A9&s=a/b')).toBe('e=%C3%A9&k=%25zz&s=a%2Fb');
    expect(canonicalQueryString('X-Amz-Signature=abc&x=1', 'X-Amz-Signature')).toBe('x=1');
    expect(canonicalQueryString('')).toBe('');
  });

  it('trims header values and collapses whitespace runs', () => {
    expect(canonicalHeaderValue('  a \t b   c ')).toBe('a b c');
    expect(percentDecodeBytes('a%41+', true)).toEqual(new TextEncoder().encode('aA '));
  });

  it('parses and formats X-Amz-Date strictly', () => {
    expect(parseAmzDate('20130524T000000Z')?.toISOString()).toBe('2013-05-24T00:00:00.000Z');
    for (const bad of ['20130532T000000Z', '20130524T250000Z', '2013-05-24T00:00:00Z', '20130524T000000']) expect(parseAmzDate(bad), bad).toBeUndefined();
    expect(formatAmzDate(new Date('2024-02-29T13:14:15.678Z'))).toBe('20240229T131415Z');
  });
});

describe('round trips with aws4fetch', () => {
  const KEY = 'AKIDROUNDTRIP';
  const SECRET = 'round/trip+secret=';
  const lookup = async (id: string) => (id === KEY ? SECRET : undefined);
  const DATETIME = '20260102T030405Z';
  const NOW = new Date('2026-01-02T03:04:05Z');
  const oddKey = 'dir with space/odd &+-é"/ key~!*\'().txt';
  const encodedKey = oddKey.split('/').map(encodeURIComponent).join('/');

  async function sign(url: string, init: { method?: string; headers?: Record<string, string>; body?: string; signQuery?: boolean; secret?: string; sessionToken?: string } = {}) {
    const signer = new AwsV4Signer({
      url,
      method: init.method ?? 'GET',
      headers: init.headers,
      body: init.body,
      accessKeyId: KEY,
      secretAccessKey: init.secret ?? SECRET,
      sessionToken: init.sessionToken,
      service: 's3',
      region: 'us-east-1',
      datetime: DATETIME,
      signQuery: init.signQuery,
    });
    const signed = await signer.sign();
    return new Request(signed.url.toString(), { method: signed.method, headers: signed.headers, body: init.body });
  }

  it('accepts header-signed requests for odd keys and query values', async () => {
    const url = new URL(`http://127.0.0.1:8787/bucket/${encodedKey}`);
    const get = await verifyRequest(await sign(url.toString()), lookup, { now: NOW });
    expect(get).toMatchObject({ accessKeyId: KEY, method: 'header', payload: { mode: 'unsigned' } });

    const list = new URL('http://127.0.0.1:8787/bucket');
    list.searchParams.set('list-type', '2');
    list.searchParams.set('prefix', 'odd &+-é"/ x');
    list.searchParams.set('delimiter', '/');
    list.searchParams.set('start-after', "it's (weird)*");
    expect((await verifyRequest(await sign(list.toString()), lookup, { now: NOW }))?.accessKeyId).toBe(KEY);

    const body = 'payload with é';
    const bodyHash = [...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body)))].map((b) => b.toString(16).padStart(2, '0')).join('');
    const put = await sign(url.toString(), {
      method: 'PUT',
      body,
      headers: { 'x-amz-content-sha256': bodyHash, 'x-amz-meta-note': '  spaced   value ', 'content-type': 'text/plain' },
    });
    const auth = await verifyRequest(put, lookup, { now: NOW, region: 'us-east-1' });
    expect(auth?.payload).toEqual({ mode: 'sha256', sha256: bodyHash });
    expect(auth?.signedHeaders).toContain('x-amz-meta-note');
  });

  it('accepts presigned URLs for odd keys and refuses them after expiry', async () => {
    const url = new URL(`http://localhost:8787/bucket/${encodedKey}`);
    url.searchParams.set('X-Amz-Expires', '600');
    url.searchParams.set('response-content-disposition', 'attachment; filename="é x.txt"');
    const req = await sign(url.toString(), { signQuery: true });
    const auth = await verifyRequest(req, lookup, { now: NOW });
    expect(auth).toMatchObject({ method: 'presigned', payload: { mode: 'unsigned' } });
    expect(auth!.expiresAt!.getTime()).toBe(NOW.getTime() + 600_000);
    const late = await rejection(verifyRequest(req, lookup, { now: new Date(NOW.getTime() + 601_000) }));
    expect(late.message).toBe('Request has expired');
  });

  it('rejects tampering: path, query, headers and unsigned x-amz headers', async () => {
    const base = `http://127.0.0.1:8787/bucket/${encodedKey}`;
    const req = await sign(base, { headers: { 'x-amz-meta-a': '1' } });
    const moved = new Request(req.url.replace('/bucket/', '/bucket2/'), req);
    expect((await rejection(verifyRequest(moved, lookup, { now: NOW }))).code).toBe('SignatureDoesNotMatch');
    const queried = new Request(req.url + '?acl', req);
    expect((await rejection(verifyRequest(queried, lookup, { now: NOW }))).code).toBe('SignatureDoesNotMatch');
    const changed = new Request(req);
    changed.headers.set('x-amz-meta-a', '2');
    expect((await rejection(verifyRequest(changed, lookup, { now: NOW }))).code).toBe('SignatureDoesNotMatch');
    const added = new Request(req);
    added.headers.set('x-amz-meta-b', 'sneaky');
    const e = await rejection(verifyRequest(added, lookup, { now: NOW }));
    expect(e.code).toBe('AccessDenied');
    expect(e.extra?.HeadersNotSigned).toBe('x-amz-meta-b');
    expect((await rejection(verifyRequest(await sign(base, { secret: 'wrong' }), lookup, { now: NOW }))).code).toBe('SignatureDoesNotMatch');
  });

  it('checks a signed Accept-Encoding against the client value the runtime kept in request.cf', async () => {
    // rclone signs `Accept-Encoding: gzip`; Cloudflare and wrangler dev hand the worker "br, gzip" instead.
    const signed = await sign(`http://127.0.0.1:8787/bucket/${encodedKey}`, { headers: { 'accept-encoding': 'gzip' } });
    const headers = new Headers(signed.headers);
    headers.set('accept-encoding', 'br, gzip');
    const rewritten = (cf?: Record<string, unknown>) => new Request(signed.url, { headers, ...(cf ? { cf } : {}) });
    expect((await verifyRequest(rewritten({ clientAcceptEncoding: 'gzip' }), lookup, { now: NOW }))?.signedHeaders).toContain('accept-encoding');
    expect((await rejection(verifyRequest(rewritten(), lookup, { now: NOW }))).code).toBe('SignatureDoesNotMatch');
    expect((await rejection(verifyRequest(rewritten({ clientAcceptEncoding: 'deflate' }), lookup, { now: NOW }))).code).toBe('SignatureDoesNotMatch');
  });

  it('refuses session tokens (no STS here)', async () => {
    const req = await sign('http://127.0.0.1:8787/bucket/k', { sessionToken: 'tok' });
    expect((await rejection(verifyRequest(req, lookup, { now: NOW }))).code).toBe('InvalidToken');
  });
});

describe('request forms', () => {
  const lookup = async () => 'secret';
  const NOW = new Date('2026-01-02T03:04:05Z');
  const hdr = (authorization: string, extra: Record<string, string> = {}) =>
    new Request('http://h.test/b/k', { headers: { authorization, 'x-amz-date': '20260102T030405Z', 'x-amz-content-sha256': EMPTY_SHA256, ...extra } });
  const good = `AWS4-HMAC-SHA256 Credential=AK/20260102/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${'a'.repeat(64)}`;
  const code = async (req: Request) => (await rejection(verifyRequest(req, lookup, { now: NOW }))).code;

  it('returns undefined for anonymous requests', async () => {
    expect(await verifyRequest(new Request('http://h.test/b/k?list-type=2'), lookup)).toBeUndefined();
  });

  it('refuses SigV2, SigV4a, mixed and malformed authorization', async () => {
    expect(await code(hdr('AWS AK:c2lnbmF0dXJl'))).toBe('InvalidRequest');
    expect(await code(new Request('http://h.test/b/k?AWSAccessKeyId=AK&Signature=x&Expires=1'))).toBe('InvalidRequest');
    expect(await code(hdr('AWS4-ECDSA-P256-SHA256 Credential=AK/20260102/s3/aws4_request'))).toBe('NotImplemented');
    expect(await code(hdr('Bearer x'))).toBe('InvalidArgument');
    expect(await code(new Request('http://h.test/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256', { headers: { authorization: good } }))).toBe('InvalidArgument');
    expect(await code(hdr(good.replace('Credential=AK/20260102/us-east-1/s3/aws4_request', 'Credential=AK/20260102/us-east-1/s3')))).toBe('AuthorizationHeaderMalformed');
    expect(await code(hdr(good.replace(/, Signature=.*/, '')))).toBe('AuthorizationHeaderMalformed');
    expect(await code(hdr(good.replace('a'.repeat(64), 'xyz')))).toBe('AuthorizationHeaderMalformed');
    expect(await code(hdr(good.replace('SignedHeaders=host;', 'SignedHeaders=')))).toBe('AuthorizationHeaderMalformed');
    expect(await code(hdr(good.replace('20260102/', '20260101/')))).toBe('AuthorizationHeaderMalformed');
    expect(await code(hdr(' '))).toBe('AuthorizationHeaderMalformed');
  });

  it('needs a date and x-amz-content-sha256 of a known form', async () => {
    expect(await code(new Request('http://h.test/b/k', { headers: { authorization: good, 'x-amz-content-sha256': EMPTY_SHA256 } }))).toBe('AccessDenied');
    expect(await code(new Request('http://h.test/b/k', { headers: { authorization: good, 'x-amz-date': '20260102T030405Z' } }))).toBe('InvalidRequest');
    expect(await code(hdr(good, { 'x-amz-content-sha256': 'whatever' }))).toBe('InvalidArgument');
    expect(await code(hdr(good, { 'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD' }))).toBe('NotImplemented');
    // A well-formed request with a wrong signature gets as far as the signature check.
    expect(await code(hdr(good))).toBe('SignatureDoesNotMatch');
  });
});

describe('SigningKeyCache', () => {
  it('derives once per secret/day/region/service and evicts the least recently used', async () => {
    const cache = new SigningKeyCache(2);
    const a = await cache.get('s', '20260101', 'us-east-1', 's3');
    expect(await cache.get('s', '20260101', 'us-east-1', 's3')).toBe(a);
    const b = await cache.get('s', '20260102', 'us-east-1', 's3');
    expect(b).not.toBe(a);
    await cache.get('s', '20260101', 'us-east-1', 's3'); // touch a
    await cache.get('t', '20260101', 'us-east-1', 's3'); // evicts b
    expect(cache.size).toBe(2);
    expect(await cache.get('s', '20260101', 'us-east-1', 's3')).toBe(a);
    expect(await cache.get('s', '20260102', 'us-east-1', 's3')).not.toBe(b);
  });

  it('a verified request reuses the cached key', async () => {
    const cache = new SigningKeyCache();
    const signer = new AwsV4Signer({ url: 'http://h.test/b/k', accessKeyId: 'AK', secretAccessKey: 'sk', service: 's3', region: 'auto', datetime: '20260102T030405Z' });
    const s = await signer.sign();
    const req = new Request(s.url.toString(), { headers: s.headers });
    const opts = { now: new Date('2026-01-02T03:04:05Z'), keyCache: cache };
    const first = (await verifyRequest(req, async () => 'sk', opts)) as AuthResult;
    expect(first.region).toBe('auto');
    await verifyRequest(req, async () => 'sk', opts);
    expect(cache.size).toBe(1);
  });
});
