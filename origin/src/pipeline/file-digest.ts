import { open } from 'node:fs/promises';
import { plaintextCapacity, type CipherParams, type CipherSpec } from './cipher.ts';
import { digestStream, type FileDigest } from './pipeline.ts';
import { createSegmentProcessor, type SegmentProcessor } from './processor.ts';
import { fileSource } from './source.ts';

export interface DigestFileOptions {
  cipher?: CipherSpec | CipherParams;
  /** Reuse a processor (it is not closed). Without one, a file of one segment runs inline, larger ones on threads. */
  processor?: SegmentProcessor;
  /** Worker threads when no processor is given. @default os.availableParallelism() */
  threads?: number;
  signal?: AbortSignal;
}

/** Computes a file's CESS identity offline (like `ipfs add --only-hash`): FID, segment and fragment hashes. */
export async function digestFile(path: string, options: DigestFileOptions = {}): Promise<FileDigest> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    let processor = options.processor;
    const owned = !processor;
    if (!processor) {
      const single = size <= plaintextCapacity(options.cipher?.kind ?? 'none', 0);
      processor = await createSegmentProcessor({ threads: single ? 0 : options.threads });
    }
    try {
      return await digestStream(fileSource(handle), { processor, cipher: options.cipher, signal: options.signal });
    } finally {
      if (owned) await processor.close();
    }
  } finally {
    await handle.close();
  }
}
