import { Hono } from 'hono';

/** The edge worker. The S3 and DeOSS APIs arrive with the edge issue; for now it answers health checks. */
const app = new Hono();

app.get('/healthz', (c) => c.json({ ok: true, role: 'edge' }));

export default app;

export { BucketIndex } from './namespace/bucket-index.ts';
export { AccountDirectory } from './namespace/account-directory.ts';
