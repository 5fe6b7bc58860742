import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { crc32, deflateSync } from 'node:zlib';
import { CreateBucketCommand, PutBucketCorsCommand, PutBucketWebsiteCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { chromium, type Browser, type Page } from 'playwright-core';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type RunningStack } from '../support/stack.ts';

// A static site in a bucket, uploaded with the AWS SDK through the edge (wrangler dev) of a whole local stack, and
// loaded in a real browser: Debian's headless Chromium driven by playwright-core. Chromium resolves the website
// hosts to the edge through --host-resolver-rules, the way DNS would point them at it.
// Page functions run in Chromium; the Node typecheck has no DOM library, so the few browser names used are declared.
declare const document: { body: unknown };
declare function getComputedStyle(element: unknown): { color: string; fontSize: string; backgroundColor: string };
interface HTMLImageElement {
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
}

const CHROMIUM = process.env.DEOSS_CHROMIUM ?? '/usr/bin/chromium';
const BUCKET = `site-${randomBytes(4).toString('hex')}`;
const CUSTOM_HOST = 'www.example.test';

/** The smallest honest PNG: 2×1 RGB pixels (one red, one blue), built chunk by chunk. */
function tinyPng(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'ascii');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0); // width
  ihdr.writeUInt32BE(1, 4); // height
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit depth, truecolour, deflate, no filter method, no interlace
  const scanline = Buffer.from([0, 255, 0, 0, 0, 0, 255]); // filter byte 0, then red, blue
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(scanline)), chunk('IEND', Buffer.alloc(0))]);
}

const files: Record<string, { body: Buffer; type: string; cacheControl?: string }> = {
  'index.html': {
    type: 'text/html; charset=utf-8',
    body: Buffer.from(`<!doctype html>
<html><head><meta charset="utf-8"><title>DeOSS site</title><link rel="stylesheet" href="css/site.css"></head>
<body><h1 id="headline">Hello from a bucket</h1><p>Served by the edge.</p>
<img id="logo" src="img/logo.png" alt="logo"><a id="docs" href="docs">Docs</a></body></html>
`),
  },
  'css/site.css': {
    type: 'text/css',
    cacheControl: 'public, max-age=3600',
    body: Buffer.from('body { background-color: rgb(250, 240, 230); }\n#headline { color: rgb(12, 34, 56); font-size: 31px; }\n'),
  },
  'img/logo.png': { type: 'image/png', body: tinyPng() },
  'docs/index.html': {
    type: 'text/html; charset=utf-8',
    body: Buffer.from('<!doctype html><html><head><title>Docs</title></head><body><h1>Documentation</h1><a href="../">home</a></body></html>\n'),
  },
  '404.html': {
    type: 'text/html; charset=utf-8',
    body: Buffer.from('<!doctype html><html><head><title>Not here</title></head><body><h1>Nothing at this address</h1></body></html>\n'),
  },
};

let stack: RunningStack;
let browser: Browser;
let page: Page;
let edgePort: string;
const etags: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack({ env: { DEOSS_EDGE_VARS: JSON.stringify({ CUSTOM_DOMAINS: { [CUSTOM_HOST]: BUCKET } }) } });
  edgePort = new URL(stack.stack.edge).port;
  const s3 = new S3Client({
    endpoint: stack.stack.edge,
    region: stack.stack.s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: stack.stack.s3.accessKeyId, secretAccessKey: stack.stack.s3.secretAccessKey },
  });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  for (const [key, f] of Object.entries(files)) {
    const out = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: f.body, ContentType: f.type, CacheControl: f.cacheControl }));
    etags[key] = out.ETag!;
  }
  // A page that moved: an empty object whose website redirect points at its new place.
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'old-docs.html', Body: '', WebsiteRedirectLocation: '/docs/' }));
  await s3.send(
    new PutBucketWebsiteCommand({ Bucket: BUCKET, WebsiteConfiguration: { IndexDocument: { Suffix: 'index.html' }, ErrorDocument: { Key: '404.html' } } }),
  );
  s3.destroy();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', `--host-resolver-rules=MAP *.web.localhost 127.0.0.1, MAP ${CUSTOM_HOST} 127.0.0.1`],
  });
  page = await browser.newPage();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const site = (path = '/') => `http://${BUCKET}.web.localhost:${edgePort}${path}`;

/** A GET to the edge with the Host a browser would send (Node's fetch cannot set Host). */
function get(host: string, path: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: Number(edgePort), path, headers: { Host: `${host}:${edgePort}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a static website from a bucket, in Chromium', () => {
  it('renders the index with its stylesheet and image', async () => {
    const loaded: Record<string, number> = {};
    const onResponse = (r: { url(): string; status(): number }) => (loaded[new URL(r.url()).pathname] = r.status());
    page.on('response', onResponse);
    const res = await page.goto(site('/'), { waitUntil: 'load' });
    page.off('response', onResponse);
    expect(res!.status()).toBe(200);
    expect(loaded).toMatchObject({ '/': 200, '/css/site.css': 200, '/img/logo.png': 200 });
    expect(await page.title()).toBe('DeOSS site');
    expect(await page.textContent('#headline')).toBe('Hello from a bucket');
    // The stylesheet applied: computed styles are the CSS's, not the browser defaults.
    const style = await page.$eval('#headline', (el) => {
      const s = getComputedStyle(el);
      return { color: s.color, fontSize: s.fontSize, background: getComputedStyle(document.body).backgroundColor };
    });
    expect(style).toEqual({ color: 'rgb(12, 34, 56)', fontSize: '31px', background: 'rgb(250, 240, 230)' });
    // The image decoded: a broken image has naturalWidth 0.
    const image = await page.$eval('#logo', (img) => ({ complete: (img as HTMLImageElement).complete, width: (img as HTMLImageElement).naturalWidth, height: (img as HTMLImageElement).naturalHeight }));
    expect(image).toEqual({ complete: true, width: 2, height: 1 });
  });

  it('redirects a directory without its slash and serves its index', async () => {
    await page.goto(site('/'));
    await Promise.all([page.waitForURL(site('/docs/')), page.click('#docs')]);
    expect(await page.title()).toBe('Docs');
    expect(await page.textContent('h1')).toBe('Documentation');
    const res = await page.goto(site('/docs'));
    expect(res!.url()).toBe(site('/docs/'));
    const hop = res!.request().redirectedFrom();
    expect(hop?.url()).toBe(site('/docs'));
    expect((await hop!.response())!.status()).toBe(302);
    expect((await hop!.response())!.headers().location).toBe('/docs/');
  });

  it('follows an object written as a redirect (x-amz-website-redirect-location)', async () => {
    const hop = await get(`${BUCKET}.web.localhost`, '/old-docs.html');
    expect(hop.status).toBe(301);
    expect(hop.headers.location).toBe('/docs/');
    const res = await page.goto(site('/old-docs.html'));
    expect(res!.url()).toBe(site('/docs/'));
    expect(await page.title()).toBe('Docs');
  });

  it('answers a missing page with the error document and status 404', async () => {
    const res = await page.goto(site('/no/such/page.html'));
    expect(res!.status()).toBe(404);
    expect(await page.title()).toBe('Not here');
    expect(await page.textContent('h1')).toBe('Nothing at this address');
    expect(res!.headers()['content-type']).toBe('text/html; charset=utf-8');
  });

  it('sends the stored content types, ETags and cache lifetimes', async () => {
    const md5 = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;
    for (const [key, f] of Object.entries(files)) {
      const res = await get(`${BUCKET}.web.localhost`, `/${key}`);
      expect(res.status, key).toBe(200);
      expect(res.headers['content-type'], key).toBe(f.type);
      expect(res.headers.etag, key).toBe(md5(f.body));
      expect(res.headers.etag, key).toBe(etags[key]);
      // Objects without their own Cache-Control get the edge's PUBLIC_CACHE_CONTROL default.
      expect(res.headers['cache-control'], key).toBe(f.cacheControl ?? 'public, max-age=60');
      expect(res.body.equals(f.body), key).toBe(true);
    }
    // The browser sees the same headers.
    const css = await page.goto(site('/css/site.css'));
    expect(css!.headers()['content-type']).toBe('text/css');
    expect(css!.headers()['cache-control']).toBe('public, max-age=3600');
    expect(css!.headers().etag).toBe(md5(files['css/site.css'].body));
  });

  it('serves the bucket at a custom domain from CUSTOM_DOMAINS', async () => {
    const res = await page.goto(`http://${CUSTOM_HOST}:${edgePort}/`);
    expect(res!.status()).toBe(200);
    expect(await page.title()).toBe('DeOSS site');
    expect(await page.$eval('#logo', (img) => (img as HTMLImageElement).naturalWidth)).toBe(2);
    const missing = await get(CUSTOM_HOST, '/missing');
    expect(missing.status).toBe(404);
    expect(missing.body.equals(files['404.html'].body)).toBe(true);
    // A host that is neither a website domain nor mapped is not a website (it is S3: anonymous → 403).
    const other = await get('www.unmapped.test', '/');
    expect(other.status).toBe(403);
  });

  it('serves a repeated GET of an object from the edge cache', async () => {
    // Fresh bytes (content addressing would share the FID, and so the cache entry, of any identical object).
    const key = 'data/fresh.bin';
    const body = randomBytes(200_000);
    const s3 = new S3Client({
      endpoint: stack.stack.edge,
      region: stack.stack.s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: stack.stack.s3.accessKeyId, secretAccessKey: stack.stack.s3.secretAccessKey },
    });
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: 'application/octet-stream' }));
    s3.destroy();
    const first = await get(`${BUCKET}.web.localhost`, `/${key}`);
    expect(first.status).toBe(200);
    expect(first.headers['x-deoss-cache']).toBe('miss');
    expect(first.body.equals(body)).toBe(true);
    // The miss fills the cache in the background (waitUntil); later reads come from the Cache API.
    const until = Date.now() + 20_000;
    let again = await get(`${BUCKET}.web.localhost`, `/${key}`);
    while (again.headers['x-deoss-cache'] !== 'hit' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      again = await get(`${BUCKET}.web.localhost`, `/${key}`);
    }
    expect(again.headers['x-deoss-cache']).toBe('hit');
    expect(again.status).toBe(200);
    expect(again.body.equals(body)).toBe(true);
    expect(again.headers.etag).toBe(first.headers.etag);
  });

  it('takes an upload from an HTML form signed by boto3 (POST Object), then redirects to the site', async () => {
    // The form's policy and signature come from boto3's generate_presigned_post (Debian's python3-boto3).
    const script = `import json, os, boto3
from botocore.config import Config
a = json.loads(os.environ['ARGS'])
s3 = boto3.client('s3', endpoint_url=a['edge'], region_name=a['region'], aws_access_key_id=a['key'], aws_secret_access_key=a['secret'],
    config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}))
print(json.dumps(s3.generate_presigned_post(a['bucket'], 'uploads/\${filename}', Fields={'success_action_redirect': a['redirect']},
    Conditions=[['starts-with', '$key', 'uploads/'], {'success_action_redirect': a['redirect']}, ['content-length-range', 1, 1048576]], ExpiresIn=300)))`;
    const { s3 } = stack.stack;
    const args = { edge: stack.stack.edge, region: s3.region, key: s3.accessKeyId, secret: s3.secretAccessKey, bucket: BUCKET, redirect: site('/docs/') };
    const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-c', script], { env: { ...process.env, ARGS: JSON.stringify(args) } });
    const post = JSON.parse(stdout) as { url: string; fields: Record<string, string> };
    const escape = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    const hidden = Object.entries(post.fields).map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`).join('');
    await page.setContent(`<form id="up" method="post" enctype="multipart/form-data" action="${escape(post.url)}">${hidden}<input type="file" name="file"><button id="send">Upload</button></form>`);
    const note = Buffer.from(`written in a browser ${randomBytes(8).toString('hex')}\n`);
    await page.setInputFiles('input[type=file]', { name: 'note from chromium.txt', mimeType: 'text/plain', buffer: note });
    await Promise.all([page.waitForURL((url) => url.pathname === '/docs/'), page.click('#send')]);
    // Landed on the site's page with what S3 appends: the bucket, the key (its file name put in) and the ETag.
    const landed = new URL(page.url());
    expect(landed.host).toBe(`${BUCKET}.web.localhost:${edgePort}`);
    expect(Object.fromEntries(landed.searchParams)).toEqual({ bucket: BUCKET, key: 'uploads/note from chromium.txt', etag: `"${createHash('md5').update(note).digest('hex')}"` });
    expect(await page.title()).toBe('Docs');
    // The object holds the file's bytes and the type the browser gave it.
    const stored = await get(`${BUCKET}.web.localhost`, '/uploads/note%20from%20chromium.txt');
    expect(stored.status).toBe(200);
    expect(stored.body.equals(note)).toBe(true);
    expect(stored.headers['content-type']).toBe('text/plain');
  });

  it("lets the site's own script upload with fetch and FormData, across origins, under the bucket's CORS rules", async () => {
    const s3 = new S3Client({
      endpoint: stack.stack.edge,
      region: stack.stack.s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: stack.stack.s3.accessKeyId, secretAccessKey: stack.stack.s3.secretAccessKey },
    });
    await s3.send(new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: [{ AllowedOrigins: [new URL(site('/')).origin], AllowedMethods: ['POST'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'] }] } }));
    s3.destroy();
    const script = `import json, os, boto3
from botocore.config import Config
a = json.loads(os.environ['ARGS'])
s3 = boto3.client('s3', endpoint_url=a['edge'], region_name=a['region'], aws_access_key_id=a['key'], aws_secret_access_key=a['secret'],
    config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}))
print(json.dumps(s3.generate_presigned_post(a['bucket'], 'uploads/\${filename}', Fields={'success_action_status': '201'},
    Conditions=[['starts-with', '$key', 'uploads/'], {'success_action_status': '201'}], ExpiresIn=300)))`;
    const { s3: keys } = stack.stack;
    const args = { edge: stack.stack.edge, region: keys.region, key: keys.accessKeyId, secret: keys.secretAccessKey, bucket: BUCKET };
    const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-c', script], { env: { ...process.env, ARGS: JSON.stringify(args) } });
    const post = JSON.parse(stdout) as { url: string; fields: Record<string, string> };
    await page.goto(site('/'));
    // Runs in the page (origin: the website host); the S3 endpoint is another origin.
    const result = await page.evaluate(async ({ url, fields }) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      form.append('file', new Blob(['sent by fetch\n'], { type: 'text/plain' }), 'fetched.txt');
      const res = await fetch(url, { method: 'POST', body: form });
      return { status: res.status, etag: res.headers.get('etag'), body: await res.text() };
    }, post);
    expect(result.status).toBe(201);
    expect(result.body).toContain('<Key>uploads/fetched.txt</Key>');
    expect(result.etag).toBe(`"${createHash('md5').update('sent by fetch\n').digest('hex')}"`);
    const stored = await get(`${BUCKET}.web.localhost`, '/uploads/fetched.txt');
    expect(stored.body.toString()).toBe('sent by fetch\n');
  });
});
