import { parsePostObjectFields, type ParseOptions } from '../parse.ts';
import { readPostForm } from '../post-form.ts';
import { checkPostPolicy, parsePostPolicy, verifyPostSignature } from '../post-policy.ts';
import type { SecretLookup } from '../sigv4.ts';
import { el } from '../xml.ts';
import type { Intake } from './body.ts';
import { authorize, checkObjectAcl, requireBucket, xmlResponse, type Principal, type S3Call } from './common.ts';
import { storeObject } from './objects.ts';

/**
 * POST Object: a browser form upload (AWS's "browser-based uploads using POST"). The request itself is unsigned;
 * the form carries a policy signed with an access key, which says what may be uploaded. Fields before the file
 * are read and checked (signature, expiry, every condition, no unnamed field) before any byte of the file is sent
 * on; the file then streams to the origin like a PutObject body, within the policy's content-length-range.
 */
export async function postObject(
  call: S3Call,
  p: { bucket: string; boundary: string; style: 'path' | 'virtual-hosted' },
  keys: (accessKeyId: string) => Promise<{ secret: string; principal: Principal } | undefined>,
  parseOptions: ParseOptions,
): Promise<Response> {
  if (!call.req.body) throw new Error('unreachable: the parser saw a form body');
  // A missing bucket is said before the form is read.
  const bucket = await requireBucket(call, p.bucket);
  const form = await readPostForm(call.req.body, p.boundary, { maxFileBytes: call.e.config.maxPutBytes, signal: call.req.signal });
  try {
    let principal: Principal | undefined;
    const lookup: SecretLookup = async (id) => {
      const found = await keys(id);
      principal = found?.principal;
      return found?.secret;
    };
    await verifyPostSignature(form.fields, lookup, { region: call.e.config.s3Region });
    const range = checkPostPolicy(parsePostPolicy(form.fields.get('policy')!), form.fields, p.bucket, new Date());
    if (range) form.file.restrict(range);
    const fields = parsePostObjectFields(form.fields, form.file, parseOptions);
    const signed: S3Call = { ...call, principal };
    authorize(signed, bucket, 'write');
    checkObjectAcl(bucket, fields.headers.acl);
    const body = await nonEmpty(form.file.stream);
    // The file is shorter than what follows its start; knowing that it is small lets the origin pack it.
    const formLength = Number(call.req.headers.get('content-length') ?? NaN);
    if (body !== 'empty' && Number.isSafeInteger(formLength)) body.lengthAtMost = Math.min(formLength - form.file.offset, range?.max ?? Infinity);
    const stored = await storeObject(signed, bucket, { bucket: p.bucket, key: fields.key, headers: fields.headers, sseCustomer: fields.sseCustomer }, body);
    const etag = stored.headers.get('ETag')!;
    const url = new URL(call.req.url);
    const path = fields.key.split('/').map(encodeURIComponent).join('/');
    const location = p.style === 'path' ? `${url.origin}/${p.bucket}/${path}` : `${url.origin}/${path}`;
    const headers: Record<string, string> = { ETag: etag, Location: location };
    for (const [name, value] of stored.headers) if (name.startsWith('x-amz-')) headers[name] = value;
    if (fields.redirect) {
      const to = new URL(fields.redirect);
      to.searchParams.append('bucket', p.bucket);
      to.searchParams.append('key', fields.key);
      to.searchParams.append('etag', etag);
      return new Response(null, { status: 303, headers: { ...headers, Location: to.href } });
    }
    if (fields.status === 201) {
      return xmlResponse(el('PostResponse', [el('Location', location), el('Bucket', p.bucket), el('Key', fields.key), el('ETag', etag)]), 201, headers);
    }
    return new Response(null, { status: fields.status, headers });
  } catch (err) {
    await form.file.stream.cancel(err).catch(() => {});
    // The stream's own error (too large, too small, a broken form) says more than the upload that read it.
    throw form.file.failure ?? err;
  }
}

/** The file as an upload body: 'empty' for a file of no bytes (no origin call, as an empty PutObject). */
async function nonEmpty(stream: ReadableStream<Uint8Array>): Promise<Intake | 'empty'> {
  const reader = stream.getReader();
  let first = await reader.read();
  while (!first.done && first.value.byteLength === 0) first = await reader.read();
  if (first.done) return 'empty';
  let head: Uint8Array | undefined = first.value;
  const rest = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (head) {
        controller.enqueue(head);
        head = undefined;
        return;
      }
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { stream: rest, spec: { trailer: false } };
}
