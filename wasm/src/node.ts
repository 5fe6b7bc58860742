/**
 * Node-only loader: reads wasm/erasure.wasm from disk (relative to this module) and compiles it
 * once per process; every call returns a fresh instance (its own memory) of that compiled module.
 * workerd code imports the module instead: `import wasm from '../erasure.wasm'` and passes it to
 * loadErasureModule.
 */
import { readFile } from 'node:fs/promises';
import { type ErasureModule, loadErasureModule } from './erasure.ts';

/** Location of the committed artifact. */
export const ERASURE_WASM_URL = new URL('../erasure.wasm', import.meta.url);

let compiled: Promise<object> | undefined;
const WA = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<object> } }).WebAssembly;

/** The compiled erasure.wasm (cached for the life of the process). */
export function compileErasureWasm(): Promise<object> {
  compiled ??= readFile(ERASURE_WASM_URL)
    .then((bytes) => WA.compile(bytes))
    .catch((e: unknown) => {
      compiled = undefined; // let a later call retry
      throw e;
    });
  return compiled;
}

export async function loadErasureModuleFromDisk(): Promise<ErasureModule> {
  return loadErasureModule(await compileErasureWasm());
}
