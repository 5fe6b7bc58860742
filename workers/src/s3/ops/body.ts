import { ChecksumAccumulator, checksumSpecFromHeaders, validateStream, verifyDigests, type ChecksumSpec, type Digests } from '../checksums.ts';
import { s3Error } from '../errors.ts';
import type { PayloadMode } from '../sigv4.ts';
import { awsChunkedOptionsFor, decodeAwsChunked } from '../aws-chunked.ts';
import { MAX_XML_BODY_BYTES, readBodyBytes } from '../xml.ts';

/** A request body ready to stream to the origin, and what to check once it has passed. */
export interface Intake {
  stream: ReadableStream<Uint8Array>;
  /** Decoded length when known (Content-Length or x-amz-decoded-content-length). */
  length?: number;
  /** When the length is not known: the most it can be. */
  lengthAtMost?: number;
  /** Hex SHA-256 the origin must verify (a signed literal payload hash), else undefined. */
  contentSha256?: string;
  spec: ChecksumSpec;
  /** Resolves when the whole body passed every edge-side check (checksums, chunk signatures); undefined if none. */
  verified?: () => Promise<Digests | undefined>;
}

/**
 * Prepares a PutObject/UploadPart body. The fast path hands `request.body` to the origin untouched (the origin
 * checks a signed SHA-256 itself and returns the MD5). Edge-side work happens only when the request needs it:
 * aws-chunked framing (decoded, chunk signatures verified) and `x-amz-checksum-*` values (computed in one pass);
 * a Content-MD5 is compared with the MD5 the origin computes.
 */
export function intake(req: Request, payload: PayloadMode | undefined, maxBytes: number): Intake | 'empty' {
  const spec = checksumSpecFromHeaders(req.headers);
  const declared = req.headers.get('content-length');
  const decoded = req.headers.get('x-amz-decoded-content-length');
  const chunked = payload?.mode === 'streaming-signed' || payload?.mode === 'streaming-unsigned-trailer';
  const lengthText = chunked ? decoded : declared;
  if (chunked && decoded === null) throw s3Error('MissingContentLength', 'x-amz-decoded-content-length is required with aws-chunked bodies.');
  if (lengthText === null && !req.body) throw s3Error('MissingContentLength');
  const length = lengthText === null ? undefined : Number(lengthText);
  if (length !== undefined && !(Number.isSafeInteger(length) && length >= 0)) throw s3Error('InvalidArgument', 'Invalid content length.');
  if (length !== undefined && length > maxBytes) throw s3Error('EntityTooLarge', undefined, { ProposedSize: String(length), MaxSizeAllowed: String(maxBytes) });
  if (length === 0 || !req.body) return 'empty';
  const contentSha256 = payload?.mode === 'sha256' ? payload.sha256 : undefined;
  if (chunked) {
    // The decoder verifies chunk signatures, the decoded length, and the declared or trailing checksum.
    const d = decodeAwsChunked(req.body, {
      signing: payload.mode === 'streaming-signed' ? payload.seed : undefined,
      trailer: payload.mode === 'streaming-unsigned-trailer' || (payload.mode === 'streaming-signed' && payload.trailer),
      decodedLength: length,
      spec: { ...spec, contentMd5: undefined },
    });
    return { stream: fixed(d.stream, length), length, spec, verified: async () => (await d.done).digests };
  }
  if (spec.algorithm === undefined) return { stream: req.body, length, spec, contentSha256 };
  const v = validateStream(req.body, { spec: { ...spec, contentMd5: undefined }, expectedLength: length, maxLength: maxBytes });
  return { stream: fixed(v.stream, length), length, spec, contentSha256, verified: () => v.verify() };
}

/**
 * Reads a small request body whole (an XML document: DeleteObjects, CompleteMultipartUpload, a bucket's settings, a
 * tag set), at most MAX_XML_BODY_BYTES, and checks it as uploads are checked: the signed SHA-256
 * (x-amz-content-sha256), Content-MD5, an `x-amz-checksum-*` value, and aws-chunked framing with its chunk
 * signatures and trailer. Without these checks a signature would cover the headers and not the body.
 *
 * `checksumHeaders: false` where `x-amz-checksum-*` headers describe something else (CompleteMultipartUpload: the
 * object's checksum). In an aws-chunked body they always describe the body.
 */
export async function readSmallBody(req: Request, payload: PayloadMode | undefined, opts: { checksumHeaders?: boolean; maxBytes?: number } = {}): Promise<Uint8Array> {
  const maxBytes = opts.maxBytes ?? MAX_XML_BODY_BYTES;
  const declared = Number(req.headers.get('content-length') ?? 0);
  if (declared > maxBytes) throw s3Error('MaxMessageLengthExceeded');
  const chunked = awsChunkedOptionsFor(req.headers, payload);
  if (chunked) {
    if ((chunked.decodedLength ?? 0) > maxBytes) throw s3Error('MaxMessageLengthExceeded');
    if (!req.body) throw s3Error('IncompleteBody', 'The aws-chunked body is missing.');
    const d = decodeAwsChunked(req.body, chunked);
    const [bytes] = await Promise.all([readBodyBytes(d.stream, { maxBytes, signal: req.signal }), d.done]);
    return bytes;
  }
  const headers = checksumSpecFromHeaders(req.headers);
  const spec: ChecksumSpec = opts.checksumHeaders === false ? { trailer: false, contentMd5: headers.contentMd5 } : headers;
  const bytes = await readBodyBytes(req.body, { maxBytes, signal: req.signal });
  const signedSha256 = payload?.mode === 'sha256' ? payload.sha256 : undefined;
  const acc = new ChecksumAccumulator({ algorithms: spec.algorithm ? [spec.algorithm] : [], md5: spec.contentMd5 !== undefined, sha256: signedSha256 !== undefined });
  if (acc.idle) return bytes;
  await acc.update(bytes);
  verifyDigests(await acc.finish(), spec, { expectedSha256Hex: signedSha256 });
  return bytes;
}

/** Keeps Content-Length on a JS stream going to the origin (without it the body would go chunked). */
function fixed(stream: ReadableStream<Uint8Array>, length: number | undefined): ReadableStream<Uint8Array> {
  if (length === undefined) return stream;
  const f = new FixedLengthStream(length);
  stream.pipeTo(f.writable).catch(() => {});
  return f.readable;
}

/** Compares a Content-MD5 with the MD5 the origin computed (hex). */
export function checkContentMd5(spec: ChecksumSpec, md5Hex: string): void {
  if (spec.contentMd5 === undefined) return;
  const got = btoa(String.fromCharCode(...(md5Hex.match(/../g) ?? []).map((h) => parseInt(h, 16))));
  if (got !== spec.contentMd5) throw s3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', { ExpectedDigest: spec.contentMd5, CalculatedDigest: got });
}

export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
