/**
 * The edge worker in workerd the way Cloudflare runs it, for bench:edge: the bundle `wrangler deploy` would upload,
 * the bindings of wrangler.toml, and nothing in front of it (its socket leads straight to the worker, past the
 * entry worker Miniflare puts in front for local development; its outbound requests still pass Miniflare's small
 * interceptor, which adds the `CF-Worker` header as Cloudflare does). What `npm start` runs (wrangler's dev server,
 * origin/src/cli/edge-dev.ts) adds what exists only on a developer's machine to every request: Miniflare's entry
 * worker and our 100-continue front (Cloudflare answers `Expect: 100-continue` itself), and builds the bundle the
 * way `wrangler dev` does. Measuring both shapes in one run separates the worker's own cost from the dev harness's.
 *
 * Run as its own process so that its CPU can be told apart:
 * `node bench/workerd-edge.ts --home DIR --port P` with the worker's secret vars (EDGE_ORIGINS, EDGE_SECRET,
 * KEY_ENCRYPTION_SECRET, EDGE_REGION) as a JSON object in the environment variable EDGE_VARS. State (Durable
 * Objects, cache) goes under DIR. Prints one JSON line with its URL when it answers.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({ options: { home: { type: 'string' }, port: { type: 'string' } } });
if (!values.home || !values.port) throw new Error('usage: workerd-edge.ts --home DIR --port P (vars in EDGE_VARS)');
const home = values.home;
const config = join(ROOT, 'wrangler.toml');

// The bundle exactly as `wrangler deploy` builds it.
const wrangler = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');
const outdir = join(home, 'bundle');
await promisify(execFile)(process.execPath, [wrangler, 'deploy', '--dry-run', '--config', config, '--outdir', outdir], {
  cwd: ROOT,
  env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
});

const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
const mf = new Miniflare({
  ...workerOptions,
  modules: true,
  scriptPath: join(outdir, 'index.js'),
  modulesRoot: outdir,
  // Offline: the placeholder `request.cf` (no fetch of Cloudflare's sample object).
  cf: false,
  bindings: { ...workerOptions.bindings, ...(JSON.parse(process.env.EDGE_VARS ?? '{}') as Record<string, string>) },
  host: '127.0.0.1',
  port: 0,
  durableObjectsPersist: join(home, 'do'),
  cachePersist: join(home, 'cache'),
  log: new Log(LogLevel.WARN),
  // Clients talk to the worker itself: Miniflare's own entry worker (a JavaScript worker that rewrites every request
  // and response for local development, ~0.4 ms per request here) has no counterpart on Cloudflare.
  unsafeDirectSockets: [{ host: '127.0.0.1', port: Number(values.port) }],
});
await mf.ready;
const url = (await mf.unsafeGetDirectURL()).toString().replace(/\/$/, '');
process.stdout.write(`${JSON.stringify({ ready: true, url })}\n`);
const stop = () => void mf.dispose().finally(() => process.exit(0));
process.once('SIGTERM', stop).once('SIGINT', stop);

