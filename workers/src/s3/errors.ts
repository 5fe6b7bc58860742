/**
 * The S3 error table and the one place S3 errors become HTTP responses.
 *
 * Every protocol module throws `S3Error` with a code from `S3_ERRORS`; handlers never pick a status themselves.
 * `errorResponse` turns anything thrown (S3Error or not) into the XML body AWS clients parse.
 *
 * @example
 *   throw s3Error('NoSuchKey', undefined, { Key: 'photos/a.jpg' });
 *   // in the app's onError:
 *   return errorResponse(err, { requestId, resource: '/bucket/photos/a.jpg', method: 'GET' });
 */
import { el, xmlDocument } from './xml.ts';

interface ErrorSpec {
  status: number;
  message: string;
}

/** S3 error code → HTTP status and the default message AWS uses (or a close paraphrase of it). */
export const S3_ERRORS = {
  AccessControlListNotSupported: { status: 400, message: 'The bucket does not allow ACLs.' },
  AccessDenied: { status: 403, message: 'Access Denied' },
  AuthorizationHeaderMalformed: { status: 400, message: 'The authorization header that you provided is not valid.' },
  AuthorizationQueryParametersError: { status: 400, message: 'The query-string authentication parameters are not valid.' },
  BadDigest: { status: 400, message: 'The Content-MD5 or checksum value that you specified did not match what the server received.' },
  BucketAlreadyExists: {
    status: 409,
    message: 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Select a different name and try again.',
  },
  BucketAlreadyOwnedByYou: { status: 409, message: 'Your previous request to create the named bucket succeeded and you already own it.' },
  BucketNotEmpty: { status: 409, message: 'The bucket that you tried to delete is not empty.' },
  ConditionalRequestConflict: { status: 409, message: 'A conflicting operation occurred. If using PutObject you can retry the request.' },
  EntityTooLarge: { status: 400, message: 'Your proposed upload exceeds the maximum allowed object size.' },
  EntityTooSmall: { status: 400, message: 'Your proposed upload is smaller than the minimum allowed object size.' },
  ExpiredToken: { status: 400, message: 'The provided token has expired.' },
  IllegalLocationConstraintException: { status: 400, message: 'The specified location constraint is not valid for this endpoint.' },
  IncompleteBody: { status: 400, message: 'You did not provide the number of bytes specified by the Content-Length HTTP header.' },
  InternalError: { status: 500, message: 'We encountered an internal error. Please try again.' },
  InvalidAccessKeyId: { status: 403, message: 'The AWS access key ID that you provided does not exist in our records.' },
  InvalidArgument: { status: 400, message: 'Invalid Argument' },
  InvalidBucketName: { status: 400, message: 'The specified bucket is not valid.' },
  InvalidBucketState: { status: 409, message: 'The request is not valid for the current state of the bucket.' },
  InvalidChunkSizeError: { status: 403, message: 'Only the last chunk is allowed to have a size less than 8192 bytes' },
  InvalidDigest: { status: 400, message: 'The Content-MD5 or checksum value that you specified is not valid.' },
  InvalidEncryptionAlgorithmError: { status: 400, message: 'The encryption request that you specified is not valid. The valid value is AES256.' },
  InvalidLocationConstraint: { status: 400, message: 'The specified location constraint is not valid.' },
  InvalidObjectState: { status: 403, message: 'The operation is not valid for the current state of the object.' },
  InvalidPart: {
    status: 400,
    message: 'One or more of the specified parts could not be found. The part might not have been uploaded, or the specified ETag might not have matched the uploaded part\'s ETag.',
  },
  InvalidPartNumber: { status: 416, message: 'The requested partnumber is not satisfiable' },
  InvalidPartOrder: { status: 400, message: 'The list of parts was not in ascending order. The parts list must be specified in order by part number.' },
  InvalidPolicyDocument: { status: 400, message: 'The content of the form does not meet the conditions specified in the policy document.' },
  InvalidRange: { status: 416, message: 'The requested range is not satisfiable' },
  InvalidRequest: { status: 400, message: 'Invalid Request' },
  InvalidStorageClass: { status: 400, message: 'The storage class you specified is not valid.' },
  InvalidTag: { status: 400, message: 'The tag provided was not a valid tag.' },
  InvalidToken: { status: 400, message: 'The provided token is malformed or otherwise not valid.' },
  InvalidURI: { status: 400, message: 'Couldn\'t parse the specified URI.' },
  KeyTooLongError: { status: 400, message: 'Your key is too long.' },
  MalformedACLError: { status: 400, message: 'The ACL that you provided was not well formed or did not validate against our published schema.' },
  MalformedPolicy: { status: 400, message: 'Policies must be valid JSON and the first byte must be \'{\'' },
  MalformedPOSTRequest: { status: 400, message: 'The body of your POST request is not well-formed multipart/form-data.' },
  MalformedTrailerError: { status: 400, message: 'The request contained trailing data that was not well-formed or did not conform to our published schema.' },
  MalformedXML: { status: 400, message: 'The XML you provided was not well-formed or did not validate against our published schema.' },
  MaxMessageLengthExceeded: { status: 400, message: 'Your request was too big.' },
  MaxPostPreDataLengthExceededError: { status: 400, message: 'Your POST request fields preceding the upload file were too large.' },
  MetadataTooLarge: { status: 400, message: 'Your metadata headers exceed the maximum allowed metadata size.' },
  MethodNotAllowed: { status: 405, message: 'The specified method is not allowed against this resource.' },
  MissingContentLength: { status: 411, message: 'You must provide the Content-Length HTTP header.' },
  MissingRequestBodyError: { status: 400, message: 'Request Body is empty' },
  MissingSecurityHeader: { status: 400, message: 'Your request is missing a required header.' },
  NoSuchBucket: { status: 404, message: 'The specified bucket does not exist' },
  NoSuchBucketPolicy: { status: 404, message: 'The specified bucket does not have a bucket policy.' },
  NoSuchCORSConfiguration: { status: 404, message: 'The CORS configuration does not exist' },
  NoSuchKey: { status: 404, message: 'The specified key does not exist.' },
  NoSuchLifecycleConfiguration: { status: 404, message: 'The lifecycle configuration does not exist.' },
  NoSuchPublicAccessBlockConfiguration: { status: 404, message: 'The public access block configuration was not found' },
  NoSuchTagSet: { status: 404, message: 'The TagSet does not exist' },
  NoSuchUpload: {
    status: 404,
    message: 'The specified upload does not exist. The upload ID might not be valid, or the upload might have been aborted or completed.',
  },
  NoSuchVersion: { status: 404, message: 'The version ID specified in the request does not match an existing version.' },
  NoSuchWebsiteConfiguration: { status: 404, message: 'The specified bucket does not have a website configuration' },
  NotImplemented: { status: 501, message: 'A header you provided implies functionality that is not implemented.' },
  // Not an error in AWS's list, but conditional GET/HEAD answers 304 through the same path (no body).
  NotModified: { status: 304, message: 'Not Modified' },
  ObjectLockConfigurationNotFoundError: { status: 404, message: 'Object Lock configuration does not exist for this bucket' },
  OperationAborted: { status: 409, message: 'A conflicting conditional operation is currently in progress against this resource. Try again.' },
  PreconditionFailed: { status: 412, message: 'At least one of the preconditions that you specified did not hold.' },
  ReplicationConfigurationNotFoundError: { status: 404, message: 'The replication configuration was not found' },
  RequestTimeTooSkewed: { status: 403, message: 'The difference between the request time and the server\'s time is too large.' },
  RequestTimeout: { status: 400, message: 'Your socket connection to the server was not read from or written to within the timeout period.' },
  ServerSideEncryptionConfigurationNotFoundError: { status: 404, message: 'The server side encryption configuration was not found' },
  ServiceUnavailable: { status: 503, message: 'Service is unable to handle request.' },
  SignatureDoesNotMatch: {
    status: 403,
    message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  },
  SlowDown: { status: 503, message: 'Please reduce your request rate.' },
  TooManyBuckets: { status: 400, message: 'You have attempted to create more buckets than allowed.' },
  UnexpectedContent: { status: 400, message: 'This request does not support content.' },
  XAmzContentSHA256Mismatch: { status: 400, message: 'The provided \'x-amz-content-sha256\' header does not match what was computed.' },
} as const satisfies Record<string, ErrorSpec>;

export type S3ErrorCode = keyof typeof S3_ERRORS;

/** An S3 protocol error: a code from `S3_ERRORS`, its HTTP status, and optional extra elements for the XML body. */
export class S3Error extends Error {
  override readonly name = 'S3Error';
  readonly code: S3ErrorCode;
  readonly status: number;
  /** Extra child elements of `<Error>`, in order (e.g. `{ Key: 'a.txt' }`, `{ ArgumentName, ArgumentValue }`). */
  readonly extra?: Record<string, string>;

  constructor(code: S3ErrorCode, message?: string, extra?: Record<string, string>, options?: { cause?: unknown }) {
    super(message ?? S3_ERRORS[code].message, options);
    this.code = code;
    this.status = S3_ERRORS[code].status;
    if (extra) this.extra = extra;
  }
}

/** Shorthand for `new S3Error(...)`: `throw s3Error('InvalidArgument', 'max-keys must be …', { ArgumentName: 'max-keys' })`. */
export function s3Error(code: S3ErrorCode, message?: string, extra?: Record<string, string>): S3Error {
  return new S3Error(code, message, extra);
}

/** True when `code` is one of the codes in the table (for values that come from outside, e.g. a Durable Object reply). */
export function isS3ErrorCode(code: string): code is S3ErrorCode {
  return Object.hasOwn(S3_ERRORS, code);
}

/**
 * Converts anything thrown into an S3Error. S3Errors pass through; an aborted or timed-out operation becomes
 * RequestTimeout; everything else is an InternalError whose message does not leak internals (the cause is kept
 * for logging).
 */
export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return new S3Error('RequestTimeout', undefined, undefined, { cause: err });
  }
  return new S3Error('InternalError', undefined, undefined, { cause: err });
}

export interface ErrorResponseContext {
  /** Echoed in `<RequestId>` and the `x-amz-request-id` header. */
  requestId: string;
  /** The bucket/key path the request addressed, e.g. `/bucket/key`. */
  resource: string;
  /** The request method; HEAD responses carry no body. */
  method: string;
  /** Echoed in `<HostId>` and `x-amz-id-2` when given (e.g. the colo or origin id). */
  hostId?: string;
}

/**
 * The one place errors are applied: builds the S3 XML error response with the right status and headers.
 * HEAD requests and 304 answers get the status and headers only (S3 clients then read the code from the status).
 */
export function errorResponse(err: unknown, ctx: ErrorResponseContext): Response {
  const e = toS3Error(err);
  const headers = new Headers({ 'x-amz-request-id': ctx.requestId });
  if (ctx.hostId) headers.set('x-amz-id-2', ctx.hostId);
  if (e.code === 'SlowDown' || e.code === 'ServiceUnavailable') headers.set('retry-after', '1');
  const bodyless = ctx.method.toUpperCase() === 'HEAD' || e.status === 304;
  if (bodyless) return new Response(null, { status: e.status, headers });
  const extra = Object.entries(e.extra ?? {}).filter(([name]) => XML_NAME.test(name));
  const xml = xmlDocument(
    el('Error', [
      el('Code', e.code),
      el('Message', e.message),
      ...extra.map(([name, value]) => el(name, value)),
      el('Resource', ctx.resource),
      el('RequestId', ctx.requestId),
      ctx.hostId ? el('HostId', ctx.hostId) : null,
    ]),
    { namespace: false },
  );
  headers.set('content-type', 'application/xml');
  return new Response(xml, { status: e.status, headers });
}

// Extra element names come from code, but a bad one must never produce broken XML.
const XML_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
