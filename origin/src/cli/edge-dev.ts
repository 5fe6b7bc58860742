/**
 * The local edge's process under `deoss start --edge-dev`: wrangler's dev server for the worker (the same build,
 * bindings and local Durable Object and cache state as `wrangler dev`, and a rebuild and reload on every change to
 * the worker's code), listening on the edge port, through wrangler's own API so that it can tell when it is ready.
 * For working on the worker; `deoss start` without the flag runs the deployable bundle (edge-workerd.ts).
 *
 * wrangler's dev server puts its proxy worker, a second workerd process that holds requests while the worker
 * reloads, between clients and the worker: every request crosses both (docs/performance.md measures the cost).
 *
 * `node edge-dev.ts --config wrangler.toml --port P --persist-to DIR --env-file FILE`. Prints
 * `{"ready":true,"url":…}` once the worker answers. Worker warnings and errors go to stderr (log level warn).
 */
import { parseArgs } from 'node:util';
import { unstable_DevEnv } from 'wrangler';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    port: { type: 'string' },
    'persist-to': { type: 'string' },
    'env-file': { type: 'string' },
  },
});
if (!values.config || !values.port || !values['persist-to'] || !values['env-file']) {
  throw new Error('usage: edge-dev.ts --config FILE --port P --persist-to DIR --env-file FILE');
}

const devEnv = new unstable_DevEnv();
const firstLoad = new Promise<void>((resolve) => devEnv.once('reloadComplete', () => resolve()));
const worker = await devEnv.startWorker({
  config: values.config,
  envFiles: [values['env-file']],
  dev: {
    remote: false,
    server: { hostname: '127.0.0.1', port: Number(values.port) },
    // `wrangler dev` opens one on a random port that nothing here reads; `npx wrangler dev` is there for debugging.
    inspector: false,
    persist: values['persist-to'],
    logLevel: 'warn',
  },
});
await worker.ready;
await firstLoad;
const url = (await worker.url).origin;
process.stdout.write(`${JSON.stringify({ ready: true, url })}\n`);
const stop = () => void worker.dispose().finally(() => process.exit(0));
process.once('SIGTERM', stop).once('SIGINT', stop);
