/**
 * S3's POST policy: the signed document that says what a browser form may upload (AWS's "Browser-based uploads
 * using POST", Signature Version 4). The form carries the policy (base64 JSON), its signature (HMAC-SHA256 of the
 * base64 text with the SigV4 signing key of `x-amz-credential`), and the fields the policy's conditions constrain.
 * Pure apart from the HMAC: the caller looks up the secret.
 */
import { S3Error } from './errors.ts';
import { cachedSigningKey, hmacHex, parseAmzDate, parseCredential, SIGV4_ALGORITHM, timingSafeEqualHex, type SecretLookup } from './sigv4.ts';

/** Largest policy document accepted (base64 text), well above what a form of S3's fields needs. */
export const MAX_POST_POLICY_BYTES = 20 * 1024;

/** Form fields no condition needs to name (S3's list; `x-ignore-*` too). */
const UNCONDITIONED_FIELDS = new Set(['x-amz-signature', 'file', 'policy']);

export type PostCondition =
  | { op: 'eq' | 'starts-with'; field: string; value: string }
  | { op: 'content-length-range'; min: number; max: number };

export interface PostPolicy {
  expiration: Date;
  conditions: PostCondition[];
}

function denied(why: string): S3Error {
  return new S3Error('AccessDenied', `Invalid according to Policy: ${why}`);
}

function invalidPolicy(why: string): S3Error {
  return new S3Error('InvalidPolicyDocument', `Invalid Policy: ${why}`);
}

/** Decodes and checks the shape of a policy document (base64 JSON). */
export function parsePostPolicy(base64: string): PostPolicy {
  if (base64.length > MAX_POST_POLICY_BYTES) throw invalidPolicy('the policy document is too large.');
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(base64.replace(/\s+/g, '')), (c) => c.charCodeAt(0))));
  } catch {
    throw invalidPolicy('the policy is not base64-encoded JSON.');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalidPolicy('the policy is not a JSON object.');
  const { expiration, conditions } = doc as { expiration?: unknown; conditions?: unknown };
  if (typeof expiration !== 'string') throw invalidPolicy('Policy missing expiration.');
  const expires = new Date(expiration);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(expiration) || Number.isNaN(expires.getTime())) throw invalidPolicy(`Invalid 'expiration' value: '${expiration}'`);
  if (!Array.isArray(conditions)) throw invalidPolicy('Policy missing conditions.');
  const out: PostCondition[] = [];
  for (const c of conditions as unknown[]) {
    if (Array.isArray(c)) {
      const [op, a, b] = c as unknown[];
      const name = typeof op === 'string' ? op.toLowerCase() : '';
      if (name === 'content-length-range' && c.length === 3) {
        const min = Number(a);
        const max = Number(b);
        if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || max < min) throw invalidPolicy(`Invalid content-length-range: ${JSON.stringify(c)}`);
        out.push({ op: 'content-length-range', min, max });
      } else if ((name === 'eq' || name === 'starts-with') && c.length === 3 && typeof a === 'string' && a.startsWith('$') && typeof b === 'string') {
        out.push({ op: name, field: a.slice(1).toLowerCase(), value: b });
      } else {
        throw invalidPolicy(`Invalid condition: ${JSON.stringify(c)}`);
      }
    } else if (c && typeof c === 'object') {
      const entries = Object.entries(c);
      if (!entries.length) throw invalidPolicy('an empty condition.');
      for (const [field, value] of entries) {
        if (typeof value !== 'string') throw invalidPolicy(`Invalid condition: ${JSON.stringify(c)}`);
        out.push({ op: 'eq', field: field.toLowerCase(), value });
      }
    } else {
      throw invalidPolicy(`Invalid condition: ${JSON.stringify(c)}`);
    }
  }
  return { expiration: expires, conditions: out };
}

/**
 * Checks a form against its policy: not expired, every condition holds (`bucket` is the request's bucket), and every
 * field the form sent is named by a condition. Returns the allowed file size range (content-length-range), if any.
 * `fields` are by lowercase name, as `readPostForm` gives them.
 */
export function checkPostPolicy(policy: PostPolicy, fields: ReadonlyMap<string, string>, bucket: string, now: Date): { min: number; max: number } | undefined {
  if (now.getTime() >= policy.expiration.getTime()) throw denied('Policy expired.');
  const valueOf = (field: string): string | undefined => (field === 'bucket' ? bucket : fields.get(field));
  let range: { min: number; max: number } | undefined;
  const named = new Set<string>();
  for (const c of policy.conditions) {
    if (c.op === 'content-length-range') {
      range = range ? { min: Math.max(range.min, c.min), max: Math.min(range.max, c.max) } : { min: c.min, max: c.max };
      continue;
    }
    named.add(c.field);
    const value = valueOf(c.field);
    const holds =
      value !== undefined &&
      (c.op === 'eq'
        ? value === c.value
        : // A Content-Type may list several types; each must start with the prefix.
          (c.field === 'content-type' ? value.split(',').map((s) => s.trim()) : [value]).every((v) => v.startsWith(c.value)));
    if (!holds) throw denied(`Policy Condition failed: ["${c.op}", "$${c.field}", ${JSON.stringify(c.value)}]`);
  }
  const extra = [...fields.keys()].filter((f) => !UNCONDITIONED_FIELDS.has(f) && !f.startsWith('x-ignore-') && !named.has(f));
  if (extra.length) throw denied(`Extra input fields: ${extra.join(', ')}`);
  return range;
}

export interface PostSigner {
  accessKeyId: string;
  /** The date and region of the credential's scope (yyyymmdd, region). */
  date: string;
  region: string;
}

/**
 * Verifies the form's SigV4 signature over its policy text: `x-amz-algorithm`, `x-amz-credential`
 * (`AKID/yyyymmdd/region/s3/aws4_request`, the region this endpoint's), `x-amz-date` (of the credential's day) and
 * `x-amz-signature`. Returns the signer; throws InvalidAccessKeyId for an unknown key, SignatureDoesNotMatch for a
 * wrong signature. Signature Version 2 forms (`AWSAccessKeyId`, `signature`) are refused.
 */
export async function verifyPostSignature(fields: ReadonlyMap<string, string>, lookupSecret: SecretLookup, opts: { region: string }): Promise<PostSigner> {
  const policy = fields.get('policy');
  if (fields.has('awsaccesskeyid') || fields.has('signature')) {
    throw new S3Error('InvalidRequest', `Signature Version 2 POST forms are not supported; sign the policy with ${SIGV4_ALGORITHM}.`);
  }
  const algorithm = fields.get('x-amz-algorithm');
  const credential = fields.get('x-amz-credential');
  const amzDate = fields.get('x-amz-date');
  const signature = fields.get('x-amz-signature');
  if (policy === undefined || algorithm === undefined || credential === undefined || amzDate === undefined || signature === undefined) {
    const missing = ['policy', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature'].filter((f) => !fields.has(f));
    throw new S3Error('InvalidArgument', `Bucket POST must contain the fields ${missing.join(', ')} (anonymous uploads are not allowed).`, { ArgumentName: missing[0]!, ArgumentValue: '' });
  }
  if (algorithm !== SIGV4_ALGORITHM) throw new S3Error('InvalidArgument', `Unsupported x-amz-algorithm ${algorithm}; use ${SIGV4_ALGORITHM}.`, { ArgumentName: 'x-amz-algorithm', ArgumentValue: algorithm });
  const scope = parseCredential(credential);
  if (!scope || scope.service !== 's3') {
    throw new S3Error('InvalidArgument', 'x-amz-credential must be <access key id>/<yyyymmdd>/<region>/s3/aws4_request.', { ArgumentName: 'x-amz-credential', ArgumentValue: credential });
  }
  const { accessKeyId, date, region } = scope;
  if (region !== opts.region) {
    throw new S3Error('InvalidArgument', `The credential's region '${region}' is wrong; expecting '${opts.region}'.`, { ArgumentName: 'x-amz-credential', ArgumentValue: credential });
  }
  if (!parseAmzDate(amzDate) || amzDate.slice(0, 8) !== date) {
    throw new S3Error('InvalidArgument', 'x-amz-date must be a yyyymmddThhmmssZ time on the day of the credential.', { ArgumentName: 'x-amz-date', ArgumentValue: amzDate });
  }
  const secret = await lookupSecret(accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
  const expected = await hmacHex(await cachedSigningKey(secret, date, region, 's3'), policy);
  if (!timingSafeEqualHex(expected, signature.toLowerCase())) {
    throw new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {
      AWSAccessKeyId: accessKeyId,
      StringToSign: policy,
    });
  }
  return { accessKeyId, date, region };
}
