import { parentPort } from 'node:worker_threads';
import { loadErasureModuleFromDisk } from '../../../wasm/src/node.ts';
import { SegmentCoder, type SegmentJob } from './segment.ts';

/** Worker-thread entry of SegmentWorkerPool: one SegmentCoder per thread, one job at a time. */
export interface WorkerRequest {
  id: number;
  job: SegmentJob;
}
export type WorkerReply =
  | { id: number; ok: true; result: ReturnType<SegmentCoder['process']> }
  | { id: number; ok: false; error: { name: string; message: string } };

const port = parentPort;
if (!port) throw new Error('segment-worker.ts must run in a worker thread');
const coder = new SegmentCoder((await loadErasureModuleFromDisk()).createCodec());

port.on('message', ({ id, job }: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = { id, ok: true, result: coder.process(job) };
  } catch (err) {
    const e = err as Error;
    reply = { id, ok: false, error: { name: e.name, message: e.message } };
    // Hand the buffer back even on failure so the caller's pool does not shrink.
    port.postMessage({ ...reply, buffer: job.buffer }, [job.buffer.buffer as ArrayBuffer]);
    return;
  }
  port.postMessage(reply, [reply.result.buffer.buffer as ArrayBuffer]);
});
