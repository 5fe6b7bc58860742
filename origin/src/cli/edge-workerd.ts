/**
 * The local edge's process, as `deoss start` runs it: the worker exactly as `wrangler deploy` bundles it, with the
 * bindings of wrangler.toml, in workerd through Miniflare, and the edge port leading straight to the worker. That is
 * how Cloudflare runs it: no dev harness between client and worker. (Miniflare puts a JavaScript entry worker in
 * front for local development, which rewrites every request and response, ~0.4 ms each here; a direct socket skips
 * it. The worker's outbound requests still pass Miniflare's small interceptor, which adds `CF-Worker` as Cloudflare
 * does.) `deoss start --edge-dev` runs wrangler's dev server instead (edge-dev.ts), which rebuilds on change.
 *
 * `node edge-workerd.ts --config wrangler.toml --port P --persist-to DIR --env-file FILE`. Durable Objects and the
 * cache keep their state under DIR/v3, where `wrangler dev --persist-to DIR` keeps it, so both runners share it; the
 * bundle goes to DIR/bundle. The worker's secrets come from FILE (dotenv, as `wrangler dev --env-file` reads it).
 * Prints `{"ready":true,"url":…}` once the worker listens.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseEnv, promisify } from 'node:util';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from 'wrangler';
import { announceReady, runnerArgs } from './edge-process.ts';

const { config, port, persistTo: persist, envFile } = runnerArgs('edge-workerd.ts');

// The bundle `wrangler deploy` would upload, built by wrangler itself.
const wrangler = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');
const outdir = join(persist, 'bundle');
await promisify(execFile)(process.execPath, [wrangler, 'deploy', '--dry-run', '--config', config, '--outdir', outdir], {
  cwd: dirname(config),
  env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
});

const wranglerConfig = unstable_readConfig({ config });
const { workerOptions } = unstable_getMiniflareWorkerOptions(wranglerConfig);
const mf = new Miniflare({
  ...workerOptions,
  // The worker's name keys its Durable Objects' storage (DIR/v3/do/<name>-<class>), as under wrangler dev.
  name: wranglerConfig.name,
  bindings: { ...workerOptions.bindings, ...parseEnv(readFileSync(envFile, 'utf8')) },
  modules: true,
  scriptPath: join(outdir, 'index.js'),
  modulesRoot: outdir,
  // Offline: the placeholder `request.cf` (no fetch of Cloudflare's sample object), as in the tests.
  cf: false,
  host: '127.0.0.1',
  port: 0,
  durableObjectsPersist: join(persist, 'v3', 'do'),
  cachePersist: join(persist, 'v3', 'cache'),
  log: new Log(LogLevel.WARN),
  unsafeDirectSockets: [{ host: '127.0.0.1', port }],
});
await mf.ready;
announceReady((await mf.unsafeGetDirectURL()).toString().replace(/\/$/, ''), () => mf.dispose());
