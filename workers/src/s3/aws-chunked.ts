/**
 * Streaming decoder for `aws-chunked` request bodies (SigV4 streaming uploads):
 *
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]   `<hex-size>;chunk-signature=<sig>\r\n<data>\r\n` … `0;chunk-signature=<sig>\r\n`
 *   STREAMING-UNSIGNED-PAYLOAD-TRAILER             `<hex-size>\r\n<data>\r\n` … `0\r\n`
 *
 * followed by trailing headers (`x-amz-checksum-<alg>:<b64>\r\n`, plus `x-amz-trailer-signature:<sig>\r\n` when
 * signed) and a final `\r\n`. Chunk signatures are verified in order (each chains from the previous one, the first
 * from the request's seed signature), the declared checksum is computed over the decoded bytes, and the decoded
 * length must equal `x-amz-decoded-content-length`.
 *
 * The source is read in ~1 MiB pieces (BYOB); chunk framing is removed in place, so each piece becomes one output
 * chunk without copying. The output stream closes only after every check held, so a consumer that commits on a
 * clean end never commits a forged or corrupted upload; bytes of a chunk may reach the consumer before that
 * chunk's own signature has been checked, but the stream then errors instead of closing.
 *
 * @example
 *   const opts = awsChunkedOptionsFor(req.headers, auth.payload);
 *   if (opts) {
 *     const { stream, done } = decodeAwsChunked(req.body!, { ...opts, computeMd5: true });
 *     await fetch(origin, { method: 'PUT', body: stream, duplex: 'half' });
 *     const { digests, trailers } = await done;
 *   }
 */
import { ByteSource, checkedStream, type ByteSourceOptions } from './byte-source.ts';
import { ChecksumAccumulator, checksumAlgorithmOf, checksumSpecFromHeaders, toHex, verifyDigests, type ChecksumSpec, type Digests } from './checksums.ts';
import { S3Error } from './errors.ts';
import { EMPTY_SHA256, hmacHex, sha256Hex, type ChunkSigningContext, type PayloadMode } from './sigv4.ts';

/** S3's rule for signed streaming uploads: every chunk but the last carries at least 8 KiB. */
export const MIN_SIGNED_CHUNK_BYTES = 8192;
/** Longest chunk header line accepted (`<hex>;chunk-signature=<64 hex>` is about 90 bytes). */
export const MAX_CHUNK_HEADER_BYTES = 4096;
/** Largest trailer section accepted. */
export const MAX_TRAILER_BYTES = 16 * 1024;

export interface AwsChunkedOptions extends ByteSourceOptions {
  /** Chunk signing context from `verifyRequest` (payload mode streaming-signed); absent for unsigned chunks. */
  signing?: ChunkSigningContext;
  /** True when trailing headers follow the final chunk (`…-TRAILER` modes). */
  trailer: boolean;
  /** `x-amz-decoded-content-length`: the decoded body must have exactly this many bytes. */
  decodedLength?: number;
  /** Checksums declared by the request (`checksumSpecFromHeaders`); a trailer checksum is verified against it. */
  spec?: ChecksumSpec;
  /** Also compute the MD5 of the decoded bytes (ETag). */
  computeMd5?: boolean;
  /** Smallest size of a chunk that is not the last. @default MIN_SIGNED_CHUNK_BYTES when signed, 1 otherwise */
  minChunkBytes?: number;
  /** @default MAX_CHUNK_HEADER_BYTES */
  maxChunkHeaderBytes?: number;
  /** @default MAX_TRAILER_BYTES */
  maxTrailerBytes?: number;
  signal?: AbortSignal;
}

export interface AwsChunkedResult {
  /** Decoded bytes delivered. */
  decodedLength: number;
  /** Trailing headers by lowercase name (without x-amz-trailer-signature). */
  trailers: Record<string, string>;
  /** Digests of the decoded bytes (the declared checksum algorithm, MD5 when asked). */
  digests: Digests;
}

export interface DecodedAwsChunked {
  /** The decoded bytes; errors instead of closing when any check fails. */
  stream: ReadableStream<Uint8Array>;
  /** Resolves once the whole body is decoded and verified. */
  done: Promise<AwsChunkedResult>;
  /** The checksum value that came in the trailer (already verified), once the body is done. */
  trailerChecksum: () => Promise<string | undefined>;
}

/**
 * Decoder options for a request, or undefined when its body is not aws-chunked. Throws MissingContentLength when
 * `x-amz-decoded-content-length` is missing and InvalidArgument when it is not a length.
 */
export function awsChunkedOptionsFor(headers: Headers, payload: PayloadMode | undefined): AwsChunkedOptions | undefined {
  if (payload?.mode !== 'streaming-signed' && payload?.mode !== 'streaming-unsigned-trailer') return undefined;
  const decoded = headers.get('x-amz-decoded-content-length');
  if (decoded === null) throw new S3Error('MissingContentLength', 'x-amz-decoded-content-length is required for aws-chunked uploads.');
  if (!/^\d{1,16}$/.test(decoded.trim()) || !Number.isSafeInteger(Number(decoded))) {
    throw new S3Error('InvalidArgument', 'x-amz-decoded-content-length must be a non-negative integer.', { ArgumentName: 'x-amz-decoded-content-length', ArgumentValue: decoded });
  }
  const opts: AwsChunkedOptions = {
    trailer: payload.mode === 'streaming-unsigned-trailer' || payload.trailer,
    decodedLength: Number(decoded),
    spec: checksumSpecFromHeaders(headers),
  };
  if (payload.mode === 'streaming-signed') opts.signing = payload.seed;
  return opts;
}

function incomplete(detail: string): S3Error {
  return new S3Error('IncompleteBody', `The aws-chunked body is incomplete or malformed: ${detail}`);
}

const CHUNK_HEADER = /^([0-9a-fA-F]{1,16})((?:;[^;]*)*)$/;
const SIGNATURE_EXT = /^;chunk-signature=([0-9a-f]{64})$/;
const latin1 = new TextDecoder('latin1');

/** The SHA-256 of one signed chunk: streamed while the chunk spans reads, one-shot when it lies in one buffer. */
class ChunkHash {
  #stream: DigestStream | undefined;
  #writer: WritableStreamDefaultWriter<ArrayBuffer | ArrayBufferView> | undefined;

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.#stream) {
      this.#stream = new crypto.DigestStream('SHA-256');
      this.#writer = this.#stream.getWriter();
    }
    if (bytes.byteLength) await this.#writer!.write(bytes);
  }

  /** Hex digest: of `whole` when the chunk came in one piece, else of what was written. */
  async hex(whole?: Uint8Array): Promise<string> {
    if (whole) return sha256Hex(whole);
    if (!this.#stream) return EMPTY_SHA256;
    await this.#writer!.close();
    return toHex(new Uint8Array(await this.#stream.digest));
  }
}

type State = 'header' | 'data' | 'data-crlf' | 'final-crlf' | 'trailer' | 'done';

/** Decodes (and verifies) an aws-chunked body. See the module comment for the guarantees. */
export function decodeAwsChunked(body: ReadableStream<Uint8Array>, opts: AwsChunkedOptions): DecodedAwsChunked {
  const signing = opts.signing;
  const spec = opts.spec;
  const minChunk = opts.minChunkBytes ?? (signing ? MIN_SIGNED_CHUNK_BYTES : 1);
  const maxHeader = opts.maxChunkHeaderBytes ?? MAX_CHUNK_HEADER_BYTES;
  const maxTrailer = opts.maxTrailerBytes ?? MAX_TRAILER_BYTES;
  const acc = new ChecksumAccumulator({ algorithms: spec?.algorithm ? [spec.algorithm] : [], md5: !!opts.computeMd5 || spec?.contentMd5 !== undefined });
  const src = new ByteSource(body, opts);

  let state: State = 'header';
  let remaining = 0; // bytes left in the current chunk
  let chunkSize = 0;
  let previousSmall = false; // the last data chunk was below minChunk (allowed only for the last one)
  let decoded = 0;
  let prevSignature = signing?.seedSignature ?? '';
  let expectedSignature = '';
  let hash: ChunkHash | undefined;
  let trailerBytes = 0;
  const trailerLines: [string, string][] = [];
  let carry: Uint8Array | undefined;

  const verifyChunk = async (whole?: Uint8Array): Promise<void> => {
    if (!signing) return;
    const digest = await (hash ?? new ChunkHash()).hex(whole);
    hash = undefined;
    const toSign = `AWS4-HMAC-SHA256-PAYLOAD\n${signing.amzDate}\n${signing.scope}\n${prevSignature}\n${EMPTY_SHA256}\n${digest}`;
    const actual = await hmacHex(signing.signingKey, toSign);
    if (actual !== expectedSignature) {
      throw new S3Error('SignatureDoesNotMatch', 'The chunk signature we calculated does not match the signature you provided.', {
        StringToSign: toSign,
        SignatureProvided: expectedSignature,
      });
    }
    prevSignature = actual;
  };

  const parseHeader = async (line: string): Promise<void> => {
    const m = CHUNK_HEADER.exec(line);
    if (!m) throw incomplete(`bad chunk header "${line.slice(0, 100)}"`);
    const size = parseInt(m[1], 16);
    if (!Number.isSafeInteger(size)) throw incomplete('chunk size too large');
    if (signing) {
      const sig = SIGNATURE_EXT.exec(m[2]);
      if (!sig) throw new S3Error('SignatureDoesNotMatch', 'A chunk of a signed streaming upload has no chunk-signature.');
      expectedSignature = sig[1];
    }
    if (size > 0 && previousSmall) {
      throw new S3Error('InvalidChunkSizeError', undefined, { Chunk: String(chunkSize), BadChunkSize: String(chunkSize) });
    }
    if (opts.decodedLength !== undefined && decoded + size > opts.decodedLength) {
      throw new S3Error('InvalidRequest', 'The decoded body is longer than x-amz-decoded-content-length.');
    }
    chunkSize = size;
    if (size === 0) {
      if (signing) await verifyChunk(); // the final, empty chunk is signed too
      state = opts.trailer ? 'trailer' : 'final-crlf';
      return;
    }
    previousSmall = size < minChunk;
    remaining = size;
    if (signing) hash = new ChunkHash();
    state = 'data';
  };

  const finishTrailer = async (): Promise<void> => {
    const trailers: Record<string, string> = {};
    let signature: string | undefined;
    for (const [name, value] of trailerLines) {
      if (name === 'x-amz-trailer-signature') signature = value;
      else trailers[name] = value;
    }
    if (signing) {
      if (!signature) throw new S3Error('SignatureDoesNotMatch', 'The trailer of a signed streaming upload has no x-amz-trailer-signature.');
      const canonical = Object.entries(trailers).map(([n, v]) => `${n}:${v}\n`).join('');
      const toSign = `AWS4-HMAC-SHA256-TRAILER\n${signing.amzDate}\n${signing.scope}\n${prevSignature}\n${await sha256Hex(canonical)}`;
      const actual = await hmacHex(signing.signingKey, toSign);
      if (actual !== signature.toLowerCase()) {
        throw new S3Error('SignatureDoesNotMatch', 'The trailer signature we calculated does not match the signature you provided.', { StringToSign: toSign, SignatureProvided: signature });
      }
    }
    for (const name of Object.keys(trailers)) {
      if (!name.startsWith('x-amz-checksum-')) continue;
      const alg = checksumAlgorithmOf(name);
      if (!alg || !spec?.trailer || spec.algorithm !== alg) {
        throw new S3Error('MalformedTrailerError', `The trailer ${name} was not declared in x-amz-trailer.`);
      }
    }
    if (spec?.trailer && spec.algorithm && trailers[`x-amz-checksum-${spec.algorithm.toLowerCase()}`] === undefined) {
      throw new S3Error('MalformedTrailerError', `The trailer declared in x-amz-trailer (x-amz-checksum-${spec.algorithm.toLowerCase()}) is missing.`);
    }
    result.trailers = trailers;
  };

  const result: { trailers: Record<string, string> } = { trailers: {} };

  // Decodes one buffer in place: decoded bytes are moved to its front. Returns how many, and keeps the unconsumed
  // tail (a split header or CRLF) in `carry`.
  const process = async (b: Uint8Array): Promise<number> => {
    let p = 0;
    let w = 0;
    const n = b.byteLength;
    carry = undefined;
    while (p < n) {
      switch (state) {
        case 'header': {
          const cr = b.indexOf(13, p);
          if (cr < 0 || cr + 1 >= n) {
            if (n - p > maxHeader) throw incomplete('chunk header too long');
            carry = b.slice(p);
            return w;
          }
          if (b[cr + 1] !== 10) throw incomplete('chunk header not terminated by CRLF');
          if (cr - p > maxHeader) throw incomplete('chunk header too long');
          await parseHeader(latin1.decode(b.subarray(p, cr)));
          p = cr + 2;
          break;
        }
        case 'data': {
          const take = Math.min(remaining, n - p);
          const whole = take === chunkSize; // the whole chunk lies in this buffer: hash it in one call
          if (hash && !whole) await hash.write(b.subarray(p, p + take)); // before the move below can overwrite it
          if (w !== p) b.copyWithin(w, p, p + take);
          w += take;
          p += take;
          remaining -= take;
          decoded += take;
          if (remaining === 0) {
            if (signing) await verifyChunk(whole ? b.subarray(w - take, w) : undefined);
            state = 'data-crlf';
          }
          break;
        }
        case 'data-crlf':
        case 'final-crlf': {
          if (n - p < 2) {
            carry = b.slice(p);
            return w;
          }
          if (b[p] !== 13 || b[p + 1] !== 10) throw incomplete('chunk data not followed by CRLF');
          p += 2;
          state = state === 'data-crlf' ? 'header' : 'done';
          break;
        }
        case 'trailer': {
          const cr = b.indexOf(13, p);
          if (cr < 0 || cr + 1 >= n) {
            if (trailerBytes + (n - p) > maxTrailer) throw new S3Error('MalformedTrailerError', 'The trailer is too large.');
            carry = b.slice(p);
            return w;
          }
          if (b[cr + 1] !== 10) throw new S3Error('MalformedTrailerError', 'A trailer line is not terminated by CRLF.');
          trailerBytes += cr - p + 2;
          if (trailerBytes > maxTrailer) throw new S3Error('MalformedTrailerError', 'The trailer is too large.');
          const line = latin1.decode(b.subarray(p, cr));
          p = cr + 2;
          if (line === '') {
            await finishTrailer();
            state = 'done';
            break;
          }
          const colon = line.indexOf(':');
          if (colon <= 0) throw new S3Error('MalformedTrailerError', `Malformed trailer line "${line.slice(0, 100)}".`);
          trailerLines.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
          break;
        }
        case 'done': {
          // Only stray line ends may follow the end of the body.
          for (; p < n; p++) if (b[p] !== 13 && b[p] !== 10) throw incomplete('data after the final chunk');
          break;
        }
      }
    }
    return w;
  };

  const finish = async (): Promise<void> => {
    if (carry && carry.byteLength) {
      // The stream ended inside a header, a CRLF or a trailer line.
      if (state === 'done') {
        for (const c of carry) if (c !== 13 && c !== 10) throw incomplete('data after the final chunk');
      } else if (state === 'trailer') {
        throw new S3Error('MalformedTrailerError', 'The trailer is not terminated by CRLF.');
      } else {
        throw incomplete('the body ended inside a chunk');
      }
    }
    // Tolerated: a body that ends right after the final chunk's header or after complete trailer lines (no blank line).
    if (state === 'final-crlf') state = 'done';
    if (state === 'trailer') {
      await finishTrailer();
      state = 'done';
    }
    if (state !== 'done') throw incomplete(state === 'data' ? `the body ended ${remaining} bytes before the end of a chunk` : 'the body ended before the final chunk');
    if (opts.decodedLength !== undefined && decoded !== opts.decodedLength) {
      throw new S3Error('IncompleteBody', `The decoded body has ${decoded} bytes; x-amz-decoded-content-length says ${opts.decodedLength}.`);
    }
  };

  const { stream, result: done } = checkedStream<AwsChunkedResult>(
    src,
    async (controller, end) => {
      for (;;) {
        opts.signal?.throwIfAborted();
        const { data, eof } = await src.read(carry);
        const w = data.byteLength ? await process(data) : 0;
        if (w > 0) await acc.update(data.subarray(0, w));
        if (eof) {
          await finish();
          const digests = await acc.finish();
          const trailerValue = spec?.algorithm ? result.trailers[`x-amz-checksum-${spec.algorithm.toLowerCase()}`] : undefined;
          verifyDigests(digests, spec, { trailerChecksum: trailerValue });
          if (w > 0) controller.enqueue(data.subarray(0, w));
          end({ decodedLength: decoded, trailers: result.trailers, digests });
          return;
        }
        if (w > 0) {
          controller.enqueue(data.subarray(0, w));
          return;
        }
      }
    },
    { cancelReason: () => new S3Error('IncompleteBody') },
  );

  return {
    stream,
    done,
    trailerChecksum: async () => {
      const r = await done;
      return spec?.algorithm ? r.trailers[`x-amz-checksum-${spec.algorithm.toLowerCase()}`] : undefined;
    },
  };
}
