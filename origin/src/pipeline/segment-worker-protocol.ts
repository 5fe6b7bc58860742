import type { EncodeJob, EncodeResult, RebuildJob, RebuildResult, SegmentJob, SegmentResult } from './segment.ts';

/** What SegmentWorkerPool asks of a worker thread (segment-worker.ts): one kind of job per message. */
export type WorkerWork = { job: SegmentJob } | { encode: EncodeJob } | { rebuild: RebuildJob };
export type WorkerRequest = { id: number } & WorkerWork;
export type WorkerReply =
  | { id: number; ok: true; result: SegmentResult | EncodeResult | RebuildResult }
  | { id: number; ok: false; error: { name: string; message: string } };

/** The job a message carries (its buffers travel with it). */
export function jobOf(work: WorkerWork): SegmentJob | EncodeJob | RebuildJob {
  return 'job' in work ? work.job : 'encode' in work ? work.encode : work.rebuild;
}
