/**
 * The local edge's process: wrangler's dev server for the worker (the same build, bindings, local Durable Object
 * and cache state, and reload on change as `wrangler dev`), through wrangler's own API so that it can tell where
 * the worker itself listens.
 *
 * `wrangler dev` puts its proxy worker in front of the worker: a second workerd process that every request crosses,
 * there to hold requests while the worker reloads. It cost 1.5 ms of CPU and ~2.6 ms of latency per cached 1 MiB
 * GET here, more than the worker's own work (docs/performance.md). The stack's front (continue-front.ts) connects
 * to the worker's own socket instead, and to the proxy only when that refuses a connection (a reload under way).
 * A reload restarts the worker's workerd on a new port: until the front hears of it, the old port refuses and the
 * proxy serves.
 *
 * `node edge-dev.ts --config wrangler.toml --port P --persist-to DIR --env-file FILE`: P is the proxy's port.
 * Prints `{"ready":true,"url":proxy,"workerUrl":worker}` once the worker answers and `{"workerUrl":…}` after every
 * reload that moved it. Worker warnings and errors go to stderr (log level warn).
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
let workerUrl: string | undefined;
let announced = false;
// The worker's address comes with every completed (re)load, the first one after `ready` may have resolved.
const firstLoad = new Promise<void>((resolve) => {
  devEnv.on('reloadComplete', (event: { proxyData: { userWorkerUrl: { protocol: string; hostname: string; port: string } } }) => {
    const { protocol, hostname, port } = event.proxyData.userWorkerUrl;
    const url = `${protocol}//${hostname}:${port}`;
    resolve();
    if (url === workerUrl) return;
    workerUrl = url;
    if (announced) process.stdout.write(`${JSON.stringify({ workerUrl })}\n`);
  });
});
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
announced = true;
process.stdout.write(`${JSON.stringify({ ready: true, url, workerUrl })}\n`);
const stop = () => void worker.dispose().finally(() => process.exit(0));
process.once('SIGTERM', stop).once('SIGINT', stop);
