import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CipherKind } from '../pipeline/cipher.ts';
import type { SegmentDigest } from '../pipeline/segment.ts';
import { writeDurably } from './durable-file.ts';

/** Where an upload is in its life. */
export type UploadState =
  /** Segments durable on the origin; the deal is not yet on chain. */
  | 'staged'
  /** Declared on chain; fragments not all placed yet. */
  | 'dispatching'
  /** Every column delivered; waiting for the storage nodes' chain reports. */
  | 'reporting'
  /** The chain has the file record. */
  | 'stored'
  /** Given up (the reason is recorded); staged segments are kept until deleted. */
  | 'failed';

/** One fragment column's placement: which node holds column `column`, and how many segments it has received. */
export interface ColumnPlacement {
  column: number;
  miner: string;
  endpoint: string;
  delivered: number;
  /** Nodes that failed this column, so a re-placement does not pick them again. */
  failedMiners: string[];
}

/** The durable record of one upload (`<home>/uploads/<id>/upload.json`). */
export interface UploadRecord {
  id: string;
  fid: string;
  size: number;
  owner: string;
  fileName: string;
  territory: string;
  cipher: CipherKind;
  segments: SegmentDigest[];
  state: UploadState;
  columns: ColumnPlacement[];
  createdAt: number;
  updatedAt: number;
  /** Why the last attempt failed, for the state endpoint. */
  lastError?: string;
  /** Attempts at the current step; drives the backoff. */
  attempts: number;
}

/** The upload journal: one directory per upload holding its record and staged segments. */
export class UploadJournal {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  uploadDir(id: string): string {
    return join(this.dir, id);
  }

  segmentPath(id: string, index: number): string {
    return join(this.dir, id, `segment-${index}`);
  }

  async save(record: UploadRecord): Promise<void> {
    record.updatedAt = Date.now();
    await writeDurably(join(this.dir, record.id, 'upload.json'), JSON.stringify(record));
  }

  /** Every upload with a record; directories without one are uploads that never finished staging. */
  async list(): Promise<{ records: UploadRecord[]; incomplete: string[] }> {
    const records: UploadRecord[] = [];
    const incomplete: string[] = [];
    for (const id of await readdir(this.dir)) {
      try {
        records.push(JSON.parse(await readFile(join(this.dir, id, 'upload.json'), 'utf8')));
      } catch {
        incomplete.push(id);
      }
    }
    return { records, incomplete };
  }

  async remove(id: string): Promise<void> {
    await rm(join(this.dir, id), { recursive: true, force: true });
  }
}
