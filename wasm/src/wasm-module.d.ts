// `import wasm from '../erasure.wasm'`: wrangler/miniflare (CompiledWasm rule in wrangler.toml) and
// vitest-pool-workers hand the file over as an already compiled WebAssembly.Module.
// Typed as WebAssembly.Module where the WebAssembly namespace is declared (workers-types, DOM) and
// as a plain object elsewhere (the root tsconfig's ES2023 + node lib set has no such namespace).
declare module '*.wasm' {
  const wasm: typeof globalThis extends {
    WebAssembly: { Module: abstract new (...args: never[]) => infer M };
  }
    ? M
    : object;
  export default wasm;
}
