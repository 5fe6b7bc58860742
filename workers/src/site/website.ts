import { contentTypeFor } from '../../../origin/src/api/mime.ts';
import { serveObject } from '../cdn/serve-object.ts';
import type { EdgeContext } from '../context.ts';
import { bucketIndex } from '../namespace/env.ts';
import { publiclyReadable, type ObjectRecord, type WebsiteConfig, type WebsiteRoutingRule } from '../namespace/types.ts';
import { S3Error } from '../s3/errors.ts';

/** What a public-read bucket without a website configuration serves for directories. */
const DEFAULT_WEBSITE: WebsiteConfig = { indexDocument: { suffix: 'index.html' } };

/**
 * The bucket a request's host names as a website: `<bucket>.<website domain>` or a mapped custom domain.
 * Returns undefined for hosts that are not website hosts.
 */
export function websiteBucket(host: string, e: EdgeContext): string | undefined {
  const h = host.toLowerCase().replace(/:\d+$/, '');
  const custom = e.config.customDomains[h];
  if (custom) return custom;
  for (const domain of e.config.websiteDomains) {
    if (h.endsWith(`.${domain}`)) return h.slice(0, -domain.length - 1);
  }
  return undefined;
}

/**
 * Serves a bucket as a static website, as S3 website endpoints do: the index document for directories, a 302 from
 * `dir` to `dir/` when `dir/index.html` exists, routing-rule and redirect-all redirects, and the error document
 * with a 404, a 301 for an object written with `x-amz-website-redirect-location`. Only GET and HEAD; objects are public through the website, so anonymous readers are fine. A bucket
 * serves as a website when it has a website configuration or is public-read (then with `index.html` as index).
 */
export async function serveWebsite(e: EdgeContext, bucket: string, request: Request): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return page(405, 'Method Not Allowed', 'Websites answer GET and HEAD only.');
  const index = bucketIndex(e.env, bucket);
  const info = await index.info();
  if (!info) return page(404, 'Not Found', `No such bucket: ${bucket}`);
  const config = (await index.getWebsite()) ?? (publiclyReadable(info) ? DEFAULT_WEBSITE : undefined);
  if (!config) return page(404, 'Not Found', 'This bucket is not configured as a website.');
  const url = new URL(request.url);
  if ('redirectAllRequestsTo' in config) {
    const to = config.redirectAllRequestsTo;
    return Response.redirect(`${to.protocol ?? url.protocol.replace(':', '')}://${to.hostName}${url.pathname}${url.search}`, 301);
  }
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    return page(400, 'Bad Request', 'The path is not valid UTF-8 percent-encoding.');
  }
  const key = path.slice(1);
  const redirect = routingRedirect(config.routingRules, key, undefined, url);
  if (redirect) return redirect;
  const target = key === '' || key.endsWith('/') ? `${key}${config.indexDocument.suffix}` : key;
  const found = await index.getObject(target);
  // An object written with x-amz-website-redirect-location is a redirect on the website (S3 answers 301).
  if (found?.websiteRedirectLocation !== undefined) return new Response(null, { status: 301, headers: { Location: found.websiteRedirectLocation } });
  if (found) return serve(e, found, request, 200, info.owner);
  // `docs` → `docs/` when `docs/index.html` exists, so relative links in the index resolve.
  if (!key.endsWith('/') && key !== '' && (await index.getObject(`${key}/${config.indexDocument.suffix}`))) {
    return new Response(null, { status: 302, headers: { Location: `${url.pathname}/${url.search}` } });
  }
  const onError = routingRedirect(config.routingRules, key, '404', url);
  if (onError) return onError;
  const errorDocument = config.errorDocument ? await index.getObject(config.errorDocument.key) : undefined;
  if (errorDocument) return serve(e, errorDocument, request, 404, info.owner, true);
  return page(404, 'Not Found', `The key ${key || '/'} does not exist.`);
}

async function serve(e: EdgeContext, object: ObjectRecord, request: Request, status: number, owner: string, plain = false): Promise<Response> {
  if (object.sseCustomerAlgorithm) return page(403, 'Forbidden', 'Encrypted objects are not served as website content.');
  const fallbackType = object.contentType && object.contentType !== 'binary/octet-stream' && object.contentType !== 'application/octet-stream' ? undefined : contentTypeFor(object.key);
  try {
    const res = await serveObject(e, object, {
      method: request.method as 'GET' | 'HEAD',
      headers: request.headers,
      defaultCacheControl: e.config.publicCacheControl,
      status,
      plain,
      owner,
      overrides: fallbackType && fallbackType !== 'application/octet-stream' ? { 'Content-Type': fallbackType } : undefined,
    });
    return res;
  } catch (err) {
    if (err instanceof S3Error) return page(err.status, err.code, err.message);
    throw err;
  }
}

function routingRedirect(rules: WebsiteRoutingRule[] | undefined, key: string, errorCode: string | undefined, url: URL): Response | undefined {
  for (const rule of rules ?? []) {
    const c = rule.condition ?? {};
    if (c.keyPrefixEquals !== undefined && !key.startsWith(c.keyPrefixEquals)) continue;
    if ((c.httpErrorCodeReturnedEquals ?? undefined) !== errorCode) continue;
    const r = rule.redirect;
    let newKey = key;
    if (r.replaceKeyWith !== undefined) newKey = r.replaceKeyWith;
    else if (r.replaceKeyPrefixWith !== undefined) newKey = r.replaceKeyPrefixWith + key.slice((c.keyPrefixEquals ?? '').length);
    const host = r.hostName ?? url.host;
    const protocol = r.protocol ?? url.protocol.replace(':', '');
    const location = `${protocol}://${host}/${newKey.split('/').map(encodeURIComponent).join('/')}`;
    return new Response(null, { status: Number(r.httpRedirectCode ?? 301), headers: { Location: location } });
  }
  return undefined;
}

function page(status: number, title: string, message: string): Response {
  const escape = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  const html = `<!doctype html><html><head><title>${status} ${escape(title)}</title></head><body><h1>${status} ${escape(title)}</h1><p>${escape(message)}</p></body></html>\n`;
  return new Response(html, { status, headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' } });
}
