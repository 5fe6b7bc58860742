import { parentPort } from 'node:worker_threads';
import { loadErasureModuleFromDisk } from '../../../wasm/src/node.ts';
import { buffersOf, SegmentCoder, type EncodeJob, type EncodeResult, type SegmentJob, type SegmentResult } from './segment.ts';

/** Worker-thread entry of SegmentWorkerPool: one SegmentCoder per thread, one job at a time. */
export type WorkerRequest = { id: number; job: SegmentJob } | { id: number; encode: EncodeJob };
export type WorkerReply =
  | { id: number; ok: true; result: SegmentResult | EncodeResult }
  | { id: number; ok: false; error: { name: string; message: string } };

const port = parentPort;
if (!port) throw new Error('segment-worker.ts must run in a worker thread');
const coder = new SegmentCoder((await loadErasureModuleFromDisk()).createCodec());

port.on('message', (request: WorkerRequest) => {
  const work = 'job' in request ? request.job : request.encode;
  let reply: WorkerReply;
  try {
    const result = 'job' in request ? coder.process(request.job) : coder.encode(request.encode);
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
