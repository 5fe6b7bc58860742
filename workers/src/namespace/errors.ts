/**
 * Errors thrown by the namespace Durable Objects.
 *
 * Durable Object RPC keeps only an error's message (and built-in class name) when it crosses the RPC boundary:
 * custom classes and fields are lost. So the S3 error code travels inside the message, in a fixed, readable
 * form: `[s3:NoSuchKey] The specified key does not exist.` `unwrapNamespaceError` parses it back on the caller's
 * side (it also accepts the NamespaceError instance itself, for calls made inside the same isolate).
 *
 * Across RPC they are returned rather than thrown (`returnNamespaceErrors` on the object's side, `namespaceClient` on
 * the caller's): a method that throws is recorded by the runtime as an uncaught exception of the object, which
 * `wrangler dev` prints as a red ERROR with a stack for every existing bucket or missing upload, and Cloudflare
 * counts as an error of the object, though each is an ordinary S3 answer.
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
  | 'InvalidTag'
  | 'KeyTooLongError'
  | 'MalformedXML'
  | 'MetadataTooLarge'
  | 'NoSuchBucket'
  | 'NoSuchKey'
  | 'NoSuchUpload'
  | 'OperationAborted'
  | 'PreconditionFailed'
  | 'TooManyAccessKeys'
  | 'TooManyBuckets';

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

/** A NamespaceError as a namespace object's method returns it over RPC. */
interface NamespaceFailure {
  namespaceFailure: { code: NamespaceErrorCode; detail: string };
}

function isNamespaceFailure(value: unknown): value is NamespaceFailure {
  return typeof value === 'object' && value !== null && 'namespaceFailure' in value;
}

/** Handlers the runtime calls itself: their errors are the runtime's to see. */
const RUNTIME_HANDLERS = new Set(['constructor', 'fetch', 'alarm', 'webSocketMessage', 'webSocketClose', 'webSocketError']);

/**
 * Makes the RPC methods of a Durable Object class return their NamespaceErrors instead of throwing them; anything
 * else still throws. Callers reach the object through `namespaceClient`, which throws them again on their side.
 */
export function returnNamespaceErrors(cls: abstract new (...args: never[]) => object): void {
  const proto = cls.prototype as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const method = Object.getOwnPropertyDescriptor(proto, name)?.value as ((...args: unknown[]) => unknown) | undefined;
    if (RUNTIME_HANDLERS.has(name) || typeof method !== 'function') continue;
    proto[name] = async function (this: object, ...args: unknown[]) {
      try {
        return await method.apply(this, args);
      } catch (err) {
        if (err instanceof NamespaceError) return { namespaceFailure: { code: err.code, detail: err.detail } } satisfies NamespaceFailure;
        throw err;
      }
    };
  }
}

/** A namespace object's stub whose methods throw the NamespaceErrors it returned (see returnNamespaceErrors). */
export function namespaceClient<T extends object>(stub: object): T {
  const methods = stub as Record<string | symbol, (...args: unknown[]) => Promise<unknown>>;
  return new Proxy({} as T, {
    get: (_target, name) => {
      // Not a thenable (awaiting or returning the view must not call the object), nor anything but its methods.
      if (typeof name !== 'string' || name === 'then') return undefined;
      return async (...args: unknown[]) => {
        const result = await methods[name](...args);
        if (isNamespaceFailure(result)) throw new NamespaceError(result.namespaceFailure.code, result.namespaceFailure.detail);
        return result;
      };
    },
  });
}
