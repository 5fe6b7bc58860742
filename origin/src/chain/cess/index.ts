export { openCessChain, CessChain, type CessChainOptions } from './cess-chain.ts';
export { CessConnection, CONNECTION_DEFAULTS, type CessConnectionOptions } from './connection.ts';
export { CessRuntimeError, inspectRuntime, CESS_SIGNED_EXTENSIONS, type CessRuntime } from './runtime.ts';
export { SUBMIT_DEFAULTS, type SubmitOptions } from './submit.ts';
export { BATCH_DEFAULTS } from './batch.ts';
