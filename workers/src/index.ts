import { Hono } from 'hono';
import { buildEdgeContext, type EdgeEnv } from './context.ts';
import { deossRoutes } from './deoss/routes.ts';
import { keyRoutes } from './keys/routes.ts';
import { handleS3 } from './s3/app.ts';
import { serveWebsite, websiteBucket } from './site/website.ts';

/**
 * The edge worker. One host serves three APIs: static websites on website hosts (`<bucket>.<website domain>` and
 * mapped custom domains), the DeOSS REST API for requests without AWS credentials on DeOSS's paths, and S3 for
 * everything else. Key management lives under `/_deoss/keys`.
 */
const app = new Hono<EdgeEnv>();

app.get('/healthz', (c) => c.json({ ok: true, role: 'edge' }));

app.use('*', async (c, next) => {
  c.set('edge', buildEdgeContext(c.env, c.req.raw, (p) => c.executionCtx.waitUntil(p)));
  await next();
});

app.use('*', async (c, next) => {
  const e = c.get('edge');
  const bucket = websiteBucket(new URL(c.req.url).host, e);
  if (bucket) return serveWebsite(e, bucket, c.req.raw);
  await next();
});

app.route('/_deoss/keys', keyRoutes());

const deoss = deossRoutes();
/** DeOSS paths; an AWS-signed request on them is S3 (a bucket may be called `file`). */
const DEOSS_PATH = /^\/(file(\/(download|open|metadata|location|state)\/[^/]+|\/list|\/[0-9a-f]{64})?|files|object\/[^/]+|resume\/[^/]+|version)$/;

app.all('*', async (c) => {
  const req = c.req.raw;
  const url = new URL(req.url);
  const e = c.get('edge');
  const aws = req.headers.get('authorization')?.startsWith('AWS4-') || url.searchParams.has('X-Amz-Signature') || req.headers.has('x-amz-content-sha256');
  if (!aws && DEOSS_PATH.test(url.pathname) && !isVirtualHosted(url.host, e.config.s3Domains)) {
    return deoss.fetch(req, c.env, c.executionCtx);
  }
  return handleS3(e, req);
});

function isVirtualHosted(host: string, domains: string[]): boolean {
  const h = host.toLowerCase().replace(/:\d+$/, '');
  return domains.some((d) => h.endsWith(`.${d}`));
}

export default app;

export { BucketIndex } from './namespace/bucket-index.ts';
export { AccountDirectory } from './namespace/account-directory.ts';
export { FileReferences } from './namespace/file-references.ts';
