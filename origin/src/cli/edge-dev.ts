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
import { unstable_DevEnv } from 'wrangler';
import { announceReady, runnerArgs } from './edge-process.ts';

const { config, port, persistTo, envFile } = runnerArgs('edge-dev.ts');
const devEnv = new unstable_DevEnv();
const firstLoad = new Promise<void>((resolve) => devEnv.once('reloadComplete', () => resolve()));
const worker = await devEnv.startWorker({
  config,
  envFiles: [envFile],
  dev: {
    remote: false,
    server: { hostname: '127.0.0.1', port },
    // `wrangler dev` opens one on a random port that nothing here reads; `npx wrangler dev` is there for debugging.
    inspector: false,
    persist: persistTo,
    logLevel: 'warn',
  },
});
await worker.ready;
await firstLoad;
announceReady((await worker.url).origin, () => worker.dispose());
