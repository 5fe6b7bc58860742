import { parentPort } from 'node:worker_threads';
import { loadErasureModuleFromDisk } from '../../../wasm/src/node.ts';
import { buffersOf, SegmentCoder } from './segment.ts';
import { jobOf, type WorkerReply, type WorkerRequest } from './segment-worker-protocol.ts';

/** Worker-thread entry of SegmentWorkerPool: one SegmentCoder per thread, one job at a time. */
const port = parentPort;
if (!port) throw new Error('segment-worker.ts must run in a worker thread');
const coder = new SegmentCoder((await loadErasureModuleFromDisk()).createCodec());

port.on('message', (request: WorkerRequest) => {
  const work = jobOf(request);
  let reply: WorkerReply;
  try {
    const result = 'job' in request ? coder.process(request.job) : 'encode' in request ? coder.encode(request.encode) : coder.rebuild(request.rebuild);
    reply = { id: request.id, ok: true, result };
  } catch (err) {
    const e = err as Error;
    reply = { id: request.id, ok: false, error: { name: e.name, message: e.message } };
    // Hand the buffers back even on failure so the caller's pool does not shrink.
    port.postMessage({ ...reply, work }, buffersOf(work));
    return;
  }
  port.postMessage(reply, buffersOf(work));
});
