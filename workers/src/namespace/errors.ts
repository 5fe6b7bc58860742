/**
 * Errors thrown by the namespace Durable Objects.
 *
 * Durable Object RPC keeps only an error's message (and built-in class name) when it crosses the RPC boundary:
 * custom classes and fields are lost. So the S3 error code travels inside the message, in a fixed, readable
 * form: `[s3:NoSuchKey] The specified key does not exist.` `unwrapNamespaceError` parses it back on the caller's
 * side (it also accepts the NamespaceError instance itself, for calls made inside the same isolate).
 */

/** Every S3 error code the namespace layer throws. The HTTP status for each lives in the S3 error table. */
export type NamespaceErrorCode =
  | 'AccessDenied'
  | 'BucketAlreadyExists'
  | 'BucketAlreadyOwnedByYou'
  | 'BucketNotEmpty'
  | 'EntityTooLarge'
  | 'EntityTooSmall'
  | 'InvalidAccessKeyId'
  | 'InvalidArgument'
  | 'InvalidBucketName'
  | 'InvalidPart'
  | 'InvalidPartOrder'
  | 'InvalidRequest'
  | 'KeyTooLongError'
  | 'MalformedXML'
  | 'MetadataTooLarge'
  | 'NoSuchBucket'
  | 'NoSuchKey'
  | 'NoSuchUpload'
  | 'OperationAborted'
  | 'PreconditionFailed'
  | 'TooManyAccessKeys'
  | 'TooManyBuckets'
  | 'TooManyParts';

const MARK = /^\[s3:([A-Za-z]+)\] ([\s\S]*)$/;

export class NamespaceError extends Error {
  override name = 'NamespaceError';
  readonly code: NamespaceErrorCode;
  readonly detail: string;
  constructor(code: NamespaceErrorCode, detail: string) {
    super(`[s3:${code}] ${detail}`);
    this.code = code;
    this.detail = detail;
  }
}

export function namespaceError(code: NamespaceErrorCode, detail: string): NamespaceError {
  return new NamespaceError(code, detail);
}

/**
 * The S3 code and message of an error thrown by BucketIndex or AccountDirectory (over RPC or not), or undefined
 * when `err` is something else (a bug, a storage failure, an overloaded object): the handler answers those with
 * InternalError / ServiceUnavailable and logs them.
 */
export function unwrapNamespaceError(err: unknown): { code: NamespaceErrorCode; message: string } | undefined {
  if (err instanceof NamespaceError) return { code: err.code, message: err.detail };
  const message = err instanceof Error ? err.message : typeof err === 'string' ? err : undefined;
  if (message === undefined) return undefined;
  const m = MARK.exec(message);
  return m ? { code: m[1] as NamespaceErrorCode, message: m[2] } : undefined;
}
