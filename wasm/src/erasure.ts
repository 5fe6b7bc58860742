/**
 * Typed loader for wasm/erasure.wasm: Reed-Solomon erasure coding over GF(2^8), byte-for-byte the
 * code klauspost/reedsolomon `New(data, parity)` builds (polynomial 0x11D, Vandermonde matrix made
 * systematic by the inverse of its top square). Works in Node and in workerd: this file uses only
 * the WebAssembly global, never `node:` modules (Node's disk loader is in ./node.ts).
 *
 * Memory and buffer ownership
 * ---------------------------
 * Each {@link ErasureModule} is one wasm instance with one linear memory, shared by all codecs and
 * workspaces created from it. Not thread-safe across workers (each worker loads its own module).
 *
 * - Copying API (`encode`, `verify`, `reconstruct`, `reconstructData` on {@link ReedSolomon}): the
 *   caller owns every `Uint8Array` passed in and everything returned. Bytes are copied into a
 *   small per-codec scratch area of wasm memory in column chunks, processed there, and the results
 *   copied back out. The module keeps no reference to caller arrays after the call returns.
 * - Zero-copy API ({@link ErasureWorkspace}): the shards live inside wasm memory. Views returned by
 *   `shard(i)` / `data()` alias that memory: the module overwrites them in `encode()` (parity) and
 *   `reconstruct()` (the shards marked absent), and they become invalid after `free()`.
 *   A view is also detached (its length drops to 0) whenever wasm memory grows, which happens only
 *   while allocating: `createCodec()` and `workspace()` on the same module. encode / verify /
 *   reconstruct never allocate, so views taken after the last allocation stay usable. Copy bytes out
 *   (e.g. `slice()`) before keeping them beyond `free()` or beyond the next allocation.
 * - Codecs and workspaces hold wasm memory until `free()`; freed memory is reused by later
 *   allocations but the wasm memory itself never shrinks.
 */

export const DEFAULT_DATA_SHARDS = 4;
export const DEFAULT_PARITY_SHARDS = 8;
/** data + parity may not exceed this (GF(2^8) has 256 evaluation points). */
export const MAX_TOTAL_SHARDS = 256;

export class ErasureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ErasureError';
  }
}
/** Fewer than `dataShards` shards are present, so nothing can be rebuilt. */
export class TooFewShardsError extends ErasureError {
  constructor(message: string) {
    super(message);
    this.name = 'TooFewShardsError';
  }
}
/** Shards of different lengths, zero-length shards, or a missing buffer where one is required. */
export class ShardSizeError extends ErasureError {
  constructor(message: string) {
    super(message);
    this.name = 'ShardSizeError';
  }
}
/** Wrong number of shards in an array, or invalid (data, parity) counts. */
export class InvalidShardCountError extends ErasureError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidShardCountError';
  }
}

/**
 * A compiled `WebAssembly.Module`. Typed structurally because not every TypeScript lib set this
 * file is checked with declares the WebAssembly namespace (the Node project's ES2023 lib does not).
 */
export type CompiledWasmModule = object;
/** Raw module bytes (what TypeScript's DOM lib calls BufferSource). */
export type WasmBytes = ArrayBuffer | ArrayBufferView;

export interface CodecOptions {
  dataShards?: number;
  parityShards?: number;
  /** Use the SIMD128 kernel (default: {@link ErasureModule.simd}). `false` selects the scalar table path. */
  simd?: boolean;
}

export interface ReconstructOptions {
  /** present[i] tells whether shards[i] holds valid data (length totalShards). */
  present?: readonly boolean[];
}

export interface ErasureModule {
  /** Creates a codec inside this module's memory. Throws InvalidShardCountError for bad counts. */
  createCodec(opts?: CodecOptions): ReedSolomon;
  /** Whether the SIMD128 kernel is available (always true for the shipped build). */
  readonly simd: boolean;
  /** Diagnostics: current wasm memory size and the bytes on the module's free list. */
  stats(): { memoryBytes: number; freeBytes: number; freeBlocks: number };
}

export interface ReedSolomon {
  readonly dataShards: number;
  readonly parityShards: number;
  readonly totalShards: number;
  /** True when this codec runs the SIMD kernel, false for the scalar path. */
  readonly simd: boolean;
  /**
   * shards.length === totalShards, all the same non-zero length; data shards filled; the parity
   * entries must be buffers too and are overwritten in place. Copies through wasm memory.
   */
  encode(shards: Uint8Array[]): void;
  /** Recomputes parity from the data shards and compares. All shards must be given. */
  verify(shards: Uint8Array[]): boolean;
  /**
   * Missing entries are null/undefined; they are allocated (new Uint8Array owned by the caller) and
   * filled, in the given array, which is returned completed. Uses the first `dataShards` present
   * shards. Throws TooFewShardsError when fewer than `dataShards` are present.
   *
   * With `opts.present`, presence comes from that array instead, and an absent entry that already
   * holds a Uint8Array of the shard size is filled in place rather than replaced: this lets callers
   * reuse pooled buffers (fresh multi-MiB allocations cost more than the decoding itself).
   */
  reconstruct(shards: (Uint8Array | null | undefined)[], opts?: ReconstructOptions): Uint8Array[];
  /** Like reconstruct but only data shards are rebuilt (parity entries left as given). */
  reconstructData(
    shards: (Uint8Array | null | undefined)[],
    opts?: ReconstructOptions,
  ): (Uint8Array | null | undefined)[];
  /**
   * Zero-copy working area inside wasm memory: totalShards contiguous shards of shardSize bytes
   * (shard i at byte i*shardSize, so shards 0..data-1 together are the original segment).
   * Allocates (and may grow wasm memory, detaching older views from this module).
   */
  workspace(shardSize: number): ErasureWorkspace;
  /** Releases the codec's wasm memory. Workspaces created from it must not be used afterwards. */
  free(): void;
}

export interface ErasureWorkspace {
  readonly shardSize: number;
  /** Fresh views into wasm memory (re-created if memory grew); index i = shard i. */
  shard(i: number): Uint8Array;
  /** View of shards 0..data-1 as one contiguous region (the segment). */
  data(): Uint8Array;
  /** Parity from data, in place. */
  encode(): void;
  verify(): boolean;
  /** Rebuilds shards whose present[i] is false, in place (only data shards with dataOnly). */
  reconstruct(present: boolean[], opts?: { dataOnly?: boolean }): void;
  /** Returns the memory to the module; views from shard()/data() must not be used afterwards. */
  free(): void;
}

// ---------------------------------------------------------------------------------------------

interface WasmGlobal {
  compile(bytes: WasmBytes): Promise<object>;
  instantiate(module: object, imports?: object): Promise<{ exports: Record<string, unknown> }>;
}
const WA = (globalThis as unknown as { WebAssembly: WasmGlobal }).WebAssembly;

interface Exports {
  memory: { buffer: ArrayBuffer };
  ec_alloc(size: number): number;
  ec_free(ptr: number): void;
  ec_simd(): number;
  ec_heap_free_bytes(): number;
  ec_heap_free_blocks(): number;
  rs_new(data: number, parity: number): number;
  rs_free(h: number): void;
  rs_encode(h: number, shards: number, len: number, simd: number): void;
  rs_verify(h: number, shards: number, len: number, simd: number): number;
  rs_reconstruct(h: number, shards: number, present: number, len: number, dataOnly: number, simd: number): number;
}

const EXPORTS = [
  'memory',
  'ec_alloc',
  'ec_free',
  'ec_simd',
  'ec_heap_free_bytes',
  'ec_heap_free_blocks',
  'rs_new',
  'rs_free',
  'rs_encode',
  'rs_verify',
  'rs_reconstruct',
] as const;

/** Status codes of rs_reconstruct. */
const RC_TOO_FEW = 1;
const RC_SINGULAR = 2;

/**
 * Instantiates erasure.wasm. `source` is a compiled module (workerd: `import wasm from
 * '../erasure.wasm'`) or the module's bytes (Node; workerd forbids compiling bytes at run time).
 */
export async function loadErasureModule(source: CompiledWasmModule | WasmBytes): Promise<ErasureModule> {
  // Tag checks rather than instanceof, so values from another realm are recognised too.
  const tag = Object.prototype.toString.call(source);
  const isBytes = ArrayBuffer.isView(source) || tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]';
  let module: object;
  try {
    module = isBytes ? await WA.compile(source as WasmBytes) : source;
  } catch (e) {
    throw new ErasureError(
      `cannot compile erasure.wasm: ${String(e)} (it needs WebAssembly SIMD128 and relaxed SIMD; workerd only ` +
        `accepts the module imported as \`import wasm from '.../erasure.wasm'\`, not bytes)`,
    );
  }
  if (!isBytes && tag !== '[object WebAssembly.Module]') {
    throw new ErasureError(`loadErasureModule: expected a WebAssembly.Module or module bytes, got ${tag}`);
  }
  const instance = await WA.instantiate(module, {});
  for (const name of EXPORTS) {
    if (!(name in instance.exports)) throw new ErasureError(`erasure.wasm lacks the export ${name}`);
  }
  return new Module(instance.exports as unknown as Exports);
}

class Module implements ErasureModule {
  readonly simd: boolean;
  private buf: ArrayBuffer | undefined;
  private u8view = new Uint8Array(0);
  private u32view = new Uint32Array(0);
  readonly x: Exports;

  constructor(x: Exports) {
    this.x = x;
    this.simd = x.ec_simd() === 1;
  }

  /** Current byte view of wasm memory (re-created after memory growth). */
  u8(): Uint8Array {
    const b = this.x.memory.buffer;
    if (b !== this.buf) this.refresh(b);
    return this.u8view;
  }
  u32(): Uint32Array {
    const b = this.x.memory.buffer;
    if (b !== this.buf) this.refresh(b);
    return this.u32view;
  }
  private refresh(b: ArrayBuffer): void {
    this.buf = b;
    this.u8view = new Uint8Array(b);
    this.u32view = new Uint32Array(b);
  }

  alloc(size: number): number {
    const p = this.x.ec_alloc(size);
    if (p === 0) throw new ErasureError(`cannot allocate ${size} bytes of wasm memory`);
    return p;
  }

  createCodec(opts: CodecOptions = {}): ReedSolomon {
    const data = opts.dataShards ?? DEFAULT_DATA_SHARDS;
    const parity = opts.parityShards ?? DEFAULT_PARITY_SHARDS;
    if (!Number.isInteger(data) || !Number.isInteger(parity) || data < 1 || parity < 1) {
      throw new InvalidShardCountError(`invalid shard counts data=${data} parity=${parity} (both must be integers ≥ 1)`);
    }
    if (data + parity > MAX_TOTAL_SHARDS) {
      throw new InvalidShardCountError(`data + parity = ${data + parity} exceeds ${MAX_TOTAL_SHARDS}`);
    }
    const simd = opts.simd ?? this.simd;
    if (simd && !this.simd) throw new ErasureError('the SIMD kernel is not available in this build');
    return new Codec(this, data, parity, simd);
  }

  stats(): { memoryBytes: number; freeBytes: number; freeBlocks: number } {
    return {
      memoryBytes: this.x.memory.buffer.byteLength,
      freeBytes: this.x.ec_heap_free_bytes(),
      freeBlocks: this.x.ec_heap_free_blocks(),
    };
  }
}

/** Bytes per shard that the copying API moves through wasm memory per call into the kernel. */
function chunkFor(total: number): number {
  const c = Math.floor((1 << 20) / total / 4096) * 4096;
  return Math.max(4096, Math.min(64 * 1024, c));
}

type MaybeShard = Uint8Array | null | undefined;

class Codec implements ReedSolomon {
  readonly dataShards: number;
  readonly parityShards: number;
  readonly totalShards: number;
  readonly simd: boolean;
  private readonly m: Module;
  private h: number;
  private readonly chunk: number;
  /** Scratch: totalShards slots of `chunk` bytes, then the u32 pointer array, then present flags. */
  private readonly scratch: number;
  private readonly ptrs: number;
  private readonly present: number;
  private readonly simdFlag: number;

  constructor(m: Module, dataShards: number, parityShards: number, simd: boolean) {
    this.m = m;
    this.dataShards = dataShards;
    this.parityShards = parityShards;
    this.simd = simd;
    this.totalShards = dataShards + parityShards;
    this.simdFlag = simd ? 1 : 0;
    this.chunk = chunkFor(this.totalShards);
    this.h = m.x.rs_new(dataShards, parityShards);
    if (this.h === 0) throw new ErasureError(`cannot create a ${dataShards}+${parityShards} codec (out of wasm memory?)`);
    const t = this.totalShards;
    try {
      this.scratch = m.alloc(t * this.chunk + t * 4 + t);
    } catch (e) {
      m.x.rs_free(this.h);
      this.h = 0;
      throw e;
    }
    this.ptrs = this.scratch + t * this.chunk;
    this.present = this.ptrs + t * 4;
    const u32 = m.u32();
    for (let i = 0; i < t; i++) u32[(this.ptrs >>> 2) + i] = this.scratch + i * this.chunk;
  }

  /** The wasm codec handle; throws once the codec is freed. */
  handle(): number {
    if (this.h === 0) throw new ErasureError('codec has been freed');
    return this.h;
  }

  free(): void {
    if (this.h === 0) return;
    this.m.x.rs_free(this.h);
    this.m.x.ec_free(this.scratch);
    this.h = 0;
  }

  /** Validates a full shard array (encode/verify) and returns the shard length. */
  private fullLength(shards: readonly MaybeShard[], op: string): number {
    if (!Array.isArray(shards) || shards.length !== this.totalShards) {
      throw new InvalidShardCountError(
        `${op}: expected ${this.totalShards} shards, got ${Array.isArray(shards) ? shards.length : typeof shards}`,
      );
    }
    let len = -1;
    for (let i = 0; i < shards.length; i++) {
      const s = shards[i];
      if (!(s instanceof Uint8Array)) {
        throw new ShardSizeError(`${op}: shard ${i} is missing (all ${this.totalShards} buffers are required)`);
      }
      if (len === -1) len = s.length;
      else if (s.length !== len) throw new ShardSizeError(`${op}: shard ${i} has ${s.length} bytes, shard 0 has ${len}`);
    }
    if (len === 0) throw new ShardSizeError(`${op}: shards are empty`);
    return len;
  }

  encode(shards: Uint8Array[]): void {
    const h = this.handle();
    const len = this.fullLength(shards, 'encode');
    const { dataShards: d, totalShards: t, chunk, scratch } = this;
    const x = this.m.x;
    for (let off = 0; off < len; off += chunk) {
      const n = Math.min(chunk, len - off);
      let mem = this.m.u8();
      for (let i = 0; i < d; i++) mem.set(shards[i].subarray(off, off + n), scratch + i * chunk);
      x.rs_encode(h, this.ptrs, n, this.simdFlag);
      mem = this.m.u8();
      for (let i = d; i < t; i++) {
        const p = scratch + i * chunk;
        shards[i].set(mem.subarray(p, p + n), off);
      }
    }
  }

  verify(shards: Uint8Array[]): boolean {
    const h = this.handle();
    const len = this.fullLength(shards, 'verify');
    const { totalShards: t, chunk, scratch } = this;
    const x = this.m.x;
    for (let off = 0; off < len; off += chunk) {
      const n = Math.min(chunk, len - off);
      const mem = this.m.u8();
      for (let i = 0; i < t; i++) mem.set(shards[i].subarray(off, off + n), scratch + i * chunk);
      if (x.rs_verify(h, this.ptrs, n, this.simdFlag) !== 1) return false;
    }
    return true;
  }

  reconstruct(shards: MaybeShard[], opts?: ReconstructOptions): Uint8Array[] {
    this.rebuild(shards, false, opts?.present);
    return shards as Uint8Array[];
  }

  reconstructData(shards: MaybeShard[], opts?: ReconstructOptions): MaybeShard[] {
    this.rebuild(shards, true, opts?.present);
    return shards;
  }

  private rebuild(shards: MaybeShard[], dataOnly: boolean, presentOpt: readonly boolean[] | undefined): void {
    const h = this.handle();
    const op = dataOnly ? 'reconstructData' : 'reconstruct';
    const { dataShards: d, totalShards: t, chunk, scratch } = this;
    if (!Array.isArray(shards) || shards.length !== t) {
      throw new InvalidShardCountError(
        `${op}: expected ${t} entries, got ${Array.isArray(shards) ? shards.length : typeof shards}`,
      );
    }
    if (presentOpt !== undefined && (!Array.isArray(presentOpt) || presentOpt.length !== t)) {
      throw new InvalidShardCountError(`${op}: expected ${t} present flags`);
    }
    const isPresent = (i: number) => (presentOpt ? presentOpt[i] === true : shards[i] != null);
    let len = -1;
    let count = 0;
    for (let i = 0; i < t; i++) {
      if (!isPresent(i)) continue;
      const s = shards[i];
      if (!(s instanceof Uint8Array)) throw new ShardSizeError(`${op}: shard ${i} is marked present but is not a Uint8Array`);
      if (len === -1) len = s.length;
      else if (s.length !== len) throw new ShardSizeError(`${op}: shard ${i} has ${s.length} bytes, expected ${len}`);
      count++;
    }
    if (count < d) throw new TooFewShardsError(`${op}: ${count} of ${t} shards present, need ${d}`);
    if (len === 0) throw new ShardSizeError(`${op}: shards are empty`);
    const limit = dataOnly ? d : t;
    const inputs: number[] = [];
    const missing: number[] = [];
    for (let i = 0; i < t; i++) {
      if (isPresent(i)) {
        if (inputs.length < d) inputs.push(i);
      } else if (i < limit) missing.push(i);
    }
    if (missing.length === 0) return;
    const outs = missing.map((i) => {
      const s = shards[i];
      if (presentOpt && s instanceof Uint8Array) {
        if (s.length !== len) throw new ShardSizeError(`${op}: output buffer ${i} has ${s.length} bytes, expected ${len}`);
        return s;
      }
      return new Uint8Array(len);
    });
    const x = this.m.x;
    let mem = this.m.u8();
    for (let i = 0; i < t; i++) mem[this.present + i] = isPresent(i) ? 1 : 0;
    for (let off = 0; off < len; off += chunk) {
      const n = Math.min(chunk, len - off);
      mem = this.m.u8();
      for (const i of inputs) mem.set((shards[i] as Uint8Array).subarray(off, off + n), scratch + i * chunk);
      const rc = x.rs_reconstruct(h, this.ptrs, this.present, n, dataOnly ? 1 : 0, this.simdFlag);
      if (rc === RC_TOO_FEW) throw new TooFewShardsError(`${op}: too few shards present`);
      if (rc === RC_SINGULAR) throw new ErasureError(`${op}: singular decoding matrix`);
      if (rc !== 0) throw new ErasureError(`${op}: failed with status ${rc}`);
      mem = this.m.u8();
      for (let k = 0; k < missing.length; k++) {
        const p = scratch + missing[k] * chunk;
        outs[k].set(mem.subarray(p, p + n), off);
      }
    }
    for (let k = 0; k < missing.length; k++) shards[missing[k]] = outs[k];
  }

  workspace(shardSize: number): ErasureWorkspace {
    const h = this.handle();
    if (!Number.isInteger(shardSize) || shardSize <= 0) {
      throw new ShardSizeError(`workspace: shard size must be a positive integer, got ${shardSize}`);
    }
    const t = this.totalShards;
    const bytes = t * shardSize;
    if (bytes + t * 5 > 0xf000_0000) throw new ShardSizeError(`workspace: ${t} × ${shardSize} bytes is too large`);
    const base = this.m.alloc(bytes + t * 4 + t);
    return new Workspace(this.m, this, h, base, shardSize);
  }
}

class Workspace implements ErasureWorkspace {
  readonly shardSize: number;
  private readonly m: Module;
  private readonly codec: Codec;
  private readonly h: number;
  private base: number;
  private readonly ptrs: number;
  private readonly present: number;

  constructor(m: Module, codec: Codec, h: number, base: number, shardSize: number) {
    this.m = m;
    this.codec = codec;
    this.h = h;
    this.shardSize = shardSize;
    this.base = base;
    const t = codec.totalShards;
    this.ptrs = base + t * shardSize;
    this.present = this.ptrs + t * 4;
    const u32 = m.u32();
    for (let i = 0; i < t; i++) u32[(this.ptrs >>> 2) + i] = base + i * shardSize;
  }

  private live(): number {
    if (this.base === 0) throw new ErasureError('workspace has been freed');
    this.codec.handle(); // throws if the codec was freed
    return this.base;
  }

  shard(i: number): Uint8Array {
    const base = this.live();
    if (!Number.isInteger(i) || i < 0 || i >= this.codec.totalShards) {
      throw new RangeError(`shard index ${i} out of range 0..${this.codec.totalShards - 1}`);
    }
    return new Uint8Array(this.m.x.memory.buffer, base + i * this.shardSize, this.shardSize);
  }

  data(): Uint8Array {
    const base = this.live();
    return new Uint8Array(this.m.x.memory.buffer, base, this.codec.dataShards * this.shardSize);
  }

  encode(): void {
    this.live();
    this.m.x.rs_encode(this.h, this.ptrs, this.shardSize, this.codec.simd ? 1 : 0);
  }

  verify(): boolean {
    this.live();
    return this.m.x.rs_verify(this.h, this.ptrs, this.shardSize, this.codec.simd ? 1 : 0) === 1;
  }

  reconstruct(present: boolean[], opts: { dataOnly?: boolean } = {}): void {
    this.live();
    const { dataShards: d, totalShards: t } = this.codec;
    if (!Array.isArray(present) || present.length !== t) {
      throw new InvalidShardCountError(
        `reconstruct: expected ${t} present flags, got ${Array.isArray(present) ? present.length : typeof present}`,
      );
    }
    let count = 0;
    const mem = this.m.u8();
    for (let i = 0; i < t; i++) {
      const p = present[i] === true;
      if (p) count++;
      mem[this.present + i] = p ? 1 : 0;
    }
    if (count < d) throw new TooFewShardsError(`reconstruct: ${count} of ${t} shards present, need ${d}`);
    const rc = this.m.x.rs_reconstruct(
      this.h,
      this.ptrs,
      this.present,
      this.shardSize,
      opts.dataOnly ? 1 : 0,
      this.codec.simd ? 1 : 0,
    );
    if (rc === RC_TOO_FEW) throw new TooFewShardsError('reconstruct: too few shards present');
    if (rc === RC_SINGULAR) throw new ErasureError('reconstruct: singular decoding matrix');
    if (rc !== 0) throw new ErasureError(`reconstruct: failed with status ${rc}`);
  }

  free(): void {
    if (this.base === 0) return;
    this.m.x.ec_free(this.base);
    this.base = 0;
  }
}
