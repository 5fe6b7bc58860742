/**
 * Bucket policies, for the one thing websites use them for: letting everyone read every object (AWS's static
 * website guide makes a bucket public with such a policy, now that new buckets have ACLs disabled). A policy whose
 * every statement allows anyone `s3:GetObject` on `arn:aws:s3:::<bucket>/*`, with no condition, is accepted and makes
 * the bucket publicly readable, as `public-read` does; any other policy is refused, never stored and ignored.
 */
import { S3Error } from './errors.ts';

/** Largest policy document accepted, S3's limit. */
export const MAX_BUCKET_POLICY_BYTES = 20 * 1024;

/** Actions a public-read statement may name: reading objects. */
const READ_ACTIONS = new Set(['s3:GetObject', 's3:GetObjectVersion']);
const VERSIONS = new Set(['2012-10-17', '2008-10-17']);
const STATEMENT_FIELDS = new Set(['Sid', 'Effect', 'Principal', 'Action', 'Resource']);

function malformed(why: string): S3Error {
  return new S3Error('MalformedPolicy', why);
}

function notSupported(why: string): S3Error {
  return new S3Error('NotImplemented', `Only a policy that lets everyone read every object (Effect Allow, Principal *, Action s3:GetObject, Resource arn:aws:s3:::<bucket>/*) is supported: ${why}`);
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

/** Checks a PutBucketPolicy document: MalformedPolicy when it is not a policy, NotImplemented when it does more than public read. */
export function checkPublicReadPolicy(text: string, bucket: string): void {
  if (new TextEncoder().encode(text).byteLength > MAX_BUCKET_POLICY_BYTES) throw malformed(`Policies must be at most ${MAX_BUCKET_POLICY_BYTES} bytes.`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('Policies must be valid JSON and the first byte must be \'{\'.');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw malformed('A policy is a JSON object.');
  const { Version: version, Statement: statement, ...rest } = doc as Record<string, unknown>;
  if (Object.keys(rest).some((k) => k !== 'Id')) throw malformed(`Unknown policy element: ${Object.keys(rest).filter((k) => k !== 'Id').join(', ')}.`);
  if (version !== undefined && !VERSIONS.has(String(version))) throw malformed(`Invalid policy version: ${String(version)}.`);
  const statements = list(statement);
  if (statement === undefined || statements.length === 0) throw malformed('Missing required field Statement.');
  const resource = `arn:aws:s3:::${bucket}/*`;
  for (const s of statements) {
    if (!s || typeof s !== 'object' || Array.isArray(s)) throw malformed('Each statement is a JSON object.');
    const st = s as Record<string, unknown>;
    const extra = Object.keys(st).filter((k) => !STATEMENT_FIELDS.has(k));
    if (extra.length) throw notSupported(`the statement has ${extra.join(', ')}.`);
    if (st.Effect !== 'Allow') throw notSupported(`Effect ${JSON.stringify(st.Effect)}.`);
    const principal = st.Principal;
    const everyone = principal === '*' || (principal !== null && typeof principal === 'object' && Object.keys(principal).length === 1 && list((principal as Record<string, unknown>).AWS).every((p) => p === '*'));
    if (!everyone) throw notSupported(`Principal ${JSON.stringify(principal)}.`);
    const actions = list(st.Action);
    if (!actions.length || !actions.every((a) => typeof a === 'string' && READ_ACTIONS.has(a))) throw notSupported(`Action ${JSON.stringify(st.Action)}.`);
    const resources = list(st.Resource);
    if (!resources.length || !resources.every((r) => r === resource)) throw notSupported(`Resource ${JSON.stringify(st.Resource)} (expected ${resource}).`);
  }
}
